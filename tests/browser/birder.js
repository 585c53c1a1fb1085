// The birder's flows in Debian's Chromium (issue 17), on a desktop and a
// phone viewport, against a real `aviary serve` with the real models:
// upload several photos (303 to the batch page), review a bird into another
// species and add a missed one by drawing, see it on /species, in each
// export and on /monitor; then offline axe-style checks on every page at
// 1280, 390 and 360 px (no sideways scrolling, text contrast >= 4.5:1,
// labelled fields, alt text, 14 px box labels, a skip link). Screenshots in
// $ARTIFACTS (default build/browser-artifacts/birder). Prints PASS/FAIL
// lines and "birder: N passed, N failed, N skipped".
//
//   node tests/browser/birder.js [path/to/aviary]
'use strict';
const { chromium } = require('playwright-core');
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const bin = path.resolve(process.argv[2] || process.env.AVIARY_BIN || path.join(root, 'build/aviary'));
const shared = process.env.AVIARY_SHARED || path.join(root, '..', 'shared');
const artifacts = path.join(process.env.ARTIFACTS || path.join(root, 'build', 'browser-artifacts'), 'birder');
const results = { passed: 0, failed: 0, skipped: 0 };

const { freePort, waitHealthy, stepper, assert } = require('./lib');
const step = stepper('birder', results);

// Offline axe-style checks of the page as rendered; returns a list of problems.
function audit() {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1)
    problems.push(`scrolls sideways: ${doc.scrollWidth} px wide at ${window.innerWidth}`);
  const skip = document.querySelector('a.skip[href="#main"]');
  if (!skip) problems.push('no skip link');
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt')) problems.push('img without alt: ' + img.src);
    else if (!img.getAttribute('alt').trim() && !img.closest('.brand'))
      problems.push('content img with empty alt: ' + img.src);
  }
  for (const svg of document.querySelectorAll('main svg[role=img]'))
    if (!svg.querySelector('title') || !svg.querySelector('title').textContent.trim())
      problems.push('svg image without a title');
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const id = el.id;
    const labelled = (id && document.querySelector(`label[for="${id}"]`)) || el.closest('label') ||
      el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) problems.push('unlabelled field: ' + (el.name || el.outerHTML.slice(0, 60)));
  }
  const rgb = (s) => { const m = s.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0.5) return c;
    }
    return [255, 255, 255];
  };
  const seen = new Set();
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || el.closest('datalist') || el.closest('option')) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.display === 'none' || el.getClientRects().length === 0) continue;
    if (el.closest('.skip')) continue; /* off screen until focused */
    const fg = rgb(cs.color), bg = background(el);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const px = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
    const need = px >= 24 || (bold && px >= 18.66) ? 3 : 4.5;
    const key = el.tagName + cs.color + cs.backgroundColor;
    if (ratio < need && !seen.has(key)) {
      seen.add(key);
      problems.push(`contrast ${ratio.toFixed(2)}:1 < ${need} for "${el.textContent.trim().slice(0, 30)}" (${cs.color} on rgb(${bg.slice(0, 3)}))`);
    }
    if (px < 12) problems.push(`text of ${px} px: "${el.textContent.trim().slice(0, 30)}"`);
  }
  for (const t of document.querySelectorAll('svg.birds text')) {
    const h = t.getBoundingClientRect().height;
    if (h < 14) problems.push(`box label ${h.toFixed(1)} px high (< 14)`);
  }
  return problems;
}

async function main() {
  fs.rmSync(artifacts, { recursive: true, force: true }); /* this run's pictures only */
  fs.mkdirSync(artifacts, { recursive: true });
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'aviary-birder-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
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
    const desk = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const photos = ['001.jpg', '004.jpg', '010.jpg'].map((f) => path.join(shared, 'eval/birds/images', f));
    let first = '';

    await step('upload_several_303_to_batch_page', async () => {
      await desk.goto(base + '/');
      await desk.setInputFiles('input[name=file]', photos);
      await Promise.all([desk.waitForURL(/\/batch\?ids=/, { timeout: 120000 }), desk.click('#upload-form button[type=submit]')]);
      for (let i = 0; i < 120 && /still being analysed: this page/.test(await desk.innerText('main')); i++) {
        await desk.waitForTimeout(1000);
        await desk.reload();
      }
      const links = await desk.$$eval('.gallery a', (as) => as.map((a) => a.getAttribute('href')));
      assert(links.length === 3, 'batch page lists ' + links.length);
      first = links[0];
      await desk.screenshot({ path: path.join(artifacts, 'd1-batch.png'), fullPage: true });
    });

    await step('review_a_bird_into_another_species', async () => {
      await desk.goto(base + first);
      await desk.waitForSelector('svg.birds');
      await desk.fill('#sp-1', 'Carrion Crow');
      await Promise.all([desk.waitForNavigation(), desk.click('#review-1 button[value=species]')]);
      assert(/#bird-1$/.test(desk.url()), 'not back at the bird: ' + desk.url());
      const row = await desk.innerText('#bird-1');
      assert(/Carrion Crow/.test(row) && /corrected by guest/.test(row), 'row: ' + row);
      assert(/Carrion Crow/.test(await desk.textContent('#birds-title')), 'figure title not updated');
      await desk.screenshot({ path: path.join(artifacts, 'd2-reviewed.png'), fullPage: true });
    });

    await step('add_a_missed_bird_by_drawing', async () => {
      const box = await desk.$eval('#birds-svg', (s) => { s.scrollIntoView(); const r = s.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; });
      await desk.mouse.move(box[0] + box[2] * 0.05, box[1] + box[3] * 0.05);
      await desk.mouse.down();
      await desk.mouse.move(box[0] + box[2] * 0.2, box[1] + box[3] * 0.25, { steps: 5 });
      await desk.mouse.up();
      const x2 = await desk.inputValue('#add-x2');
      assert(+x2 > 0, 'drawing did not fill the corners');
      await desk.fill('#add-species', 'Turdus merula');
      await Promise.all([desk.waitForNavigation(), desk.click('#add-bird button[type=submit]')]);
      const rows = await desk.$$eval('table.birds tbody tr', (t) => t.map((r) => r.innerText));
      assert(rows.some((r) => /Blackbird/.test(r) && /added by guest/.test(r)), 'rows: ' + JSON.stringify(rows));
    });

    await step('species_page_and_exports_show_the_review', async () => {
      await desk.goto(base + '/species');
      assert(/Carrion Crow/.test(await desk.innerText('main')), 'no crow on /species');
      await desk.screenshot({ path: path.join(artifacts, 'd3-species.png'), fullPage: true });
      await desk.click('a[href="/species/Corvus%20corone"]');
      assert(/Carrion Crow/.test(await desk.innerText('h1')), 'species page');
      await desk.screenshot({ path: path.join(artifacts, 'd4-species-crow.png'), fullPage: true });
      const csv = await (await fetch(base + '/export/detections.csv')).text();
      assert(/,Corvus corone,Carrion Crow,species,guest,/.test(csv), 'detections.csv: ' + csv.slice(0, 400));
      const ebird = await (await fetch(base + '/export/ebird.csv')).text();
      assert(/^Carrion Crow,Corvus,corone,1,/m.test(ebird), 'ebird.csv: ' + ebird);
      const coco = await (await fetch(base + '/export/coco.json')).json();
      assert(coco.categories.some((c) => c.name === 'Corvus corone'), 'coco categories');
      assert(coco.annotations.some((a) => a.review === 'added'), 'coco added box');
    });

    await step('monitor_reflects_the_review', async () => {
      await desk.goto(base + '/monitor');
      const t = await desk.innerText('#reviewed');
      assert(/Accuracy from reviews/.test(t) && /0%/.test(t), 'monitor: ' + t.slice(0, 300));
      assert(/1 bird the model missed/.test(t), 'missed bird not counted');
      await desk.screenshot({ path: path.join(artifacts, 'd5-monitor.png'), fullPage: true });
    });

    await step('phone_review_works', async () => {
      await phone.goto(base + first);
      await phone.fill('#sp-1', 'Corvus corone');
      await Promise.all([phone.waitForNavigation(), phone.click('#review-1 button[value=species]')]);
      assert(/corrected by guest/.test(await phone.innerText('#bird-1')), 'phone review');
      await phone.screenshot({ path: path.join(artifacts, 'p1-results.png'), fullPage: true });
    });

    await step('review_by_choosing_a_top_guess', async () => {
      // the model's stored top guesses come first in the chooser, the search after them
      await phone.goto(base + first);
      const guesses = await phone.$$eval('#review-1 input[name=guess]', (g) => g.map((i) => i.value));
      assert(guesses.length >= 2 && guesses.length <= 5, 'guesses: ' + JSON.stringify(guesses));
      await phone.check('#g-1-1');
      await Promise.all([phone.waitForNavigation(), phone.click('#review-1 button[value=species]')]);
      const row = await phone.innerText('#bird-1');
      assert(row.includes(guesses[1]), 'row after choosing ' + guesses[1] + ': ' + row);
      await phone.screenshot({ path: path.join(artifacts, 'p2-guess.png'), fullPage: true });
      // back to the crow the later pages expect
      await phone.fill('#sp-1', 'Corvus corone');
      await Promise.all([phone.waitForNavigation(), phone.click('#review-1 button[value=species]')]);
    });

    let video = '';
    await step('video_page_has_a_player_and_species_summary', async () => {
      // a 3 s clip panned over bird.bmp, made with ffmpeg (as t_web_video does)
      const clip = path.join(data, 'garden.mp4');
      const ff = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-loop', '1', '-framerate', '25',
        '-t', '3', '-i', path.join(shared, 'testdata/images/bird.bmp'), '-vf',
        "crop=448:300:'min(t*16,64)':'min(t*10,42)',format=yuv420p", '-c:v', 'libx264', clip]);
      assert(ff.status === 0, 'ffmpeg: ' + (ff.stderr || ff.error));
      await desk.goto(base + '/');
      await desk.setInputFiles('input[name=file]', clip);
      await Promise.all([desk.waitForURL(/\/uploads\/[0-9a-f]{32}$/, { timeout: 120000 }),
        desk.click('#upload-form button[type=submit]')]);
      await desk.waitForSelector('#player', { timeout: 180000 });
      video = new URL(desk.url()).pathname;
      assert(await desk.$('#species-summary'), 'no per-species summary');
      assert(await desk.$('a.seek'), 'no thumbnail that seeks');
      await desk.screenshot({ path: path.join(artifacts, 'd6-video.png'), fullPage: true });
    });

    const pages = ['/', '/uploads', '/species', '/species/Corvus%20corone', '/activity', '/review',
      '/monitor', first, '/batch?ids=' + first.slice(9)];
    if (video) pages.push(video);
    for (const [name, pg, width] of [['desktop', desk, 1280], ['phone', phone, 390], ['narrow', phone, 360]]) {
      await step(`axe_style_checks_${name}`, async () => {
        await pg.setViewportSize({ width, height: 844 });
        const all = [];
        for (const p of pages) {
          await pg.goto(base + p);
          const problems = await pg.evaluate(audit);
          for (const q of problems) all.push(`${p}: ${q}`);
          if (name !== 'desktop') {
            const file = p === first ? 'results' : p === video ? 'video' : /^\/batch/.test(p) ? 'batch'
              : p.replace(/[^a-z0-9]+/gi, '_').replace(/^_|_$/g, '') || 'index';
            await pg.screenshot({ path: path.join(artifacts, `${name}-${file.slice(0, 40)}.png`), fullPage: true });
          }
        }
        assert(all.length === 0, all.slice(0, 12).join('\n    '));
      });
    }
    await step('audit_catches_known_problems', async () => {
      // the checks above must be able to fail: a page with one of each problem
      await desk.setViewportSize({ width: 390, height: 844 });
      // (a data: URL: no CSP, so the bad inline styles apply)
      await desk.goto('data:text/html,' + encodeURIComponent('<main id="main"><p style="color:#aaa;' +
        'background:#fff">faint</p><img src="x.png"><input name="q"><div style="width:900px">wide</div></main>'));
      const found = (await desk.evaluate(audit)).join('\n');
      for (const want of ['scrolls sideways', 'no skip link', 'img without alt', 'unlabelled field', 'contrast'])
        assert(found.includes(want), `audit missed "${want}" in:\n${found}`);
      await desk.setViewportSize({ width: 1280, height: 900 });
    });

    await step('skip_link_is_first_and_works', async () => {
      await desk.goto(base + '/species');
      await desk.keyboard.press('Tab');
      const focused = await desk.evaluate(() => document.activeElement.className);
      assert(focused === 'skip', 'first Tab lands on ' + focused);
    });
  } catch (e) {
    results.failed++;
    console.log(`FAIL birder/setup\n    ${e}`);
  } finally {
    if (browser) await browser.close();
    server.kill('SIGTERM');
    fs.rmSync(data, { recursive: true, force: true });
  }
  console.log(`birder: ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  process.exit(results.failed ? 1 : 0);
}

main();
