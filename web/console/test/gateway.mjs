// Starts a live demo gateway for the console's tests: `firebreak demo` (a
// police force with a local CA and client certificates) on a free loopback
// port, `firebreak serve`, and the demo's walk-through requests, so every
// view has decisions to show.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = path.resolve(here, '../../..');

export function firebreakBinary() {
  const candidates = [process.env.FIREBREAK_BIN, path.join(sourceDir, 'build/src/cli/firebreak')];
  return candidates.find((c) => c && fs.existsSync(c));
}

async function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// Two consecutive free ports (the demo's metrics listener is the next one).
async function freePorts() {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free port pair on loopback');
}

export function request(gw, method, target, { org, body, headers } = {}) {
  return new Promise((resolve, reject) => {
    const opts = {
      host: '127.0.0.1', port: gw.port, method, path: target, servername: 'localhost',
      ca: fs.readFileSync(path.join(gw.dir, 'pki/ca.pem')),
      headers: { ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}), ...(headers ?? {}) },
      agent: false,
    };
    if (org) {
      opts.cert = fs.readFileSync(path.join(gw.dir, `pki/clients/${org}.pem`));
      opts.key = fs.readFileSync(path.join(gw.dir, `pki/clients/${org}.key`));
    }
    const req = https.request(opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// The walk-through's requests, as the demo prints them (org, path, body).
function walkThrough(out) {
  const steps = [];
  const re = /--cert \S+\/clients\/(\S+?)\.pem --key \S+ \\\n\s+https:\/\/localhost:\d+(\/v1\/\w+) \\\n\s+-H 'content-type: application\/json' -d '(\{.*?\})'/g;
  for (const m of out.matchAll(re)) steps.push({ org: m[1], path: m[2], body: m[3] });
  return steps;
}

export async function startGateway({ subjects = 200, rounds = 3 } = {}) {
  const bin = firebreakBinary();
  if (!bin) throw new Error('no firebreak binary: build first (scripts/build.sh) or set FIREBREAK_BIN');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fb-console-'));
  fs.rmSync(dir, { recursive: true });
  const port = await freePorts();
  const out = execFileSync(bin, ['demo', '--dir', dir, '--subjects', String(subjects), '--listen', `127.0.0.1:${port}`,
    '--policy', path.join(sourceDir, 'policies/uk/strict-firewall')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const log = fs.openSync(path.join(dir, 'serve.log'), 'w');
  const proc = spawn(bin, ['serve', '--config', path.join(dir, 'firebreak.json')], { stdio: ['ignore', log, log] });
  const gw = { dir, port, proc, origin: `https://localhost:${port}` };
  gw.stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await populate(gw, out, rounds);
  } catch (e) {
    await gw.stop();
    throw e;
  }
  return gw;
}

async function populate(gw, out, rounds) {
  const { proc, dir } = gw;
  for (let i = 0; ; i++) {
    try {
      const r = await request(gw, 'GET', '/readyz');
      if (r.status === 200) break;
    } catch { /* not yet */ }
    if (i > 1200 || proc.exitCode !== null) {  // 120 s: the start proves the guarantees (slow under ASan or load)
      throw new Error(`the gateway did not start:\n${fs.readFileSync(path.join(dir, 'serve.log'), 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const steps = walkThrough(out);
  if (steps.length < 3) throw new Error(`could not read the demo's walk-through (${steps.length} steps)`);
  gw.steps = steps;
  gw.answers = [];
  for (let i = 0; i < rounds; i++) {
    for (const s of steps) gw.answers.push({ ...s, reply: await request(gw, 'POST', s.path, { org: s.org, body: s.body }) });
  }
  // Wait until the published log holds every decision (each answer with a
  // receipt is one).
  const want = gw.answers.filter((a) => a.reply.json?.receipt).length;
  if (want === 0) throw new Error(`no request of the walk-through was decided: ${JSON.stringify(gw.answers.map((a) => [a.reply.status, a.reply.text.slice(0, 200)]))}`);
  for (let i = 0; ; i++) {
    const r = await request(gw, 'GET', '/v1/console/decisions?limit=200', { org: 'example-constabulary-dpo' });
    if (r.status === 200 && r.json.items.length >= want) break;
    if (i > 600) throw new Error(`the log never showed ${want} decisions: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export function artefactDir() {
  const d = process.env.FIREBREAK_ARTEFACTS ?? path.join(sourceDir, 'build/console-artefacts');
  fs.mkdirSync(d, { recursive: true });
  return d;
}
