// The console in a real browser: Debian's headless Chromium driven by
// playwright-core, signed in with the demo's client certificates, against
// a live demo gateway. Every view must render data from the gateway and pass
// axe-core's WCAG 2.x A/AA rules; screenshots are kept as artefacts
// (build/console-artefacts, or $FIREBREAK_ARTEFACTS).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { artefactDir, firebreakBinary, request, sourceDir, startGateway } from './gateway.mjs';

const require = createRequire(import.meta.url);
const chromiumPath = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => fs.existsSync(p));
let playwright;
try { playwright = require('playwright-core'); } catch { playwright = undefined; }
const skip = !chromiumPath ? 'Debian chromium is not installed (apt-get install chromium; scripts/setup.sh does)'
  : !playwright ? 'node_modules is absent in web/console (npm ci; scripts/setup.sh does)'
  : !firebreakBinary() ? 'no firebreak binary (scripts/build.sh)'
  : !fs.existsSync(path.join(sourceDir, 'web/console/dist/index.html')) ? 'the console is not built (npm run build in web/console)'
  : false;
if (skip) console.log(`# SKIP console browser tests: ${skip}`);

describe('console in Chromium', { skip }, () => {
  let gw, browser;
  const shots = skip ? '' : artefactDir();
  const axeSource = skip ? '' : fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

  before(async () => {
    gw = await startGateway();
    browser = await playwright.chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await gw?.stop();
  });

  async function signedIn(org) {
    return browser.newContext({
      clientCertificates: [{
        origin: gw.origin,
        certPath: path.join(gw.dir, `pki/clients/${org}.pem`),
        keyPath: path.join(gw.dir, `pki/clients/${org}.key`),
      }],
      ignoreHTTPSErrors: true,  // the demo's own CA signs the server certificate
      viewport: { width: 1366, height: 900 },
    });
  }

  async function open(page, hash, view) {
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${gw.origin}/console/${hash}`);
    await page.waitForSelector(`main[data-ready="${view}"]`, { timeout: 15000 });
    return errors;
  }

  async function axe(page, name) {
    await page.evaluate(axeSource);
    const result = await page.evaluate(() =>
      // eslint-disable-next-line no-undef
      axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } }));
    const summary = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')})`);
    assert.deepEqual(summary, [], `axe-core found accessibility violations on ${name}`);
    assert.ok(result.passes.length > 10, 'axe-core ran its rules');
  }

  async function shot(page, name) {
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  }

  test('overview: charts and numbers from the live log, a strict CSP, accessible', async () => {
    const ctx = await signedIn('example-constabulary-dpo');
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const resp = await page.goto(`${gw.origin}/console/#/overview`);
    assert.match(resp.headers()['content-security-policy'], /default-src 'self'/);
    assert.equal(resp.headers()['content-type'], 'text/html; charset=utf-8');
    await page.waitForSelector('main[data-ready="overview"]');
    assert.match(await page.textContent('#who'), /Example Constabulary Data Protection Officer.*scope admin/);
    const decisions = await page.textContent('.card:nth-child(1) .card-value');
    // Every answer with a receipt is one logged decision.
    assert.equal(Number(decisions.replace(/,/g, '')), gw.answers.filter((a) => a.reply.json?.receipt).length);
    assert.ok(await page.locator('svg.chart rect.deny').count() > 0, 'the hourly chart draws refusals');
    assert.match(await page.textContent('main'), /home-office-immigration-enforcement/);
    assert.match(await page.textContent('main'), /A1_no_firewall_purpose_for_protected/);
    assert.match(await page.textContent('main'), /sha256:[0-9a-f]{64}/);
    await axe(page, 'overview');
    await shot(page, 'overview');
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test('decisions: the stream filters on the server, a decision explains itself', async () => {
    const ctx = await signedIn('example-constabulary-dpo');
    const page = await ctx.newPage();
    const errors = await open(page, '#/decisions', 'decisions');
    const rows = await page.locator('table.stream tbody tr').count();
    assert.ok(rows >= 3, `the stream lists decisions (${rows})`);
    await axe(page, 'decisions');
    await shot(page, 'decisions');
    await page.selectOption('#f-decision', 'deny');
    await page.click('#decision-filters button');
    // Wait for the filtered table itself: the unfiltered one stays on the
    // page while the new one loads (if the filter were broken this wait
    // times out and the test fails).
    await page.waitForFunction(() => {
      if (!location.hash.includes('decision=deny')) return false;
      const badges = [...document.querySelectorAll('main[data-ready="decisions"] table.stream tbody .badge')];
      return badges.length > 0 && badges.every((b) => b.textContent === 'deny');
    });
    const badges = await page.locator('table.stream tbody .badge').allTextContents();
    assert.ok(badges.length > 0 && badges.every((b) => b === 'deny'), `only refusals after filtering: ${badges}`);
    await page.click('table.stream tbody tr:first-child a');
    await page.waitForFunction(() => /^#\/decisions\/\d+$/.test(location.hash) &&
      /Decision at log index/.test(document.querySelector('main[data-ready="decisions"]')?.textContent ?? ''));
    const text = await page.textContent('main');
    assert.match(text, /Decision at log index \d+/);
    assert.match(text, /Pseudonym/);
    assert.match(text, /Per-record provenance/);
    assert.match(text, /Why: the reasons of the rules that decided/);
    assert.match(text, /\d+-[0-9a-f]{32}/, 'the receipt id');
    assert.doesNotMatch(text, /Amira|Haddad|DEMO-R01/, 'no name or reference, only codes and pseudonyms');
    await axe(page, 'decision');
    await shot(page, 'decision');
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test('policies: the DPO compares a weakened candidate and sees the requests it would permit', async () => {
    const ctx = await signedIn('example-constabulary-dpo');
    const page = await ctx.newPage();
    const errors = await open(page, '#/policies', 'policies');
    await page.fill('#diff-packs', path.join(sourceDir, 'policies/uk/npcc-2020'));
    await page.click('#diff-form button');
    await page.waitForSelector('#diff-result .diff', { timeout: 60000 });
    assert.equal(await page.getAttribute('#diff-result .diff', 'data-equivalent'), 'false');
    const looser = await page.textContent('[data-kind="candidate-permits-live-denies"]');
    assert.match(looser, /The candidate permits, the policy in force refuses: [1-9]\d* examples?/);
    assert.match(looser, /home office immigration enforcement/);
    assert.match(await page.textContent('[data-kind="live-permits-candidate-denies"]'), /never/);
    await axe(page, 'policies-diff');
    await shot(page, 'policies-diff');
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test('policies: the DPO replays the logged requests against a weakened candidate and sees the decisions that change', async () => {
    const ctx = await signedIn('example-constabulary-dpo');
    const page = await ctx.newPage();
    const errors = await open(page, '#/policies', 'policies');
    await page.fill('#replay-packs', path.join(sourceDir, 'policies/uk/npcc-2020'));
    await page.fill('#replay-last', '500');
    await page.click('#replay-form button');
    await page.waitForSelector('#replay-result .replay', { timeout: 60000 });
    const changed = Number(await page.getAttribute('#replay-result .replay', 'data-changed'));
    assert.ok(changed > 0, 'the weakened candidate changes some logged decisions');
    const rows = page.locator('#replay-result table tbody tr');
    assert.equal(await rows.count(), changed);
    const text = await page.textContent('#replay-result');
    assert.match(text, /Decisions the candidate would change/);
    assert.match(text, /home-office-immigration-enforcement/);
    assert.match(text, /denypermit|deny.*permit/s);
    await axe(page, 'policies-replay');
    await shot(page, 'policies-replay');
    // The policy in force as the candidate: nothing changes.
    await page.fill('#replay-packs', path.join(sourceDir, 'policies/uk/strict-firewall'));
    await page.click('#replay-form button');
    await page.waitForSelector('#replay-result .replay[data-changed="0"]', { timeout: 60000 });
    assert.match(await page.textContent('#replay-result'), /No decision would change/);
    // A bad path is refused with the field named.
    await page.fill('#replay-packs', '/nonexistent/pack');
    await page.click('#replay-form button');
    await page.waitForSelector('#replay-result [role="alert"]', { timeout: 60000 });
    assert.match(await page.textContent('#replay-result'), /No replay: .*not a directory/);
    assert.deepEqual(errors.filter((e) => !/400/.test(e)), []);
    await ctx.close();
  });

  test('policies, agreements (with exports) and log views', async () => {
    const ctx = await signedIn('example-constabulary-analyst');
    const page = await ctx.newPage();
    const errors = await open(page, '#/policies', 'policies');
    const policies = await page.textContent('main');
    assert.match(policies, /strict-firewall/);
    assert.match(policies, /proved/);
    assert.match(policies, /policies\/uk\/[\w-]+\/[\w-]+\.fbp:\d+/, 'source locations');
    assert.equal(await page.locator('#diff-form').count(), 0, 'an analyst cannot run a comparison');
    assert.equal(await page.locator('#replay-form').count(), 0, 'an analyst cannot run a replay');
    await axe(page, 'policies');
    await shot(page, 'policies');

    await page.click('nav a[data-view="agreements"]');
    await page.waitForSelector('main[data-ready="agreements"]');
    const agreements = await page.textContent('main');
    assert.match(agreements, /X2_marac_safeguarding/);
    assert.match(agreements, /Lawful basis/);
    assert.match(agreements, /Review date/);
    const csv = await page.evaluate(async () => {
      const r = await fetch('/v1/console/agreements?format=csv');
      return { type: r.headers.get('content-type'), text: await r.text() };
    });
    assert.equal(csv.type, 'text/csv; charset=utf-8');
    assert.match(csv.text.split('\n')[0], /^name,pack,parties,purposes,data,withheld,lawful_basis,retention,security,review,owner/);
    assert.match(csv.text, /\nX2_marac_safeguarding,/);
    await axe(page, 'agreements');
    await shot(page, 'agreements');

    await page.goto(`${gw.origin}/console/#/log?index=1`);
    await page.waitForSelector('main[data-ready="log"] #proof pre');
    const log = await page.textContent('main');
    assert.match(log, /firebreak\.example\/example-constabulary\/decisions/);
    assert.match(log, /Entry 1 of \d+/);
    assert.match(log, /"sealed"/, 'the public entry keeps its sealed part sealed');
    await axe(page, 'log');
    await shot(page, 'log');
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test('reports: the DPO makes a release, logged first; analysts read it, with its proved statements', async () => {
    const ctx = await signedIn('example-constabulary-dpo');
    const page = await ctx.newPage();
    const errors = await open(page, '#/reports', 'reports');
    assert.match(await page.textContent('main'), /Privacy budget this year: ε 0 spent of 1/);
    await axe(page, 'reports-form');
    await page.fill('#r-from', '2025-01');
    await page.fill('#r-to', '2025-02');
    await page.fill('#r-epsilon', '1/8');
    await page.fill('#r-cap', '2');
    await page.click('#release-form button[type="submit"]');
    await page.waitForSelector('main[data-ready="reports"] #proved', { timeout: 60000 });
    const text = await page.textContent('main');
    assert.match(text, /Transparency report 2025-01 to 2025-02/);
    assert.match(text, /From the proofs, not the data/);
    assert.match(text, /\[proved\]/, 'the statements from the proofs are marked as such');
    assert.match(text, /Log entry\s*index \d+ \(kind release\)/);
    assert.match(text, /± \d+/);
    assert.equal(await page.locator('main svg.chart').count(), 1);
    assert.ok(await page.locator('main table.compact tbody tr').count() > 10, 'every cell, zeros included');
    await axe(page, 'report');
    await shot(page, 'report');
    assert.deepEqual(errors, []);
    // Over the budget: refused (409, which Chromium logs), said so, nothing shown.
    await page.goto(`${gw.origin}/console/#/reports`);
    await page.waitForSelector('main[data-ready="reports"] #release-form');
    await page.fill('#r-from', '2025-03');
    await page.fill('#r-to', '2025-03');
    await page.fill('#r-epsilon', '1');
    await page.click('#release-form button[type="submit"]');
    await page.waitForSelector('#release-result [role="alert"]');
    assert.match(await page.textContent('#release-result'), /Not released: .*budget/);
    assert.deepEqual(errors.filter((e) => !/status of 409/.test(e)), []);
    await ctx.close();

    const actx = await signedIn('example-constabulary-analyst');
    const apage = await actx.newPage();
    await open(apage, '#/reports', 'reports');
    assert.equal(await apage.locator('#release-form').count(), 0, 'an analyst cannot make a release');
    assert.equal(await apage.locator('main table tbody tr a').count(), 1);
    assert.match(await apage.textContent('main'), /ε 1\/8 spent of 1/);
    await axe(apage, 'reports');
    await shot(apage, 'reports');
    await actx.close();
  });

  test('oversight sees how the policy decided, never whom it was about', async () => {
    const ctx = await signedIn('hmicfrs-inspection');
    const page = await ctx.newPage();
    const first = (await request(gw, 'GET', '/v1/console/decisions?limit=1', { org: 'hmicfrs-inspection' })).json.items[0];
    await open(page, `#/decisions/${first.index}`, 'decisions');
    const text = await page.textContent('main');
    assert.match(text, /scope \(oversight\)/);
    assert.match(text, /Rules that decided/);
    assert.doesNotMatch(text, /Pseudonym|Per-record provenance/);
    await axe(page, 'decision-oversight');
    await shot(page, 'decision-oversight');
    await ctx.close();
  });

  test('a requester\'s certificate does not open the console', async () => {
    const ctx = await signedIn('ie-ice-south');
    const page = await ctx.newPage();
    await page.goto(`${gw.origin}/console/`);
    await page.waitForFunction(() => document.querySelector('#who')?.textContent === 'Not signed in');
    assert.match(await page.textContent('main'), /not for the console/);
    await axe(page, 'refused');
    await shot(page, 'refused');
    await ctx.close();
  });
});
