// The console's first paint with a large log (docs/benchmarks.md, "## Console"):
// serves a demo directory already filled by `console_fill`, then in headless
// Chromium (signed in as the demo's DPO) loads the Overview: once cold (the
// gateway's first console call reads the whole log into its index), then
// `--runs` times warm. Prints first contentful paint and the time until the
// view holds its data (main[data-ready]), each from navigation start, and
// the warm API times of /v1/console/overview and /v1/console/decisions.
//
//   node bench/first_paint.mjs --dir DEMO --port 18443 [--runs 11] [--settle SECONDS]
//
// `--settle`: wait this long after the gateway is ready before the first
// load (the gateway reads the log into the console's index in the
// background at start).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { request, firebreakBinary } from '../test/gateway.mjs';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const dir = args.dir, port = Number(args.port ?? 18443), runs = Number(args.runs ?? 11), settle = Number(args.settle ?? 0);
if (!dir) { console.error('first_paint.mjs --dir DEMO --port PORT [--runs N]'); process.exit(2); }
const gw = { dir, port, origin: `https://localhost:${port}` };
const proc = spawn(firebreakBinary(), ['serve', '--config', path.join(dir, 'firebreak.json')], { stdio: ['ignore', 'ignore', 'inherit'] });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  for (let i = 0; ; i++) {
    try { if ((await request(gw, 'GET', '/readyz')).status === 200) break; } catch { /* not yet */ }
    if (i > 600) throw new Error('the gateway did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, settle * 1000));
  const browser = await chromium.launch({ executablePath: ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => fs.existsSync(p)), args: ['--no-sandbox'] });
  const ctx = await browser.newContext({
    clientCertificates: [{ origin: gw.origin, certPath: path.join(dir, 'pki/clients/example-constabulary-dpo.pem'), keyPath: path.join(dir, 'pki/clients/example-constabulary-dpo.key') }],
    ignoreHTTPSErrors: true,
  });
  async function load() {
    const page = await ctx.newPage();
    await page.goto(`${gw.origin}/console/#/overview`);
    await page.waitForSelector('main[data-ready="overview"]', { timeout: 600000 });
    const t = await page.evaluate(() => ({
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
      ready: performance.now(),
    }));
    const size = await page.textContent('.card:nth-child(4) .card-value');
    await page.close();
    return { ...t, size };
  }
  const cold = await load();
  console.log(`log size ${cold.size}; cold: first contentful paint ${cold.fcp.toFixed(0)} ms, overview with data ${cold.ready.toFixed(0)} ms`);
  const warm = [];
  for (let i = 0; i < runs; i++) warm.push(await load());
  console.log(`warm (${runs} loads): first contentful paint median ${median(warm.map((w) => w.fcp)).toFixed(0)} ms, max ${Math.max(...warm.map((w) => w.fcp)).toFixed(0)} ms; overview with data median ${median(warm.map((w) => w.ready)).toFixed(0)} ms, max ${Math.max(...warm.map((w) => w.ready)).toFixed(0)} ms`);
  for (const target of ['/v1/console/overview', '/v1/console/overview?hours=720', '/v1/console/decisions?limit=50', '/v1/console/decisions?limit=50&decision=permit&purpose=safeguarding']) {
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = await request(gw, 'GET', target, { org: 'example-constabulary-dpo' });
      if (r.status !== 200) throw new Error(`${target}: ${r.status}`);
      times.push(performance.now() - t0);
    }
    console.log(`${target}: median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (new TLS connection each)`);
  }
  await browser.close();
} finally {
  proc.kill('SIGTERM');
}
