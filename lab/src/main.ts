/**
 * GLE Lab page: builds the four views, talks to the simulation worker and draws at screen rate with uPlot.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { Chart, COLORS, History, Window, download } from './plots.js';
import { CHAIN_DEFAULTS, CHAIN_FIELDS, CHAIN_NF, type ChainParams } from './sim/chain.js';
import { DEFAULT_MNIST_SPEC } from './sim/mnist.js';
import { OPERATORS, OPERATOR_LABEL, analytic, freqs, measure, simulate } from './operators.js';
import { encodeCheckpoint, readCheckpoint } from './checkpoint.js';
import { parseSpec } from '../../src/model/spec.js';
import type { ChainData, FromWorker, MnistData, ToWorker } from './protocol.js';

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker): void => worker.postMessage(m);
const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document): T => root.querySelector(sel) as T;
const app = $('#app');

function toast(msg: string, bad = true): void {
  const t = $('#toast');
  t.textContent = msg;
  t.className = bad ? 'show bad' : 'show';
  setTimeout(() => (t.className = ''), 5000);
}

function el(html: string): HTMLElement {
  const d = document.createElement('div');
  d.innerHTML = html.trim();
  return d.firstElementChild as HTMLElement;
}

function slider(id: string, label: string, min: number, max: number, step: number, value: number, log = false): string {
  const pos = log ? Math.log10(value) : value;
  const [lo, hi, st] = log ? [Math.log10(min), Math.log10(max), 0.01] : [min, max, step];
  return `<label class="slider">${label} <input type="range" id="${id}" min="${lo}" max="${hi}" step="${st}" value="${pos}" data-log="${log ? 1 : 0}"><output id="${id}-out">${fmt(value)}</output></label>`;
}
function sliderValue(inp: HTMLInputElement): number {
  const v = Number(inp.value);
  return inp.dataset.log === '1' ? Math.pow(10, v) : v;
}
function fmt(v: number): string {
  return Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? String(Number(v.toPrecision(3))) : v.toExponential(1);
}

const views = new Map<string, HTMLElement>();
const charts: Record<string, Chart[]> = { chain: [], operators: [], mnist: [] };
let current = 'chain';

function showView(name: string): void {
  current = name;
  for (const [k, v] of views) v.hidden = k !== name;
  document.querySelectorAll('#tabs button').forEach((b) => b.classList.toggle('active', (b as HTMLElement).dataset.view === name));
  for (const c of charts[name] ?? []) c.resize();
  if (name === 'operators') drawOperators();
  if (name === 'mnist') send({ type: 'mnist:init', dataBase: new URL('data/', document.baseURI).href });
  history.replaceState(null, '', `#${name}`);
}

function exportBar(view: string): HTMLElement {
  const bar = el(`<div class="row export"><span>Export plots:</span><button data-fmt="png">PNG</button><button data-fmt="svg">SVG</button></div>`);
  bar.querySelectorAll('button').forEach((b) =>
    b.addEventListener('click', async () => {
      for (const [i, c] of charts[view].entries()) {
        const base = `gle-${view}-${i + 1}`;
        if (b.dataset.fmt === 'png') download(`${base}.png`, await c.png());
        else download(`${base}.svg`, c.svg(), 'image/svg+xml');
      }
    }),
  );
  return bar;
}

// ============================================================== chain view
const chainView = el(`<section class="view" id="view-chain">
  <p class="intro">LagLine (paper Fig. 5): a teacher chain 1→1→1 (softplus, w = (1, 2), τ<sub>m</sub> = (1, 2), τ<sub>r</sub> = 0.1) drives a student that learns w and τ<sub>m</sub> online.
  With prospective errors (GLE) it recovers the teacher; with instantaneous errors (BP) it cannot undo the lags.</p>
  <div class="row controls">
    <button id="chain-run">Pause</button><button id="chain-step">Step ×100</button><button id="chain-reset">Reset</button>
    <label>Errors <select id="chain-mode"><option value="gle">GLE (prospective)</option><option value="bp">BP (instantaneous)</option></select></label>
    <label>Input <select id="chain-input"><option value="square">smoothed square wave</option><option value="sines">sum of sines</option></select></label>
    <button id="chain-export">Download checkpoint</button>
  </div>
  <div class="row controls">
    ${slider('chain-lr', 'lr', 1e-5, 1e-2, 0, CHAIN_DEFAULTS.lr, true)}
    ${slider('chain-beta', 'β', 1e-3, 1, 0, CHAIN_DEFAULTS.beta, true)}
    ${slider('chain-dt', 'dt', 1e-3, 0.05, 0, CHAIN_DEFAULTS.dt, true)}
    ${slider('chain-tt0', 'teacher τ₀', 0.1, 4, 0.05, CHAIN_DEFAULTS.teacherTau0)}
    ${slider('chain-tt1', 'teacher τ₁', 0.1, 4, 0.05, CHAIN_DEFAULTS.teacherTau1)}
    ${slider('chain-speed', 'steps/frame', 1, 20000, 0, 300, true)}
  </div>
  <div class="status">mode <b id="chain-mode-label" data-testid="chain-mode">gle</b> · t = <span id="chain-t">0</span> · steps <span id="chain-steps">0</span> ·
    loss (EMA) <b id="chain-loss" data-testid="chain-loss">–</b> · <span id="chain-rate">0</span> steps/s · w = <span id="chain-w"></span> · τ<sub>m</sub> = <span id="chain-tau"></span></div>
  <div class="grid" id="chain-plots"></div>
</section>`);
views.set('chain', chainView);
const chainWin = new Window(CHAIN_NF, 800);
const chainHist = new History(CHAIN_NF, 2000);
let chainParams: ChainParams = { ...CHAIN_DEFAULTS };
let chainRunning = true;
let chainDirty = false;
let lastChain: ChainData | null = null;

function initChainCharts(): void {
  const box = $('#chain-plots', chainView);
  const mk = (title: string, s: { label: string; color: string; dash?: number[] }[], o = {}) => {
    const d = document.createElement('div');
    box.appendChild(d);
    const c = new Chart(title, d, s, o);
    charts.chain.push(c);
    return c;
  };
  mk('input, target and output', [
    { label: 'input x', color: COLORS[8] },
    { label: 'target (teacher)', color: COLORS[0] },
    { label: 'student output', color: COLORS[1], dash: [6, 3] },
  ]);
  mk('student membranes u and prospective errors', [
    { label: 'u₀', color: COLORS[0] },
    { label: 'u₁', color: COLORS[2] },
    { label: 'e₀ (prosp.)', color: COLORS[3] },
    { label: 'e₁ (prosp.)', color: COLORS[1] },
  ]);
  mk('weights and time constants (dashed: teacher)', [
    { label: 'w₀', color: COLORS[0] },
    { label: 'w₁', color: COLORS[2] },
    { label: 'τ₀', color: COLORS[3] },
    { label: 'τ₁', color: COLORS[1] },
    { label: 'teacher w₀ = 1', color: COLORS[0], dash: [4, 4] },
    { label: 'teacher w₁ = 2', color: COLORS[2], dash: [4, 4] },
    { label: 'teacher τ₀', color: COLORS[3], dash: [4, 4] },
    { label: 'teacher τ₁', color: COLORS[1], dash: [4, 4] },
  ]);
  mk('loss (EMA of squared error)', [{ label: 'loss', color: COLORS[4] }], { logY: true });
}

function onChainData(m: ChainData): void {
  for (let k = 0; k < m.n; k++) {
    chainWin.push(m.recs, k * CHAIN_NF);
    chainHist.push(m.recs, k * CHAIN_NF);
  }
  lastChain = m;
  chainParams = m.params;
  chainDirty = true;
}

const F = (name: (typeof CHAIN_FIELDS)[number]) => CHAIN_FIELDS.indexOf(name);
function drawChain(): void {
  if (!chainDirty || !lastChain || current !== 'chain') return;
  chainDirty = false;
  const [c0, c1, c2, c3] = charts.chain;
  const t = chainWin.view(0);
  c0.setData(t, [chainWin.view(F('x')), chainWin.view(F('target')), chainWin.view(F('output'))]);
  c1.setData(t, [chainWin.view(F('u0')), chainWin.view(F('u1')), chainWin.view(F('e0')), chainWin.view(F('e1'))]);
  const th = chainHist.view(0), n = th.length;
  const cst = (v: number) => new Float64Array(n).fill(v);
  c2.setData(th, [chainHist.view(F('w0')), chainHist.view(F('w1')), chainHist.view(F('tau0')), chainHist.view(F('tau1')), cst(1), cst(2), cst(chainParams.teacherTau0), cst(chainParams.teacherTau1)]);
  const loss = chainHist.view(F('loss')).map((v) => Math.max(v, 1e-16));
  c3.setData(th, [loss]);
  const m = lastChain;
  $('#chain-mode-label').textContent = m.mode;
  $('#chain-t').textContent = m.t.toFixed(1);
  $('#chain-steps').textContent = String(m.steps);
  $('#chain-loss').textContent = m.loss.toExponential(2);
  $('#chain-loss').dataset.value = String(m.loss);
  $('#chain-rate').textContent = m.stepsPerSec.toFixed(0);
  const w = chainWin.n - 1;
  if (w >= 0) {
    const v = (f: (typeof CHAIN_FIELDS)[number]) => chainWin.cols[F(f)][w].toFixed(3);
    $('#chain-w').textContent = `(${v('w0')}, ${v('w1')})`;
    $('#chain-tau').textContent = `(${v('tau0')}, ${v('tau1')})`;
  }
}

function wireChain(): void {
  const run = $<HTMLButtonElement>('#chain-run', chainView);
  run.onclick = () => {
    chainRunning = !chainRunning;
    run.textContent = chainRunning ? 'Pause' : 'Run';
    send({ type: 'chain:run', running: chainRunning });
  };
  $('#chain-step', chainView).onclick = () => send({ type: 'chain:step', n: 100 });
  $('#chain-reset', chainView).onclick = () => {
    chainWin.clear();
    chainHist.clear();
    send({ type: 'chain:reset' });
  };
  $<HTMLSelectElement>('#chain-mode', chainView).onchange = (e) => send({ type: 'chain:set', params: { mode: (e.target as HTMLSelectElement).value as 'gle' | 'bp' } });
  $<HTMLSelectElement>('#chain-input', chainView).onchange = (e) => send({ type: 'chain:set', params: { input: (e.target as HTMLSelectElement).value as 'square' | 'sines' } });
  const map: Record<string, keyof ChainParams | 'speed'> = { 'chain-lr': 'lr', 'chain-beta': 'beta', 'chain-dt': 'dt', 'chain-tt0': 'teacherTau0', 'chain-tt1': 'teacherTau1', 'chain-speed': 'speed' };
  for (const [id, key] of Object.entries(map)) {
    const inp = $<HTMLInputElement>(`#${id}`, chainView);
    inp.oninput = () => {
      const v = sliderValue(inp);
      $(`#${id}-out`, chainView).textContent = fmt(v);
      if (key === 'speed') send({ type: 'chain:speed', stepsPerFrame: Math.round(v) });
      else send({ type: 'chain:set', params: { [key]: v } });
    };
  }
  $('#chain-export', chainView).onclick = () => send({ type: 'export', which: 'chain' });
  chainView.appendChild(exportBar('chain'));
}

// ============================================================== operator explorer
const opView = el(`<section class="view" id="view-operators" hidden>
  <p class="intro">Paper Fig. 3: the retrospective operator I⁻<sub>τm</sub> = 1/(1+iωτ<sub>m</sub>), the prospective operator D⁺<sub>τr</sub> = 1+iωτ<sub>r</sub>,
  the neuron's membrane→rate path D⁺<sub>τr</sub>I⁻<sub>τm</sub> and the error neuron (τ<sub>m</sub>, τ<sub>r</sub> swapped). Lines: analytic; dots: measured by simulating the discrete GLE neuron of the core.</p>
  <div class="row controls">
    ${slider('op-taum', 'τ<sub>m</sub>', 0.05, 10, 0, 1, true)}
    ${slider('op-taur', 'τ<sub>r</sub>', 0.05, 10, 0, 0.1, true)}
    ${slider('op-w', 'ω (time view)', 0.05, 20, 0, 1, true)}
  </div>
  <div class="grid" id="op-plots"></div>
</section>`);
views.set('operators', opView);
const OP_W = freqs(0.01, 100, 120);
const OP_WM = freqs(0.02, 30, 14);

function initOpCharts(): void {
  const box = $('#op-plots', opView);
  const mk = (title: string, s: { label: string; color: string; dash?: number[] }[], o = {}) => {
    const d = document.createElement('div');
    box.appendChild(d);
    const c = new Chart(title, d, s, o);
    charts.operators.push(c);
    return c;
  };
  const ser = [
    ...OPERATORS.map((op, i) => ({ label: OPERATOR_LABEL[op], color: COLORS[i] })),
    ...OPERATORS.map((op, i) => ({ label: `${OPERATOR_LABEL[op]} measured`, color: COLORS[i], dots: true })),
  ];
  mk('gain over ω', ser, { logX: true, logY: true, xLabel: 'ω' });
  mk('phase over ω (rad)', ser, { logX: true, xLabel: 'ω' });
  mk('time domain: sin(ωt) through the operators', [
    { label: 'input sin(ωt)', color: COLORS[8] },
    { label: 'u = I⁻ x', color: COLORS[0] },
    { label: 'neuron D⁺I⁻ x', color: COLORS[2] },
    { label: 'error neuron', color: COLORS[3] },
  ]);
}

function drawOperators(): void {
  if (!charts.operators.length) return;
  const tauM = sliderValue($<HTMLInputElement>('#op-taum', opView));
  const tauR = sliderValue($<HTMLInputElement>('#op-taur', opView));
  const w = sliderValue($<HTMLInputElement>('#op-w', opView));
  const dt = Math.min(0.01, tauM / 10, tauR / 10, 0.05 / w);
  const meas = measure(OP_WM, tauM, tauR, dt);
  // measured points are shown on the analytic grid at the nearest frequency (NaN elsewhere: uPlot leaves gaps)
  const gains: ArrayLike<number | null>[] = [], phases: ArrayLike<number | null>[] = [];
  for (const op of OPERATORS) {
    const g = new Float64Array(OP_W.length), p = new Float64Array(OP_W.length);
    OP_W.forEach((om, i) => {
      const r = analytic(op, om, tauM, tauR);
      g[i] = r.gain;
      p[i] = r.phase;
    });
    gains.push(g);
    phases.push(p);
  }
  const near = OP_WM.map((om) => OP_W.reduce((b, v, i) => (Math.abs(Math.log(v / om)) < Math.abs(Math.log(OP_W[b] / om)) ? i : b), 0));
  for (const op of OPERATORS) {
    // null = no point (uPlot leaves a gap); NaN would break the auto-ranging
    const g = new Array<number | null>(OP_W.length).fill(null), p = new Array<number | null>(OP_W.length).fill(null);
    near.forEach((i, k) => {
      g[i] = meas[op][k].gain;
      p[i] = meas[op][k].phase;
    });
    gains.push(g);
    phases.push(p);
  }
  const [cg, cp, ct] = charts.operators;
  cg.setData(OP_W, gains as ArrayLike<number>[]);
  cp.setData(OP_W, phases as ArrayLike<number>[]);
  const periods = 4;
  const steps = Math.min(200000, Math.ceil((periods * 2 * Math.PI) / w / dt) + Math.ceil((8 * Math.max(tauM, tauR)) / dt));
  const sim = simulate(w, tauM, tauR, dt, steps);
  const keep = Math.ceil((periods * 2 * Math.PI) / w / dt);
  const every = Math.max(1, Math.floor(keep / 1000));
  const pick = (a: Float64Array) => a.subarray(steps - keep).filter((_, i) => i % every === 0);
  ct.setData(pick(sim.t), [pick(sim.x), pick(sim.u), pick(sim.neuron), pick(sim.error)]);
}

function wireOps(): void {
  for (const id of ['op-taum', 'op-taur', 'op-w']) {
    const inp = $<HTMLInputElement>(`#${id}`, opView);
    inp.oninput = () => {
      $(`#${id}-out`, opView).textContent = fmt(sliderValue(inp));
      drawOperators();
    };
  }
  opView.appendChild(exportBar('operators'));
}

// ============================================================== MNIST-1D view
const mnistView = el(`<section class="view" id="view-mnist" hidden>
  <p class="intro">MNIST-1D (360 points per sample, one point per dt-step) streamed through a GLE network that learns online in this page
  (batch of 8 parallel streams, Adam step every dt-step, logits summed over each sample). The network comes from the spec editor or a CLI checkpoint.
  Two running accuracies: <em>in-stream</em> reads the learning network's own summed logits, so it includes the network's adaptation to the label held during
  each sample; <em>prequential</em> scores each sample with a copy of the parameters from before that sample (an honest online estimate; the confusion matrix uses it).
  <em>Evaluate on test split</em> measures held-out accuracy (no target, no learning).</p>
  <div class="row controls">
    <button id="mnist-run">Start learning</button>
    <button id="mnist-eval">Evaluate on test split</button>
    <label class="file">Load checkpoint (spec.json + model.safetensors) <input type="file" id="mnist-ckpt" multiple accept=".json,.safetensors"></label>
    <button id="mnist-export">Download checkpoint</button>
  </div>
  <div id="mnist-drop" class="drop">…or drop the two checkpoint files here</div>
  <div class="status"><span id="mnist-status">not loaded</span> · phase <b id="mnist-phase">train</b> · samples <span id="mnist-samples">0</span> ·
    running accuracy <b id="mnist-acc" data-testid="mnist-acc">–</b> (in-stream) / <b id="mnist-preq">–</b> (prequential) · overall (confusion matrix) <span id="mnist-overall">–</span> · <span id="mnist-rate">0</span> steps/s</div>
  <div class="grid" id="mnist-plots"></div>
  <div class="row"><div><h3>Summed logits of the last finished sample (stream 0): <span id="mnist-pred"></span></h3><div id="mnist-logits" class="bars"></div></div>
  <div><h3>Confusion matrix (prequential while learning; rows: true, columns: predicted)</h3><table id="mnist-confusion"></table></div></div>
</section>`);
views.set('mnist', mnistView);
const accHist = new History(4, 2000);
let mnistRunning = false;
let lastMnist: MnistData | null = null;

function initMnistCharts(): void {
  const box = $('#mnist-plots', mnistView);
  const mk = (title: string, s: { label: string; color: string }[], o = {}) => {
    const d = document.createElement('div');
    box.appendChild(d);
    const c = new Chart(title, d, s, o);
    charts.mnist.push(c);
    return c;
  };
  mk('current sample (stream 0)', [{ label: 'x', color: COLORS[0] }], { xLabel: 'point' });
  mk('running accuracy over the last 200 training samples', [
    { label: 'in-stream (learning net, label held)', color: COLORS[2] },
    { label: 'prequential (scored before learning)', color: COLORS[3] },
    { label: 'chance', color: COLORS[8] },
  ], { xLabel: 'samples', yRange: [0, 1] });
}

function onMnistData(m: MnistData): void {
  if (m.phase === 'train') accHist.push([m.samples, m.running, m.prequential, 0.1]);
  lastMnist = m;
  if (m.evalDone) {
    mnistRunning = false;
    $('#mnist-run').textContent = 'Start learning';
    $('#mnist-status').textContent = `test accuracy ${(100 * m.accuracy).toFixed(1)} % on ${m.samples} samples`;
  }
  drawMnist();
}

function drawMnist(): void {
  const m = lastMnist;
  if (!m || current !== 'mnist') return;
  const [cs, ca] = charts.mnist;
  if (m.sample) cs.setData(Float64Array.from(m.sample, (_, i) => i), [m.sample]);
  ca.setData(accHist.view(0), [accHist.view(1), accHist.view(2), accHist.view(3)]);
  $('#mnist-phase').textContent = m.phase;
  $('#mnist-samples').textContent = String(m.samples);
  const acc = m.phase === 'train' ? m.running : m.accuracy;
  $('#mnist-acc').textContent = `${(100 * acc).toFixed(1)} %`;
  $('#mnist-acc').dataset.value = String(acc);
  $('#mnist-pred').textContent = `label ${m.label}, predicted ${m.pred}`;
  $('#mnist-overall').textContent = `${(100 * m.accuracy).toFixed(1)} %`;
  $('#mnist-preq').textContent = m.phase === 'train' ? `${(100 * m.prequential).toFixed(1)} %` : '–';
  $('#mnist-preq').dataset.value = String(m.prequential);
  $('#mnist-rate').textContent = m.stepsPerSec.toFixed(0);
  const max = Math.max(1e-9, ...Array.from(m.logits, Math.abs));
  $('#mnist-logits').innerHTML = Array.from(m.logits, (v, c) => `<div class="bar${c === m.label ? ' label' : ''}"><span style="width:${(50 * Math.abs(v)) / max}%;margin-left:${v < 0 ? 50 - (50 * Math.abs(v)) / max : 50}%"></span><i>${c}</i></div>`).join('');
  let rows = '<tr><th></th>' + Array.from({ length: 10 }, (_, c) => `<th>${c}</th>`).join('') + '</tr>';
  let cmax = 1;
  for (const v of m.confusion) cmax = Math.max(cmax, v);
  for (let r = 0; r < 10; r++) {
    rows += `<tr><th>${r}</th>`;
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
    send({ type: 'mnist:load', spec: ck.spec, tensors: ck.tensors });
    specText.value = JSON.stringify(ck.spec, null, 2);
    validateSpecText();
  } catch (e) {
    toast((e as Error).message);
  }
}

function wireMnist(): void {
  const run = $<HTMLButtonElement>('#mnist-run', mnistView);
  run.onclick = () => {
    mnistRunning = !mnistRunning;
    run.textContent = mnistRunning ? 'Pause' : 'Start learning';
    send({ type: 'mnist:run', running: mnistRunning });
  };
  $('#mnist-eval', mnistView).onclick = () => {
    mnistRunning = false;
    run.textContent = 'Start learning';
    send({ type: 'mnist:eval', limit: 1000 });
  };
  $<HTMLInputElement>('#mnist-ckpt', mnistView).onchange = (e) => void loadCheckpointFiles(Array.from((e.target as HTMLInputElement).files ?? []));
  const drop = $('#mnist-drop', mnistView);
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add('over');
  };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void loadCheckpointFiles(Array.from(e.dataTransfer?.files ?? []));
  };
  $('#mnist-export', mnistView).onclick = () => send({ type: 'export', which: 'mnist' });
  mnistView.appendChild(exportBar('mnist'));
}

// ============================================================== spec editor
const specView = el(`<section class="view" id="view-spec" hidden>
  <p class="intro">The network spec (JSON) of the MNIST-1D network, checked as you type by the same validator the CLI uses (<code>parseSpec</code>).
  MNIST-1D needs <code>input_size: 1</code> and a top layer of size 10.</p>
  <div class="row controls">
    <button id="spec-apply">Apply to MNIST-1D</button>
    <label class="file">Upload spec <input type="file" id="spec-upload" accept=".json,application/json"></label>
    <button id="spec-reset">Default spec</button>
  </div>
  <textarea id="spec-text" spellcheck="false" data-testid="spec-text"></textarea>
  <div id="spec-result" data-testid="spec-result" class="ok"></div>
</section>`);
views.set('spec', specView);
const specText = $<HTMLTextAreaElement>('#spec-text', specView);

/** Validate the editor's text; returns the parsed JSON when valid. */
function validateSpecText(): unknown | null {
  const out = $('#spec-result', specView);
  let json: unknown;
  try {
    json = JSON.parse(specText.value);
  } catch (e) {
    out.className = 'error';
    out.textContent = `JSON syntax error: ${(e as Error).message}`;
    return null;
  }
  try {
    const s = parseSpec(json);
    const problems: string[] = [];
    if (s.input_size !== 1) problems.push(`input_size: MNIST-1D streams one point per step, so it must be 1 (got ${s.input_size})`);
    const top = s.resolved[s.resolved.length - 1];
    if (top.size !== 10) problems.push(`layers[${s.resolved.length - 1}].size: the top layer must have 10 outputs for MNIST-1D (got ${top.size})`);
    if (problems.length) {
      out.className = 'error';
      out.textContent = `spec is valid, but not for MNIST-1D:\n  - ${problems.join('\n  - ')}`;
      return null;
    }
    const params = s.resolved.reduce((a, l) => a + l.size * l.nIn + (l.bias ? l.size : 0), 0);
    out.className = 'ok';
    out.textContent = `valid: ${s.resolved.length} layers (${s.resolved.map((l) => l.size).join('–')}), ${params} weights and biases, dtype ${s.dtype}, loss ${s.loss}`;
    return json;
  } catch (e) {
    out.className = 'error';
    out.textContent = (e as Error).message;
    return null;
  }
}

function wireSpec(): void {
  specText.value = JSON.stringify(DEFAULT_MNIST_SPEC, null, 2);
  let timer = 0;
  specText.oninput = () => {
    clearTimeout(timer);
    timer = window.setTimeout(validateSpecText, 150);
  };
  $('#spec-apply', specView).onclick = () => {
    const json = validateSpecText();
    if (!json) return;
    accHist.clear();
    send({ type: 'mnist:init', dataBase: new URL('data/', document.baseURI).href });
    send({ type: 'mnist:spec', spec: json as never });
    toast('spec applied to the MNIST-1D network', false);
  };
  $<HTMLInputElement>('#spec-upload', specView).onchange = async (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    specText.value = await f.text();
    validateSpecText();
  };
  $('#spec-reset', specView).onclick = () => {
    specText.value = JSON.stringify(DEFAULT_MNIST_SPEC, null, 2);
    validateSpecText();
  };
  validateSpecText();
}

// ============================================================== worker messages & frame loop
worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case 'ready':
      $('#backend').textContent = `backend: ${m.backend} (float32), js (float64 chain)`;
      document.body.dataset.ready = '1';
      break;
    case 'chain:data': onChainData(m); break;
    case 'mnist:data': onMnistData(m); break;
    case 'mnist:status': $('#mnist-status').textContent = m.text; break;
    case 'checkpoint': {
      const { specJson, model } = encodeCheckpoint(m.spec, m.tensors);
      download('spec.json', specJson, 'application/json');
      setTimeout(() => download('model.safetensors', model), 300);
      break;
    }
    case 'error':
      toast(`${m.where}: ${m.message}`);
      $('#mnist-status').textContent = `error: ${m.message}`;
      break;
  }
};
worker.onerror = (e) => toast(`worker: ${e.message}`);

function frame(): void {
  drawChain();
  requestAnimationFrame(frame);
}

for (const v of views.values()) app.appendChild(v);
initChainCharts();
initOpCharts();
initMnistCharts();
wireChain();
wireOps();
wireMnist();
wireSpec();
document.querySelectorAll<HTMLButtonElement>('#tabs button').forEach((b) => (b.onclick = () => showView(b.dataset.view!)));
window.addEventListener('resize', () => charts[current]?.forEach((c) => c.resize()));
showView((location.hash.slice(1) as string) in charts || location.hash === '#spec' ? location.hash.slice(1) : 'chain');
requestAnimationFrame(frame);
