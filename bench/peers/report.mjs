// Print the markdown table of a bench_peers.sh run: medians over the runs of
// each engine and pack, with ratios to firebreak.
//
//   node bench/peers/report.mjs runs.jsonl
//
// runs.jsonl: one object per process run: {pack, engine, run, n, wall_s,
// stats} where stats is what peers.mjs printed (absent for firebreak).
import { readFileSync } from 'node:fs';

const runs = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtInt = (x) => Math.round(x).toLocaleString('en-GB');
const fmtUs = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ratio = (r) => (r >= 10 ? r.toFixed(0) : r.toFixed(1));

const packs = [...new Set(runs.map((r) => r.pack))];
const lines = [];
lines.push('| pack | engine | decisions/s, whole process | µs per decision, whole process | vs Firebreak | decisions/s, in process | p50 / p99 per decision | p50 / p99 calls alone | calls per decision |');
lines.push('|---|---|---|---|---|---|---|---|---|');
for (const pack of packs) {
  const of = (engine) => runs.filter((r) => r.pack === pack && r.engine === engine);
  const fb = of('firebreak');
  if (!fb.length) continue;
  const fbWall = median(fb.map((r) => r.wall_s));
  const n = fb[0].n;
  for (const engine of ['firebreak', 'cedar', 'casbin']) {
    const rs = of(engine);
    if (!rs.length) continue;
    const wall = median(rs.map((r) => r.wall_s));
    const st = (k) => median(rs.map((r) => r.stats[k]));
    const name = engine === 'firebreak' ? 'Firebreak `eval --requests`' : rs[0].stats.engine;
    const vs = engine === 'firebreak' ? '1' : `${ratio(wall / fbWall)}× slower`;
    const row = [pack, name, fmtInt(n / wall), fmtUs((wall / n) * 1e6), vs];
    if (engine === 'firebreak') {
      row.push('—', '— (eval prints no per-decision timing)', '—', '—');
    } else {
      row.push(fmtInt(st('in_process_decisions_per_s')),
        `${fmtUs(st('decide_p50_us'))} / ${fmtUs(st('decide_p99_us'))} µs`,
        `${fmtUs(st('call_p50_us'))} / ${fmtUs(st('call_p99_us'))} µs`,
        (rs[0].stats.calls / n).toFixed(2));
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
}
console.log(lines.join('\n'));
const cedarRuns = runs.filter((r) => r.engine === 'cedar' && r.stats.input_only_call_p50_us !== undefined);
if (cedarRuns.length) {
  console.log('');
  for (const pack of packs) {
    const rs = cedarRuns.filter((r) => r.pack === pack);
    if (!rs.length) continue;
    console.log(`Cedar call floor (${pack}): ${fmtUs(median(rs.map((r) => r.stats.empty_call_p50_us)))} µs for an empty call, ` +
      `${fmtUs(median(rs.map((r) => r.stats.input_only_call_p50_us)))} µs for these inputs against a one-policy set (p50), ` +
      `setup ${fmtInt(median(rs.map((r) => r.stats.setup_ms)))} ms.`);
  }
}
console.log('');
console.log(`Medians over ${Math.max(...runs.map((r) => r.run))} runs each, the engines alternating within each run.`);
