/**
 * The dendritic-microcircuit experiments (src/model/microcircuit.ts): one task, `microcircuit`, with three kinds.
 *
 *   microcircuit-bars   LE Fig. 3: a 9–30–3 soft-ReLU microcircuit learns the eight 3×3 bars patterns; sweep of the
 *                       presentation time (steps per pattern), LE vs the original circuit; final validation accuracy
 *                       (mean over seeds) per presentation time.
 *   microcircuit-mimic  LE Fig. 5: a 1–1–1 student circuit learns to reproduce a fixed self-predicting teacher circuit's
 *                       outputs on six inputs (first a few epochs of self-prediction without a target); LE vs original.
 *   yinyang, pal-mnist  PAL (Max et al.): 4–30–3 sigmoid circuits on Yin-Yang (784–100–10 on MNIST) with top-down
 *                       weights learned by PAL, fixed (FA), fixed with the noise on (noise-only control) or B = Wᵀ
 *                       ("BP" control); test accuracy and ∠(W, Bᵀ) over training, several seeds side by side.
 *
 * Networks of all modes and seeds advance one epoch at a time in turn, so a run cut short by --max-seconds or Ctrl-C
 * still has every mode and seed at (nearly) the same epoch; the summary is read from the last complete evaluation.
 */
import type { ExperimentDef } from './types.js';
import type { RunContext, TaskFn } from './runner.js';
import { Microcircuit, MICROCIRCUIT_DEFAULTS, initMicrocircuitWeights, selfPredict, transposeFeedback, matchFeedbackNorm, type MicrocircuitParams, type MicroFeedback } from '../model/microcircuit.js';
import { yinYang, BARS_PATTERNS, BARS_LABELS } from '../data/yinyang.js';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { lineChartSvg, paletteColor, type LineSeries } from '../report/plot.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Ranges = [number, number, number, number, number];
type CircuitBase = Omit<MicrocircuitParams, 'dims' | 'feedback' | 'le' | 'dtype'>;

export interface BarsParams extends Omit<CircuitBase, 'etaUp' | 'etaIp'> {
  kind: 'bars';
  dims: [number, number, number];
  modes: ('le' | 'orig')[];
  /** presentation times in steps (t_pattern / dt) */
  tpres: number[];
  /** readout lag of the original circuit per presentation time (time units); LE reads from the first step */
  outLagOrig: number[];
  /** η·t_pattern: [up input→hidden, up hidden→output], ip */
  etaUpT: [number, number];
  etaIpT: number;
  seeds: number;
  epochs: number;
  /** initial weights U(−init, init) */
  init: number;
  target: [number, number];
  dtype: 'float32' | 'float64';
}

export interface MimicParams extends Omit<CircuitBase, 'etaUp' | 'etaIp' | 'etaPi'> {
  kind: 'mimic';
  dims: [number, number, number];
  modes: ('le' | 'orig')[];
  tPattern: number;
  teacherSeed: number;
  nInputs: number;
  selfPredEpochs: number;
  epochs: number;
  selfPredEta: { up: [number, number]; ip: number; pi: number };
  trainEta: { up: [number, number]; ip: number; pi: number };
  init: number;
  dtype: 'float32' | 'float64';
}

export type PalMode = 'pal' | 'fa' | 'noise' | 'bp' | 'bp-scaled';

export interface PalParams extends CircuitBase {
  kind: 'pal';
  dataset: 'yinyang' | 'mnist';
  /** MNIST: a directory with the IDX files; null = the embedded 10k digits */
  data: string | null;
  dims: [number, number, number];
  modes: PalMode[];
  seeds: number;
  /** Yin-Yang: train/val/test drawn with NumPy seeds dataSeed, +1, +2 */
  dataSeed: number;
  tPattern: number;
  /** readout: the output ŭ averaged from this fraction of the pattern on */
  readFrom: number;
  /** initial weight ranges [up1, up2, B, ip, pi] */
  init: Ranges;
  epochs: number;
  /** samples per class */
  nTrain: number;
  nVal: number;
  nTest: number;
  /** evaluate (test, val) every this many epochs */
  evalEvery: number;
  target: [number, number];
  dtype: 'float32' | 'float64';
  /** 'js': the TypeScript step; 'native': the C kernel of the native addon (float64 only, Node) */
  engine?: 'js' | 'native';
}

export type MicroParams = BarsParams | MimicParams | PalParams;

const G = { gl: 0.03, gb: 0.1, ga: 0.06, gsom: 0.06, gd: 0.1, gt: 0.06 };

// ------------------------------------------------------------------------------------------------ definitions
const bars: ExperimentDef<BarsParams> = {
  name: 'microcircuit-bars',
  description: 'LE Fig. 3: 9-30-3 dendritic microcircuit learns the 3x3 bars; presentation-time sweep, LE vs the original circuit (final validation accuracy, mean over seeds)',
  task: 'microcircuit',
  params: {
    kind: 'bars', dims: [9, 30, 3], modes: ['le', 'orig'], phi: 'softrelu', dt: 0.1, tau0: 0.1, ...G,
    tpres: [3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000], outLagOrig: [0, 0.2, 0.5, 1, 2, 5, 15, 40, 80, 80, 80],
    etaUpT: [0.5, 0.1], etaIpT: 0.2, etaPi: 0, etaB: 0, sigmaXi: 0, tauXi: 0.1, tauHp: 0.1, alpha: 0, tauW: [0, 0, 0], clip: [4, 5],
    seeds: 10, epochs: 1000, init: 1, target: [1, 0.1], dtype: 'float32',
  },
  quick: { tpres: [5, 100], outLagOrig: [0.2, 5], seeds: 2, epochs: 150 },
};

const mimic: ExperimentDef<MimicParams> = {
  name: 'microcircuit-mimic',
  description: 'LE Fig. 5: a 1-1-1 student microcircuit learns to mimic a self-predicting teacher on six inputs (3 self-prediction epochs, then 500 training epochs); LE vs the original circuit',
  task: 'microcircuit',
  params: {
    kind: 'mimic', dims: [1, 1, 1], modes: ['le', 'orig'], phi: 'softrelu', dt: 0.01, tau0: 0.01, ...G, tPattern: 1, teacherSeed: 42, nInputs: 6,
    selfPredEpochs: 3, epochs: 500, selfPredEta: { up: [0, 0], ip: 40, pi: 50 }, trainEta: { up: [50, 10], ip: 20, pi: 0 },
    etaB: 0, sigmaXi: 0, tauXi: 0.1, tauHp: 0.1, alpha: 0, tauW: [0, 0, 0], clip: null, init: 1, dtype: 'float64',
  },
  quick: { epochs: 100 },
};

const palCommon = {
  kind: 'pal' as const, data: null, phi: 'sigmoid' as const, dt: 0.01, tau0: 0.01, ...G, tPattern: 1, readFrom: 0.2,
  sigmaXi: 0.01, tauXi: 0.1, tauHp: 0.1, alpha: 1e-6, tauW: [100, 0.01, 0.01] as [number, number, number], clip: null,
  init: [0.1, 0.1, 1, 0.1, 1] as Ranges, modes: ['pal', 'fa', 'noise', 'bp', 'bp-scaled'] as PalMode[], seeds: 5, dataSeed: 9876543,
  evalEvery: 1, target: [1, 0.1] as [number, number], dtype: 'float32' as const, engine: 'js' as const,
};

const yinyangExp: ExperimentDef<PalParams> = {
  name: 'yinyang',
  description: 'PAL Yin-Yang: 4-30-3 sigmoid microcircuits, feedback learned by PAL vs fixed (FA) vs noise-only control vs B = W^T vs B = c W^T at the norm of the random B; test accuracy and angle(W, B^T) over 400 epochs, seeds side by side',
  task: 'microcircuit',
  params: { ...palCommon, dataset: 'yinyang', dims: [4, 30, 3], etaUp: [50, 0.01], etaIp: 0.05, etaPi: 0.02, etaB: 0.5, epochs: 400, nTrain: 2000, nVal: 300, nTest: 300 },
  quick: { epochs: 2, nTrain: 200, nVal: 30, nTest: 100, seeds: 2 },
};

const palMnist: ExperimentDef<PalParams> = {
  name: 'pal-mnist',
  description: 'PAL MNIST: 784-100-10 sigmoid microcircuits, PAL vs FA (vs the controls); embedded 10k digits or --set data=DIR with the IDX files',
  task: 'microcircuit',
  params: { ...palCommon, dataset: 'mnist', dims: [784, 100, 10], modes: ['pal', 'fa'], etaUp: [1, 0.005], etaIp: 0.02, etaPi: 0.02, etaB: 0.2, epochs: 100, nTrain: 5000, nVal: 1000, nTest: 1000 },
  quick: { epochs: 1, nTrain: 5, nVal: 0, nTest: 5, seeds: 1 },
};

export const MICROCIRCUIT_EXPERIMENTS: ExperimentDef[] = [bars, mimic, yinyangExp, palMnist] as unknown as ExperimentDef[];

// ------------------------------------------------------------------------------------------------ checks
function checkCounts(q: Record<string, unknown>, names: string[], min = 1): void {
  for (const k of names) {
    const v = q[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new UserError(`${k} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
}

function circuit(p: Partial<CircuitBase> & { dims: [number, number, number]; dtype: 'float32' | 'float64' }, over: Partial<MicrocircuitParams>, seed: number | number[]): Microcircuit {
  const base: Partial<MicrocircuitParams> = {};
  for (const k of Object.keys(MICROCIRCUIT_DEFAULTS) as (keyof MicrocircuitParams)[]) if (k in p) (base as Record<string, unknown>)[k] = (p as unknown as Record<string, unknown>)[k];
  try {
    return new Microcircuit({ ...base, dims: p.dims, ...over }, seed);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

export const microcircuitTask: TaskFn = async (ctx) => {
  const p = ctx.params as unknown as MicroParams;
  if (!Array.isArray(p.dims) || p.dims.length !== 3) throw new UserError(`dims must be [n_in, n_hidden, n_out], got ${JSON.stringify(p.dims)}`);
  if (p.kind === 'bars') return barsTask(ctx, p);
  if (p.kind === 'mimic') return mimicTask(ctx, p);
  if (p.kind === 'pal') return palTask(ctx, p);
  throw new UserError(`microcircuit task: unknown kind '${(p as { kind: string }).kind}'`);
};

/**
 * Present `x` for `steps` steps (target null: no nudging); accumulate the output ŭ of the steps from `from` on into
 * `acc` (cleared first). Returns how many steps were accumulated.
 */
function present(net: Microcircuit, x: ArrayLike<number>, target: ArrayLike<number> | null, steps: number, learn: boolean, from: number, acc: Float64Array): number {
  acc.fill(0);
  const up = net.s.upO;
  let n = 0;
  for (let t = 0; t < steps; t++) {
    net.step(x, target, learn);
    if (t >= from) {
      for (let k = 0; k < acc.length; k++) acc[k] += up[k];
      n++;
    }
  }
  if (n > 0) for (let k = 0; k < acc.length; k++) acc[k] /= n;
  return n;
}

function argmax(a: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

const mean = (a: number[]) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : NaN);
const sd = (a: number[]) => {
  if (a.length < 2) return 0;
  const m = mean(a);
  return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1));
};
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

// ------------------------------------------------------------------------------------------------ bars
async function barsTask(ctx: RunContext, p: BarsParams) {
  checkCounts(p as unknown as Record<string, unknown>, ['seeds', 'epochs']);
  if (!Array.isArray(p.tpres) || !p.tpres.length || !p.tpres.every((t) => Number.isInteger(t) && t >= 1)) throw new UserError(`tpres must be a list of positive integers (steps per pattern), got ${JSON.stringify(p.tpres)}`);
  if (!Array.isArray(p.outLagOrig) || p.outLagOrig.length !== p.tpres.length) throw new UserError(`outLagOrig needs one lag per tpres (${p.tpres.length}), got ${JSON.stringify(p.outLagOrig)}`);
  for (const m of p.modes) if (m !== 'le' && m !== 'orig') throw new UserError(`modes: unknown '${m}' (le, orig)`);
  if (p.dims[0] !== 9) throw new UserError(`bars: dims[0] must be 9 (3x3 pixels), got ${p.dims[0]}`);
  if (p.dims[2] !== 3) throw new UserError(`bars: dims[2] must be 3 (classes), got ${p.dims[2]}`);
  const nP = BARS_PATTERNS.length;
  const targets = BARS_LABELS.map((c) => [0, 1, 2].map((k) => (k === c ? p.target[0] : p.target[1])));
  interface Job { mode: 'le' | 'orig'; ti: number; seed: number }
  const jobs: Job[] = [];
  for (let ti = 0; ti < p.tpres.length; ti++) for (const mode of p.modes) for (let s = 0; s < p.seeds; s++) jobs.push({ mode, ti, seed: ctx.seed + s });
  const acc = new Float64Array(3);
  const results = new Map<string, { acc: number[]; mse: number[] }>();
  let steps = 0, done = 0;
  const prog = ctx.progress(jobs.length, 'microcircuit-bars', 'runs', 1);
  for (const job of jobs) {
    if (ctx.stopRequested()) break;
    const tp = p.tpres[job.ti], tPat = tp * p.dt;
    const net = circuit(p, { le: job.mode === 'le', feedback: 'fixed', etaUp: [p.etaUpT[0] / tPat, p.etaUpT[1] / tPat], etaIp: p.etaIpT / tPat }, job.seed);
    initMicrocircuitWeights(net.s, new Rng(1000 + job.seed), [p.init, p.init, p.init, p.init, p.init]);
    selfPredict(net.p, net.s);
    const lag = job.mode === 'le' ? 0 : Math.min(tp - 1, Math.round(p.outLagOrig[job.ti] / p.dt));
    const order = new Rng(7 + job.seed);
    const idx = Array.from({ length: nP }, (_, i) => i);
    const validate = () => {
      let correct = 0, mse = 0;
      for (let i = 0; i < nP; i++) {
        present(net, BARS_PATTERNS[i], null, tp, false, lag, acc);
        if (argmax(acc) === BARS_LABELS[i]) correct++;
        for (let k = 0; k < 3; k++) mse += (acc[k] - targets[i][k]) ** 2 / (3 * nP);
      }
      steps += nP * tp;
      return { acc: correct / nP, mse };
    };
    let last = { acc: 0, mse: 0 };
    for (let ep = 1; ep <= p.epochs && !ctx.stopRequested(); ep++) {
      order.shuffle(idx);
      for (const i of idx) present(net, BARS_PATTERNS[i], targets[i], tp, true, tp, acc);
      steps += nP * tp;
      if (ep === p.epochs || ep % Math.max(1, Math.floor(p.epochs / 10)) === 0) {
        last = validate();
        ctx.metrics.append({ kind: 'val', mode: job.mode, tpres: tp, seed: job.seed, epoch: ep, acc: last.acc, mse: r4(last.mse) });
      }
      if (ep % 20 === 0) await ctx.breathe();
    }
    const key = `${job.mode}/${tp}`;
    if (!results.has(key)) results.set(key, { acc: [], mse: [] });
    results.get(key)!.acc.push(last.acc);
    results.get(key)!.mse.push(last.mse);
    prog.update(++done, { [key]: last.acc });
  }
  prog.stop();
  const final: Record<string, number> = {};
  const series: LineSeries[] = [];
  p.modes.forEach((mode, mi) => {
    const xs: number[] = [], ys: number[] = [], lo: number[] = [], hi: number[] = [];
    for (const tp of p.tpres) {
      const r = results.get(`${mode}/${tp}`);
      if (!r) continue;
      const m = mean(r.acc), s = sd(r.acc);
      final[`acc_${mode}_${tp}`] = r4(m);
      final[`mse_${mode}_${tp}`] = r4(mean(r.mse));
      xs.push(tp);
      ys.push(m);
      lo.push(Math.max(0, m - s));
      hi.push(Math.min(1, m + s));
    }
    series.push({ name: mode === 'le' ? 'LE' : 'original', x: xs, y: ys, lo, hi, color: paletteColor(mi) });
  });
  if (series.some((s) => s.x.length > 0))
    ctx.figure('bars-accuracy', await lineChartSvg({ title: `bars: validation accuracy after ${p.epochs} epochs (mean ± sd over ${p.seeds} seeds)`, xLabel: 'presentation time (steps of dt)', yLabel: 'accuracy', logX: true, yDomain: [0, 1.02], series }));
  return { final, steps, extra: { runs_done: done, runs_planned: jobs.length } };
}

// ------------------------------------------------------------------------------------------------ mimic
async function mimicTask(ctx: RunContext, p: MimicParams) {
  checkCounts(p as unknown as Record<string, unknown>, ['nInputs', 'epochs']);
  checkCounts(p as unknown as Record<string, unknown>, ['selfPredEpochs'], 0);
  for (const m of p.modes) if (m !== 'le' && m !== 'orig') throw new UserError(`modes: unknown '${m}' (le, orig)`);
  if (!(p.tPattern >= p.dt)) throw new UserError(`tPattern must be >= dt, got ${p.tPattern}`);
  const tp = Math.round(p.tPattern / p.dt);
  const [nIn, , nO] = p.dims;
  // the teacher: a self-predicting LE circuit with its own weights; targets = its averaged output ŭ per input
  const teacher = circuit(p, { le: true, feedback: 'fixed', etaUp: [0, 0], etaIp: 0, etaPi: 0 }, p.teacherSeed);
  const trng = new Rng(p.teacherSeed);
  initMicrocircuitWeights(teacher.s, trng, [p.init, p.init, p.init, p.init, p.init]);
  selfPredict(teacher.p, teacher.s);
  const inputs: number[][] = Array.from({ length: p.nInputs }, () => Array.from({ length: nIn }, () => trng.uniform()));
  const acc = new Float64Array(nO);
  const targets: number[][] = inputs.map((x) => (present(teacher, x, null, tp, false, 0, acc), Array.from(acc)));
  let steps = p.nInputs * tp;
  const curves = new Map<string, number[]>();
  const final: Record<string, number> = {};
  const prog = ctx.progress(p.modes.length * (p.selfPredEpochs + p.epochs), 'microcircuit-mimic', 'epochs', 1);
  let done = 0;
  const outputs: Record<string, number[]> = {};
  for (const mode of p.modes) {
    const net = circuit(p, { le: mode === 'le', feedback: 'fixed', etaUp: p.selfPredEta.up, etaIp: p.selfPredEta.ip, etaPi: p.selfPredEta.pi }, ctx.seed);
    initMicrocircuitWeights(net.s, new Rng(12345 + ctx.seed), [p.init, p.init, p.init, p.init, p.init]);
    const order = new Rng(99 + ctx.seed);
    const idx = Array.from({ length: p.nInputs }, (_, i) => i);
    const validate = () => {
      let mse = 0;
      for (let i = 0; i < p.nInputs; i++) {
        present(net, inputs[i], null, tp, false, 0, acc);
        for (let k = 0; k < nO; k++) mse += (acc[k] - targets[i][k]) ** 2 / (p.nInputs * nO);
      }
      steps += p.nInputs * tp;
      return mse;
    };
    const curve: number[] = [];
    for (let ep = 1; ep <= p.selfPredEpochs + p.epochs && !ctx.stopRequested(); ep++) {
      const training = ep > p.selfPredEpochs;
      if (ep === p.selfPredEpochs + 1) {
        net.p.etaUp = [p.trainEta.up[0], p.trainEta.up[1]];
        net.p.etaIp = p.trainEta.ip;
        net.p.etaPi = p.trainEta.pi;
      }
      order.shuffle(idx);
      for (const i of idx) present(net, inputs[i], training ? targets[i] : null, tp, true, tp, acc);
      steps += p.nInputs * tp;
      const mse = validate();
      curve.push(mse);
      ctx.metrics.append({ kind: 'val', mode, epoch: ep, phase: training ? 'train' : 'self-prediction', mse, W_up1: net.s.W_up1[0], W_up2: net.s.W_up2[0] });
      prog.update(++done, { [mode]: mse });
      if (ep % 10 === 0) await ctx.breathe();
    }
    curves.set(mode, curve);
    final[`val_mse_${mode}`] = curve.length ? curve[curve.length - 1] : NaN;
    final[`val_mse_${mode}_start`] = curve.length > p.selfPredEpochs ? curve[p.selfPredEpochs] : NaN;
    outputs[mode] = inputs.map((x) => (present(net, x, null, tp, false, 0, acc), acc[0]));
  }
  prog.stop();
  final.teacher_W_up1 = teacher.s.W_up1[0];
  final.teacher_W_up2 = teacher.s.W_up2[0];
  ctx.figure(
    'mimic-mse',
    await lineChartSvg({
      title: `student–teacher MSE on the ${p.nInputs} inputs (first ${p.selfPredEpochs} epochs: self-prediction, no target)`,
      xLabel: 'epoch',
      yLabel: 'validation MSE',
      logY: true,
      xInteger: true,
      series: p.modes.map((m, k) => ({ name: m === 'le' ? 'LE' : 'original', x: curves.get(m)!.map((_, i) => i + 1), y: curves.get(m)!.map((v) => Math.max(v, 1e-12)), color: paletteColor(k) })),
      vlines: [{ x: p.selfPredEpochs + 0.5, label: 'training starts' }],
    }),
  );
  const ord = inputs.map((x, i) => i).sort((a, b) => inputs[a][0] - inputs[b][0]);
  ctx.figure(
    'mimic-outputs',
    await lineChartSvg({
      title: 'output per input after training: teacher vs students',
      xLabel: 'input rate',
      yLabel: 'output ŭ',
      series: [
        { name: 'teacher', x: ord.map((i) => inputs[i][0]), y: ord.map((i) => targets[i][0]), color: '#000000' },
        ...p.modes.map((m, k) => ({ name: m === 'le' ? 'LE student' : 'original student', x: ord.map((i) => inputs[i][0]), y: ord.map((i) => outputs[m][i]), color: paletteColor(k), dash: true })),
      ],
      points: true,
    }),
  );
  return { final, steps };
}

// ------------------------------------------------------------------------------------------------ PAL
interface DataSplit {
  x: Float32Array | Float64Array;
  labels: ArrayLike<number>;
  n: number;
}

async function palData(p: PalParams): Promise<{ train: DataSplit; val: DataSplit; test: DataSplit; source: string }> {
  const [nIn, , nO] = p.dims;
  if (p.dataset === 'yinyang') {
    if (nIn !== 4 || nO !== 3) throw new UserError(`yinyang: dims must be [4, n_hidden, 3], got ${JSON.stringify(p.dims)}`);
    return { train: yinYang(3 * p.nTrain, p.dataSeed), val: yinYang(3 * p.nVal, p.dataSeed + 1), test: yinYang(3 * p.nTest, p.dataSeed + 2), source: `Yin-Yang (NumPy seeds ${p.dataSeed}, +1, +2)` };
  }
  if (p.dataset !== 'mnist') throw new UserError(`dataset must be 'yinyang' or 'mnist', got ${JSON.stringify(p.dataset)}`);
  if (nIn !== 784 || nO !== 10) throw new UserError(`mnist: dims must be [784, n_hidden, 10], got ${JSON.stringify(p.dims)}`);
  const { loadMnist } = await import('../data/mnist-files.js');
  const d = loadMnist(p.data);
  const sub = (s: { x: Float32Array; y: Uint8Array; n: number }, from: number, n: number): DataSplit => ({ x: s.x.subarray(from * 784, (from + n) * 784), labels: s.y.subarray(from, from + n), n });
  const nTr = Math.min(p.nTrain * 10, d.train.n), nVa = Math.min(p.nVal * 10, d.train.n - nTr), nTe = Math.min(p.nTest * 10, d.test.n);
  return { train: sub(d.train, 0, nTr), val: sub(d.train, nTr, nVa), test: sub(d.test, 0, nTe), source: d.source };
}

export const MODE_NAMES: Record<PalMode, string> = { pal: 'PAL', fa: 'FA', noise: 'noise only (η_B = 0)', bp: 'B = Wᵀ', 'bp-scaled': 'B = c·Wᵀ (‖B‖ of FA)' };

/** The circuit options of each mode (PAL's config is the base). */
export function palModeOptions(p: PalParams, mode: PalMode): Partial<MicrocircuitParams> {
  const feedback: MicroFeedback = mode === 'pal' ? 'pal' : mode === 'bp' ? 'transpose' : mode === 'bp-scaled' ? 'transpose-scaled' : 'fixed';
  if (mode === 'fa') return { feedback, sigmaXi: 0, etaB: 0, etaPi: 0 };
  if (mode === 'noise') return { feedback, etaB: 0, etaPi: 0 }; // i2p static at −B (all η_down = 0)
  return { feedback };
}

/** One mode's networks: an ensemble (src/model/microcircuit.ts), one network per seed, stepped together. */
interface PalEnsemble {
  mode: PalMode;
  seeds: number[];
  net: Microcircuit;
  present: (x: Float64Array, target: Float64Array | null, steps: number, learn: boolean, from: number, acc: Float64Array) => number;
  /** per network: its sample order's generator, its order, its evaluations, its angle after each epoch */
  orders: Rng[];
  idx: Int32Array[];
  evals: { epoch: number; test: number; val: number; angle: number }[][];
  angles: number[][];
}

const PAL_CHECKPOINT = 'gle-microcircuit-pal-2'; // -2: the state holds bNorm
const PAL_STATE = 'state.f64';
/** the ensemble buffers a resume needs (all of the state but the per-step scratch `gauss`) */
const PAL_BUFS = ['W_up1', 'W_up2', 'B', 'W_ip', 'W_pi', 'd_up1', 'd_up2', 'd_ip', 'd_pi', 'rIn', 'tgt', 'uP', 'upP', 'rP', 'rHatP', 'vA', 'vB', 'xi', 'noise', 'uI', 'upI', 'rI', 'rHatI', 'uO', 'rO', 'rHatO', 'upO', 'hpO', 'rPold', 'rIold', 'rOold', 'upOold', 'bNorm'] as const;

function palArrays(ens: PalEnsemble[]): [string, Float32Array | Float64Array | Uint32Array | Int32Array][] {
  return ens.flatMap((e) => [...PAL_BUFS.map((k) => [`${e.mode}.${k}`, e.net.s[k]] as [string, Float32Array | Float64Array | Uint32Array]), ...e.idx.map((a, k) => [`${e.mode}.order${k}`, a] as [string, Int32Array])]);
}

async function palTask(ctx: RunContext, p: PalParams) {
  checkCounts(p as unknown as Record<string, unknown>, ['seeds', 'epochs', 'nTrain', 'evalEvery']);
  checkCounts(p as unknown as Record<string, unknown>, ['nVal', 'nTest'], 0);
  for (const m of p.modes) if (!(m in MODE_NAMES)) throw new UserError(`modes: unknown '${m}' (pal, fa, noise, bp, bp-scaled)`);
  if (new Set(p.modes).size !== p.modes.length) throw new UserError(`modes: each mode at most once, got ${JSON.stringify(p.modes)}`);
  if (!(p.tPattern >= p.dt)) throw new UserError(`tPattern must be >= dt, got ${p.tPattern}`);
  if (!(p.readFrom >= 0 && p.readFrom < 1)) throw new UserError(`readFrom must be in [0, 1), got ${p.readFrom}`);
  if (!Array.isArray(p.init) || p.init.length !== 5) throw new UserError(`init must be five ranges [up1, up2, B, ip, pi], got ${JSON.stringify(p.init)}`);
  const engine = p.engine ?? 'js';
  if (engine !== 'js' && engine !== 'native') throw new UserError(`engine must be 'js' or 'native', got ${JSON.stringify(engine)}`);
  if (engine === 'native' && p.dtype !== 'float64') throw new UserError(`engine 'native' steps float64 state: add --set dtype=float64`);
  const data = await palData(p);
  if (data.test.n === 0) throw new UserError(`${p.dataset}: no test samples (nTest ${p.nTest})`);
  const [nIn, , nO] = p.dims;
  const tp = Math.round(p.tPattern / p.dt), from = Math.floor(p.readFrom * tp);
  const N = p.seeds;
  const seeds = Array.from({ length: N }, (_, s) => ctx.seed + s);
  const nativePresenter = engine === 'native' ? (await import('../kernels/native/microcircuit.js')).nativeMicrocircuitPresenter : null;
  const ens: PalEnsemble[] = p.modes.map((mode) => {
    const net = circuit(p, { le: true, ...palModeOptions(p, mode) }, seeds);
    initMicrocircuitWeights(net.s, seeds.map((seed) => new Rng(123456 + seed)), p.init);
    selfPredict(net.p, net.s);
    if (mode === 'bp-scaled') matchFeedbackNorm(net.p, net.s); // ‖B‖_F of the random B this network's FA twin has
    if (mode === 'bp' || mode === 'bp-scaled') transposeFeedback(net.p, net.s);
    let present: PalEnsemble['present'];
    if (nativePresenter) {
      try {
        present = nativePresenter(net.p, net.s);
      } catch (e) {
        throw new UserError(`engine 'native': ${(e as Error).message}`);
      }
    } else present = (x, t, steps, learn, fr, acc) => net.present(x, t, steps, learn, fr, acc);
    return {
      mode, seeds, net, present,
      orders: seeds.map((seed) => new Rng(9876 + seed)),
      idx: seeds.map(() => new Int32Array(data.train.n).map((_, i) => i)),
      evals: seeds.map(() => []),
      angles: seeds.map((_, k) => [net.angle(k)]),
    };
  });
  const x = new Float64Array(N * nIn), tgt = new Float64Array(N * nO), acc = new Float64Array(N * nO);
  let steps = 0, epochsDone = 0;
  const load = (d: DataSplit, k: number, i: number) => {
    for (let j = 0; j < nIn; j++) x[k * nIn + j] = d.x[i * nIn + j];
    for (let c = 0; c < nO; c++) tgt[k * nO + c] = c === d.labels[i] ? p.target[0] : p.target[1];
  };
  const evaluate = async (e: PalEnsemble, d: DataSplit): Promise<number[]> => {
    const correct = new Array<number>(N).fill(0);
    for (let i = 0; i < d.n; i++) {
      for (let k = 0; k < N; k++) load(d, k, i);
      e.present(x, null, tp, false, from, acc);
      for (let k = 0; k < N; k++) if (argmax(acc.subarray(k * nO, (k + 1) * nO)) === d.labels[i]) correct[k]++;
      if (i % 200 === 199) await ctx.breathe();
    }
    steps += N * d.n * tp;
    return correct.map((c) => (d.n ? c / d.n : NaN));
  };
  const evalEns = async (e: PalEnsemble, epoch: number) => {
    const test = await evaluate(e, data.test);
    const val = await evaluate(e, data.val);
    for (let k = 0; k < N; k++) {
      const angle = e.net.angle(k);
      e.evals[k].push({ epoch, test: test[k], val: val[k], angle });
      ctx.metrics.append({ kind: 'eval', mode: e.mode, seed: seeds[k], epoch, test_acc: test[k], val_acc: Number.isNaN(val[k]) ? null : val[k], angle: r4(angle) });
    }
  };
  // checkpoint: after every complete epoch of all modes (the state of every ensemble, the sample orders and their
  // generators, the curves so far); a resumed run continues from there exactly
  const save = () => {
    const arrays = palArrays(ens);
    const f = new Float64Array(arrays.reduce((s, [, a]) => s + a.length, 0));
    let o = 0;
    for (const [, a] of arrays) {
      f.set(a, o);
      o += a.length;
    }
    ctx.saveCheckpointFiles(
      { [PAL_STATE]: new Uint8Array(f.buffer) },
      { format: PAL_CHECKPOINT, layout: arrays.map(([n, a]) => [n, a.length]), epoch: epochsDone, steps, orders: ens.map((e) => e.orders.map((r) => r.getState())), evals: ens.map((e) => e.evals), angles: ens.map((e) => e.angles), extra: { step: steps, epoch: epochsDone } },
    );
  };
  if (ctx.resumeFrom) {
    const where = `checkpoint ${ctx.resumeFrom}`;
    const meta = JSON.parse(readFileSync(join(ctx.resumeFrom, 'meta.json'), 'utf8')) as Record<string, unknown>;
    if (meta.format !== PAL_CHECKPOINT || !existsSync(join(ctx.resumeFrom, PAL_STATE))) throw new UserError(`${where}: not a ${p.dataset} PAL run checkpoint`);
    const arrays = palArrays(ens);
    if (JSON.stringify(meta.layout) !== JSON.stringify(arrays.map(([n, a]) => [n, a.length]))) throw new UserError(`${where}: its buffers do not match these networks (modes, seeds or sizes differ)`);
    const raw = readFileSync(join(ctx.resumeFrom, PAL_STATE));
    const f = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    let o = 0;
    for (const [, a] of arrays) {
      if (o + a.length > f.length) throw new UserError(`${where}: ${PAL_STATE} is truncated`);
      a.set(f.subarray(o, o + a.length));
      o += a.length;
    }
    const orders = meta.orders as number[][][], evals = meta.evals as PalEnsemble['evals'][], angles = meta.angles as number[][][];
    ens.forEach((e, m) => {
      e.orders.forEach((r, k) => r.setState(orders[m][k]));
      e.evals = evals[m];
      e.angles = angles[m];
    });
    epochsDone = meta.epoch as number;
    steps = meta.steps as number;
    ctx.log(`resuming after epoch ${epochsDone}`);
  } else {
    for (const e of ens) await evalEns(e, 0);
    save();
  }
  ctx.log(`${p.dataset} ${p.dims.join('-')}: ${ens.length} modes × ${N} seeds (${seeds.join(', ')}), one ensemble per mode, engine ${engine}, ${p.dtype}`);
  const prog = ctx.progress(p.epochs * ens.length * N, p.dataset === 'yinyang' ? 'yinyang' : 'pal-mnist', 'run-epochs', 1);
  outer: for (let ep = epochsDone + 1; ep <= p.epochs; ep++) {
    for (const [m, e] of ens.entries()) {
      for (let k = 0; k < N; k++) e.orders[k].shuffle(e.idx[k]);
      for (let n = 0; n < data.train.n; n++) {
        for (let k = 0; k < N; k++) load(data.train, k, e.idx[k][n]);
        e.present(x, tgt, tp, true, tp, acc);
        if (n % 200 === 199) {
          await ctx.breathe();
          if (ctx.stopRequested()) break outer;
        }
      }
      steps += N * data.train.n * tp;
      for (let k = 0; k < N; k++) {
        e.angles[k].push(e.net.angle(k));
        ctx.metrics.append({ kind: 'train', mode: e.mode, seed: seeds[k], epoch: ep, angle: r4(e.angles[k][ep]) });
      }
      if (ep % p.evalEvery === 0 || ep === p.epochs) await evalEns(e, ep);
      prog.update(((ep - 1) * ens.length + m + 1) * N, { [e.mode]: r4(mean(e.angles.map((a) => a[ep]))) });
      if (ctx.stopRequested()) break outer;
    }
    epochsDone = ep;
    save();
  }
  prog.stop();
  // summary from the last evaluation every network completed
  const all = ens.flatMap((e) => e.evals);
  const lastEpoch = Math.min(...all.map((v) => v[v.length - 1].epoch));
  const final: Record<string, number> = { epochs_done: epochsDone, eval_epoch: lastEpoch };
  const accSeries: LineSeries[] = [], angSeries: LineSeries[] = [];
  ens.forEach((e, mi) => {
    const mode = e.mode;
    const at = e.evals.map((v) => v.find((q) => q.epoch === lastEpoch)!);
    final[`test_acc_${mode}`] = r4(mean(at.map((q) => q.test)));
    final[`test_acc_${mode}_sd`] = r4(sd(at.map((q) => q.test)));
    final[`angle_${mode}`] = r4(mean(at.map((q) => q.angle)));
    final[`angle_${mode}_sd`] = r4(sd(at.map((q) => q.angle)));
    if (data.val.n) final[`val_acc_${mode}`] = r4(mean(at.map((q) => q.val)));
    const epochs = e.evals[0].map((q) => q.epoch).filter((ep) => ep <= lastEpoch);
    const accM = epochs.map((ep) => e.evals.map((v) => v.find((q) => q.epoch === ep)!.test));
    accSeries.push({ name: MODE_NAMES[mode], x: epochs, y: accM.map(mean), lo: accM.map((a) => mean(a) - sd(a)), hi: accM.map((a) => mean(a) + sd(a)), color: paletteColor(mi) });
    const nA = Math.min(...e.angles.map((a) => a.length));
    const angM = Array.from({ length: nA }, (_, ep) => e.angles.map((a) => a[ep]));
    angSeries.push({ name: MODE_NAMES[mode], x: angM.map((_, ep) => ep), y: angM.map(mean), lo: angM.map((a) => mean(a) - sd(a)), hi: angM.map((a) => mean(a) + sd(a)), color: paletteColor(mi) });
  });
  const what = `${p.dataset === 'yinyang' ? 'Yin-Yang' : 'MNIST'} ${p.dims.join('-')}, mean ± sd over ${p.seeds} seeds`;
  ctx.figure(`${p.dataset}-test-accuracy`, await lineChartSvg({ title: `test accuracy (${what})`, xLabel: 'epoch', yLabel: 'test accuracy', xInteger: true, series: accSeries }));
  ctx.figure(`${p.dataset}-angle`, await lineChartSvg({ title: `∠(W, Bᵀ) of the hidden→output weights (${what})`, xLabel: 'epoch', yLabel: 'angle (degrees)', xInteger: true, yDomain: [0, 100], series: angSeries, hlines: [{ y: 90, label: 'unrelated' }] }));
  return { final, steps, extra: { data: data.source, train: data.train.n, val: data.val.n, test: data.test.n, engine } };
}
