/** The operator explorer (paper Fig. 3): analytic gain and phase of the GLE operators against the simulated neuron. */
import { COLORS } from '../plots.js';
import { OPERATORS, OPERATOR_LABEL, analytic, freqs, measure, simulate } from '../operators.js';
import { $, addChart, el, exportBar, fmt, slider, sliderValue, type View } from '../ui.js';

const OP_W = freqs(0.01, 100, 120);
const OP_WM = freqs(0.02, 30, 14);

/** Build the view into `parent` (appended first, so the charts get its width). */
export function createOperatorsView(parent: HTMLElement): View {
  const view = el(`<section class="view" id="view-operators" hidden>
  <p class="intro">Paper Fig. 3: the retrospective operator I⁻<sub>τm</sub> = 1/(1+iωτ<sub>m</sub>), the prospective operator D⁺<sub>τr</sub> = 1+iωτ<sub>r</sub>,
  the neuron's membrane→rate path D⁺<sub>τr</sub>I⁻<sub>τm</sub> and the error neuron (τ<sub>m</sub>, τ<sub>r</sub> swapped). Lines: analytic; dots: measured by simulating the discrete GLE neuron of the core.</p>
  <div class="row controls">
    ${slider('op-taum', 'τ<sub>m</sub>', 0.05, 10, 0, 1, true)}
    ${slider('op-taur', 'τ<sub>r</sub>', 0.05, 10, 0, 0.1, true)}
    ${slider('op-w', 'ω (time view)', 0.05, 20, 0, 1, true)}
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
  addChart(box, charts, 'gain over ω', ser, { logX: true, logY: true, xLabel: 'ω' });
  addChart(box, charts, 'phase over ω (rad)', ser, { logX: true, xLabel: 'ω' });
  addChart(box, charts, 'time domain: sin(ωt) through the operators', [
    { label: 'input sin(ωt)', color: COLORS[8] },
    { label: 'u = I⁻ x', color: COLORS[0] },
    { label: 'neuron D⁺I⁻ x', color: COLORS[2] },
    { label: 'error neuron', color: COLORS[3] },
  ]);

  function draw(): void {
    const tauM = sliderValue($<HTMLInputElement>('#op-taum', view));
    const tauR = sliderValue($<HTMLInputElement>('#op-taur', view));
    const w = sliderValue($<HTMLInputElement>('#op-w', view));
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
    const [cg, cp, ct] = charts;
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

  for (const id of ['op-taum', 'op-taur', 'op-w']) {
    const inp = $<HTMLInputElement>(`#${id}`, view);
    inp.oninput = () => {
      $(`#${id}-out`, view).textContent = fmt(sliderValue(inp));
      draw();
    };
  }
  view.appendChild(exportBar('operators', charts));

  return { name: 'operators', el: view, charts, onShow: draw };
}
