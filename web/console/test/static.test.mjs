// The console's files and API over HTTPS, as an attacker would try them:
// content types and headers, directory traversal, scopes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { firebreakBinary, request, sourceDir, startGateway } from './gateway.mjs';

const skip = !firebreakBinary() ? 'no firebreak binary (scripts/build.sh)'
  : !fs.existsSync(path.join(sourceDir, 'web/console/dist/index.html')) ? 'the console is not built (npm run build in web/console)'
  : false;
if (skip) console.log(`# SKIP console file tests: ${skip}`);

describe('console files and scopes', { skip }, () => {
  let gw;
  before(async () => { gw = await startGateway({ rounds: 1 }); });
  after(async () => { await gw?.stop(); });

  test('files carry their content type and a strict CSP', async () => {
    const index = await request(gw, 'GET', '/console/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    const csp = index.headers['content-security-policy'];
    assert.match(csp, /^default-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    for (const m of index.text.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)) {
      const a = await request(gw, 'GET', m[1]);
      assert.equal(a.status, 200, m[1]);
      assert.equal(a.headers['content-type'], m[1].endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      assert.match(a.headers['cache-control'], /immutable/);
      assert.doesNotMatch(a.text, /https?:\/\/(?!www\.w3\.org)/, `${m[1]} loads nothing from outside`);
    }
    assert.doesNotMatch(index.text, /<script>|style=/, 'no inline script or style');
    const redirect = await request(gw, 'GET', '/console');
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.location, '/console/');
  });

  test('no path leaves the built files', async () => {
    for (const p of ['/console/../firebreak.json', '/console/..%2f..%2ffirebreak.json', '/console/%2e%2e/%2e%2e/firebreak.json',
      '/console/assets/../../../../etc/passwd', '/console//etc/passwd', '/console/assets/', '/console/assets',
      '/console/index.html%00.js', '/console/.npmrc', '/console/../store.db']) {
      const r = await request(gw, 'GET', p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.text, /root:|PRIVATE|store|sqlite/i, p);
    }
  });

  test('the console API is for the console scopes, with a certificate', async () => {
    for (const org of ['ie-ice-south', 'example-constabulary', 'nrm-single-competent-authority']) {
      const r = await request(gw, 'GET', '/v1/console/overview', { org });
      assert.equal(r.status, 403, org);
      assert.deepEqual(Object.keys(r.json), ['error']);
    }
    const none = await request(gw, 'GET', '/v1/console/overview');
    assert.equal(none.status, 401);
    // Bearer tokens (on in the demo) never open the console, even the DPO's.
    const token = fs.readFileSync(path.join(gw.dir, 'tokens/example-constabulary-dpo.token'), 'utf8').trim();
    const bearer = await request(gw, 'GET', '/v1/console/overview', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bearer.status, 403);
    for (const org of ['example-constabulary-dpo', 'example-constabulary-analyst', 'hmicfrs-inspection']) {
      const r = await request(gw, 'GET', '/v1/console/whoami', { org });
      assert.equal(r.status, 200, org);
      assert.equal(r.json.org, org);
    }
  });

  test('oversight gets no pseudonym, roles, cases or records; the holder does', async () => {
    const list = await request(gw, 'GET', '/v1/console/decisions?endpoint=decisions', { org: 'hmicfrs-inspection' });
    assert.equal(list.status, 200);
    assert.ok(list.json.items.length > 0);
    const index = list.json.items[0].index;
    const seen = await request(gw, 'GET', `/v1/console/decisions/${index}`, { org: 'hmicfrs-inspection' });
    assert.equal(seen.status, 200);
    assert.ok(Array.isArray(seen.json.rules));
    for (const k of ['subject', 'records', 'records_not_listed']) assert.equal(seen.json[k], undefined, k);
    assert.doesNotMatch(seen.text, /"roles"|"cases"|"flags"|"immigration_concern"|[0-9a-f]{64}(?!")/);
    const holder = await request(gw, 'GET', `/v1/console/decisions/${index}`, { org: 'example-constabulary-analyst' });
    assert.match(holder.json.subject.subject, /^[0-9a-f]{64}$/);
    assert.ok(Array.isArray(holder.json.records));
  });

  test('bad parameters are 400s naming the parameter', async () => {
    const org = 'example-constabulary-dpo';
    for (const [q, field] of [['/v1/console/decisions?limit=0', 'limit'], ['/v1/console/decisions?limit=x', 'limit'],
      ['/v1/console/decisions?decision=maybe', 'decision'], ['/v1/console/decisions?colour=red', 'colour'],
      ['/v1/console/overview?hours=0', 'hours'], ['/v1/console/overview?hours=%zz', 'query'],
      ['/v1/console/agreements?format=xml', 'format'], ['/v1/console/decisions/abc', 'index']]) {
      const r = await request(gw, 'GET', q, { org });
      assert.equal(r.status, 400, q);
      assert.equal(r.json.error.field, field, q);
    }
    const beyond = await request(gw, 'GET', '/v1/console/log/entries/99999999', { org });
    assert.equal(beyond.status, 404);
    const other = await request(gw, 'GET', '/v1/console/nothing', { org });
    assert.equal(other.status, 404);
  });

  test('policy comparison: the DPO only, against a weaker candidate the verifier finds the requests', async () => {
    const dpo = 'example-constabulary-dpo';
    const weaker = path.join(sourceDir, 'policies/uk/npcc-2020');
    const r = await request(gw, 'POST', '/v1/console/policies/diff', { org: dpo, body: JSON.stringify({ packs: [weaker] }) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.equivalent, false);
    const looser = r.json.differences.find((k) => k.kind === 'candidate-permits-live-denies');
    assert.equal(looser.outcome, 'found');
    assert.ok(looser.witnesses.length > 0);
    for (const w of looser.witnesses) {
      assert.equal(w.candidate_permits, true);
      assert.equal(w.live_permits, false);
      assert.equal(w.request.requester.org_type, 'home-office-immigration-enforcement');
    }
    assert.equal(r.json.differences.find((k) => k.kind === 'live-permits-candidate-denies').outcome, 'none');
    const same = await request(gw, 'POST', '/v1/console/policies/diff',
      { org: dpo, body: JSON.stringify({ packs: [path.join(sourceDir, 'policies/uk/strict-firewall')] }) });
    assert.equal(same.json.equivalent, true);
    for (const org of ['example-constabulary-analyst', 'hmicfrs-inspection', 'ie-ice-south']) {
      const no = await request(gw, 'POST', '/v1/console/policies/diff', { org, body: JSON.stringify({ packs: [weaker] }) });
      assert.equal(no.status, 403, org);
    }
    const none = await request(gw, 'POST', '/v1/console/policies/diff', { org: dpo });
    assert.equal(none.status, 400);
    assert.equal(none.json.error.field, 'packs');
    const bad = await request(gw, 'POST', '/v1/console/policies/diff', { org: dpo, body: '{"packs": "x"}' });
    assert.equal(bad.status, 400);
    const missingPack = await request(gw, 'POST', '/v1/console/policies/diff', { org: dpo, body: '{"packs": ["/nonexistent/pack"]}' });
    assert.equal(missingPack.status, 422);
    const get = await request(gw, 'GET', '/v1/console/policies/diff', { org: dpo });
    assert.equal(get.status, 405);
  });

  test('pagination walks the whole stream once, newest first', async () => {
    const org = 'example-constabulary-dpo';
    const all = (await request(gw, 'GET', '/v1/console/decisions?limit=200', { org })).json.items.map((d) => d.index);
    const paged = [];
    let before;
    for (;;) {
      const r = await request(gw, 'GET', `/v1/console/decisions?limit=2${before !== undefined ? `&before=${before}` : ''}`, { org });
      paged.push(...r.json.items.map((d) => d.index));
      if (r.json.next_before === null) break;
      before = r.json.next_before;
    }
    assert.deepEqual(paged, all);
    assert.deepEqual([...all].sort((a, b) => b - a), all);
  });
});
