/**
 * The LagLine view (first view, with the guided introduction): a teacher chain drives a student that learns online
 * in the worker; optionally GLE, BP and BPTT students side by side from the same initial state. Drawn at screen rate.
 */
import { LAGLINE_TEACHER } from 'gle/core';
import { COLORS, History, Window } from '../plots.js';
import { BPTT_WINDOW_T, CHAIN_DEFAULTS, CHAIN_FIELDS, CHAIN_NF, COMPARE_MODES, COMPARE_NF, TAU_MIN, type ChainParams } from '../sim/chain.js';
import type { ChainData } from '../protocol.js';
import { $, addChart, el, exportBar, fmt, setSlider, slider, sliderValue, type Send, type View } from '../ui.js';

export interface ChainView extends View {
  onData(m: ChainData): void;
  /** redraw if new data came since the last frame and the view is shown */
  draw(): void;
}

const F = (name: (typeof CHAIN_FIELDS)[number]) => CHAIN_FIELDS.indexOf(name);
const MODE_LABEL: Record<string, string> = { gle: 'GLE (prospective errors)', bp: 'BP (instantaneous errors)', bptt: `BPTT (window ${BPTT_WINDOW_T} time unit)` };

/** The neuron and its error twin: what "prospective" means (inline SVG, also shown in docs). */
export const NEURON_DIAGRAM = `<svg class="diagram" viewBox="0 0 640 210" role="img" aria-labelledby="dg-title dg-desc" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12">
<title id="dg-title">A GLE neuron and its error twin</title>
<desc id="dg-desc">Top: the neuron's membrane u low-pass filters its input with time constant tau_m, which makes it lag; its output r = phi(u + tau_r du/dt) looks ahead by tau_r and undoes the lag when tau_r equals tau_m. Bottom: the error twin does the same to the error flowing backwards, with the two time constants swapped, so errors arrive in step with the activity that caused them.</desc>
<defs><marker id="dg-a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>
<text x="8" y="40">input</text><line x1="50" y1="36" x2="100" y2="36" stroke="#333" marker-end="url(#dg-a)"/>
<rect x="102" y="12" width="170" height="50" rx="6" fill="#e8f0fb" stroke="#1f77b4"/><text x="112" y="32">membrane u: I⁻ (low-pass, τ<tspan font-size="9" dy="3">m</tspan><tspan dy="-3">)</tspan></text><text x="112" y="50" fill="#555">lags its input</text>
<line x1="272" y1="36" x2="322" y2="36" stroke="#333" marker-end="url(#dg-a)"/>
<rect x="324" y="12" width="190" height="50" rx="6" fill="#e7f5e7" stroke="#2ca02c"/><text x="334" y="32">rate r = φ(u + τ<tspan font-size="9" dy="3">r</tspan><tspan dy="-3"> u̇): D⁺</tspan></text><text x="334" y="50" fill="#555">looks ahead: undoes the lag</text>
<line x1="514" y1="36" x2="566" y2="36" stroke="#333" marker-end="url(#dg-a)"/><text x="570" y="40">next layer</text>
<text x="560" y="150">error from</text><text x="560" y="164">above</text><line x1="556" y1="150" x2="516" y2="150" stroke="#d62728" marker-end="url(#dg-a)"/>
<rect x="324" y="126" width="190" height="50" rx="6" fill="#fdecea" stroke="#d62728"/><text x="334" y="146">error twin: I⁻ with τ<tspan font-size="9" dy="3">r</tspan><tspan dy="-3">,</tspan></text><text x="334" y="164">then D⁺ with τ<tspan font-size="9" dy="3">m</tspan><tspan dy="-3"> (swapped)</tspan></text>
<line x1="324" y1="150" x2="274" y2="150" stroke="#d62728" marker-end="url(#dg-a)"/>
<rect x="102" y="126" width="170" height="50" rx="6" fill="#fff" stroke="#999"/><text x="112" y="146">weight update ∝ e · r</text><text x="112" y="164" fill="#555">e and r in step: learns online</text>
<line x1="420" y1="62" x2="420" y2="124" stroke="#999" stroke-dasharray="3 3"/><text x="426" y="98" fill="#777">same τ's, mirrored</text>
<text x="8" y="204" fill="#555">Prospective = reading a slow, lagging membrane as if it were already where it is heading (u + τ u̇ ≈ u at time t + τ).</text>
</svg>`;

/** Build the view into `parent` (appended first, so the charts get its width). */
export function createChainView(parent: HTMLElement, send: Send): ChainView {
  const T = LAGLINE_TEACHER;
  const view = el(`<section class="view" id="view-chain" role="tabpanel" aria-labelledby="tab-chain">
  <details class="guide" open><summary><b>GLE in one sentence:</b> each neuron reads its slow, lagging membrane <em>prospectively</em> (as where it is heading), and a twin
  error neuron does the same for the error flowing back, so a network of slow neurons learns online, in real time, without backpropagation through time.</summary>
  <div class="guide-body">${NEURON_DIAGRAM}
  <ol class="steps"><li>Below, a student chain (2 neurons) learns to copy a teacher's lagged output: watch the red dashed output close in on the blue target and the loss fall about 100× within seconds.</li>
  <li>Switch <b>Errors</b> to BP: without prospective errors the student cannot undo the lags.</li>
  <li>Tick <b>Compare</b> to run GLE, BP and BPTT students side by side from the same start.</li></ol></div></details>
  <p class="intro">LagLine (paper Fig. 5): a teacher chain 1→1→1 (${T.phi}, w = (${T.weight.join(', ')}), τ<sub>m</sub> = (${T.tauM.join(', ')}), τ<sub>r</sub> = ${T.tauR}) drives a student that learns w and τ<sub>m</sub> online (Adam, τ<sub>m</sub> clamped ≥ ${TAU_MIN}).
  With prospective errors (GLE) the loss falls by orders of magnitude and w, τ<sub>m</sub> move toward the teacher's (on this input several nearby (w, τ<sub>m</sub>) give almost the same output, so they approach it slowly);
  with instantaneous errors (BP) the student cannot undo the lags. Time is in units of the teacher's time constants.</p>
  <div class="row controls">
    <button type="button" id="chain-run">Pause</button><button type="button" id="chain-step">Step ×100</button><button type="button" id="chain-reset">Reset</button>
    <label>Errors <select id="chain-mode"><option value="gle">GLE (prospective)</option><option value="bp">BP (instantaneous)</option><option value="bptt">BPTT (window ${BPTT_WINDOW_T})</option></select></label>
    <label>Input <select id="chain-input"><option value="square">smoothed square wave</option><option value="sines">sum of sines</option></select></label>
    <label><input type="checkbox" id="chain-compare"> Compare GLE · BP · BPTT from the same start</label>
    <button type="button" id="chain-export">Download checkpoint</button>
  </div>
  <div class="row controls">
    ${slider('chain-lr', 'lr', 1e-5, 1e-2, 0, CHAIN_DEFAULTS.lr, true, 'per step')}
    ${slider('chain-beta', 'β', 1e-3, 1, 0, CHAIN_DEFAULTS.beta, true)}
    ${slider('chain-dt', 'dt', 1e-3, 0.05, 0, CHAIN_DEFAULTS.dt, true, 'time units')}
    ${slider('chain-tt0', 'teacher τ₀', 0.1, 4, 0.05, CHAIN_DEFAULTS.teacherTau0, false, 'time units')}
    ${slider('chain-tt1', 'teacher τ₁', 0.1, 4, 0.05, CHAIN_DEFAULTS.teacherTau1, false, 'time units')}
    ${slider('chain-speed', 'speed', 1, 20000, 0, 300, true, 'steps/frame')}
  </div>
  <div class="status" role="status" aria-live="off">mode <b id="chain-mode-label" data-testid="chain-mode">gle</b> · t = <span id="chain-t">0</span> · steps <span id="chain-steps">0</span> ·
    loss (EMA) <b id="chain-loss" data-testid="chain-loss">–</b> · <span id="chain-rate">0</span> steps/s · w = <span id="chain-w"></span> · τ<sub>m</sub> = <span id="chain-tau"></span></div>
  <div class="warn" id="chain-warn" role="alert" hidden></div>
  <div class="grid" id="chain-compare-plots" hidden></div>
  <div class="grid" id="chain-plots"></div>
</section>`);
  parent.appendChild(view);
  const charts: ChainView['charts'] = [];
  const win = new Window(CHAIN_NF, 800);
  const hist = new History(CHAIN_NF, 2000);
  const cmp = new History(COMPARE_NF, 2000);
  let params: ChainParams = { ...CHAIN_DEFAULTS };
  let running = true;
  let comparing = false;
  let dirty = false;
  let last: ChainData | null = null;

  const tl = 't (time units)';
  const cbox = $('#chain-compare-plots', view);
  const modeColor = [COLORS[2], COLORS[1], COLORS[4]];
  const cLoss = addChart(cbox, charts, 'side by side: loss from the same start', COMPARE_MODES.map((m, i) => ({ label: MODE_LABEL[m], color: modeColor[i] })), { logY: true, xLabel: tl, yLabel: 'loss (EMA of squared error)' });
  const cDist = addChart(cbox, charts, 'side by side: distance to the teacher', COMPARE_MODES.map((m, i) => ({ label: MODE_LABEL[m], color: modeColor[i] })), { logY: true, xLabel: tl, yLabel: '|(w, τₘ) − teacher|' });
  const box = $('#chain-plots', view);
  const cIO = addChart(box, charts, 'input, target and output', [
    { label: 'input x', color: COLORS[8] },
    { label: 'target (teacher)', color: COLORS[0] },
    { label: 'student output', color: COLORS[1], dash: [6, 3] },
  ], { xLabel: tl, yLabel: 'rate' });
  const cU = addChart(box, charts, 'student membranes u', [
    { label: 'u₀', color: COLORS[0] },
    { label: 'u₁', color: COLORS[2] },
  ], { xLabel: tl, yLabel: 'membrane potential u' });
  const cE = addChart(box, charts, 'student errors e (prospective in GLE)', [
    { label: 'e₀', color: COLORS[3] },
    { label: 'e₁', color: COLORS[1] },
  ], { xLabel: tl, yLabel: 'error e' });
  const cW = addChart(box, charts, 'weights (dashed: teacher)', [
    { label: 'w₀', color: COLORS[0] },
    { label: 'w₁', color: COLORS[2] },
    { label: `teacher w₀ = ${T.weight[0]}`, color: COLORS[0], dash: [4, 4] },
    { label: `teacher w₁ = ${T.weight[1]}`, color: COLORS[2], dash: [4, 4] },
  ], { xLabel: tl, yLabel: 'weight w' });
  const cT = addChart(box, charts, 'membrane time constants (dashed: teacher)', [
    { label: 'τ₀', color: COLORS[3] },
    { label: 'τ₁', color: COLORS[1] },
    { label: 'teacher τ₀', color: COLORS[3], dash: [4, 4] },
    { label: 'teacher τ₁', color: COLORS[1], dash: [2, 5] },
  ], { xLabel: tl, yLabel: 'τₘ (time units)' });
  const cL = addChart(box, charts, 'loss (EMA of squared error, time constant 4)', [{ label: 'loss', color: COLORS[4] }], { logY: true, xLabel: tl, yLabel: 'loss' });

  let lastT = -Infinity;
  function onData(m: ChainData): void {
    // a reset (or records still in flight from before one) shows as time going back: start the histories afresh
    if (m.n > 0 && m.recs[0] < lastT) {
      win.clear();
      hist.clear();
      cmp.clear();
    }
    if (m.n > 0) lastT = m.recs[(m.n - 1) * CHAIN_NF];
    for (let k = 0; k < m.n; k++) {
      win.push(m.recs, k * CHAIN_NF);
      hist.push(m.recs, k * CHAIN_NF);
      if (m.compare) cmp.push(m.compare, k * COMPARE_NF);
    }
    last = m;
    params = m.params;
    dirty = true;
    view.dataset.steps = String(m.steps); // (kept current while hidden: tests read it)
  }

  function draw(): void {
    if (!dirty || !last || view.hidden) return;
    dirty = false;
    const t = win.view(0);
    cIO.setData(t, [win.view(F('x')), win.view(F('target')), win.view(F('output'))]);
    cU.setData(t, [win.view(F('u0')), win.view(F('u1'))]);
    cE.setData(t, [win.view(F('e0')), win.view(F('e1'))]);
    const th = hist.view(0), n = th.length;
    const cst = (v: number) => new Float64Array(n).fill(v);
    cW.setData(th, [hist.view(F('w0')), hist.view(F('w1')), cst(T.weight[0]), cst(T.weight[1])]);
    cT.setData(th, [hist.view(F('tau0')), hist.view(F('tau1')), cst(params.teacherTau0), cst(params.teacherTau1)]);
    cL.setData(th, [hist.view(F('loss'))]);
    if (comparing && cmp.n > 0) {
      const ct = cmp.view(0);
      cLoss.setData(ct, COMPARE_MODES.map((_, i) => cmp.view(1 + 5 * i)));
      const target = [T.weight[0], T.weight[1], params.teacherTau0, params.teacherTau1];
      cDist.setData(ct, COMPARE_MODES.map((_, i) => {
        const o = 1 + 5 * i, d = new Float64Array(cmp.n);
        for (let k = 0; k < cmp.n; k++) {
          let s = 0;
          for (let j = 0; j < 4; j++) s += (cmp.cols[o + 1 + j][k] - target[j]) ** 2;
          d[k] = Math.sqrt(s);
        }
        return d;
      }));
    }
    const m = last;
    $('#chain-mode-label').textContent = m.mode;
    $('#chain-t').textContent = m.t.toFixed(1);
    $('#chain-steps').textContent = String(m.steps);
    $('#chain-loss').textContent = m.loss.toExponential(2);
    $('#chain-loss').dataset.value = String(m.loss);
    $('#chain-rate').textContent = m.stepsPerSec > 0 ? String(Number(m.stepsPerSec.toPrecision(2))) : '…';
    const w = win.n - 1;
    if (w >= 0) {
      const v = (f: (typeof CHAIN_FIELDS)[number]) => win.cols[F(f)][w].toFixed(3);
      $('#chain-w').textContent = `(${v('w0')}, ${v('w1')})`;
      $('#chain-tau').textContent = `(${v('tau0')}, ${v('tau1')})`;
    }
    const warn = $('#chain-warn');
    const pinned = m.clamped.map((c, i) => (c ? `τ${'₀₁'[i]}` : '')).filter(Boolean);
    warn.hidden = pinned.length === 0;
    if (pinned.length) warn.textContent = `${pinned.join(' and ')} ${pinned.length > 1 ? 'sit' : 'sits'} at the clamp τ_min = ${TAU_MIN}: the gradient keeps pushing ${pinned.length > 1 ? 'them' : 'it'} down, so the student is stuck here (after BP this happens and GLE does not get it out). Reset to start again from the initial state.`;
  }

  const run = $<HTMLButtonElement>('#chain-run', view);
  const setRunning = (on: boolean) => {
    running = on;
    run.textContent = running ? 'Pause' : 'Run';
    send({ type: 'chain:run', running });
  };
  run.onclick = () => setRunning(!running);
  $('#chain-step', view).onclick = () => send({ type: 'chain:step', n: 100 });
  const clear = () => {
    win.clear();
    hist.clear();
    cmp.clear();
    lastT = -Infinity;
  };
  $('#chain-reset', view).onclick = () => {
    clear();
    send({ type: 'chain:reset' });
  };
  const modeSel = $<HTMLSelectElement>('#chain-mode', view);
  const inputSel = $<HTMLSelectElement>('#chain-input', view);
  const compareBox = $<HTMLInputElement>('#chain-compare', view);
  modeSel.onchange = () => send({ type: 'chain:set', params: { mode: modeSel.value as ChainParams['mode'] } });
  inputSel.onchange = () => send({ type: 'chain:set', params: { input: inputSel.value as 'square' | 'sines' } });
  const setCompare = (on: boolean) => {
    comparing = on;
    compareBox.checked = on;
    $('#chain-compare-plots', view).hidden = !on;
    clear();
    send({ type: 'chain:compare', on });
    for (const c of [cLoss, cDist]) c.resize();
  };
  compareBox.onchange = () => setCompare(compareBox.checked);
  const map: Record<string, keyof ChainParams | 'speed'> = { 'chain-lr': 'lr', 'chain-beta': 'beta', 'chain-dt': 'dt', 'chain-tt0': 'teacherTau0', 'chain-tt1': 'teacherTau1', 'chain-speed': 'speed' };
  const apply = (id: string, v: number) => {
    const key = map[id];
    if (key === 'speed') send({ type: 'chain:speed', stepsPerFrame: Math.round(v) });
    else send({ type: 'chain:set', params: { [key]: v } });
  };
  for (const id of Object.keys(map)) {
    const inp = $<HTMLInputElement>(`#${id}`, view);
    inp.oninput = () => {
      const v = sliderValue(inp);
      $(`#${id}-out`, view).textContent = fmt(v);
      apply(id, v);
    };
  }
  $('#chain-export', view).onclick = () => send({ type: 'export', which: 'chain' });

  const SHORT: Record<string, string> = { 'chain-lr': 'lr', 'chain-beta': 'beta', 'chain-dt': 'dt', 'chain-tt0': 'tt0', 'chain-tt1': 'tt1', 'chain-speed': 'speed' };
  const self: ChainView = {
    name: 'chain',
    title: 'GLE teacher–student chain (LagLine)',
    el: view,
    charts,
    onData,
    draw,
    getState() {
      const s: Record<string, string> = { mode: modeSel.value, input: inputSel.value };
      for (const [id, k] of Object.entries(SHORT)) s[k] = String(sliderValue($<HTMLInputElement>(`#${id}`, view)));
      if (comparing) s.compare = '1';
      if (!running) s.paused = '1';
      return s;
    },
    setState(s) {
      if (s.mode && s.mode in MODE_LABEL) {
        modeSel.value = s.mode;
        modeSel.onchange!(new Event('change'));
      }
      if (s.input === 'square' || s.input === 'sines') {
        inputSel.value = s.input;
        inputSel.onchange!(new Event('change'));
      }
      for (const [id, k] of Object.entries(SHORT)) {
        const v = Number(s[k]);
        if (s[k] !== undefined && Number.isFinite(v) && v > 0) apply(id, setSlider($<HTMLInputElement>(`#${id}`, view), v));
      }
      if (s.compare === '1') setCompare(true);
      if (s.paused === '1') setRunning(false);
    },
    caption: () => `mode ${MODE_LABEL[params.mode]}, lr ${fmt(params.lr)}, β ${fmt(params.beta)}, dt ${fmt(params.dt)}, teacher τₘ (${fmt(params.teacherTau0)}, ${fmt(params.teacherTau1)}), input ${params.input}, t = ${last ? last.t.toFixed(1) : 0}`,
  };
  view.appendChild(exportBar(() => self));
  return self;
}
