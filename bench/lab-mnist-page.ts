/**
 * MNIST-1D learned online in the lab page (headless Chromium): test accuracy after given learning times.
 * Usage: node --import tsx bench/lab-mnist-page.ts [SECONDS...] [--batch B] [--lr LR] [--shots DIR]
 * e.g. `... bench/lab-mnist-page.ts 60 300` evaluates on the 1000 test samples after 60 s and after 300 s of learning
 * (evaluation time not counted). Builds lab/dist if it is missing. Prints one line per checkpoint in time.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildLab, startLabServer } from '../src/cli/commands/lab.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (k: string) => {
  const i = args.indexOf(k);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const batch = opt('--batch'), lr = opt('--lr'), shots = opt('--shots');
const times = args.map(Number).filter((t) => t > 0).sort((a, b) => a - b);
if (!times.length) times.push(60);
const dist = join(repo, 'lab', 'dist');
if (!existsSync(join(dist, 'index.html'))) await buildLab(join(repo, 'lab'));
// serve a copy, so that a rebuild of lab/dist meanwhile (e.g. by the browser tests) does not disturb the run
const root = mkdtempSync(join(tmpdir(), 'gle-lab-page-'));
cpSync(dist, root, { recursive: true });
const srv = await startLabServer({ root, port: 0 });
const browser = await chromium.launch({ executablePath: process.env.GLE_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(0); // no limit: reads of the page wait while a starved machine catches up (300 s was not enough)
  const q = new URLSearchParams();
  if (batch) q.set('batch', batch);
  if (lr) q.set('lr', lr);
  await page.goto(`${srv.url}#mnist${q.size ? `?${q}` : ''}`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
  await page.waitForFunction(() => /loaded/.test(document.querySelector('#mnist-status')?.textContent ?? ''), null, { timeout: 120_000 });
  let learned = 0;
  // clicks through the DOM (no actionability waits: a starved machine makes those time out)
  const click = (sel: string) => page.evaluate((s) => (document.querySelector(s) as HTMLElement).click(), sel);
  for (const t of times) {
    await click('#mnist-run');
    const t0 = Date.now();
    await page.waitForTimeout((t - learned) * 1000);
    await click('#mnist-run');
    learned += (Date.now() - t0) / 1000;
    const samples = Number(await page.getAttribute('#mnist-train-samples', 'data-value'));
    const preq = Number(await page.getAttribute('#mnist-preq', 'data-value'));
    const prev = (await page.textContent('#mnist-status')) ?? '';
    await click('#mnist-eval');
    await page.waitForFunction((p) => {
      const s = document.querySelector('#mnist-status')?.textContent ?? '';
      return /test accuracy/.test(s) && s !== p;
    }, prev, { timeout: 600_000 });
    const test = Number(await page.getAttribute('#mnist-test', 'data-value'));
    const rate = await page.textContent('#mnist-backend');
    console.log(`page, ${learned.toFixed(0)} s of learning: ${samples} training samples, prequential ${(100 * preq).toFixed(1)} %, test ${(100 * test).toFixed(1)} % (${rate})`);
    if (shots) {
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, `mnist1d-${t}s.png`), fullPage: true });
    }
  }
} finally {
  await browser.close();
  await srv.close();
  rmSync(root, { recursive: true, force: true });
}
