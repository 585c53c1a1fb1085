// End-to-end browser test: Debian's Chromium, headless, driven by
// playwright-core, against a real `aviary serve` on an ephemeral port with
// the real models. Prints PASS/FAIL lines and the harness's summary line;
// screenshots land in $ARTIFACTS (default build/browser-artifacts).
//
//   node tests/browser/run.js [path/to/aviary]
'use strict';
const { chromium } = require('playwright-core');
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const bin = path.resolve(process.argv[2] || process.env.AVIARY_BIN || path.join(root, 'build/aviary'));
const shared = process.env.AVIARY_SHARED || path.join(root, '..', 'shared');
const artifacts = process.env.ARTIFACTS || path.join(root, 'build', 'browser-artifacts');
const results = { passed: 0, failed: 0, skipped: 0 };

const { freePort, waitHealthy, stepper, assert } = require('./lib');
const step = stepper('browser', results);

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'aviary-browser-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const owner = spawnSync(bin, ['user', 'add', 'owner', '--password-stdin', '--data', data],
    { input: 'browser-test-password\n', encoding: 'utf8' });
  if (owner.status !== 0) throw new Error('aviary user add: ' + owner.stderr);
  const server = spawn(bin, ['serve', '--listen', '127.0.0.1', '--port', String(port),
    '--data', data, '--models', path.join(root, 'models'), '--log-level', 'warn'],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  let browser;
  try {
    await waitHealthy(base + '/healthz', 20000);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const photo = path.join(shared, 'testdata/images/parrot.jpg');

    await step('upload_form_shows_boxes_and_species', async () => {
      await page.goto(base + '/');
      await page.screenshot({ path: path.join(artifacts, '1-index.png'), fullPage: true });
      await page.setInputFiles('input[name=file]', photo);
      await Promise.all([page.waitForURL(/\/uploads\/[0-9a-f]{32}$/, { timeout: 120000 }),
        page.click('button[type=submit]')]);
      await page.waitForSelector('table tbody tr', { timeout: 120000 });
      const rows = await page.$$eval('table tbody tr', (trs) => trs.map((t) => t.innerText));
      assert(rows.length >= 1, 'no detection rows');
      assert(rows.some((r) => /Scarlet Macaw|Ara macao/.test(r)), 'no Scarlet Macaw in ' + JSON.stringify(rows));
      const img = await page.$eval('img[src^="/originals/"]', (i) => i.naturalWidth);
      assert(img > 0, 'the photo did not load');
      const boxes = await page.$$eval('svg.birds rect', (r) => r.length);
      assert(boxes >= 1, 'no numbered boxes on the photo');
      await page.screenshot({ path: path.join(artifacts, '2-results.png'), fullPage: true });
    });

    let before = 0;
    await step('vote_changes_chart', async () => {
      await page.goto(base + '/monitor');
      before = await page.$$eval('svg.chart circle', (c) => c.length);
      await page.goBack();
      await page.check('input[name=vote][value=no]');
      await page.fill('#ground_truth', '2');
      await page.fill('#predicted', '1');
      await Promise.all([page.waitForNavigation(), page.click('#feedback button[type=submit]')]);
      await page.waitForSelector('.thanks');
      await page.goto(base + '/monitor');
      const after = await page.$$eval('svg.chart circle', (c) => c.length);
      assert(after > before, `chart points ${before} -> ${after}`);
      const text = await page.innerText('main');
      assert(/Retraining advised: user satisfaction is 50.0%/.test(text), 'no satisfaction warning');
      await page.screenshot({ path: path.join(artifacts, '3-monitor.png'), fullPage: true });
    });

    await step('owner_signs_in_uploads_deletes_signs_out', async () => {
      await page.goto(base + '/login');
      await page.fill('#user', 'owner');
      await page.fill('#password', 'browser-test-password');
      await Promise.all([page.waitForURL(base + '/'), page.click('form.login button[type=submit]')]);
      assert(/Sign out owner/.test(await page.innerText('header')), 'not signed in');
      // the owner's upload form carries the session's CSRF token before the file
      await page.setInputFiles('input[name=file]', photo);
      await Promise.all([page.waitForURL(/\/uploads\/[0-9a-f]{32}$/, { timeout: 120000 }),
        page.click('#upload-form button[type=submit]')]);
      const url = page.url();
      await page.waitForSelector('form.owner button', { timeout: 120000 });
      await page.screenshot({ path: path.join(artifacts, '4-owner-results.png'), fullPage: true });
      await Promise.all([page.waitForNavigation(), page.click('form.owner button')]);
      assert(/Upload deleted/.test(await page.innerText('main')), 'no deleted message');
      const gone = await page.goto(url);
      assert(gone.status() === 404, 'deleted upload answers ' + gone.status());
      await page.goto(base + '/settings');
      assert(/guests may/.test(await page.innerText('main')), 'no settings page');
      await Promise.all([page.waitForURL(base + '/'), page.click('header form.inline button')]);
      assert(/Sign in/.test(await page.innerText('header')), 'still signed in');
      const s = await page.goto(base + '/settings');
      assert(/\/login$/.test(page.url()) && s.status() === 200, 'settings open after sign-out');
    });
  } catch (e) {
    results.failed++;
    console.log(`FAIL browser/setup\n    ${e}`);
  } finally {
    if (browser) await browser.close();
    server.kill('SIGTERM');
    fs.rmSync(data, { recursive: true, force: true });
  }
  console.log(`browser: ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  process.exit(results.failed ? 1 : 0);
}

main();
