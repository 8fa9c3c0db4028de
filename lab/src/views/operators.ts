/**
 * The operator explorer (paper Fig. 3): analytic gain and phase of the GLE operators against the simulated neuron.
 * The analytic curves are drawn at once; the simulation (measured dots, time-domain view) runs in the worker, which
 * serves only the latest request, so dragging a slider never blocks the page.
 */
import { COLORS } from '../plots.js';
import { OPERATORS, OPERATOR_LABEL, analytic, freqs } from '../operators.js';
import type { OpData } from '../protocol.js';
import { $, addChart, el, exportBar, fmt, setSlider, slider, sliderValue, type Send, type View } from '../ui.js';

const OP_W = freqs(0.01, 100, 120);
const OP_WM = freqs(0.02, 30, 14);

export interface OperatorsView extends View {
  onData(m: OpData): void;
}

/** Build the view into `parent` (appended first, so the charts get its width). */
export function createOperatorsView(parent: HTMLElement, send: Send): OperatorsView {
  const view = el(`<section class="view" id="view-operators" hidden role="tabpanel" aria-labelledby="tab-operators">
  <p class="intro">Paper Fig. 3: the retrospective operator I⁻<sub>τm</sub> = 1/(1+iωτ<sub>m</sub>) (the membrane's low-pass lag), the prospective operator D⁺<sub>τr</sub> = 1+iωτ<sub>r</sub> (looking ahead),
  the neuron's membrane→rate path D⁺<sub>τr</sub>I⁻<sub>τm</sub> and the error neuron (τ<sub>m</sub>, τ<sub>r</sub> swapped). With τ<sub>r</sub> = τ<sub>m</sub> the neuron passes every frequency with gain 1 and no delay.
  Lines: analytic; dots: measured by simulating the discrete GLE neuron of the core (in the background worker).</p>
  <div class="row controls">
    ${slider('op-taum', 'τ<sub>m</sub>', 0.05, 10, 0, 1, true, 'time units')}
    ${slider('op-taur', 'τ<sub>r</sub>', 0.05, 10, 0, 0.1, true, 'time units')}
    ${slider('op-w', 'ω (time view)', 0.05, 20, 0, 1, true, 'rad / time unit')}
    <span class="muted-dark" id="op-status" role="status"></span>
  </div>
  <div class="grid" id="op-plots"></div>
</section>`);
  parent.appendChild(view);
  const charts: View['charts'] = [];

  const box = $('#op-plots', view);
  const ser = [
    ...OPERATORS.map((op, i) => ({ label: OPERATOR_LABEL[op], color: COLORS[i] })),
    ...OPERATORS.map((op, i) => ({ label: `${OPERATOR_LABEL[op]} measured`, color: COLORS[i], dots: true })),
  ];
  const xl = 'ω (rad / time unit)';
  const [cg, cp, ct] = [
    addChart(box, charts, 'gain over ω', ser, { logX: true, logY: true, xLabel: xl, yLabel: 'gain |H(iω)|' }),
    addChart(box, charts, 'phase over ω', ser, { logX: true, xLabel: xl, yLabel: 'phase (rad)', yToggle: false }),
    addChart(box, charts, 'time domain: sin(ωt) through the operators', [
      { label: 'input sin(ωt)', color: COLORS[8] },
      { label: 'u = I⁻ x', color: COLORS[0] },
      { label: 'neuron D⁺I⁻ x', color: COLORS[2] },
      { label: 'error neuron', color: COLORS[3] },
    ], { xLabel: 't (time units)', yLabel: 'signal', yToggle: false }),
  ];
  // measured points are shown on the analytic grid at the nearest frequency (null elsewhere: uPlot leaves gaps)
  const near = Array.from(OP_WM, (om) => OP_W.reduce((b, v, i) => (Math.abs(Math.log(v / om)) < Math.abs(Math.log(OP_W[b] / om)) ? i : b), 0));
  let reqId = 0;
  let meas: OpData['meas'] | null = null;
  let pending = false;

  const values = () => ({
    tauM: sliderValue($<HTMLInputElement>('#op-taum', view)),
    tauR: sliderValue($<HTMLInputElement>('#op-taur', view)),
    w: sliderValue($<HTMLInputElement>('#op-w', view)),
  });

  /** Analytic curves now (cheap); the measured ones as they were last measured (null while a new one is pending). */
  function drawCurves(): void {
    const { tauM, tauR } = values();
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
    for (const op of OPERATORS) {
      const g = new Array<number | null>(OP_W.length).fill(null), p = new Array<number | null>(OP_W.length).fill(null);
      if (meas && !pending)
        near.forEach((i, k) => {
          g[i] = meas![op][k].gain;
          p[i] = meas![op][k].phase;
        });
      gains.push(g);
      phases.push(p);
    }
    cg.setData(OP_W, gains as ArrayLike<number>[]);
    cp.setData(OP_W, phases as ArrayLike<number>[]);
  }

  function request(): void {
    const v = values();
    pending = true;
    $('#op-status', view).textContent = 'measuring…';
    view.dataset.measured = '0';
    send({ type: 'op:measure', id: ++reqId, ...v, freqs: OP_WM });
  }

  function update(): void {
    drawCurves();
    request();
  }

  function onData(m: OpData): void {
    if (m.id !== reqId) return; // an older request: a newer one is on its way
    meas = m.meas;
    pending = false;
    drawCurves();
    ct.setData(m.sim.t, [m.sim.x, m.sim.u, m.sim.neuron, m.sim.error]);
    $('#op-status', view).textContent = `measured in ${m.ms.toFixed(0)} ms (worker)`;
    view.dataset.measured = '1';
  }

  const IDS: Record<string, string> = { 'op-taum': 'taum', 'op-taur': 'taur', 'op-w': 'w' };
  for (const id of Object.keys(IDS)) {
    const inp = $<HTMLInputElement>(`#${id}`, view);
    inp.oninput = () => {
      $(`#${id}-out`, view).textContent = fmt(sliderValue(inp));
      update();
    };
  }
  const self: OperatorsView = {
    name: 'operators',
    title: 'GLE operators: gain and phase (paper Fig. 3)',
    el: view,
    charts,
    onShow: update,
    onData,
    getState() {
      const s: Record<string, string> = {};
      for (const [id, k] of Object.entries(IDS)) s[k] = String(sliderValue($<HTMLInputElement>(`#${id}`, view)));
      return s;
    },
    setState(s) {
      for (const [id, k] of Object.entries(IDS)) {
        const v = Number(s[k]);
        if (s[k] !== undefined && Number.isFinite(v) && v > 0) setSlider($<HTMLInputElement>(`#${id}`, view), v);
      }
      if (!view.hidden) update();
    },
    caption: () => {
      const v = values();
      return `τm = ${fmt(v.tauM)}, τr = ${fmt(v.tauR)}, time view at ω = ${fmt(v.w)}; lines analytic, dots measured on the discrete neuron`;
    },
  };
  view.appendChild(exportBar(() => self));
  return self;
}
