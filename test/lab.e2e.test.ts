/**
 * GLE Lab end-to-end tests in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; no browser
 * download). Skips with a message when Chromium is absent. Builds lab/dist if it is missing or older than lab/
 * sources. Screenshots and the exported checkpoint go to test-artifacts/lab/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabServer, type LabServer } from '../src/cli/commands/lab.js';
import { UserError } from '../src/util/errors.js';
import { applyCheckpoint, readCheckpoint } from '../src/io/checkpoint.js';
import { GLENetwork } from '../src/model/network.js';
import { JsBackend } from '../src/kernels/js/index.js';
import { artifacts, chromiumSkip, launchLabBrowser, repo, serveLab } from './helpers/browser.js';

/**
 * MNIST-1D in the page: online training samples before the test-split evaluation, and the accuracy the default spec
 * (constant lr 3e-4, averaged weights evaluated) must reach there: the lab's loop in Node gives 51.0 % after 16,000
 * samples (seeds 0-2 of the explore loop: 42-53 %); the old constant-lr default without averaging reached 19.8 % in
 * the page, chance is 10 % (docs/RESULTS.md §23, §28)
 */
const MNIST_TRAIN = 16000;
const MNIST_MIN_TEST = 0.35;

describe('gle lab static server', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gle-lab-srv-'));
    writeFileSync(join(dir, 'index.html'), '<p>hi</p>');
    writeFileSync(join(dir, 'a.js'), 'x');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('serves files on 127.0.0.1 with MIME types, 404s and refuses traversal', async () => {
    const srv = await startLabServer({ root: dir, port: 0 });
    try {
      assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const r = await fetch(srv.url);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/html/);
      assert.equal(await r.text(), '<p>hi</p>');
      assert.match((await fetch(srv.url + 'a.js')).headers.get('content-type') ?? '', /javascript/);
      assert.equal((await fetch(srv.url + 'nope.txt')).status, 404);
      assert.notEqual((await fetch(srv.url + '..%2f..%2fetc%2fpasswd')).status, 200);
    } finally {
      await srv.close();
    }
  });

  test('a taken --port is a clear UserError', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((res) => blocker.listen(0, '127.0.0.1', () => res((blocker.address() as { port: number }).port)));
    try {
      await assert.rejects(startLabServer({ root: dir, port }), (e: unknown) => e instanceof UserError && /already in use/.test((e as Error).message));
    } finally {
      blocker.close();
    }
  });
});

describe('GLE Lab in headless Chromium', { skip: chromiumSkip('the lab browser tests'), timeout: 3_600_000 }, () => { // guards only: no verdict here depends on how busy the machine is
  let srv: LabServer;
  let ctx: import('playwright-core').BrowserContext;
  let page: import('playwright-core').Page;
  let closeBrowser: (() => Promise<void>) | undefined;
  const consoleErrors: string[] = [];

  before(async () => {
    srv = await serveLab();
    ({ ctx, page, close: closeBrowser } = await launchLabBrowser({ viewport: { width: 1280, height: 900 } }, consoleErrors));
    await page.goto(srv.url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 }); // a guard only (the worker's wasm start-up under load)
  });

  after(async () => {
    await closeBrowser?.();
    await srv?.close();
  });

  const num = async (sel: string): Promise<number> => Number((await page.getAttribute(sel, 'data-value')) ?? NaN);
  /** a click through the DOM (no actionability waits: while MNIST-1D learns at full speed on a loaded machine, those time out) */
  const domClick = (sel: string) => page.evaluate((q) => (document.querySelector(q) as HTMLElement).click(), sel);
  /** Click an export button, save its two downloads (spec.json, model.safetensors) to test-artifacts/lab/DIR; DIR's path. */
  const exportCheckpoint = async (button: string, dir: string, click: (sel: string) => Promise<unknown> = (sel) => page.click(sel)): Promise<string> => {
    const ckDir = join(artifacts, dir);
    mkdirSync(ckDir, { recursive: true });
    const downloads: import('playwright-core').Download[] = [];
    const got = new Promise<void>((res) => {
      const on = (d: import('playwright-core').Download) => {
        downloads.push(d);
        if (downloads.length === 2) {
          page.off('download', on);
          res();
        }
      };
      page.on('download', on);
    });
    await click(button);
    await got;
    for (const d of downloads) await d.saveAs(join(ckDir, d.suggestedFilename()));
    return ckDir;
  };

  test('the chain demo runs and its loss falls by at least 100x', async () => {
    let peak = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 3000) {
      const v = await num('#chain-loss');
      if (Number.isFinite(v)) peak = Math.max(peak, v);
      await page.waitForTimeout(100);
    }
    assert.ok(peak > 0, 'the chain produced a loss');
    let last = Infinity;
    while (Date.now() - t0 < 180_000) { // a guard only: the verdict is the loss, however busy the machine
      last = await num('#chain-loss');
      if (last < peak / 100) break;
      await page.waitForTimeout(250);
    }
    await page.screenshot({ path: join(artifacts, 'chain.png') });
    const rate = Number(await page.textContent('#chain-rate'));
    console.log(`chain: peak loss ${peak.toExponential(2)} -> ${last.toExponential(2)} after ${((Date.now() - t0) / 1000).toFixed(1)} s; ${rate.toFixed(0)} steps/s`);
    assert.ok(last < peak / 100, `loss fell from ${peak} only to ${last}`);
  });

  test('the page stays responsive while the chain runs 1000 steps per frame (frame rate vs a same-run baseline)', async () => {
    // Load-independent: the frame rate at 1000 steps/frame is compared with the frame rate at 1 step/frame measured
    // just before and just after on the same machine, so a busy machine slows both alike.
    const setSpeed = async (log10: number) => {
      await page.fill('#chain-speed', String(log10)); // log10 slider
      await page.dispatchEvent('#chain-speed', 'input');
      await page.waitForTimeout(1000);
    };
    // (a string, so that the test transpiler's helpers do not leak into the page)
    const fps = async (): Promise<number> =>
      page.evaluate(`new Promise((res) => {
        let n = 0;
        const t0 = performance.now();
        const f = () => { n++; if (performance.now() - t0 < 1500) requestAnimationFrame(f); else res((n * 1000) / (performance.now() - t0)); };
        requestAnimationFrame(f);
      })`);
    const steps = async () => Number(await page.textContent('#chain-steps'));
    await setSpeed(0);
    const base1 = await fps();
    await setSpeed(3);
    const s0 = await steps();
    const fast = await fps();
    const s1 = await steps();
    const rate = Number(await page.textContent('#chain-rate'));
    await setSpeed(0);
    const base2 = await fps();
    const base = (base1 + base2) / 2;
    console.log(`chain at 1 step/frame: page draws ${base1.toFixed(0)} and ${base2.toFixed(0)} frames/s; at 1000 steps/frame: ${fast.toFixed(0)} frames/s, ${rate.toFixed(0)} steps/s`);
    assert.ok(s1 - s0 >= 1000, `the chain advanced only ${s1 - s0} steps in 1.5 s at 1000 steps/frame`);
    assert.ok(fast >= 0.4 * base, `the main thread drew ${fast.toFixed(1)} frames/s at 1000 steps/frame vs ${base.toFixed(1)} at 1 step/frame`);
    await setSpeed(Math.log10(300));
  });

  test('switching to BP changes the mode while it runs', async () => {
    assert.equal((await page.textContent('#chain-mode-label'))?.trim(), 'gle');
    const before = Number(await page.textContent('#chain-steps'));
    await page.selectOption('#chain-mode', 'bp');
    await page.waitForFunction(() => document.querySelector('#chain-mode-label')?.textContent === 'bp', null, { timeout: 30_000 });
    await page.waitForFunction((b) => Number(document.querySelector('#chain-steps')?.textContent) > b, before, { timeout: 30_000 });
    await page.selectOption('#chain-mode', 'gle');
    await page.waitForFunction(() => document.querySelector('#chain-mode-label')?.textContent === 'gle', null, { timeout: 30_000 });
  });

  test('the chain student downloads as a checkpoint the CLI loads', async () => {
    const ckDir = await exportCheckpoint('#chain-export', 'chain-checkpoint');
    const ck = readCheckpoint(ckDir);
    assert.equal(ck.spec.dtype, 'float64');
    const net = new GLENetwork(ck.spec, new JsBackend('float64'));
    applyCheckpoint(ck, net, null, ckDir);
    const w = net.layers.map((l) => l.params.W.a[0]);
    const tau = net.layers.map((l) => l.params.tauM.a[0]);
    console.log(`chain checkpoint: w = (${w.map((v) => v.toFixed(3))}), tau_m = (${tau.map((v) => v.toFixed(3))})`);
    assert.ok(w.every(Number.isFinite) && tau.every((t) => t >= 0.1));
  });

  test('issue 18 (6): Reset while paused shows the reset state at once; the steps/s readout is steady', async () => {
    // steady rate: at a constant speed the readout varies by less than 3x over 4 s (it jumped 941 <-> 46k before)
    const rates: number[] = [];
    for (let i = 0; i < 8; i++) {
      await page.waitForTimeout(500);
      const r = Number(await page.textContent('#chain-rate'));
      if (r > 0) rates.push(r);
    }
    const [lo, hi] = [Math.min(...rates), Math.max(...rates)];
    console.log(`chain steps/s readouts over 4 s: ${rates.join(', ')}`);
    assert.ok(rates.length >= 4 && hi <= 3 * lo, `steps/s readout jumps from ${lo} to ${hi} at a steady speed`);
    await page.click('#chain-run'); // pause
    await page.waitForTimeout(300);
    const tPaused = Number(await page.textContent('#chain-t'));
    assert.ok(tPaused > 1, `t = ${tPaused} before the reset`);
    await page.click('#chain-reset');
    await page.waitForFunction(() => Number(document.querySelector('#chain-t')?.textContent) < 0.5, null, { timeout: 30_000 });
    assert.equal(await page.textContent('#chain-run'), 'Run');
    await page.click('#chain-run'); // run again
  });

  test('issue 18: GLE, BP and BPTT students run side by side from the same start', async () => {
    await page.check('#chain-compare');
    await page.waitForSelector('#chain-compare-plots:not([hidden]) .uplot');
    // the three losses all start from the same state and the same teacher: equal at first, apart later
    await page.waitForFunction(() => Number(document.querySelector('#chain-t')?.textContent) > 30, null, { timeout: 120_000 });
    await page.screenshot({ path: join(artifacts, 'chain-compare.png'), fullPage: true });
    const legend = (await page.textContent('#chain-compare-plots')) ?? '';
    for (const m of ['GLE', 'BP', 'BPTT']) assert.match(legend, new RegExp(m));
    await page.uncheck('#chain-compare');
  });

  test('issue 18: the page link encodes the settings and restores them', async () => {
    await page.fill('#chain-lr', '-3'); // log10 slider: lr = 1e-3
    await page.dispatchEvent('#chain-lr', 'input');
    await page.selectOption('#chain-input', 'sines');
    await page.waitForFunction(() => /lr=0\.001/.test(location.hash) && /input=sines/.test(location.hash), null, { timeout: 10_000 });
    const url = page.url();
    const p2 = await ctx.newPage();
    try {
      await p2.goto(url);
      await p2.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
      assert.equal(await p2.textContent('#chain-lr-out'), '1.0e-3');
      assert.equal(await p2.inputValue('#chain-input'), 'sines');
      // the worker got it too: the chain runs with lr 1e-3 (its exported checkpoint says so)
      await p2.goto(url.replace(/#chain\?.*/, '#operators?taum=2&taur=0.5&w=1'));
      await p2.waitForSelector('#view-operators:not([hidden])');
      assert.equal(await p2.textContent('#op-taum-out'), '2');
      assert.equal(await p2.textContent('#op-taur-out'), '0.5');
    } finally {
      await p2.close();
    }
    await page.fill('#chain-lr', '-4');
    await page.dispatchEvent('#chain-lr', 'input');
    await page.selectOption('#chain-input', 'square');
  });

  test('issue 18: tabs are ARIA tabs, reachable by keyboard; the hidden chain is paused', async () => {
    assert.equal(await page.getAttribute('#tabs', 'role'), 'tablist');
    // one tab per view, each controlling its tabpanel
    const tabs = await page.locator('#tabs [role="tab"]').count();
    assert.ok(tabs >= 5, `${tabs} tabs`);
    assert.equal(await page.locator('section.view[role="tabpanel"]').count(), tabs);
    const controlled = await page.evaluate(() => Array.from(document.querySelectorAll('#tabs [role="tab"]')).map((t) => document.getElementById(t.getAttribute('aria-controls') ?? '')?.getAttribute('aria-labelledby') === t.id));
    assert.deepEqual(controlled, new Array(tabs).fill(true));
    assert.equal(await page.getAttribute('#tab-chain', 'aria-selected'), 'true');
    await page.focus('#tab-chain');
    await page.keyboard.press('ArrowRight');
    await page.waitForSelector('#view-operators:not([hidden])');
    assert.equal(await page.getAttribute('#tab-operators', 'aria-selected'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-operators');
    assert.equal(await page.getAttribute('#view-operators', 'role'), 'tabpanel');
    // every slider has an accessible name
    const unnamed = await page.evaluate(() => Array.from(document.querySelectorAll('input[type=range]')).filter((i) => !i.getAttribute('aria-label')).length);
    assert.equal(unnamed, 0);
    // the chain does not run while hidden: the worker's step count (the view keeps it current while hidden) stays
    // put, where it makes thousands of steps per second when shown
    await page.click('#tab-chain');
    await page.waitForTimeout(1500);
    const rate = Number(await page.textContent('#chain-rate'));
    await page.click('#tab-operators');
    await page.waitForTimeout(1500); // records still in flight arrive
    const steps = async () => Number(await page.getAttribute('#view-chain', 'data-steps'));
    const s0 = await steps();
    await page.waitForTimeout(4000);
    const s1 = await steps();
    console.log(`chain: ${rate} steps/s shown; ${s1 - s0} steps in 4 s hidden`);
    assert.ok(rate > 0 && s1 - s0 < 0.05 * 4 * rate, `the hidden chain ran ${s1 - s0} steps in 4 s (${rate} steps/s when shown)`);
    await page.click('#tab-chain');
  });

  test('the operator explorer draws gain, phase and time-domain plots; log sliders reach exactly 1', async () => {
    await page.click('#tabs button[data-view="operators"]');
    await page.waitForSelector('#view-operators:not([hidden]) .uplot');
    assert.equal(await page.locator('#view-operators .uplot').count(), 3);
    await page.fill('#op-taum', '0.5'); // log10 slider: τm = 10^0.5
    await page.dispatchEvent('#op-taum', 'input');
    await page.fill('#op-taum', '0');
    await page.dispatchEvent('#op-taum', 'input');
    assert.equal(await page.textContent('#op-taum-out'), '1');
    await page.waitForSelector('#view-operators[data-measured="1"]', { timeout: 60_000 });
    await page.screenshot({ path: join(artifacts, 'operators.png') });
  });

  test('issue 18 (4): dragging an explorer slider keeps the page responsive (measurement in the worker)', async () => {
    // A 20-step drag, one move per frame. For each move: the main thread's time for the input handler plus the redraw
    // it causes (uPlot draws in a microtask), and the frame intervals. The old page measured on the main thread
    // (120-620 ms per move, a 20-step drag 13.6 s); now the worker measures. Verdicts that do not depend on the load:
    // (a) right after a move's input event the view says its measurement is pending (data-measured 0): nothing was
    // measured synchronously on the main thread; (b) a ratio within this run: the page's cost per move stays under
    // 50 ms or under half the worker's measurement time (a page that measured itself would pay that time on every
    // move; both threads slow down together on a busy machine). Frame intervals are logged.
    await page.click('#tab-operators');
    await page.waitForSelector('#view-operators[data-measured="1"]', { timeout: 60_000 });
    const r = (await page.evaluate(`new Promise((res) => {
      const inp = document.querySelector('#op-taur');
      const view = document.querySelector('#view-operators');
      const gaps = [], cost = [], pending = [];
      let last = performance.now(), i = 0;
      const frame = async () => {
        const now = performance.now();
        gaps.push(now - last);
        if (i < 20) {
          inp.value = String(-1 + i * 0.1);
          const t0 = performance.now();
          inp.dispatchEvent(new Event('input'));
          pending.push(view.dataset.measured === '0');
          await new Promise((r) => setTimeout(r, 0));
          cost.push(performance.now() - t0);
          i++;
          last = performance.now();
          requestAnimationFrame(frame);
        } else res({ gaps: gaps.slice(1), cost, pending });
      };
      requestAnimationFrame(frame);
    })`)) as { gaps: number[]; cost: number[]; pending: boolean[] };
    await page.waitForSelector('#view-operators[data-measured="1"]', { timeout: 60_000 });
    const workerMs = Number(/measured in (\d+) ms/.exec((await page.textContent('#op-status')) ?? '')?.[1]);
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    const p90 = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length * 0.9)];
    console.log(`explorer drag: main-thread cost per move median ${med(r.cost).toFixed(1)} ms, max ${Math.max(...r.cost).toFixed(1)} ms; frame interval median ${med(r.gaps).toFixed(1)} ms, p90 ${p90(r.gaps).toFixed(1)} ms; the worker's measurement took ${workerMs} ms`);
    assert.ok(Number.isFinite(workerMs), 'the worker reported its measurement');
    assert.ok(r.pending.every(Boolean), 'every move leaves the measurement pending for the worker');
    assert.ok(med(r.cost) < Math.max(50, workerMs / 2), `a slider move costs the page ${med(r.cost)} ms (median); the worker's measurement took ${workerMs} ms`);
  });

  test('issue 18 (5): the whole view exports as one SVG figure with log axes where the plot has them, and a 2x PNG', async () => {
    const grab = async (fmt: string) => {
      const [d] = await Promise.all([page.waitForEvent('download'), page.click(`#view-operators .export button[data-fmt="${fmt}"]`)]);
      const f = join(artifacts, d.suggestedFilename());
      await d.saveAs(f);
      return f;
    };
    const svg = readFileSync(await grab('svg'), 'utf8');
    const panel = (title: string) => {
      const m = new RegExp(`<g class="panel" data-title="${title}"[^>]*>([\\s\\S]*?)</g></g>`).exec(svg);
      assert.ok(m, `the figure has a panel '${title}'`);
      return m[0];
    };
    const gain = panel('gain over ω');
    assert.match(gain, /data-x-scale="log" data-y-scale="log"/);
    assert.match(panel('phase over ω'), /data-x-scale="log" data-y-scale="linear"/);
    // decade ticks at equal spacing, labelled 0.01 … 100 (no cut or raw exponents such as "1e2.0")
    const ticks = [...gain.matchAll(/<text class="xtick" data-v="(-?\d+)" x="([\d.]+)"[^>]*>([^<]*)</g)].map((m) => ({ e: Number(m[1]), x: Number(m[2]), s: m[3] }));
    assert.deepEqual(ticks.map((t) => t.e), [-2, -1, 0, 1, 2]);
    assert.deepEqual(ticks.map((t) => t.s), ['0.01', '0.1', '1', '10', '100']);
    const d = ticks.slice(1).map((t, i) => t.x - ticks[i].x);
    assert.ok(Math.max(...d) - Math.min(...d) < 1, `decades not equally spaced: ${d}`);
    assert.doesNotMatch(svg, /1e\d+\.\d/);
    // every series in the legend, below the plot area (not over the curves)
    for (const l of ['I⁻ (retrospective)', 'D⁺ (prospective)', 'neuron D⁺I⁻', 'error neuron', 'error neuron measured']) assert.ok(gain.includes(`>${l}<`), `legend lacks ${l}`);
    const plotBottom = Number(/<rect x="\d+" y="(\d+)" width="\d+" height="(\d+)" fill="none"/.exec(gain)!.slice(1, 3).reduce((a, b) => String(Number(a) + Number(b))));
    const legendY = Math.min(...[...gain.split('<g class="legend">')[1].matchAll(/<text x="[\d.]+" y="([\d.]+)"/g)].map((m) => Number(m[1])));
    assert.ok(legendY > plotBottom + 30, `legend at y ${legendY}, plot ends at ${plotBottom}`);
    // the PNG is the same figure at twice its size
    const png = readFileSync(await grab('png'));
    const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    const [sw, sh] = /width="(\d+)" height="(\d+)"/.exec(svg)!.slice(1).map(Number);
    assert.deepEqual([w, h], [2 * sw, 2 * sh]);
    console.log(`exported figure: SVG ${sw}x${sh}, PNG ${w}x${h}`);
  });

  test('issue 18: charts have axis labels, hover read-outs and a lin/log toggle', async () => {
    await page.click('#tab-chain');
    await page.waitForSelector('#view-chain:not([hidden]) .uplot');
    // uPlot draws axis labels on its canvas; each chart names its axes for screen readers too
    const figs = await page.evaluate(() => Array.from(document.querySelectorAll('#chain-plots [role="figure"]')).map((e) => e.getAttribute('aria-label')));
    assert.ok(figs.length >= 6 && figs.every((f) => / over t \(time units\)$/.test(f ?? '')), `chart labels: ${figs}`);
    assert.ok(figs.some((f) => /τₘ \(time units\)/.test(f ?? '')), `chart labels: ${figs}`);
    await page.click('#chain-run'); // pause, so that the read-out is not reset by new data
    const chart = page.locator('#chain-plots .chart').last(); // the loss
    await chart.scrollIntoViewIfNeeded();
    const box = (await chart.locator('.u-over').boundingBox())!;
    await chart.locator('.u-over').hover({ position: { x: box.width * 0.6, y: box.height * 0.5 } });
    await page.waitForTimeout(200);
    const readout = (await chart.locator('.u-legend .u-value').allTextContents()).join(' ');
    assert.match(readout, /\d/, `hover read-out: ${readout}`);
    const b = chart.locator('button.ylog');
    assert.equal(await b.textContent(), 'y: log');
    await b.click();
    assert.equal(await chart.locator('button.ylog').textContent(), 'y: lin');
    await chart.locator('button.ylog').click();
    await page.click('#chain-run'); // run again
  });

  test('issue 18: the page fits a phone-sized screen (390 px)', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(500);
    for (const v of ['chain', 'operators', 'mnist']) {
      await page.click(`#tab-${v}`);
      await page.waitForTimeout(300);
      const w = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(w <= 390, `${v}: the page is ${w} px wide at 390 px`);
    }
    await page.click('#tab-chain');
    await page.screenshot({ path: join(artifacts, 'phone-chain.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.waitForTimeout(300);
  });

  test('the spec editor rejects a bad spec with a visible message', async () => {
    await page.click('#tabs button[data-view="spec"]');
    await page.waitForSelector('#view-spec:not([hidden])');
    assert.match((await page.getAttribute('#spec-result', 'class')) ?? '', /ok/);
    const bad = JSON.parse(await page.inputValue('#spec-text'));
    bad.layers[0].size = -3;
    bad.dt = 'fast';
    await page.fill('#spec-text', JSON.stringify(bad, null, 2));
    await page.waitForSelector('#spec-result.error', { state: 'visible', timeout: 30_000 });
    const msg = (await page.textContent('#spec-result')) ?? '';
    assert.match(msg, /layers\[0\]\.size/);
    assert.match(msg, /dt/);
    // issue 18 (6): all problems at once: a schema problem, a resolution problem and MNIST-1D's own requirement
    const three = JSON.parse(await page.inputValue('#spec-text'));
    three.layers[0].size = 24;
    three.dt = 0.2;
    three.loss = 'hinge'; // schema
    three.layers[1].tau_m.groups[0].count = 9; // resolution: the groups add up to 25 neurons, the layer has 24
    three.layers[three.layers.length - 1].size = 9; // MNIST-1D: 10 outputs
    await page.fill('#spec-text', JSON.stringify(three, null, 2));
    await page.waitForFunction(() => /hinge/.test(document.querySelector('#spec-result')?.textContent ?? ''), null, { timeout: 30_000 });
    const all = (await page.textContent('#spec-result')) ?? '';
    assert.match(all, /loss: .*hinge/);
    assert.match(all, /layers\[1\]\.tau_m: groups add up to 25/);
    assert.match(all, /10 outputs for MNIST-1D/);
    await page.screenshot({ path: join(artifacts, 'spec-error.png') });
    // issue 18 (6): a 25M-parameter spec is refused for the page, with the reason
    const huge = JSON.parse(await page.inputValue('#spec-text'));
    huge.layers[0].size = 24;
    huge.dt = 0.2;
    huge.loss = 'ce';
    huge.layers[huge.layers.length - 1].size = 10;
    for (const l of [1, 2]) Object.assign(huge.layers[l], { size: 5000, tau_m: 1.2, tau_r: 0.2 });
    await page.fill('#spec-text', JSON.stringify(huge, null, 2));
    await page.waitForFunction(() => /too large for the page/.test(document.querySelector('#spec-result')?.textContent ?? ''), null, { timeout: 30_000 });
    await page.fill('#spec-text', '{ "input_size": 1, ');
    await page.waitForFunction(() => /JSON syntax error/.test(document.querySelector('#spec-result')?.textContent ?? ''));
    await page.click('#spec-reset');
    await page.waitForSelector('#spec-result.ok');
    // a valid edit applies: the worker rebuilds the MNIST-1D network from it
    const good = JSON.parse(await page.inputValue('#spec-text'));
    good.layers.splice(2, 1); // drop one hidden layer
    await page.fill('#spec-text', JSON.stringify(good, null, 2));
    await page.waitForFunction(() => /3 layers \(24–24–10\)/.test(document.querySelector('#spec-result')?.textContent ?? ''));
    await page.click('#spec-apply');
    await page
      .waitForFunction(() => /rebuilt from the spec/.test(document.querySelector('#mnist-status')?.textContent ?? ''), null, { timeout: 30_000 })
      .catch(async (e) => {
        throw new Error(`${(e as Error).message}; status: ${await page.textContent('#mnist-status')}; toast: ${await page.textContent('#toast')}`);
      });
    await page.click('#spec-reset');
    await page.click('#spec-apply');
  });

  test('issue 18 (1, 6): MNIST-1D learns online in the page: test accuracy well above chance; history and status go on after Evaluate', async () => {
    await page.click('#tabs button[data-view="mnist"]');
    await page.waitForFunction(() => /loaded|rebuilt/.test(document.querySelector('#mnist-status')?.textContent ?? ''), null, { timeout: 30_000 });
    // learning pauses by itself after exactly MNIST_TRAIN samples, so the verdict does not depend on the machine's speed
    await page.fill('#mnist-stop', String(MNIST_TRAIN));
    await page.dispatchEvent('#mnist-stop', 'change');
    const t0 = Date.now();
    await domClick('#mnist-run');
    await page.waitForFunction(() => /paused after/.test(document.querySelector('#mnist-status')?.textContent ?? ''), null, { timeout: 1_800_000 }); // a guard only (16,000 samples took > 600 s at load 25)
    const secs = (Date.now() - t0) / 1000;
    const trained = await num('#mnist-train-samples');
    const preq = await num('#mnist-preq');
    await domClick('#mnist-eval');
    await page.waitForFunction(() => /test accuracy/.test(document.querySelector('#mnist-status')?.textContent ?? ''), null, { timeout: 120_000 });
    const test1 = await num('#mnist-test');
    // the default spec averages the weights for evaluation: the page says which weights it evaluated
    assert.equal(await page.getAttribute('#mnist-weights', 'data-value'), 'averaged');
    assert.match((await page.textContent('#mnist-status')) ?? '', /averaged weights/);
    console.log(`mnist1d in the page: ${trained} training samples in ${secs.toFixed(0)} s (batch ${await page.inputValue('#mnist-batch')}): prequential ${(100 * preq).toFixed(1)} %, test ${(100 * test1).toFixed(1)} %`);
    await page.screenshot({ path: join(artifacts, 'mnist1d.png'), fullPage: true });
    assert.ok(trained >= MNIST_TRAIN, `only ${trained} training samples in ${secs} s`);
    assert.ok(test1 >= MNIST_MIN_TEST, `test accuracy ${test1} after ${trained} online training samples (chance 0.1)`);
    // learning goes on after the evaluation: the status says so and the sample count continues (no restart at 0)
    await page.fill('#mnist-stop', '0');
    await page.dispatchEvent('#mnist-stop', 'change');
    await domClick('#mnist-run');
    await page.waitForFunction(() => /learning online/.test(document.querySelector('#mnist-status')?.textContent ?? ''), null, { timeout: 30_000 });
    await page.waitForFunction((n) => Number(document.querySelector('#mnist-train-samples')?.dataset.value) > n, trained, { timeout: 60_000 });
    await domClick('#mnist-run'); // pause

    // export: two downloads (spec.json, model.safetensors) that the CLI's formats accept
    const ckDir = await exportCheckpoint('#mnist-export', 'checkpoint', domClick);
    // the CLI's checkpoint reader accepts it
    const ck = readCheckpoint(ckDir);
    const spec = ck.spec;
    const st = { tensors: ck.tensors };
    assert.deepEqual(st.tensors['layer_0.weight'].shape, [spec.resolved[0].size, 1]);
    assert.ok(st.tensors[`layer_${spec.resolved.length - 1}.tau_r`]);

    // load it back through the file chooser: the page evaluates it on the test split
    await page.setInputFiles('#mnist-ckpt', [join(ckDir, 'spec.json'), join(ckDir, 'model.safetensors')]);
    await page.waitForFunction(() => /test accuracy/.test(document.querySelector('#mnist-status')?.textContent ?? ''), null, { timeout: 60_000 });
    const status = (await page.textContent('#mnist-status')) ?? '';
    const testAcc = Number(/test accuracy ([\d.]+)/.exec(status)?.[1]);
    // the same evaluation in Node with the same core must agree (checkpoint round trip is exact)
    const { MnistSim } = await import('../lab/src/sim/mnist.js');
    const { loadMnist1d } = await import('../src/data/mnist1d-files.js');
    const d = loadMnist1d({ dir: join(repo, 'data', 'mnist1d'), length: 360 });
    const sim = new MnistSim(new JsBackend(spec.dtype), spec, { x: d.xTrain, y: d.yTrain, n: d.nTrain, length: d.length }, { batch: Number(await page.inputValue('#mnist-batch')) });
    applyCheckpoint(ck, sim.net, null, ckDir);
    sim.loaded(); // as the page's worker does: the weight average restarts at the loaded parameters
    sim.learning = false;
    sim.setData({ x: d.xTest, y: d.yTest, n: d.nTest, length: d.length }, false);
    while (sim.samples < d.nTest) sim.step();
    console.log(`mnist1d: checkpoint evaluated in the page: ${status}; in Node: ${(100 * sim.accuracy).toFixed(1)} %`);

    // a checkpoint trained by the CLI (gle run mnist1d-15k --seed 56; parameters only) evaluates in the page
    const cli = join(repo, 'examples', 'checkpoints', 'mnist1d-15k-seed56');
    await page.setInputFiles('#mnist-ckpt', [join(cli, 'spec.json'), join(cli, 'model.safetensors')]);
    await page.waitForFunction((prev) => {
      const t = document.querySelector('#mnist-status')?.textContent ?? '';
      return /test accuracy/.test(t) && t !== prev;
    }, status, { timeout: 120_000 });
    const cliStatus = (await page.textContent('#mnist-status')) ?? '';
    const cliAcc = Number(/test accuracy ([\d.]+)/.exec(cliStatus)?.[1]);
    console.log(`mnist1d: CLI-trained checkpoint evaluated in the page: ${cliStatus}`);
    assert.ok(cliAcc >= 85, `the CLI-trained network scores ${cliAcc} % in the page`);
    // issue 18 (2): training on from it keeps it (it fell to 22 % within 2.5k samples before)
    await domClick('#mnist-run');
    await page.waitForFunction(() => /learning online.*lr/.test(document.querySelector('#mnist-status')?.textContent ?? ''), null, { timeout: 30_000 });
    const onStatus = (await page.textContent('#mnist-status')) ?? '';
    await page.waitForFunction(() => Number(document.querySelector('#mnist-train-samples')?.dataset.value) >= 1000, null, { timeout: 400_000 });
    await domClick('#mnist-run');
    await domClick('#mnist-eval');
    await page.waitForFunction((prev) => {
      const t = document.querySelector('#mnist-status')?.textContent ?? '';
      return /test accuracy/.test(t) && t !== prev;
    }, cliStatus, { timeout: 120_000 });
    const onAcc = await num('#mnist-test');
    console.log(`mnist1d: CLI checkpoint trained on in the page (${onStatus}): ${(await page.textContent('#mnist-status')) ?? ''}`);
    assert.ok(onAcc >= 0.85, `training on from the CLI checkpoint left ${onAcc} test accuracy`);
    assert.ok(Number.isFinite(testAcc) && Math.abs(testAcc - 100 * sim.accuracy) <= 1.0, `page ${testAcc} % vs node ${100 * sim.accuracy} %`);
    await page.screenshot({ path: join(artifacts, 'mnist1d-eval.png') });
  });

  test('issue 15: the PAL view closes the angle between B and W^T live while the FA twin stays put', async () => {
    await page.click('#tab-pal');
    await page.waitForSelector('#view-pal:not([hidden])');
    const read = async () => {
      const t = (await page.textContent('#pal-status')) ?? '';
      const m = /^([\d,]+) steps · PAL ([\d.e+-]+)° · FA ([\d.e+-]+)°/.exec(t);
      assert.ok(m, `status: ${t}`);
      return { steps: Number(m[1].replace(/,/g, '')), pal: Number(m[2]), fa: Number(m[3]) };
    };
    await page.click('#pal-reset');
    await page.waitForFunction(() => /^[\d,]+ steps/.test(document.querySelector('#pal-status')?.textContent ?? ''), null, { timeout: 30_000 });
    const a = await read();
    await page.waitForFunction((s0) => Number((/^([\d,]+) steps/.exec(document.querySelector('#pal-status')?.textContent ?? '')?.[1] ?? '0').replace(/,/g, '')) >= s0 + 60_000, a.steps, { timeout: 300_000 });
    const b = await read();
    console.log(`pal view: ${a.steps} -> ${b.steps} steps; PAL ${a.pal} -> ${b.pal} deg, FA ${a.fa} -> ${b.fa} deg`);
    assert.equal(b.fa, a.fa, 'the FA twin (B fixed, W not trained) keeps its angle');
    assert.ok(b.pal < a.pal - 2, `PAL's angle fell from ${a.pal} to ${b.pal} deg`);
    await page.click('#tab-chain');
  });

  test('the app ran without console errors', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
