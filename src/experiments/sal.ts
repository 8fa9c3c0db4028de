/**
 * The SAL experiments (spike-based alignment learning, ../spiking): one task, `spiking`, with three kinds.
 *
 *   sal-two-neuron    §3.6 test 2: two coupled units, SAL on both weights (→ both 1.0) and on W10 only with W01 = 1.5
 *                     fixed (→ W10 = 1.5); the phase plane of the exact expected update field (stddc) with the
 *                     simulated trajectories and the trajectory the expected field predicts.
 *   sal-sampling      §3.2: a 7-unit sampling network learns a Boltzmann target with the symmetric STDP ("ws") rule;
 *                     a sweep over synaptic (initial asymmetry) or plasticity noise, with and without SAL; D_KL and
 *                     asymmetry over training.
 *   sal-microcircuit  §3.3: 1–1–1 spiking teacher–student microcircuits, feedback by SAL, FA (fixed B) or B = Wᵀ,
 *                     all seeds and variants batched side by side; validation MSE per epoch.
 */
import type { ExperimentDef, RunContext, TaskFn } from './types.js';
import { SamplingNetwork, boltzmann, dklFromCounts, asymmetry } from '../spiking/ssn.js';
import { salRule, wsRule, sumBatch, plasticityNoise } from '../spiking/stdp.js';
import { stddc, expectedStdp, salField } from '../spiking/stddc.js';
import { Microcircuit, teacherTargets, type FeedbackVariant, type MicrocircuitOptions } from '../spiking/microcircuit.js';
import type { SalSymmNetParams } from './sal-symmnet.js';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { lineChartSvg, vegaLiteToSvg, paletteColor, type LineSeries } from '../report/plot.js';

export interface SalTwoNeuronParams {
  kind: 'two-neuron';
  tauRef: number;
  steps: number;
  eta: number;
  nLast: number;
  epochs: number;
  W0: [number, number];
  b: [number, number];
  /** independent chains averaged per epoch (1 = the reference setting) */
  batch: number;
  grid: { lo: number; hi: number; n: number };
  dtype: 'float32' | 'float64';
}

export interface SalSamplingParams {
  kind: 'sampling';
  n: number;
  tauRef: number;
  /** sleep-run length in units of τ_ref */
  dur: number;
  /**
   * spikes remembered per unit (PSPs and STDP pairs). The reference uses 1: then the SAL window sees only nearest
   * pairs, which biases it when rates differ (symmetric W is then not its fixed point, docs/RESULTS.md "SAL");
   * ~10 covers the exponential window.
   */
  nLast: number;
  sweep: 'synaptic' | 'plasticity';
  levels: number[];
  targetSeeds: number;
  initSeeds: number;
  /** SAL learning rates compared (0 = without SAL) */
  lrSymm: number[];
  lrW: number;
  lrB: number;
  /** the fixed other noise: initial asymmetry (plasticity sweep) or plasticity noise (synaptic sweep) */
  initNoise: number;
  plasticityNoise: number;
  iterations: number;
  valEvery: number;
  /** validation run length = dur · valFactor · τ_ref */
  valFactor: number;
  clip: number;
  mode: 'dense' | 'event';
  /** 'wasm' needs mode 'dense' and float32 */
  engine: 'js' | 'wasm';
  dtype: 'float32' | 'float64';
}

/** The microcircuit's options (one declaration, src/spiking/microcircuit.ts) plus the experiment's protocol. */
export interface SalMicrocircuitParams extends Omit<MicrocircuitOptions, 'seed'> {
  kind: 'microcircuit';
  seeds: number;
  initRange: number;
  teacherW: [number, number];
  train: number[];
  val: number[];
  /** pattern duration in units of τ_ref */
  tPattern: number;
  teacherTPattern: number;
  lag: number;
  trainPerEpoch: number;
  salPerEpoch: number;
  epochs: number;
}

export type SalParams = SalTwoNeuronParams | SalSamplingParams | SalMicrocircuitParams | SalSymmNetParams;

const twoNeuron: ExperimentDef<SalTwoNeuronParams> = {
  name: 'sal-two-neuron',
  description: 'SAL §3.6/Fig. 2: two spiking units, SAL symmetrises W (both -> 1) and drives a feedback weight to a frozen forward one; exact expected update field (stddc) as a phase plane',
  task: 'spiking',
  params: { kind: 'two-neuron', tauRef: 25, steps: 1500, eta: 0.03, nLast: 10, epochs: 1500, W0: [1.5, 0.5], b: [-0.5, -0.2], batch: 1, grid: { lo: -0.5, hi: 2.5, n: 13 }, dtype: 'float64' },
  quick: { epochs: 300, grid: { lo: -0.5, hi: 2.5, n: 7 } },
};

const sampling: ExperimentDef<SalSamplingParams> = {
  name: 'sal-sampling',
  description: 'SAL §3.2/Figs. 4-5: 7-unit spiking sampling network learns a Boltzmann target; synaptic- or plasticity-noise sweep with and without SAL (D_KL, asymmetry)',
  task: 'spiking',
  params: {
    kind: 'sampling', n: 7, tauRef: 50, dur: 1000, nLast: 1, sweep: 'synaptic', levels: [0, 0.2, 0.4, 0.6, 0.8, 1.0], targetSeeds: 5, initSeeds: 4,
    lrSymm: [0, 0.01], lrW: 0.01, lrB: 0.01, initNoise: 0.2, plasticityNoise: 0, iterations: 20001, valEvery: 500, valFactor: 1000, clip: 2, mode: 'dense', engine: 'wasm', dtype: 'float32',
  },
  quick: { levels: [0, 1.0], targetSeeds: 1, initSeeds: 1, dur: 100, iterations: 301, valEvery: 100, valFactor: 10 },
};

const microcircuit: ExperimentDef<SalMicrocircuitParams> = {
  name: 'sal-microcircuit',
  description: 'SAL §3.3/Fig. 6: 1-1-1 spiking teacher-student microcircuits, feedback by SAL vs FA vs B = W^T, seeds batched; validation MSE',
  task: 'spiking',
  params: {
    kind: 'microcircuit', variants: ['sal', 'fa', 'bp'], seeds: 20, tauRef: 10, lambdaApi: 0.02, lambdaNudge: 0.6, lrUp: [0.2, 0.003], lrDown: 0.001, bias: -1, initRange: 3,
    teacherW: [2, 2], train: [-3, -2.5, -2, -0.8, 0.8, 2, 2.5, 3], val: [-2.7, -1.8, -0.5, 0.5, 1.8, 2.7], tPattern: 2000, teacherTPattern: 2000, lag: 2000, avgSteps: 2000,
    trainPerEpoch: 15, salPerEpoch: 5, epochs: 150,
  },
  quick: { seeds: 4, tPattern: 300, teacherTPattern: 1000, epochs: 6 },
};

const symmnet: ExperimentDef<SalSymmNetParams> = {
  name: 'sal-symmnet',
  description: 'SAL §3.4/Figs. 7-9: SymmNet conv net on MNIST by SGD; feedback bp, fa, bp_w_fa or sal (a spiking SALNet phase per epoch symmetrises the FC feedback); accuracy and angle(W, B) per FC layer',
  task: 'spiking',
  params: {
    kind: 'symmnet', data: null, modes: ['bp', 'fa', 'bp_w_fa', 'sal'], epochs: 100, batch: 128, lr: 0.01, momentum: 0.9, trainSamples: null, testSamples: null,
    salSteps: 2000, salRepeats: 5, salBatch: 32, salLr: 0.04, salNorm: 20, salScale: 1, salSpan: 20, tauRef: 10, nLast: 2, salDrive: 'event', salEngine: 'wasm',
  },
  quick: { modes: ['fa', 'sal'], epochs: 2, trainSamples: 512, testSamples: 500, salSteps: 500, salRepeats: 2, salBatch: 4, salLr: 1, salScale: 2.5 },
};

export const SAL_EXPERIMENTS: ExperimentDef[] = [twoNeuron, sampling, microcircuit, symmnet] as unknown as ExperimentDef[];

function checkParams(p: Record<string, unknown>, ints: string[], pos: string[], finite: string[]): void {
  const name = `sal (${String(p.kind)})`;
  for (const k of ints) if (!Number.isInteger(p[k]) || (p[k] as number) < 1) throw new UserError(`${name}: ${k} must be a positive integer, got ${JSON.stringify(p[k])}`);
  for (const k of pos) if (typeof p[k] !== 'number' || !((p[k] as number) > 0) || !Number.isFinite(p[k])) throw new UserError(`${name}: ${k} must be a positive number, got ${JSON.stringify(p[k])}`);
  for (const k of finite) {
    const v = p[k];
    const ok = Array.isArray(v) ? v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x)) : typeof v === 'number' && Number.isFinite(v);
    if (!ok) throw new UserError(`${name}: ${k} must be a finite number${Array.isArray(v) ? ' list' : ''}, got ${JSON.stringify(v)}`);
  }
}

export const spikingTask: TaskFn = async (ctx) => {
  const p = ctx.params as unknown as SalParams;
  const q = ctx.params;
  if (p.kind === 'two-neuron') {
    checkParams(q, ['tauRef', 'steps', 'nLast', 'epochs', 'batch'], ['eta'], ['W0', 'b']);
    if (p.W0.length !== 2 || p.b.length !== 2) throw new UserError('sal (two-neuron): W0 and b need 2 entries each');
    if (!(p.grid?.n >= 2) || !(p.grid.hi > p.grid.lo)) throw new UserError('sal (two-neuron): grid needs n >= 2 and hi > lo');
  } else if (p.kind === 'sampling') {
    checkParams(q, ['n', 'tauRef', 'dur', 'nLast', 'targetSeeds', 'initSeeds', 'iterations', 'valEvery', 'valFactor'], ['clip'], ['levels', 'lrSymm', 'lrW', 'lrB', 'initNoise', 'plasticityNoise']);
    if (p.sweep !== 'synaptic' && p.sweep !== 'plasticity') throw new UserError(`sal (sampling): sweep must be 'synaptic' or 'plasticity', got ${JSON.stringify(p.sweep)}`);
  } else if (p.kind === 'microcircuit') {
    checkParams(q, ['seeds', 'tauRef', 'tPattern', 'teacherTPattern', 'avgSteps', 'trainPerEpoch', 'epochs'], ['initRange'], ['lambdaApi', 'lambdaNudge', 'lrUp', 'lrDown', 'bias', 'teacherW', 'train', 'val', 'lag']);
    if (p.tauRef < 2) throw new UserError('sal (microcircuit): tauRef must be at least 2');
    if (!Number.isInteger(p.salPerEpoch) || p.salPerEpoch < 0) throw new UserError(`sal (microcircuit): salPerEpoch must be a non-negative integer, got ${JSON.stringify(p.salPerEpoch)}`);
  }
  if (p.kind === 'two-neuron') return twoNeuronTask(ctx, p);
  if (p.kind === 'sampling') return samplingTask(ctx, p);
  if (p.kind === 'microcircuit') return microcircuitTask(ctx, p);
  if (p.kind === 'symmnet') return (await import('./sal-symmnet.js')).symmnetTask(ctx, p);
  throw new UserError(`spiking task: unknown kind '${(p as { kind: string }).kind}'`);
};

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

// ------------------------------------------------------------------------------------------------ two neurons
async function twoNeuronTask(ctx: RunContext, p: SalTwoNeuronParams) {
  const tau = p.tauRef, T = p.steps;
  const trajectories: Record<string, { w01: number[]; w10: number[] }> = {};
  let steps = 0;
  for (const [name, learn01] of [['both', true], ['W10 only', false]] as const) {
    const net = new SamplingNetwork({ n: 2, tauRef: tau, nLast: p.nLast, batch: p.batch, seed: ctx.seed * 2 + (learn01 ? 0 : 1), dtype: p.dtype });
    net.W.set([0, p.W0[0], p.W0[1], 0]);
    net.b.set(p.b);
    const tr = net.trace(salRule(tau));
    const sum = new Float64Array(4);
    const w01 = [p.W0[0]], w10 = [p.W0[1]];
    const prog = ctx.progress(p.epochs, `two-neuron (${name})`, 'epochs', 1);
    for (let ep = 1; ep <= p.epochs && !ctx.stopRequested(); ep++) {
      tr.D.fill(0);
      net.run(T, [tr]);
      steps += T * p.batch;
      sumBatch(tr.D, p.batch, sum);
      if (learn01) net.W[1] += (p.eta * sum[1]) / p.batch / (T / tau);
      net.W[2] += (p.eta * sum[2]) / p.batch / (T / tau);
      w01.push(net.W[1]);
      w10.push(net.W[2]);
      ctx.metrics.append({ kind: 'train', run: name, epoch: ep, W01: net.W[1], W10: net.W[2], diff: net.W[1] - net.W[2] });
      prog.update(ep);
      if (ep % 50 === 0) await ctx.breathe();
    }
    prog.stop();
    trajectories[name] = { w01, w10 };
  }
  // the trajectory the expected field predicts (Euler over epochs, field re-evaluated every `h` epochs)
  const rule = salRule(tau);
  const predicted: Record<string, { w01: number[]; w10: number[] }> = {};
  const h = 10;
  for (const [name, learn01] of [['both', true], ['W10 only', false]] as const) {
    let a = p.W0[0], c = p.W0[1];
    const w01 = [a], w10 = [c];
    for (let ep = 0; ep < p.epochs; ep += h) {
      const e = expectedStdp(stddc({ W01: a, W10: c, b0: p.b[0], b1: p.b[1], tauRef: tau, maxLag: rule.kc.length - 1, tol: 1e-12 }), rule);
      if (learn01) a += h * p.eta * tau * e.dD01;
      c += h * p.eta * tau * e.dD10;
      w01.push(a);
      w10.push(c);
    }
    predicted[name] = { w01, w10 };
  }
  const g = p.grid;
  const axis = Array.from({ length: g.n }, (_, k) => g.lo + ((g.hi - g.lo) * k) / (g.n - 1));
  const field = salField({ w01: axis, w10: axis, b0: p.b[0], b1: p.b[1], tauRef: tau, eta: p.eta, rule, maxLag: rule.kc.length - 1 });
  const extra = { spiking_engine: 'js' };
  ctx.figure('phase-plane', await phasePlaneSvg(axis, field, trajectories, predicted, p));
  ctx.figure(
    'weights',
    await lineChartSvg({
      title: 'SAL on two units: weights over epochs (dashed: expected field)',
      xLabel: 'epoch',
      yLabel: 'weight',
      series: Object.entries(trajectories).flatMap(([name, t], k) => [
        { name: `${name}: W01`, x: t.w01.map((_, i) => i), y: t.w01, color: paletteColor(2 * k) },
        { name: `${name}: W10`, x: t.w10.map((_, i) => i), y: t.w10, color: paletteColor(2 * k + 1) },
        { name: `${name}: W10 expected`, x: predicted[name].w10.map((_, i) => i * h), y: predicted[name].w10, dash: true, color: paletteColor(2 * k + 1), legend: false },
      ]),
    }),
  );
  const at = (t: { w01: number[]; w10: number[] }, ep: number) => Math.abs(t.w01[Math.min(ep, t.w01.length - 1)] - t.w10[Math.min(ep, t.w10.length - 1)]);
  const both = trajectories['both'], fixed = trajectories['W10 only'];
  const final = {
    both_W01: r4(both.w01[both.w01.length - 1]),
    both_W10: r4(both.w10[both.w10.length - 1]),
    both_absdiff_100: r4(at(both, 100)),
    both_absdiff_500: r4(at(both, 500)),
    fixed_W10_800: r4(fixed.w10[Math.min(800, fixed.w10.length - 1)]),
    fixed_W10_final: r4(fixed.w10[fixed.w10.length - 1]),
    expected_both_absdiff_500: r4(Math.abs(predicted.both.w01[Math.min(50, predicted.both.w01.length - 1)] - predicted.both.w10[Math.min(50, predicted.both.w10.length - 1)])),
    expected_fixed_W10_800: r4(predicted['W10 only'].w10[Math.min(80, predicted['W10 only'].w10.length - 1)]),
  };
  return { final, steps, extra };
}

async function phasePlaneSvg(
  axis: number[],
  field: { dW01: Float64Array; dW10: Float64Array },
  traj: Record<string, { w01: number[]; w10: number[] }>,
  pred: Record<string, { w01: number[]; w10: number[] }>,
  p: SalTwoNeuronParams,
): Promise<string> {
  const n = axis.length;
  let maxLen = 0;
  for (let q = 0; q < n * n; q++) maxLen = Math.max(maxLen, Math.hypot(field.dW01[q], field.dW10[q]));
  const scale = maxLen > 0 ? (0.8 * (axis[1] - axis[0])) / maxLen : 0;
  const arrows: Record<string, number>[] = [];
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) {
      const q = r * n + c, x = axis[c], y = axis[r];
      arrows.push({ x, y, x2: x + scale * field.dW01[q], y2: y + scale * field.dW10[q], mag: Math.hypot(field.dW01[q], field.dW10[q]) * 1000 });
    }
  const tips = arrows.map((a) => ({ x: a.x2, y: a.y2, angle: 90 - (Math.atan2(a.y2 - a.y, a.x2 - a.x) * 180) / Math.PI }));
  const lines: Record<string, unknown>[] = [], expected: Record<string, unknown>[] = [];
  for (const [name, t] of Object.entries(traj)) t.w01.forEach((x, i) => lines.push({ x, y: t.w10[i], i, run: `${name} (simulated)` }));
  for (const [name, t] of Object.entries(pred)) t.w01.forEach((x, i) => expected.push({ x, y: t.w10[i], i, run: name }));
  const dom = [p.grid.lo, p.grid.hi];
  const xs = { field: 'x', type: 'quantitative', scale: { domain: dom }, title: 'W01 (from 1 to 0)' };
  const ys = { field: 'y', type: 'quantitative', scale: { domain: dom }, title: 'W10 (from 0 to 1)' };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Expected SAL update field (stddc), τ = ${p.tauRef}, b = (${p.b.join(', ')}); dashed: trajectory it predicts`,
    width: 420,
    height: 420,
    background: 'white',
    layer: [
      { data: { values: arrows }, mark: { type: 'rule', color: '#888' }, encoding: { x: xs, y: ys, x2: { field: 'x2' }, y2: { field: 'y2' } } },
      { data: { values: tips }, mark: { type: 'point', shape: 'triangle-up', size: 18, filled: true, color: '#888' }, encoding: { x: xs, y: ys, angle: { field: 'angle', type: 'quantitative', scale: null } } },
      { data: { values: [{ x: dom[0], y: dom[0] }, { x: dom[1], y: dom[1] }] }, mark: { type: 'line', color: '#bbb', strokeDash: [2, 2] }, encoding: { x: xs, y: ys } },
      {
        data: { values: lines },
        mark: { type: 'line', strokeWidth: 4, opacity: 0.8 },
        encoding: { x: xs, y: ys, order: { field: 'i', type: 'quantitative' }, color: { field: 'run', type: 'nominal', title: null, legend: { labelLimit: 300 } } },
      },
      {
        data: { values: expected },
        mark: { type: 'line', strokeWidth: 1.5, color: '#222', strokeDash: [4, 3] },
        encoding: { x: xs, y: ys, order: { field: 'i', type: 'quantitative' }, detail: { field: 'run', type: 'nominal' } },
      },
    ],
  };
  return vegaLiteToSvg(spec);
}

// ------------------------------------------------------------------------------------------------ sampling
/** 2·Beta(1,1) − 1 = U(−1, 1) */
function target(n: number, seed: number): { W: Float64Array; b: Float64Array } {
  const r = new Rng(1000 + seed);
  const W = new Float64Array(n * n), b = new Float64Array(n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) W[i * n + j] = W[j * n + i] = 2 * r.uniform() - 1;
  for (let i = 0; i < n; i++) b[i] = 2 * r.uniform() - 1;
  return { W, b };
}

async function samplingTask(ctx: RunContext, p: SalSamplingParams) {
  if (p.engine === 'wasm' && (p.dtype !== 'float32' || p.mode !== 'dense'))
    throw new UserError(`sal-sampling: engine 'wasm' runs float32 with mode 'dense' (got ${p.dtype}, ${p.mode}); use --set engine='"js"'`);
  if (p.n > 20) throw new UserError(`sal-sampling: n = ${p.n} is too large to enumerate the target (at most 20)`);
  const n = p.n, tau = p.tauRef, T = p.dur * tau, Tval = p.dur * p.valFactor * tau;
  const runs: { level: number; tseed: number; iseed: number; lrSymm: number }[] = [];
  for (const level of p.levels) for (let ts = 0; ts < p.targetSeeds; ts++) for (let is = 0; is < p.initSeeds; is++) for (const lrSymm of p.lrSymm) runs.push({ level, tseed: ts, iseed: is, lrSymm });
  const valPoints = Math.floor((p.iterations - 1) / p.valEvery) + 1;
  const curves = new Map<string, { dkl: number[][]; asym: number[][] }>();
  let steps = 0;
  const prog = ctx.progress(runs.length * p.iterations, 'sal-sampling', 'iterations', 1);
  let done = 0;
  const rates = new Float64Array(n), C = new Float64Array(n * n);
  for (const run of runs) {
    if (ctx.stopRequested()) break;
    const tg = target(n, ctx.seed * 100 + run.tseed);
    const ex = boltzmann(tg.W, tg.b, n);
    const r = new Rng(ctx.seed * 100000 + run.tseed * 1000 + run.iseed * 10 + 7);
    const net = new SamplingNetwork({ n, tauRef: tau, nLast: p.nLast, mode: p.mode, engine: p.engine, dtype: p.dtype, seed: ctx.seed * 7777 + run.tseed * 101 + run.iseed * 13 + (run.lrSymm > 0 ? 1 : 0) });
    const initNoise = p.sweep === 'synaptic' ? run.level : p.initNoise;
    const plNoise = p.sweep === 'plasticity' ? run.level : p.plasticityNoise;
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) net.W[i * n + j] = net.W[j * n + i] = 0.2 * r.normal();
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) net.W[i * n + j] += initNoise * r.normal();
    for (let i = 0; i < n; i++) net.b[i] = 0.2 * r.normal();
    const mWs = plasticityNoise(n, plNoise, r), mSal = plasticityNoise(n, plNoise, r);
    const ws = net.trace(wsRule(tau)), sal = net.trace(salRule(tau));
    const traces = run.lrSymm > 0 ? [ws, sal] : [ws];
    const hist = new Float64Array(1 << n);
    const key = `${run.level}|${run.lrSymm}`;
    if (!curves.has(key)) curves.set(key, { dkl: [], asym: [] });
    const dk: number[] = [], as: number[] = [];
    for (let it = 0; it < p.iterations && !ctx.stopRequested(); it++) {
      if (it % p.valEvery === 0) {
        net.reset();
        hist.fill(0);
        net.run(Tval, [], hist);
        steps += Tval;
        const d = dklFromCounts(ex.p, hist), a = asymmetry(net.W, n);
        dk.push(d);
        as.push(a);
        ctx.metrics.append({ kind: 'val', level: run.level, target_seed: run.tseed, init_seed: run.iseed, lr_symm: run.lrSymm, iteration: it, dkl: d, asymmetry: a });
      }
      net.reset();
      ws.D.fill(0);
      sal.D.fill(0);
      net.run(T, traces);
      steps += T;
      net.rates(T, rates);
      sumBatch(ws.D, 1, C);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          if (i === j) continue;
          const q = i * n + j;
          let w = net.W[q] + p.lrW * (ex.C[q] - (mWs[q] * C[q]) / (T / tau));
          if (run.lrSymm > 0) w += (run.lrSymm * mSal[q] * sal.D[q]) / (T / tau);
          net.W[q] = Math.max(-p.clip, Math.min(p.clip, w));
        }
      for (let i = 0; i < n; i++) net.b[i] = Math.max(-p.clip, Math.min(p.clip, net.b[i] + p.lrB * (ex.m[i] - rates[i] * tau)));
      net.weightsChanged();
      done++;
      if (done % 20 === 0) {
        prog.update(done);
        await ctx.breathe();
      }
    }
    curves.get(key)!.dkl.push(dk);
    curves.get(key)!.asym.push(as);
  }
  prog.stop();
  const mean = (rows: number[][], k: number) => rows.reduce((a, r) => a + (r[Math.min(k, r.length - 1)] ?? NaN), 0) / rows.length;
  const final: Record<string, number> = {};
  const xs = Array.from({ length: valPoints }, (_, k) => k * p.valEvery);
  const dklSeries: LineSeries[] = [], asymSeries: LineSeries[] = [];
  const levelsShown = [p.levels[0], p.levels[p.levels.length - 1]];
  p.lrSymm.forEach((lr, li) => {
    for (const level of p.levels) {
      const c = curves.get(`${level}|${lr}`);
      if (!c || c.dkl.length === 0) continue;
      const last = c.dkl[0].length - 1;
      final[`dkl_${p.sweep}${level}_${lr > 0 ? 'sal' : 'nosal'}`] = mean(c.dkl, last);
      final[`asym_${p.sweep}${level}_${lr > 0 ? 'sal' : 'nosal'}`] = mean(c.asym, last);
      if (!levelsShown.includes(level)) continue;
      const name = `${p.sweep} noise ${level}, ${lr > 0 ? `SAL ${lr}` : 'no SAL'}`;
      const color = paletteColor(li), dash = level !== levelsShown[1];
      dklSeries.push({ name, x: xs.slice(0, c.dkl[0].length), y: xs.slice(0, c.dkl[0].length).map((_, k) => mean(c.dkl, k)), color, dash });
      asymSeries.push({ name, x: xs.slice(0, c.asym[0].length), y: xs.slice(0, c.asym[0].length).map((_, k) => mean(c.asym, k)), color, dash });
    }
  });
  ctx.figure('dkl', await lineChartSvg({ title: `D_KL(target ‖ sampled) over training (mean over seeds; dashed: noise ${levelsShown[0]})`, xLabel: 'iteration', yLabel: 'D_KL', logY: true, series: dklSeries }));
  ctx.figure('asymmetry', await lineChartSvg({ title: 'asymmetry var(W − Wᵀ) over training (mean over seeds)', xLabel: 'iteration', yLabel: 'var(W − Wᵀ)', series: asymSeries }));
  ctx.figure(
    'final-dkl',
    await lineChartSvg({
      title: `final D_KL vs ${p.sweep} noise (mean over seeds)`,
      xLabel: `${p.sweep} noise`,
      yLabel: 'final D_KL',
      logY: true,
      series: p.lrSymm.map((lr, li) => ({ name: lr > 0 ? `SAL ${lr}` : 'no SAL', x: p.levels, y: p.levels.map((l) => final[`dkl_${p.sweep}${l}_${lr > 0 ? 'sal' : 'nosal'}`] ?? NaN), color: paletteColor(li) })),
    }),
  );
  // (the runner's GLE backend is unused here: the spiking engine is what ran)
  return { final, steps, extra: { spiking_engine: p.engine, steps_are: 'network steps (one chain)' } };
}

// ------------------------------------------------------------------------------------------------ microcircuit
async function microcircuitTask(ctx: RunContext, p: SalMicrocircuitParams) {
  const tau = p.tauRef, tp = p.tPattern * tau, lag = Math.min(p.lag, Math.floor(tp / 2));
  const variants: FeedbackVariant[] = [];
  const seedOf: number[] = [];
  for (const v of p.variants) {
    if (!['sal', 'fa', 'bp'].includes(v)) throw new UserError(`variants: unknown '${v}' (sal, fa, bp)`);
    for (let s = 0; s < p.seeds; s++) {
      variants.push(v);
      seedOf.push(ctx.seed + s);
    }
  }
  const tTrain = teacherTargets(p.train, p.teacherW, p.bias, tau, p.teacherTPattern * tau, ctx.seed * 2 + 1);
  const tVal = teacherTargets(p.val, p.teacherW, p.bias, tau, p.teacherTPattern * tau, ctx.seed * 2 + 2);
  const mc = new Microcircuit({ variants, tauRef: tau, lambdaApi: p.lambdaApi, lambdaNudge: p.lambdaNudge, lrUp: p.lrUp, lrDown: p.lrDown, bias: p.bias, avgSteps: p.avgSteps, seed: ctx.seed });
  for (let e = 0; e < mc.B; e++) {
    // the same initial weights for a seed in every variant
    const r = new Rng(50000 + seedOf[e]);
    mc.W1[e] = r.range(-p.initRange, p.initRange);
    mc.W2[e] = r.range(-p.initRange, p.initRange);
    mc.Bfb[e] = r.range(-p.initRange, p.initRange);
  }
  const order = new Rng(ctx.seed * 31 + 3);
  const curves = new Map<string, number[]>(p.variants.map((v) => [v, []]));
  const mse = new Float64Array(mc.B);
  const validate = () => {
    mse.fill(0);
    for (let i = 0; i < p.val.length; i++) {
      mc.present(p.val[i], 0, tp, lag, 'val');
      for (let e = 0; e < mc.B; e++) mse[e] += (mc.uOutSum[e] / (tp - lag) - tVal[i]) ** 2 / p.val.length;
    }
  };
  let steps = 0;
  const prog = ctx.progress(p.epochs, 'sal-microcircuit', 'epochs', 1);
  const record = (epoch: number) => {
    for (const v of p.variants) {
      let s = 0, c = 0;
      for (let e = 0; e < mc.B; e++) if (variants[e] === v) (s += mse[e]), c++;
      curves.get(v)!.push(s / c);
    }
    for (let e = 0; e < mc.B; e++)
      ctx.metrics.append({ kind: 'val', epoch, variant: variants[e], seed: seedOf[e], mse: mse[e], W1: mc.W1[e], W2: mc.W2[e], B: mc.Bfb[e] });
  };
  validate();
  steps += p.val.length * tp * mc.B;
  record(0);
  for (let ep = 1; ep <= p.epochs && !ctx.stopRequested(); ep++) {
    for (let k = 0; k < p.trainPerEpoch + p.salPerEpoch; k++) {
      const i = order.int(p.train.length);
      mc.present(p.train[i], tTrain[i], tp, lag, k < p.trainPerEpoch ? 'train' : 'sal');
      await ctx.breathe();
    }
    validate();
    steps += (p.trainPerEpoch + p.salPerEpoch + p.val.length) * tp * mc.B;
    record(ep);
    prog.update(ep, Object.fromEntries(p.variants.map((v) => [v, curves.get(v)![ep]])));
  }
  prog.stop();
  const final: Record<string, number> = {};
  for (const v of p.variants) {
    const c = curves.get(v)!;
    final[`val_mse_${v}`] = c[c.length - 1];
    let agree = 0, cnt = 0;
    for (let e = 0; e < mc.B; e++) if (variants[e] === v) (cnt++, (agree += Math.sign(mc.Bfb[e]) === Math.sign(mc.W2[e]) ? 1 : 0));
    final[`sign_agree_${v}`] = agree / cnt;
  }
  ctx.figure(
    'val-mse',
    await lineChartSvg({
      title: `validation MSE (mean over ${p.seeds} seeds)`,
      xLabel: 'epoch',
      yLabel: 'MSE',
      logY: true,
      xInteger: true,
      series: p.variants.map((v, k) => ({ name: v === 'bp' ? 'B = Wᵀ' : v.toUpperCase(), x: curves.get(v)!.map((_, i) => i), y: curves.get(v)!, color: paletteColor(k) })),
    }),
  );
  return { final, steps, extra: { spiking_engine: 'js', steps_are: 'circuit steps (all seeds and variants)' } };
}
