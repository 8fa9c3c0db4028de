/**
 * GLE errors vs adjoints (paper Fig. 6): after a teacher–student run, follow the student for a window while a shadow
 * copy without nudging (γ = 0, the adjoint method's assumption) integrates the continuous-time adjoint λ over the same
 * trajectory. The GLE prospective error ĕ of each hidden neuron is compared with −λ in time and in frequency
 * (amplitude and phase spectra, Hann-windowed FFT).
 */
import FFT from 'fft.js';
import { GLENetwork } from '../model/network.js';
import type { NetworkSpecInput } from '../model/spec.js';
import { Learner } from '../learn/learner.js';
import { AdjointLearner } from '../learn/adjoint.js';
import { lineChartSvg } from '../report/plot.js';
import type { RunContext } from './types.js';

export interface ErrorAdjointInput {
  student: GLENetwork;
  studentSpec: NetworkSpecInput;
  teacher: GLENetwork;
  fillInput: (step: number, out: Float64Array) => void;
  startStep: number;
  /** window length in steps (a power of two for the FFT) */
  steps: number;
  dt: number;
  layer: number;
  /** angular frequencies at which to report phase differences and gain ratios */
  omegas: number[];
}

function spectrum(sig: Float64Array): { re: Float64Array; im: Float64Array } {
  const n = sig.length;
  const f = new FFT(n);
  const inp = new Array<number>(n);
  for (let i = 0; i < n; i++) inp[i] = sig[i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n)); // Hann
  const out = f.createComplexArray() as number[];
  f.realTransform(out, inp);
  f.completeSpectrum(out);
  const re = new Float64Array(n / 2), im = new Float64Array(n / 2);
  for (let k = 0; k < n / 2; k++) {
    re[k] = out[2 * k];
    im[k] = out[2 * k + 1];
  }
  return { re, im };
}

export async function errorsVsAdjoint(ctx: RunContext<unknown>, a: ErrorAdjointInput): Promise<Record<string, number>> {
  const { student, teacher, steps, dt, layer } = a;
  const B = student.B;
  const shadowSpec: NetworkSpecInput = {
    ...a.studentSpec,
    prospective_errors: true,
    layers: a.studentSpec.layers.map((l) => ({ ...l, gamma: 0 })),
    optimizer: { type: 'sgd', lr: 0 },
    clamp_tau_min: null,
  };
  const shadow = new GLENetwork(shadowSpec, await ctx.newBackend(), { batchSize: B });
  const from = student.allTensors(), to = shadow.allTensors();
  from.forEach((t, i) => to[i].buf.a.set(t.buf.a));
  const fs = student.stateTensors(), ts = shadow.stateTensors();
  fs.forEach((t, i) => ts[i].buf.a.set(t.buf.a));
  const am = new AdjointLearner(new Learner(shadow), steps);
  const learner = new Learner(student, { optimizer: null });
  const n = student.layers[layer].nOut;
  const e = Array.from({ length: n }, () => new Float64Array(steps));
  const x = new Float64Array(B);
  const tg = new Float64Array(B * student.nOut);
  for (let s = 0; s < steps; s++) {
    a.fillInput(a.startStep + s, x);
    tg.set(teacher.step(x, null).a);
    learner.evalStep(x, tg);
    am.step(x, tg);
    const pv = student.scratch(layer).prospV.a;
    for (let j = 0; j < n; j++) e[j][s] = pv[j]; // batch row 0
  }
  const lamAll = am.lastLambda(layer);
  const lam = Array.from({ length: n }, (_, j) => Float64Array.from({ length: steps }, (_, s) => -lamAll[(s * B + 0) * n + j]));
  const final: Record<string, number> = {};
  const t = Float64Array.from({ length: steps }, (_, s) => (a.startStep + s) * dt);
  const series = [];
  for (let j = 0; j < n; j++) {
    // least-squares scale of −λ onto ĕ (the two differ by the loss normalisation and by frequency-dependent gain)
    let num = 0, den = 0;
    for (let s = 0; s < steps; s++) {
      num += e[j][s] * lam[j][s];
      den += lam[j][s] * lam[j][s];
    }
    const c = den > 0 ? num / den : 1;
    series.push({ name: `GLE error, neuron ${j}`, x: t, y: e[j] }, { name: `−λ × ${c.toExponential(2)}, neuron ${j}`, x: t, y: lam[j].map((v) => v * c), dash: true });
  }
  ctx.figure('errors-vs-adjoint', await lineChartSvg({ title: `layer ${layer}: GLE prospective errors ĕ vs adjoints −λ (scaled)`, xLabel: `time (model time units; dt = ${dt})`, yLabel: 'error', series }));

  // spectra of the last neuron (in LagNet: the lagging one)
  const j = n - 1;
  const se = spectrum(e[j]), sl = spectrum(lam[j]);
  const dOmega = (2 * Math.PI) / (steps * dt);
  const kMax = Math.min(se.re.length, Math.ceil(4 / dOmega));
  const w = Float64Array.from({ length: kMax - 1 }, (_, i) => (i + 1) * dOmega);
  const amp = (s: { re: Float64Array; im: Float64Array }) => Float64Array.from({ length: kMax - 1 }, (_, i) => Math.hypot(s.re[i + 1], s.im[i + 1]));
  const ph = (s: { re: Float64Array; im: Float64Array }) => Float64Array.from({ length: kMax - 1 }, (_, i) => (Math.atan2(s.im[i + 1], s.re[i + 1]) * 180) / Math.PI);
  const ampE = amp(se), ampL = amp(sl);
  ctx.figure('spectra-amplitude', await lineChartSvg({ title: `amplitude spectra, layer ${layer} neuron ${j}`, xLabel: 'ω (rad / time unit)', yLabel: '|FFT|', logY: true, series: [{ name: 'GLE error ĕ', x: w, y: ampE }, { name: 'adjoint −λ', x: w, y: ampL, dash: true }] }));
  ctx.figure('spectra-phase', await lineChartSvg({ title: `phase spectra, layer ${layer} neuron ${j}`, xLabel: 'ω (rad / time unit)', yLabel: 'phase (degrees, wrapped to ±180)', points: true, yDomain: [-180, 180], series: [{ name: 'GLE error ĕ', x: w, y: ph(se) }, { name: 'adjoint −λ', x: w, y: ph(sl) }] }));
  // phases are drawn as points: lines would join values across the ±180° wrap (a sawtooth). The drive frequencies
  // are not commensurate with the window, so single-bin phase readings leak; the figures show the whole spectra and
  // test/adjoint.test.ts checks phase and gain on pure sinusoids
  void a.omegas;
  return final;
}
