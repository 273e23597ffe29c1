// Compare the decisions of firebreak and its peers on the same requests.
//
//   node bench/peers/compare.mjs --requests requests.jsonl --firebreak fb.jsonl \
//       [--cedar cedar.jsonl] [--casbin casbin.jsonl] [--show 5]
//
// Every line is compared: the decision (permit/deny) and the disclosed
// categories for every peer; for Cedar also the rules (Cedar's reasons
// against firebreak's `rules`) and the obligations. Prints one summary line
// per peer and the first --show disagreements of each kind with the request.
// Exit 0: no disagreement; 1: some; 2: usage or I/O errors.
import { readFileSync } from 'node:fs';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const readLines = (p) => readFileSync(p, 'utf8').split('\n').filter((l) => l.length > 0);
let requests, fb;
try {
  requests = readLines(arg('requests'));
  fb = readLines(arg('firebreak')).map((l) => JSON.parse(l));
} catch (e) {
  process.stderr.write(`compare: ${e.message}\n`);
  process.exit(2);
}
const show = Number(arg('show', '5'));
const n = requests.length;
if (fb.length !== n) {
  process.stderr.write(`compare: ${n} requests but ${fb.length} firebreak decisions\n`);
  process.exit(2);
}
const rejected = fb.filter((d) => d.decision === undefined).length;
if (rejected) {
  process.stderr.write(`compare: firebreak rejected ${rejected} requests (first: ${JSON.stringify(fb.find((d) => d.decision === undefined))})\n`);
  process.exit(2);
}

const key = (a) => JSON.stringify([...(a ?? [])].sort());
let disagreements = 0;
const permits = fb.filter((d) => d.decision === 'permit').length;
console.log(`${n} requests; firebreak: ${permits} permit, ${n - permits} deny`);

for (const peer of ['cedar', 'casbin']) {
  const path = arg(peer);
  if (!path) continue;
  const out = readLines(path).map((l) => JSON.parse(l));
  if (out.length !== n) {
    process.stderr.write(`compare: ${n} requests but ${out.length} ${peer} decisions\n`);
    process.exit(2);
  }
  const kinds = { decision: [], disclosed: [], rules: [], obligations: [] };
  for (let i = 0; i < n; i++) {
    const f = fb[i], p = out[i];
    if (f.id !== undefined && p.id !== f.id) {
      process.stderr.write(`compare: line ${i + 1}: ids differ (${f.id} / ${p.id})\n`);
      process.exit(2);
    }
    if (p.decision !== f.decision) kinds.decision.push(i);
    else if (key(p.disclosed) !== key(f.disclosed)) kinds.disclosed.push(i);
    if (p.rules !== undefined && key(p.rules) !== key(f.rules)) kinds.rules.push(i);
    if (p.obligations !== undefined && key(p.obligations) !== key(f.obligations)) kinds.obligations.push(i);
  }
  const compared = ['decision', 'disclosed', ...(out[0]?.rules !== undefined ? ['rules', 'obligations'] : [])];
  const counts = compared.map((k) => `${k} ${kinds[k].length}`).join(', ');
  const total = compared.reduce((s, k) => s + kinds[k].length, 0);
  disagreements += total;
  console.log(`${peer}: compared ${compared.join(', ')} on ${n} requests; disagreements: ${counts}`);
  for (const k of compared) {
    for (const i of kinds[k].slice(0, show)) {
      const f = fb[i], p = out[i];
      console.log(`  ${peer} ${k} differs on line ${i + 1}: ${requests[i]}`);
      console.log(`    firebreak: ${JSON.stringify({ decision: f.decision, disclosed: f.disclosed, rules: f.rules, obligations: f.obligations })}`);
      console.log(`    ${peer}: ${JSON.stringify(p)}`);
    }
  }
}
process.exit(disagreements ? 1 : 0);
