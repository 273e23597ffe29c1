// Seeded generator of wire-form requests (the JSON that `firebreak eval
// --requests` reads, one object per line) for the peer comparison.
//
//   node bench/peers/gen.mjs [--n 100000] [--seed 9] [--schema policies/uk/schema/schema.fbp] > requests.jsonl
//
// Every enum value of the UK schema is read from schema.fbp, so the requests
// cover every purpose, action, org type, user role, subject role, flag,
// category, case type, case status, concern and legal basis. About two thirds
// of the requests start from the shape of one of the packs' permits (its
// parties, purposes, actions, legal bases), a quarter of those with one of the
// four fields then redrawn at random, so that permits and denies are both
// common; the rest are uniform. About one request in six carries no subject
// facts (docs/language.md "Attributes"): two thirds of those say
// `"subject": "none"` (a request about no person, `subject is none`), the rest
// leave `subject` out (a person who could not be resolved: every subject fact
// unknown). A subject sometimes carries her application choice
// (`application`: the recipient she named, often the requester itself, and
// the categories she chose), and a case sometimes carries `flags`.
import { readFileSync } from 'node:fs';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const n = Number(arg('n', '100000'));
const seed = Number(arg('seed', '9'));
const schemaPath = arg('schema', new URL('../../policies/uk/schema/schema.fbp', import.meta.url).pathname);

// The enums of the schema, straight from its text (`enum KIND [a, b, …]`).
const schemaText = readFileSync(schemaPath, 'utf8').replace(/#.*$/gm, '');
const E = {};
for (const m of schemaText.matchAll(/enum\s+([a-z_]+)\s*\[([^\]]*)\]/g)) {
  E[m[1]] = m[2].split(',').map((s) => s.trim()).filter(Boolean);
}
for (const k of ['purpose', 'action', 'org_type', 'user_role', 'role', 'flag', 'category', 'case_type',
  'case_status', 'concern', 'legal_basis']) {
  if (!E[k] || E[k].length === 0) throw new Error(`schema ${schemaPath}: enum ${k} not found`);
}

// splitmix32-style PRNG (deterministic for a seed; Math.random is not).
let state = seed >>> 0;
function rand() {
  state = (state + 0x9e3779b9) >>> 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
}
const below = (k) => Math.floor(rand() * k);
const pick = (a) => a[below(a.length)];
const chance = (p) => rand() < p;
function subset(values, maxSize, bias = [], biasP = 0) {
  const out = new Set();
  const size = below(maxSize + 1);
  for (let i = 0; i < size; i++) out.add(bias.length && chance(biasP) ? pick(bias) : pick(values));
  return [...out];
}

// The shapes of the permits of common/, npcc-2020-core/ and the two packs:
// [org types, declared purposes, actions, legal bases, categories they grant].
const SHAPES = [
  // X1_subject_initiated_application_evidence (it grants what she chose: these are the
  // categories she is likely to choose, and the requests ask for)
  [['home-office-visas', 'immigration-adviser'], ['immigration-application-support'], ['disclose'], E.legal_basis, ['identity', 'incident', 'case-outcome', 'address', 'contact']],
  // X2_marac_safeguarding
  [['local-authority', 'nhs-trust', 'police-force'], ['safeguarding'], ['disclose', 'referral'], ['ukgdpr-6-1-e', 'ca-2004-s11', 'dpa-2018-s35'], ['identity', 'contact', 'address', 'incident', 'health', 'relationships', 'nationality']],
  // X2_nrm_referral
  [['home-office-nrm-competent-authority'], ['modern-slavery-identification'], ['disclose', 'referral'], ['consent', 'msa-2015-s52', 'ukgdpr-6-1-e'], ['identity', 'contact', 'nationality', 'incident', 'health', 'case-outcome', 'immigration-status']],
  // X2_victim_support
  [['victim-support-service'], ['victim-support'], ['disclose', 'referral'], ['consent', 'ukgdpr-6-1-e'], ['identity', 'contact', 'incident', 'language', 'nationality']],
  // X2_criminal_justice (and, for the Home Office, N1 turning it into immigration-offence-investigation)
  [['police-force', 'cps', 'home-office-immigration-enforcement', 'home-office-visas'], ['criminal-investigation', 'prosecution'], ['disclose'], ['dpa-2018-s35'], ['identity', 'contact', 'address', 'incident', 'health', 'relationships', 'case-outcome', 'immigration-status']],
  // X3_statistics
  [E.org_type, ['statistics'], ['disclose'], E.legal_basis, E.category],
  // B2_referral_when_concern, B3_custody_status_check, C3_status_check_with_hold
  [['police-force'], ['immigration-status-check'], ['status-check', 'referral'], E.legal_basis, ['identity', 'nationality', 'biometrics', 'place-of-birth', 'travel-documents']],
  // B4_ie_lookup_s20, and the firewall and C2 that refuse it
  [['home-office-immigration-enforcement'], ['immigration-enforcement', 'immigration-offence-investigation', 'criminal-investigation'], ['disclose', 'enforcement-action'], ['iaa-1999-s20'], ['address', 'contact', 'identity']],
];

const ORG_NAMES = {
  'police-force': ['example-constabulary', 'north-police', 'metro-police'],
  'home-office-immigration-enforcement': ['ie-ice-south', 'ie-nccu'],
  'home-office-visas': ['ukvi-dvilr'],
  'home-office-nrm-competent-authority': ['nrm-single-competent-authority'],
  'immigration-adviser': ['adviser-law-centre', 'adviser-oisc'],
};
// Bodies a subject may name for her own application (X1); the requester
// itself is named more often than any of these.
const RECIPIENTS = ['ukvi-dvilr', 'adviser-law-centre', 'adviser-oisc', 'ie-nccu', 'example-constabulary'];
const CHOSEN = ['identity', 'incident', 'case-outcome', 'address', 'contact'];
const roleWeighted = ['victim', 'victim', 'witness', 'complainant', 'suspect', 'offender', ...E.role];

function subject(org, purpose) {
  const cases = [];
  const nCases = below(4); // 0–3 cases
  for (let i = 0; i < nCases; i++) {
    const c = { type: pick(E.case_type), status: pick(E.case_status), role: pick(roleWeighted) };
    if (chance(0.4)) c.flags = subset(E.flag, 2, ['domestic-abuse'], 0.5); // the key is optional
    cases.push(c);
  }
  const s = {
    roles: subset(E.role, 2, roleWeighted, 0.6),
    flags: subset(E.flag, 2),
    immigration_concern: pick(E.concern),
    regularisation_pending: chance(0.25),
    subject_initiated: chance(0.3),
    consent_to_ie: chance(0.2),
    cases,
  };
  // Her application choice: mostly on requests for application evidence.
  if (chance(purpose === 'immigration-application-support' ? 0.8 : 0.15)) {
    s.application = { recipient: chance(0.7) ? org : pick(RECIPIENTS), categories: subset(E.category, 4, CHOSEN, 0.7) };
  }
  return s;
}

function request(i) {
  let orgType, purpose, action, legalBasis, grants = [];
  if (chance(0.65)) {
    const [orgs, purposes, actions, bases, g] = pick(SHAPES);
    orgType = pick(orgs); purpose = pick(purposes); action = pick(actions); legalBasis = pick(bases); grants = g;
    if (chance(0.25)) {
      switch (below(4)) {
        case 0: orgType = pick(E.org_type); break;
        case 1: purpose = pick(E.purpose); break;
        case 2: action = pick(E.action); break;
        default: legalBasis = pick(E.legal_basis);
      }
    }
  } else {
    orgType = pick(E.org_type); purpose = pick(E.purpose); action = pick(E.action); legalBasis = pick(E.legal_basis);
  }
  const org = ORG_NAMES[orgType] ? pick(ORG_NAMES[orgType]) : `${orgType}-${below(3) + 1}`;
  const categories = subset(E.category, 5, grants, grants.length ? 0.6 : 0);
  if (categories.length === 0 && chance(0.8)) categories.push(pick(E.category)); // a few stay empty
  const r = {
    id: `req-${i}`,
    requester: { org, org_type: orgType, role: pick(E.user_role) },
    purpose, action, categories, legal_basis: legalBasis,
  };
  // Statistics requests mostly carry no subject; other requests rarely do.
  // Of those without, two thirds are about no person (`"subject": "none"`)
  // and the rest about a person who could not be resolved (no `subject`).
  const noSubject = purpose === 'statistics' ? chance(0.7) : chance(0.1);
  if (!noSubject) r.subject = subject(org, purpose);
  else if (chance(2 / 3)) r.subject = 'none';
  if (noSubject ? chance(0.2) : chance(0.7)) {
    r.record = { collected_as: pick(roleWeighted) };
    if (chance(0.6)) r.record.case = { type: pick(E.case_type), status: pick(E.case_status) };
  }
  r.context = chance(0.3) ? { case_reference: `CR-${below(100000)}` } : {};
  return r;
}

const out = [];
for (let i = 0; i < n; i++) {
  out.push(JSON.stringify(request(i)));
  if (out.length === 10000) { process.stdout.write(out.join('\n') + '\n'); out.length = 0; }
}
if (out.length) process.stdout.write(out.join('\n') + '\n');
