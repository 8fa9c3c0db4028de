/** The MNIST-1D view: online learning and evaluation in the worker, checkpoint load and download, accuracy plots. */
import type { NetworkSpecInput } from 'gle/core';
import { COLORS, History, type SvgPanel } from '../plots.js';
import { readCheckpoint } from '../checkpoint.js';
import type { MnistData } from '../protocol.js';
import { DEFAULT_MNIST_BATCH, DEFAULT_MNIST_LR } from '../sim/mnist.js';
import { $, addChart, el, exportBar, fileInputs, fmt, setSlider, slider, sliderValue, toast, type Send, type View } from '../ui.js';

export interface MnistView extends View {
  onData(m: MnistData): void;
  /** forget the accuracy history (a new network) */
  clearHistory(): void;
}

const BATCHES = [1, 4, 8, 16, 32, 64, 100];

/**
 * Build the view into `parent` (appended first, so the charts get its width). `onCheckpointSpec` receives the spec
 * of a loaded checkpoint (the spec editor shows it).
 */
export function createMnistView(parent: HTMLElement, send: Send, onCheckpointSpec: (spec: NetworkSpecInput) => void): MnistView {
  const view = el(`<section class="view" id="view-mnist" hidden role="tabpanel" aria-labelledby="tab-mnist">
  <p class="intro">MNIST-1D (360 points per sample, one point per dt-step) streamed through a GLE network that learns online in this page with the same
  classify loop as the CLI (<code>SequenceClassifier</code> of gle/core): a batch of parallel streams, an Adam step every dt-step with the label as the target, logits summed over each sample.
  The <b>prequential</b> accuracy scores each sample with a copy of the parameters from before that sample (an honest online estimate; the confusion matrix uses it);
  <em>in-stream</em> reads the learning network itself, which adapts to the label held during the sample, so it reads high. <b>Evaluate</b> measures held-out accuracy on the
  1000 test samples (no target, no learning). Small batches learn worse: every batch's labels pull the network for a whole sample (360 Adam steps), so at batch 8 it chases the
  last few labels and stays near chance; the default is the CLI's batch of 100 (docs/RESULTS.md §15). For the same reason the learning weights' test accuracy swings from batch
  to batch at any constant lr, so the default spec <b>evaluates averaged weights</b>: a moving average of the learning weights over the last few thousand Adam steps
  (spec <code>average</code>; learning goes on with the raw weights, at a constant lr of 3e-4). The averaged network keeps improving as long as it learns: about 25–35 % test accuracy after
  4,000 training samples, 40–55 % after 16,000, 60–75 % after 32,000, about 80 % from 100,000 on (docs/RESULTS.md §28). The status line names the weights that are evaluated; a spec without
  <code>average</code> (Network spec tab) evaluates the raw ones.</p>
  <div class="row controls">
    <button type="button" id="mnist-run">Start learning</button>
    <button type="button" id="mnist-eval">Evaluate on test split</button>
    <label>batch <select id="mnist-batch" aria-label="batch size (parallel streams)">${BATCHES.map((b) => `<option value="${b}"${b === DEFAULT_MNIST_BATCH ? ' selected' : ''}>${b}</option>`).join('')}</select></label>
    ${slider('mnist-lr', 'lr', 1e-7, 1e-2, 0, DEFAULT_MNIST_LR, true, 'per dt-step')}
    <label>pause after <input type="number" id="mnist-stop" min="0" step="100" value="0" style="width:6em" aria-label="pause learning after this many training samples (0: never)"> samples</label>
  </div>
  <div class="row controls">
    <label class="file">Load checkpoint (spec.json + model.safetensors [+ meta.json]) <input type="file" id="mnist-ckpt" multiple accept=".json,.safetensors"></label>
    <button type="button" id="mnist-export">Download checkpoint</button>
    <div id="mnist-drop" class="drop">…or drop the two checkpoint files here</div>
  </div>
  <div class="status" role="status" aria-live="polite"><span id="mnist-status">not loaded</span></div>
  <div class="status">phase <b id="mnist-phase">train</b> · samples <span id="mnist-samples">0</span> (<span id="mnist-train-samples">0</span> trained) ·
    <b>prequential accuracy <span id="mnist-preq" data-testid="mnist-preq">–</span></b> · in-stream <span id="mnist-acc" data-testid="mnist-acc">–</span> ·
    last test accuracy <b id="mnist-test">–</b> · evaluated weights <b id="mnist-weights" title="the parameters that Evaluate, the prequential score and Download checkpoint read">–</b> · <span id="mnist-rate">0</span> steps/s · <span id="mnist-backend"></span></div>
  <div class="grid" id="mnist-plots"></div>
  <div class="row"><div><h3>Class probabilities of the last finished sample (stream 0): <span id="mnist-pred"></span></h3><div id="mnist-logits" class="bars"></div></div>
  <div><h3>Confusion matrix (prequential while learning; rows: true, columns: predicted)</h3><table id="mnist-confusion"></table></div></div>
</section>`);
  parent.appendChild(view);
  const charts: View['charts'] = [];
  const accHist = new History(5, 2000);
  let running = false;
  let last: MnistData | null = null;
  let lastTest = NaN;

  const box = $('#mnist-plots', view);
  const cs = addChart(box, charts, 'current sample (stream 0)', [{ label: 'x', color: COLORS[0] }], { xLabel: 'point (one per dt-step)', yLabel: 'input value', yToggle: false });
  const ca = addChart(box, charts, 'accuracy while learning (last 200 samples) and on the test split', [
    { label: 'prequential (scored before learning)', color: COLORS[3] },
    { label: 'in-stream (learning net, label held)', color: COLORS[2], dash: [5, 3] },
    { label: 'test split (Evaluate)', color: COLORS[1], dots: true },
    { label: 'chance', color: COLORS[8], dash: [2, 4] },
  ], { xLabel: 'training samples', yLabel: 'accuracy', yRange: [0, 1] });

  /** test-split results (training samples, accuracy): few, kept apart from the decimated history */
  const evals: [number, number][] = [];
  function onData(m: MnistData): void {
    // (a record before the first finished batch after a restart has no running means yet: not plotted as 0)
    if (m.phase === 'train' && m.samples > 0) accHist.push([m.trainSamples, m.prequential, m.running, NaN, 0.1]);
    last = m;
    if (m.evalDone) {
      running = false;
      lastTest = m.accuracy;
      evals.push([m.trainSamples, m.accuracy]);
      $('#mnist-run').textContent = 'Start learning';
      $('#mnist-status').textContent = `test accuracy ${(100 * m.accuracy).toFixed(1)} % on ${m.samples} samples (${m.weights} weights, after ${m.trainSamples} training samples)`;
      showTest(); // at once, with the status line (the redraw waits for a frame)
    }
    scheduleDraw();
  }

  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  function showTest(): void {
    $('#mnist-test').textContent = Number.isFinite(lastTest) ? pct(lastTest) : '–';
    $('#mnist-test').dataset.value = String(lastTest);
  }

  /**
   * One redraw per animation frame at most, whatever the worker's record rate: on a starved machine the records
   * arrive faster than a redraw each can be done, and a redraw per record let the backlog grow until the page stopped
   * answering (a 5-minute run).
   */
  let drawPending = false;
  function scheduleDraw(): void {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      draw();
    });
  }

  function draw(): void {
    const m = last;
    if (!m || view.hidden) return;
    if (m.sample) cs.setData(Float64Array.from(m.sample, (_, i) => i), [m.sample]);
    // merge the test-split points into the (ascending) sample axis
    const hx = accHist.view(0);
    const x: number[] = [], ys: (number | null)[][] = [[], [], [], []];
    let e = 0;
    const pushEval = () => {
      x.push(evals[e][0]);
      ys[0].push(null), ys[1].push(null), ys[2].push(evals[e][1]), ys[3].push(0.1);
      e++;
    };
    for (let i = 0; i < hx.length; i++) {
      while (e < evals.length && evals[e][0] < hx[i]) pushEval();
      x.push(hx[i]);
      ys[0].push(accHist.cols[1][i]), ys[1].push(accHist.cols[2][i]), ys[2].push(null), ys[3].push(0.1);
    }
    while (e < evals.length) pushEval();
    ca.setData(x, ys as unknown as ArrayLike<number>[]);
    $('#mnist-phase').textContent = m.phase;
    $('#mnist-samples').textContent = String(m.samples);
    $('#mnist-train-samples').textContent = String(m.trainSamples);
    $('#mnist-train-samples').dataset.value = String(m.trainSamples);
    $('#mnist-acc').textContent = m.phase === 'train' ? pct(m.running) : '–';
    $('#mnist-acc').dataset.value = String(m.running);
    $('#mnist-preq').textContent = m.phase === 'train' ? pct(m.prequential) : '– (evaluating)';
    $('#mnist-preq').dataset.value = String(m.prequential);
    showTest();
    $('#mnist-rate').textContent = m.stepsPerSec > 0 ? String(Number(m.stepsPerSec.toPrecision(2))) : '…';
    $('#mnist-backend').textContent = `${m.backend}, batch ${m.batch}, lr ${fmt(m.lr)}`;
    $('#mnist-weights').textContent = m.weights === 'averaged' ? 'averaged (moving average of the learning weights)' : 'raw (the learning weights)';
    $('#mnist-weights').dataset.value = m.weights;
    // class probabilities: softmax of the mean logit over the sample
    const mean = Array.from(m.logits, (v) => v / 360);
    const mx = Math.max(...mean);
    const ex = mean.map((v) => Math.exp(v - mx));
    const z = ex.reduce((a, b) => a + b, 0);
    const p = ex.map((v) => v / z);
    $('#mnist-pred').textContent = `label ${m.label}, predicted ${m.pred}`;
    $('#mnist-logits').innerHTML = p.map((v, c) => `<div class="bar${c === m.label ? ' label' : ''}" title="class ${c}: p = ${v.toFixed(3)}"><span style="width:${(100 * v).toFixed(1)}%"></span><i>${c}: ${(100 * v).toFixed(1)} %</i></div>`).join('');
    let rows = '<tr><th></th>' + Array.from({ length: 10 }, (_, c) => `<th scope="col">${c}</th>`).join('') + '</tr>';
    let cmax = 1;
    for (const v of m.confusion) cmax = Math.max(cmax, v);
    for (let r = 0; r < 10; r++) {
      rows += `<tr><th scope="row">${r}</th>`;
      for (let c = 0; c < 10; c++) {
        const v = m.confusion[r * 10 + c];
        rows += `<td style="background:rgba(${r === c ? '44,160,44' : '214,39,40'},${(v / cmax).toFixed(2)})">${v || ''}</td>`;
      }
      rows += '</tr>';
    }
    $('#mnist-confusion').innerHTML = rows;
  }

  async function loadCheckpointFiles(files: File[]): Promise<void> {
    try {
      const ck = await readCheckpoint(files);
      accHist.clear();
      evals.length = 0;
      lastTest = NaN;
      setRunning(false, false);
      send({ type: 'mnist:load', spec: ck.spec, tensors: ck.tensors, optim: ck.optim, optimScalars: ck.optimScalars });
      onCheckpointSpec(ck.spec);
    } catch (e) {
      toast((e as Error).message);
    }
  }

  const run = $<HTMLButtonElement>('#mnist-run', view);
  const setRunning = (on: boolean, tell = true) => {
    running = on;
    run.textContent = running ? 'Pause' : 'Start learning';
    if (tell) send({ type: 'mnist:run', running });
  };
  run.onclick = () => setRunning(!running);
  $('#mnist-eval', view).onclick = () => {
    setRunning(false, false);
    $('#mnist-status').textContent = 'evaluating on the test split…';
    send({ type: 'mnist:eval', limit: 1000 });
  };
  const batchSel = $<HTMLSelectElement>('#mnist-batch', view);
  batchSel.onchange = () => send({ type: 'mnist:set', batch: Number(batchSel.value) });
  const stopIn = $<HTMLInputElement>('#mnist-stop', view);
  stopIn.onchange = () => send({ type: 'mnist:set', stopAt: Math.max(0, Number(stopIn.value) || 0) });
  const lrIn = $<HTMLInputElement>('#mnist-lr', view);
  lrIn.oninput = () => {
    $('#mnist-lr-out', view).textContent = fmt(sliderValue(lrIn));
    send({ type: 'mnist:set', lr: sliderValue(lrIn) });
  };
  fileInputs($<HTMLInputElement>('#mnist-ckpt', view), $('#mnist-drop', view), (files) => void loadCheckpointFiles(files));
  $('#mnist-export', view).onclick = () => send({ type: 'export', which: 'mnist' });

  /** The confusion matrix as an SVG panel for the exported figure. */
  function confusionPanel(): SvgPanel[] {
    if (!last) return [];
    const cell = 24, L = 60, T = 44, c = last.confusion;
    let cmax = 1;
    for (const v of c) cmax = Math.max(cmax, v);
    const parts = [`<text x="${L}" y="18" font-size="14" font-weight="bold">confusion matrix (${last.phase === 'train' ? 'prequential' : 'test split'})</text>`];
    for (let r = 0; r < 10; r++) {
      parts.push(`<text x="${L - 6}" y="${T + r * cell + 16}" text-anchor="end">${r}</text><text x="${L + r * cell + cell / 2}" y="${T - 6}" text-anchor="middle">${r}</text>`);
      for (let k = 0; k < 10; k++) {
        const v = c[r * 10 + k];
        parts.push(`<rect x="${L + k * cell}" y="${T + r * cell}" width="${cell}" height="${cell}" fill="${r === k ? '#2ca02c' : '#d62728'}" fill-opacity="${(v / cmax).toFixed(3)}" stroke="#eee"/>`);
        if (v) parts.push(`<text x="${L + k * cell + cell / 2}" y="${T + r * cell + 16}" text-anchor="middle" font-size="9">${v}</text>`);
      }
    }
    parts.push(`<text transform="translate(18 ${T + 5 * cell}) rotate(-90)" text-anchor="middle" font-size="13">true class</text><text x="${L + 5 * cell}" y="${T + 10 * cell + 24}" text-anchor="middle" font-size="13">predicted class</text>`);
    return [{ width: 560, height: T + 10 * cell + 34, body: parts.join('\n') }];
  }

  const self: MnistView = {
    name: 'mnist',
    title: 'MNIST-1D learned online by a GLE network',
    el: view,
    charts,
    onShow: () => send({ type: 'mnist:init', dataBase: new URL('data/', document.baseURI).href }),
    onData: (m) => {
      onData(m);
      if (!running || m.evalDone) return;
      // the worker pauses by itself at the set stop
      if (Number(stopIn.value) > 0 && m.trainSamples >= Number(stopIn.value) && m.phase === 'train') setRunning(false, false);
    },
    clearHistory: () => {
      accHist.clear();
      evals.length = 0;
      lastTest = NaN;
    },
    getState() {
      const s: Record<string, string> = { batch: batchSel.value, lr: String(sliderValue(lrIn)) };
      if (Number(stopIn.value) > 0) s.stop = stopIn.value;
      return s;
    },
    setState(s) {
      if (s.batch && BATCHES.includes(Number(s.batch))) {
        batchSel.value = s.batch;
        batchSel.onchange!(new Event('change'));
      }
      if (Number(s.stop) > 0) {
        stopIn.value = String(Number(s.stop));
        stopIn.onchange!(new Event('change'));
      }
      const lr = Number(s.lr);
      if (s.lr !== undefined && lr > 0 && lr < 1) send({ type: 'mnist:set', lr: setSlider(lrIn, lr) });
    },
    caption: () => (last ? `${last.backend}, batch ${last.batch}, lr ${fmt(last.lr)}, ${last.trainSamples} training samples, last test accuracy ${Number.isFinite(lastTest) ? (100 * lastTest).toFixed(1) + ' %' : '–'}` : ''),
    extraPanels: confusionPanel,
  };
  view.appendChild(exportBar(() => self));
  return self;
}
