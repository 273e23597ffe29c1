// docs/openapi.yaml against a live demo gateway: for a sample of calls of
// every kind of route (public, requester, holder, admin, each console view,
// errors), the status is one the file documents for that path and method,
// and a JSON body has every field the documented schema requires (nested
// objects and array items too). The route table itself is checked against
// the file by src/gateway/openapi_test.cc.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { firebreakBinary, request, sourceDir, startGateway } from './gateway.mjs';

const require = createRequire(import.meta.url);
let YAML;
try { YAML = require('yaml'); } catch { YAML = undefined; }
const skip = !YAML ? 'node_modules is absent in web/console (npm ci)' : !firebreakBinary() ? 'no firebreak binary' : false;
if (skip) console.log(`# SKIP OpenAPI tests: ${skip}`);

const spec = skip ? undefined : YAML.parse(fs.readFileSync(path.join(sourceDir, 'docs/openapi.yaml'), 'utf8'));

function resolve(node) {
  let n = node;
  while (n && n.$ref) {
    n = n.$ref.replace(/^#\//, '').split('/').reduce((o, k) => o[k], spec);
  }
  return n;
}

// The fields `schema` requires that `value` lacks, as paths.
function missing(schema, value, at = '$') {
  const s = resolve(schema);
  if (!s || value === undefined) return [];
  const out = [];
  if (s.allOf) for (const part of s.allOf) out.push(...missing(part, value, at));
  if (s.oneOf) {
    const fits = s.oneOf.map((o) => missing(o, value, at));
    if (!fits.some((f) => f.length === 0)) out.push(...fits[0]);
  }
  if (value === null) return out;
  if (s.required && typeof value === 'object') {
    for (const k of s.required) if (!(k in value)) out.push(`${at}.${k}`);
  }
  if (s.properties && typeof value === 'object') {
    for (const [k, sub] of Object.entries(s.properties)) if (k in value) out.push(...missing(sub, value[k], `${at}.${k}`));
  }
  if (s.items && Array.isArray(value)) value.slice(0, 5).forEach((v, i) => out.push(...missing(s.items, v, `${at}[${i}]`)));
  return out;
}

function documented(route, method, reply) {
  const op = spec.paths[route]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${route} is not in docs/openapi.yaml`);
  const r = resolve(op.responses[String(reply.status)]);
  assert.ok(r, `${method} ${route} answered ${reply.status}, which docs/openapi.yaml does not document (${Object.keys(op.responses)})`);
  const type = (reply.headers['content-type'] ?? '').split(';')[0];
  if (r.content && type === 'application/json') {
    const schema = r.content['application/json']?.schema;
    assert.ok(schema, `${method} ${route} ${reply.status} answered JSON, documented as ${Object.keys(r.content)}`);
    assert.deepEqual(missing(schema, reply.json), [], `${method} ${route} ${reply.status}: required fields missing`);
  } else if (r.content) {
    assert.ok(Object.keys(r.content).some((t) => t === type), `${method} ${route} ${reply.status}: content type ${type} not documented`);
  }
}

describe('docs/openapi.yaml against a live gateway', { skip }, () => {
  let gw;
  before(async () => { gw = await startGateway({ rounds: 1 }); });
  after(async () => { await gw?.stop(); });

  test('the schema checker can fail', () => {
    assert.deepEqual(missing({ $ref: '#/components/schemas/Whoami' }, { org: 'x' }), ['$.name', '$.scope', '$.sees_subjects', '$.views']);
    assert.deepEqual(missing({ $ref: '#/components/schemas/DecisionPage' }, { items: [{ index: 1 }], next_before: null, log_size: 1 }).length, 8);
  });

  test('public, requester, holder and admin routes', async () => {
    const dpo = 'example-constabulary-dpo';
    documented('/healthz', 'GET', await request(gw, 'GET', '/healthz'));
    documented('/readyz', 'GET', await request(gw, 'GET', '/readyz'));
    documented('/log/checkpoint', 'GET', await request(gw, 'GET', '/log/checkpoint'));
    documented('/log/tile/{path}', 'GET', await request(gw, 'GET', '/log/tile/0/000.p/1'));
    documented('/log/tile/{path}', 'GET', await request(gw, 'GET', '/log/tile/nonsense'));
    for (const a of gw.answers) documented(a.path, 'POST', a.reply);
    documented('/v1/disclosures', 'POST', await request(gw, 'POST', '/v1/disclosures', { body: '{}' }));
    documented('/v1/disclosures', 'POST', await request(gw, 'POST', '/v1/disclosures', { org: 'ie-ice-south', body: '{"purpose":"curiosity"}' }));
    documented('/v1/decisions', 'POST', await request(gw, 'POST', '/v1/decisions', { org: 'ie-ice-south', body: '{}' }));
    const receipt = gw.answers.find((a) => a.reply.json?.receipt);
    const org = receipt.org;
    documented('/v1/receipts/{id}', 'GET', await request(gw, 'GET', `/v1/receipts/${receipt.reply.json.receipt}?format=json`, { org }));
    documented('/v1/receipts/{id}', 'GET', await request(gw, 'GET', `/v1/receipts/${receipt.reply.json.receipt}`, { org }));
    documented('/v1/receipts/{id}', 'GET', await request(gw, 'GET', '/v1/receipts/1-00000000000000000000000000000000', { org }));
    documented('/metrics', 'GET', await request(gw, 'GET', '/metrics', { org: dpo }));
    documented('/metrics', 'GET', await request(gw, 'GET', '/metrics', { org: 'ie-ice-south' }));
    documented('/admin/reload', 'POST', await request(gw, 'POST', '/admin/reload', { org: dpo, body: '{"colour":1}' }));
    documented('/admin/reload', 'POST', await request(gw, 'POST', '/admin/reload', { org: dpo, body: '{"packs":["/nonexistent"]}' }));
    documented('/admin/reload', 'POST', await request(gw, 'POST', '/admin/reload', { org: dpo }));
  });

  test('the console routes, for each console scope and for others', async () => {
    documented('/console', 'GET', await request(gw, 'GET', '/console'));
    documented('/console/{path}', 'GET', await request(gw, 'GET', '/console/'));
    documented('/console/{path}', 'GET', await request(gw, 'GET', '/console/nothing.js'));
    const first = (await request(gw, 'GET', '/v1/console/decisions?limit=1', { org: 'example-constabulary-dpo' })).json.items[0].index;
    const calls = [
      ['/v1/console/whoami', '/v1/console/whoami'], ['/v1/console/overview', '/v1/console/overview?hours=48'],
      ['/v1/console/overview', '/v1/console/overview?hours=-1'], ['/v1/console/decisions', '/v1/console/decisions?decision=deny&limit=3'],
      ['/v1/console/decisions', '/v1/console/decisions?limit=1000'], ['/v1/console/decisions/{index}', `/v1/console/decisions/${first}`],
      ['/v1/console/decisions/{index}', '/v1/console/decisions/0'], ['/v1/console/decisions/{index}', '/v1/console/decisions/999999'],
      ['/v1/console/policies', '/v1/console/policies'], ['/v1/console/agreements', '/v1/console/agreements'],
      ['/v1/console/agreements', '/v1/console/agreements?format=csv'], ['/v1/console/log', '/v1/console/log'],
      ['/v1/console/log/entries/{index}', '/v1/console/log/entries/0'], ['/v1/console/log/entries/{index}', '/v1/console/log/entries/x'],
    ];
    for (const org of ['example-constabulary-dpo', 'example-constabulary-analyst', 'hmicfrs-inspection']) {
      for (const [route, target] of calls) documented(route, 'GET', await request(gw, 'GET', target, { org }));
    }
    const weaker = JSON.stringify({ packs: [path.join(sourceDir, 'policies/uk/npcc-2020')] });
    documented('/v1/console/policies/diff', 'POST', await request(gw, 'POST', '/v1/console/policies/diff', { org: 'example-constabulary-dpo', body: weaker }));
    documented('/v1/console/policies/diff', 'POST', await request(gw, 'POST', '/v1/console/policies/diff', { org: 'example-constabulary-dpo', body: '[]' }));
    documented('/v1/console/policies/diff', 'POST', await request(gw, 'POST', '/v1/console/policies/diff', { org: 'example-constabulary-analyst', body: weaker }));
    documented('/v1/console/policies/diff', 'POST', await request(gw, 'GET', '/v1/console/policies/diff', { org: 'example-constabulary-dpo' }));
    const replay = (org, body, method = 'POST') => request(gw, method, '/v1/console/policies/replay', { org, body });
    documented('/v1/console/policies/replay', 'POST', await replay('example-constabulary-dpo', weaker));
    documented('/v1/console/policies/replay', 'POST', await replay('example-constabulary-dpo', '{"packs": ["/nonexistent"], "last": 5}'));
    documented('/v1/console/policies/replay', 'POST', await replay('example-constabulary-dpo', '{"packs": ["x"], "last": 0}'));
    documented('/v1/console/policies/replay', 'POST', await replay('hmicfrs-inspection', weaker));
    documented('/v1/console/policies/replay', 'POST', await replay('example-constabulary-dpo', undefined, 'GET'));
    for (const [route, target] of calls.slice(0, 3)) {
      documented(route, 'GET', await request(gw, 'GET', target));
      documented(route, 'GET', await request(gw, 'GET', target, { org: 'example-constabulary' }));
    }
  });
});
