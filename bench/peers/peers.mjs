// Decide wire-form requests with a peer engine (Cedar or casbin) using the
// hand translations of a Firebreak pack, and time every decision.
//
//   node bench/peers/peers.mjs --engine cedar|casbin --pack strict-firewall|migrant-victims-protocol \
//       --requests requests.jsonl --out decisions.jsonl [--stats stats.json] [--check]
//
// Output: one JSON line per request, in order:
//   {"id", "decision": "permit"|"deny", "disclosed": [...]}
// plus, for Cedar, "rules" (the policies Cedar reports as the reason for the
// decision) and "obligations" (the union of their @obligations annotations).
//
// One Firebreak decision = one "decide" call and, when it allows, one
// "disclose-category" call per asked category (a denied request discloses
// nothing). Timing, per decision, with process.hrtime.bigint():
//   decide: JSON.parse of the line + building the peer's input + every call;
//   call:   the peer's authorisation calls alone (Cedar statefulIsAuthorized,
//           casbin enforceSync), summed over the decision's calls.
// Writing the output is outside both (it is inside the whole-process time
// scripts/bench_peers.sh measures).
//
// --check (not for timing): also asks every category of a denied request and
// counts any that the peer would disclose; a non-zero count (or any Cedar
// evaluation error) means the translation is inconsistent with itself, and
// the exit code is 1. --versions prints the peers' versions.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const here = new URL('.', import.meta.url).pathname;

if (process.argv.includes('--versions')) {
  const pkg = (p) => JSON.parse(readFileSync(`${here}node_modules/${p}/package.json`, 'utf8')).version;
  console.log(`cedar-wasm ${pkg('@cedar-policy/cedar-wasm')}, casbin ${pkg('casbin')}`);
  process.exit(0);
}

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i > 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (dflt === undefined) throw new Error(`missing --${name}`);
  return dflt;
}
const engineName = arg('engine');
const pack = arg('pack');
const requestsPath = arg('requests');
const outPath = arg('out');
const statsPath = arg('stats', '');
const check = process.argv.includes('--check');

// A pack and the packs it imports, as in its pack.fbp (the schema pack has no
// rules): policies/uk/<pack>/pack.fbp.
const PACKS = {
  'strict-firewall': ['common', 'npcc-2020-core', 'strict-firewall'],
  'migrant-victims-protocol': ['common', 'npcc-2020-core', 'migrant-victims-protocol'],
};
if (!PACKS[pack]) throw new Error(`unknown pack ${pack}; known: ${Object.keys(PACKS).join(', ')}`);

const now = process.hrtime.bigint;

// ---------------------------------------------------------------- Cedar
async function cedarEngine() {
  const cedar = require('@cedar-policy/cedar-wasm/nodejs');
  const text = PACKS[pack].map((f) => readFileSync(`${here}cedar/${f}.cedar`, 'utf8')).join('\n');
  const parts = cedar.policySetTextToParts(text);
  if (parts.type !== 'success') throw new Error(`cedar: ${JSON.stringify(parts.errors)}`);
  const policies = {};
  const obligations = {};
  for (const p of parts.policies) {
    const id = /@id\("([^"]+)"\)/.exec(p)?.[1];
    if (!id || policies[id]) throw new Error(`cedar: policy without a unique @id: ${p.slice(0, 200)}`);
    policies[id] = p;
    const ob = /@obligations\("([^"]*)"\)/.exec(p)?.[1];
    obligations[id] = ob ? ob.split(/\s+/).filter(Boolean) : [];
  }
  const schema = readFileSync(`${here}cedar/firebreak-uk.cedarschema`, 'utf8');
  const v = cedar.validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
  if (v.type !== 'success') throw new Error(`cedar validate: ${JSON.stringify(v.errors)}`);
  if (v.validationErrors.length) {
    throw new Error(`cedar validate: ${JSON.stringify(v.validationErrors.map((e) => [e.policyId, e.error.message]))}`);
  }
  const pre = cedar.preparsePolicySet(pack, { staticPolicies: policies });
  if (pre.type !== 'success') throw new Error(`cedar preparse: ${JSON.stringify(pre.errors)}`);

  const DECIDE = { type: 'Action', id: 'decide' };
  const DISCLOSE = { type: 'Action', id: 'disclose-category' };
  let errors = 0;
  const authorize = (call) => {
    const a = cedar.statefulIsAuthorized(call);
    if (a.type !== 'success') throw new Error(`cedar: ${JSON.stringify(a.errors)}`);
    if (a.response.diagnostics.errors.length) errors++;
    return a.response;
  };
  // What a call costs without policy work: the same inputs against a set of
  // one `permit (principal, action, resource);` (crossing the JS/Wasm
  // boundary and parsing the context and entities), and an empty input.
  const floor = (calls) => {
    cedar.preparsePolicySet('floor', { staticPolicies: 'permit (principal, action, resource);' });
    const empty = { principal: { type: 'Requester', id: 'x' }, action: DECIDE, resource: { type: 'Request', id: 'x' },
      context: {}, entities: [], preparsedPolicySetId: 'floor' };
    const median = (f, count) => {
      const t = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const a = now();
        f(i);
        t[i] = Number(now() - a);
      }
      return +(t.sort()[count >> 1] / 1e3).toFixed(2);
    };
    for (let i = 0; i < 200; i++) cedar.statefulIsAuthorized(empty);
    return {
      empty_call_p50_us: median(() => cedar.statefulIsAuthorized(empty), 2000),
      input_only_call_p50_us: median((i) => cedar.statefulIsAuthorized({ ...calls[i % calls.length], preparsedPolicySetId: 'floor' }), 2 * calls.length),
    };
  };
  return {
    name: `cedar-wasm ${cedar.getCedarVersion()}`,
    floor,
    policyCount: Object.keys(policies).length,
    errors: () => errors,
    // The wire form → Cedar: principal entity, context (see the schema).
    build(r, i) {
      const ctx = { purpose: r.purpose, action: r.action, categories: r.categories, legal_basis: r.legal_basis,
        subject_none: r.subject === 'none' };
      const s = r.subject;
      if (s != null && s !== 'none') {
        const roles = new Set(s.roles);
        for (const c of s.cases) roles.add(c.role);
        ctx.subject = {
          roles: [...roles], flags: s.flags, immigration_concern: s.immigration_concern,
          regularisation_pending: s.regularisation_pending, subject_initiated: s.subject_initiated,
          consent_to_ie: s.consent_to_ie,
          // A case's flags are left out: no rule of these packs reads case.flags
          // (see the schema).
          cases: s.cases.map((c) => ({ type: c.type, status: c.status, role: c.role })),
        };
        if (s.application != null) {
          ctx.subject.application = {
            recipient: { __entity: { type: 'Requester', id: s.application.recipient } },
            categories: s.application.categories.map((c) => ({ __entity: { type: 'Category', id: c } })),
          };
        }
      }
      if (r.record != null) {
        ctx.record = { collected_as: r.record.collected_as };
        if (r.record.case != null) ctx.record.case = { type: r.record.case.type, status: r.record.case.status };
      }
      const principal = { type: 'Requester', id: r.requester.org };
      return {
        principal,
        action: DECIDE,
        resource: { type: 'Request', id: r.id ?? `line-${i}` },
        context: ctx,
        entities: [{ uid: principal, attrs: { org_type: r.requester.org_type, role: r.requester.role }, parents: [] }],
        preparsedPolicySetId: pack,
      };
    },
    decide(call) { return authorize(call); },
    disclose(call, category) {
      return authorize({ ...call, action: DISCLOSE, resource: { type: 'Category', id: category } }).decision === 'allow';
    },
    allowed: (resp) => resp.decision === 'allow',
    explain(resp, out) {
      out.rules = [...resp.diagnostics.reason].sort();
      const ob = new Set();
      for (const id of resp.diagnostics.reason) for (const o of obligations[id]) ob.add(o);
      out.obligations = [...ob].sort();
    },
  };
}

// ---------------------------------------------------------------- casbin
async function casbinEngine() {
  const casbin = require('casbin');
  const model = casbin.newModelFromString(readFileSync(`${here}casbin/model.conf`, 'utf8'));
  const text = PACKS[pack].map((f) => readFileSync(`${here}casbin/${f}.csv`, 'utf8')).join('\n');
  const e = await casbin.newEnforcer(model, new casbin.StringAdapter(text));
  // casbin's matcher language has no set intersection and no quantifier.
  await e.addFunction('hasAny', (set, list) => list.some((x) => set.includes(x)));
  // `some case where (case.role in roles and case.status in statuses)`
  await e.addFunction('someCase', (cases, roles, statuses) =>
    cases.some((c) => roles.includes(c.role) && statuses.includes(c.status)));
  const rows = (await e.getPolicy()).length;
  return {
    name: `casbin ${require('casbin/package.json').version}`,
    policyCount: rows,
    errors: () => 0,
    build(r) {
      const s = r.subject;
      const known = s != null && s !== 'none';
      const sub = {
        org: r.requester.org, org_type: r.requester.org_type, role: r.requester.role,
        purpose: r.purpose, action: r.action, categories: r.categories, legal_basis: r.legal_basis,
        has_subject: known, no_subject: s === 'none',
        has_record: r.record != null, record: r.record ?? null, subject: null,
      };
      if (known) {
        const roles = new Set(s.roles);
        for (const c of s.cases) roles.add(c.role);
        sub.subject = { ...s, roles: [...roles], application: s.application ?? null };
      }
      return sub;
    },
    decide(sub) { return e.enforceSync(sub, '', 'decide'); },
    disclose(sub, category) { return e.enforceSync(sub, category, 'disclose-category'); },
    allowed: (resp) => resp === true,
    explain() {},
  };
}

// ---------------------------------------------------------------- run
const t0 = now();
const eng = engineName === 'cedar' ? await cedarEngine() : engineName === 'casbin' ? await casbinEngine()
  : (() => { throw new Error(`unknown engine ${engineName}`); })();
const setupMs = Number(now() - t0) / 1e6;

const lines = readFileSync(requestsPath, 'utf8').split('\n').filter((l) => l.length > 0);
const n = lines.length;
const decideNs = new Float64Array(n);
const callNs = new Float64Array(n);
const out = new Array(n);
const sample = []; // the first 2,000 built inputs, for the floor measurement
let calls = 0, inconsistent = 0;
const loopStart = now();
for (let i = 0; i < n; i++) {
  const a = now();
  const r = JSON.parse(lines[i]);
  const input = eng.build(r, i);
  if (sample.length < 2000) sample.push(input);
  let c0 = now();
  const resp = eng.decide(input);
  let c1 = now();
  let callSum = c1 - c0;
  calls++;
  const permit = eng.allowed(resp);
  const disclosed = [];
  if (permit) {
    for (const cat of new Set(r.categories)) {
      c0 = now();
      const ok = eng.disclose(input, cat);
      c1 = now();
      callSum += c1 - c0;
      calls++;
      if (ok) disclosed.push(cat);
    }
  }
  const b = now();
  decideNs[i] = Number(b - a);
  callNs[i] = Number(callSum);
  const o = { id: r.id ?? null, decision: permit ? 'permit' : 'deny', disclosed: disclosed.sort() };
  eng.explain(resp, o);
  if (check && !permit) {
    for (const cat of new Set(r.categories)) if (eng.disclose(input, cat)) { inconsistent++; o.inconsistent = true; }
  }
  out[i] = JSON.stringify(o);
}
const loopS = Number(now() - loopStart) / 1e9;
writeFileSync(outPath, out.join('\n') + '\n');

function pct(arr, p) {
  const s = Float64Array.from(arr).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const stats = {
  engine: eng.name, pack, n, policies: eng.policyCount, calls, setup_ms: +setupMs.toFixed(1),
  loop_s: +loopS.toFixed(3),
  in_process_decisions_per_s: Math.round(n / loopS),
  decide_p50_us: +(pct(decideNs, 50) / 1e3).toFixed(2),
  decide_p99_us: +(pct(decideNs, 99) / 1e3).toFixed(2),
  call_p50_us: +(pct(callNs, 50) / 1e3).toFixed(2),
  call_p99_us: +(pct(callNs, 99) / 1e3).toFixed(2),
  evaluation_errors: eng.errors(),
  ...(eng.floor ? eng.floor(sample) : {}),
  ...(check ? { denied_but_category_allowed: inconsistent } : {}),
};
if (statsPath) writeFileSync(statsPath, JSON.stringify(stats) + '\n');
process.stderr.write(JSON.stringify(stats) + '\n');
if (check) {
  console.log(`${engineName} --check (${pack}): ${inconsistent} categories of denied requests it would disclose, ` +
    `${stats.evaluation_errors} evaluation errors`);
  if (inconsistent || stats.evaluation_errors) process.exitCode = 1;
}
