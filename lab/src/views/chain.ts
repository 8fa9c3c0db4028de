/** The LagLine view: a teacher chain drives a student that learns online in the worker; drawn at screen rate. */
import { LAGLINE_TEACHER } from 'gle/core';
import { COLORS, History, Window } from '../plots.js';
import { CHAIN_DEFAULTS, CHAIN_FIELDS, CHAIN_NF, type ChainParams } from '../sim/chain.js';
import type { ChainData } from '../protocol.js';
import { $, addChart, el, exportBar, fmt, slider, sliderValue, type Send, type View } from '../ui.js';

export interface ChainView extends View {
  onData(m: ChainData): void;
  /** redraw if new data came since the last frame and the view is shown */
  draw(): void;
}

const F = (name: (typeof CHAIN_FIELDS)[number]) => CHAIN_FIELDS.indexOf(name);

/** Build the view into `parent` (appended first, so the charts get its width). */
export function createChainView(parent: HTMLElement, send: Send): ChainView {
  const T = LAGLINE_TEACHER;
  const view = el(`<section class="view" id="view-chain">
  <p class="intro">LagLine (paper Fig. 5): a teacher chain 1→1→1 (${T.phi}, w = (${T.weight.join(', ')}), τ<sub>m</sub> = (${T.tauM.join(', ')}), τ<sub>r</sub> = ${T.tauR}) drives a student that learns w and τ<sub>m</sub> online.
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
  parent.appendChild(view);
  const charts: ChainView['charts'] = [];
  const win = new Window(CHAIN_NF, 800);
  const hist = new History(CHAIN_NF, 2000);
  let params: ChainParams = { ...CHAIN_DEFAULTS };
  let running = true;
  let dirty = false;
  let last: ChainData | null = null;

  const box = $('#chain-plots', view);
  addChart(box, charts, 'input, target and output', [
    { label: 'input x', color: COLORS[8] },
    { label: 'target (teacher)', color: COLORS[0] },
    { label: 'student output', color: COLORS[1], dash: [6, 3] },
  ]);
  addChart(box, charts, 'student membranes u and prospective errors', [
    { label: 'u₀', color: COLORS[0] },
    { label: 'u₁', color: COLORS[2] },
    { label: 'e₀ (prosp.)', color: COLORS[3] },
    { label: 'e₁ (prosp.)', color: COLORS[1] },
  ]);
  addChart(box, charts, 'weights and time constants (dashed: teacher)', [
    { label: 'w₀', color: COLORS[0] },
    { label: 'w₁', color: COLORS[2] },
    { label: 'τ₀', color: COLORS[3] },
    { label: 'τ₁', color: COLORS[1] },
    { label: `teacher w₀ = ${T.weight[0]}`, color: COLORS[0], dash: [4, 4] },
    { label: `teacher w₁ = ${T.weight[1]}`, color: COLORS[2], dash: [4, 4] },
    { label: 'teacher τ₀', color: COLORS[3], dash: [4, 4] },
    { label: 'teacher τ₁', color: COLORS[1], dash: [4, 4] },
  ]);
  addChart(box, charts, 'loss (EMA of squared error)', [{ label: 'loss', color: COLORS[4] }], { logY: true });

  function onData(m: ChainData): void {
    for (let k = 0; k < m.n; k++) {
      win.push(m.recs, k * CHAIN_NF);
      hist.push(m.recs, k * CHAIN_NF);
    }
    last = m;
    params = m.params;
    dirty = true;
  }

  function draw(): void {
    if (!dirty || !last || view.hidden) return;
    dirty = false;
    const [c0, c1, c2, c3] = charts;
    const t = win.view(0);
    c0.setData(t, [win.view(F('x')), win.view(F('target')), win.view(F('output'))]);
    c1.setData(t, [win.view(F('u0')), win.view(F('u1')), win.view(F('e0')), win.view(F('e1'))]);
    const th = hist.view(0), n = th.length;
    const cst = (v: number) => new Float64Array(n).fill(v);
    c2.setData(th, [hist.view(F('w0')), hist.view(F('w1')), hist.view(F('tau0')), hist.view(F('tau1')), cst(T.weight[0]), cst(T.weight[1]), cst(params.teacherTau0), cst(params.teacherTau1)]);
    const loss = hist.view(F('loss')).map((v) => Math.max(v, 1e-16));
    c3.setData(th, [loss]);
    const m = last;
    $('#chain-mode-label').textContent = m.mode;
    $('#chain-t').textContent = m.t.toFixed(1);
    $('#chain-steps').textContent = String(m.steps);
    $('#chain-loss').textContent = m.loss.toExponential(2);
    $('#chain-loss').dataset.value = String(m.loss);
    $('#chain-rate').textContent = m.stepsPerSec.toFixed(0);
    const w = win.n - 1;
    if (w >= 0) {
      const v = (f: (typeof CHAIN_FIELDS)[number]) => win.cols[F(f)][w].toFixed(3);
      $('#chain-w').textContent = `(${v('w0')}, ${v('w1')})`;
      $('#chain-tau').textContent = `(${v('tau0')}, ${v('tau1')})`;
    }
  }

  const run = $<HTMLButtonElement>('#chain-run', view);
  run.onclick = () => {
    running = !running;
    run.textContent = running ? 'Pause' : 'Run';
    send({ type: 'chain:run', running });
  };
  $('#chain-step', view).onclick = () => send({ type: 'chain:step', n: 100 });
  $('#chain-reset', view).onclick = () => {
    win.clear();
    hist.clear();
    send({ type: 'chain:reset' });
  };
  $<HTMLSelectElement>('#chain-mode', view).onchange = (e) => send({ type: 'chain:set', params: { mode: (e.target as HTMLSelectElement).value as 'gle' | 'bp' } });
  $<HTMLSelectElement>('#chain-input', view).onchange = (e) => send({ type: 'chain:set', params: { input: (e.target as HTMLSelectElement).value as 'square' | 'sines' } });
  const map: Record<string, keyof ChainParams | 'speed'> = { 'chain-lr': 'lr', 'chain-beta': 'beta', 'chain-dt': 'dt', 'chain-tt0': 'teacherTau0', 'chain-tt1': 'teacherTau1', 'chain-speed': 'speed' };
  for (const [id, key] of Object.entries(map)) {
    const inp = $<HTMLInputElement>(`#${id}`, view);
    inp.oninput = () => {
      const v = sliderValue(inp);
      $(`#${id}-out`, view).textContent = fmt(v);
      if (key === 'speed') send({ type: 'chain:speed', stepsPerFrame: Math.round(v) });
      else send({ type: 'chain:set', params: { [key]: v } });
    };
  }
  $('#chain-export', view).onclick = () => send({ type: 'export', which: 'chain' });
  view.appendChild(exportBar('chain', charts));

  return { name: 'chain', el: view, charts, onData, draw };
}
