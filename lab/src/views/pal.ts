/**
 * PAL live (Max et al. 2024): a small 4–30–3 LE dendritic microcircuit on Yin-Yang inputs learns its top-down weights B
 * with Phaseless Alignment Learning, next to a twin whose B stays fixed (feedback alignment). The chart shows the angle
 * ∠(W, Bᵀ) between the forward weights of the hidden → output layer and the transposed feedback weights closing while
 * it runs. Noise and η_B are amplified over the paper's Yin-Yang config (σ 0.01, η_B 0.5) so that it happens in
 * seconds; with "train W" the circuits also learn the task (nudging on, Urbanczik–Senn plasticity on W).
 * Runs in the page (the circuit is tiny), a chunk of steps per animation frame.
 */
import { microcircuit, yinYang, Rng } from 'gle/core';
import { COLORS } from '../plots.js';
import { $, addChart, el, exportBar, fmt, slider, sliderValue, type View } from '../ui.js';

const STEPS_PER_FRAME = 2000;
const MAX_POINTS = 600;

export function createPalView(parent: HTMLElement): View {
  const view = el(`<section class="view" id="view-pal" hidden role="tabpanel" aria-labelledby="tab-pal">
  <p class="intro">Phaseless Alignment Learning: each hidden pyramidal cell injects its own Ornstein–Uhlenbeck noise ξ into its apical
  dendrite; the top-down weights learn Ḃ = η<sub>B</sub>(ξ·r̃<sub>upper</sub> − αB) from the high-passed rate of the upper neurons. B turns
  towards Wᵀ (angle → 0°) without weight transport; the FA twin keeps its random B.</p>
  <div class="row controls">
    ${slider('pal-sigma', 'noise σ', 0.005, 0.3, 0, 0.1, true)}
    ${slider('pal-eta', 'η<sub>B</sub>', 0.5, 200, 0, 50, true)}
    <label><input type="checkbox" id="pal-train"> train W (teacher on)</label>
    <button id="pal-run">Pause</button>
    <button id="pal-reset">Reset</button>
    <span id="pal-status"></span>
  </div>
  <div class="grid" id="pal-plots"></div>
</section>`);
  parent.appendChild(view);
  const charts: View['charts'] = [];
  const box = $('#pal-plots', view);
  addChart(box, charts, '∠(W, Bᵀ) in degrees', [
    { label: 'PAL', color: COLORS[0] },
    { label: 'FA (B fixed)', color: COLORS[1] },
  ], { xLabel: 'steps', yRange: [0, 100] });

  const data = yinYang(3000, 9876543);
  let pal: microcircuit.Microcircuit, fa: microcircuit.Microcircuit;
  let step = 0, sample = 0, running = true;
  const xs: number[] = [], aPal: number[] = [], aFa: number[] = [];
  const x = new Float64Array(4), t = new Float64Array(3);

  function build(): void {
    const sigmaXi = sliderValue($<HTMLInputElement>('#pal-sigma', view));
    const etaB = sliderValue($<HTMLInputElement>('#pal-eta', view));
    const train = $<HTMLInputElement>('#pal-train', view).checked;
    const base = {
      dims: [4, 30, 3] as [number, number, number], phi: 'sigmoid' as const, le: true, dt: 0.01, tau0: 0.01,
      gl: 0.03, gb: 0.1, ga: 0.06, gsom: 0.06, gd: 0.1, gt: 0.06, sigmaXi, tauXi: 0.1, tauHp: 0.1, alpha: 1e-6,
      etaUp: (train ? [5, 0.05] : [0, 0]) as [number, number], etaIp: train ? 0.05 : 0, etaPi: 0.5, tauW: [0.01, 0.01, 0.01] as [number, number, number],
    };
    pal = new microcircuit.Microcircuit({ ...base, feedback: 'pal', etaB }, 1);
    fa = new microcircuit.Microcircuit({ ...base, feedback: 'fixed', etaB: 0 }, 1);
    for (const net of [pal, fa]) {
      microcircuit.initMicrocircuitWeights(net.s, new Rng(7), [3, 1, 1, 1, 1]); // the same start for both
      microcircuit.selfPredict(net.p, net.s);
    }
    step = 0;
    sample = 0;
    xs.length = aPal.length = aFa.length = 0;
    record();
  }

  function record(): void {
    xs.push(step);
    aPal.push(pal.angle());
    aFa.push(fa.angle());
    if (xs.length > MAX_POINTS) for (const a of [xs, aPal, aFa]) a.splice(0, a.length - MAX_POINTS);
  }

  function frame(): void {
    if (running && !view.hidden) {
      const train = $<HTMLInputElement>('#pal-train', view).checked;
      for (let n = 0; n < STEPS_PER_FRAME; n++) {
        if (step % 100 === 0) {
          const i = sample++ % data.n;
          for (let j = 0; j < 4; j++) x[j] = data.x[4 * i + j];
          t.fill(0.1);
          t[data.labels[i]] = 1;
        }
        pal.step(x, train ? t : null, true);
        fa.step(x, train ? t : null, true);
        step++;
      }
      record();
      charts[0].setData(Float64Array.from(xs), [Float64Array.from(aPal), Float64Array.from(aFa)]);
      $('#pal-status', view).textContent = `${step.toLocaleString()} steps · PAL ${fmt(aPal[aPal.length - 1])}° · FA ${fmt(aFa[aFa.length - 1])}°`;
    }
    requestAnimationFrame(frame);
  }

  for (const id of ['pal-sigma', 'pal-eta']) {
    const inp = $<HTMLInputElement>(`#${id}`, view);
    inp.oninput = () => {
      $(`#${id}-out`, view).textContent = fmt(sliderValue(inp));
    };
    inp.onchange = build;
  }
  $<HTMLInputElement>('#pal-train', view).onchange = build;
  $<HTMLButtonElement>('#pal-reset', view).onclick = build;
  $<HTMLButtonElement>('#pal-run', view).onclick = () => {
    running = !running;
    $('#pal-run', view).textContent = running ? 'Pause' : 'Run';
  };
  const self: View = {
    name: 'pal',
    title: 'PAL: the angle between B and Wᵀ closing',
    el: view,
    charts,
    caption: () => `4–30–3 LE microcircuit on Yin-Yang, σ = ${fmt(sliderValue($<HTMLInputElement>('#pal-sigma', view)))}, η_B = ${fmt(sliderValue($<HTMLInputElement>('#pal-eta', view)))}, ${step.toLocaleString()} steps`,
  };
  view.appendChild(exportBar(() => self));
  build();
  requestAnimationFrame(frame);
  return self;
}
