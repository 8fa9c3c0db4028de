/**
 * The Latent Equilibrium experiments (LE paper, Haider et al. 2021; reference-le-pal-sal.md §1.5–1.6) as `gle run`
 * experiments over the shared runner, and their task `le`:
 *
 *   le-mnist-mlp      784-300-100-10 (Fig. 2b; `hidden` sets the hidden sizes): hard-sigmoid, hard-sigmoid, linear; factors [1, 0.2, 0.1]; batch 512;
 *                     lr 0.125 × 128; 100 steps per batch of dt 0.01; τ = τ_m = 20; β 0.1; rate target; vanilla
 *   le-mnist-lenet    LeNet-5 (Fig. 2c): conv 1→20 k5 · maxpool 2 · conv 20→50 k5 · maxpool 2 · 800→500 · 500→10;
 *                     factors [1, .2, .1, .1, .1, .1] per stage; batch 512; lr 0.125 × 128; 100 steps of dt 0.1; τ 10
 *   le-cifar10-lenet  LeNet-5 on CIFAR-10 (Fig. 2e): conv 3→20 k5 · maxpool 2 · conv 20→50 k5 · maxpool 2 · 1250→500 ·
 *                     500→10; factors [1, .2, .2, .2, .2, .1]; batch 128; lr 0.125 × 64; 50 steps of dt 0.1; τ 10
 *
 * `model=bp` trains the BP twin (src/learn/le-classify.ts): the same stages with the same initial parameters, the
 * instantaneous feed-forward function, ordinary backprop, one SGD step per batch (loss `bp_loss`, rate `bp_lr`; null =
 * the rate LE applies per presentation). Every option of the LE network is a parameter (τ mismatch, rate noise,
 * synaptic filters, τ adaptation, prospective rate errors, feedback alignment), so `gle sweep` can run the paper's
 * robustness figures (sweeps/le-robustness-tau.yaml, sweeps/le-robustness-noise.yaml).
 *
 * The run: per epoch the training set is shuffled (seed + 77), presented in batches (drop_last, as the reference), then
 * the whole test set is presented with nudging off; the stream is never reset. Metrics: train accuracy (the nudged
 * prediction at the end of each presentation) and test accuracy per epoch. A checkpoint — every state buffer of the
 * network, the shuffle generator before this epoch's shuffle, the position in the epoch — is written after every
 * epoch and, within an epoch, after the first batch once --checkpoint-seconds have passed, so `--resume` continues the
 * stream exactly (the same numbers as an uninterrupted run).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FBuf } from '../kernels/types.js';
import type { PhiName } from '../kernels/layout.js';
import { LENetwork, type LeLayerSpec, type LeSpecInput } from '../model/le-network.js';
import { BpTwin, LeClassifier, accuracy, accuracyAsync, argmaxRow, fillBatch, type ClassSet, type Classifier } from '../learn/le-classify.js';
import { GpuLeClassifier, GpuLeNetwork } from '../learn/gpu-le.js';
import { JsBackend } from '../kernels/js/index.js';
import { createWebGpuEngine } from '../node.js';
import { loadMnist } from '../data/mnist-files.js';
import { loadCifar10 } from '../data/cifar10-files.js';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { lineChartSvg } from '../report/plot.js';
import { DivergenceError } from './guard.js';
import type { RunContext, TaskFn } from './runner.js';
import type { ExperimentDef } from './types.js';

export { leRunSpec, type LeRunParams } from './le-spec.js';
import { leRunSpec, type LeRunParams } from './le-spec.js';

const common = {
  model: 'le' as const, data: null, variant: 'vanilla' as const, phi: 'hard_sigmoid' as const, optimizer: 'none' as const,
  learning_rate: 0.125, beta: 0.1, tau_m: null, feedback_alignment: false, tau_width: 0, noise_width: 0, forward_filter: false,
  backward_filter: false, target_filter: false, tau_s: 0, prosp_rate_errors: false, adapt_tau: false, adapt_tau_max: 2000,
  maxTrain: 0, maxTest: 0, hidden: [300, 100], device: 'cpu' as const,
};

export const LE_MNIST_MLP: LeRunParams = {
  ...common, dataset: 'mnist', arch: 'mlp', epochs: 100, batch: 512, dt: 0.01, tau: 20, n_updates: 100, lr_multiplier: 128,
  lr_factors: [1, 0.2, 0.1], bp_loss: 'mse', bp_lr: null,
};
export const LE_MNIST_LENET: LeRunParams = {
  ...common, dataset: 'mnist', arch: 'lenet', epochs: 100, batch: 512, dt: 0.1, tau: 10, n_updates: 100, lr_multiplier: 128,
  lr_factors: [1, 0.2, 0.1, 0.1, 0.1, 0.1], bp_loss: 'mse', bp_lr: null,
};
export const LE_CIFAR10_LENET: LeRunParams = {
  ...common, dataset: 'cifar10', arch: 'lenet', epochs: 100, batch: 128, dt: 0.1, tau: 10, n_updates: 50, lr_multiplier: 64,
  lr_factors: [1, 0.2, 0.2, 0.2, 0.2, 0.1], bp_loss: 'ce', bp_lr: 0.01,
};

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): void {
  if (!allowed.includes(v as T)) throw new UserError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
}

/** Check the parameters (one line per problem) and build the network spec; throws UserError. */
export function checkLeParams(p: LeRunParams, seed: number): LeSpecInput {
  oneOf('model', p.model, ['le', 'bp']);
  oneOf('dataset', p.dataset, ['mnist', 'cifar10']);
  oneOf('arch', p.arch, ['mlp', 'lenet']);
  oneOf('variant', p.variant, ['vanilla', 'full_forward_pass']);
  oneOf('optimizer', p.optimizer, ['none', 'adam']);
  oneOf('bp_loss', p.bp_loss, ['mse', 'ce']);
  for (const k of ['n_updates', 'adapt_tau_max'] as const) if (!(Number.isInteger(p[k]) && p[k] > 0)) throw new UserError(`${k} must be a positive integer, got ${JSON.stringify(p[k])}`);
  if (!Array.isArray(p.hidden) || !p.hidden.length || !p.hidden.every((h) => Number.isInteger(h) && h > 0)) throw new UserError(`hidden must list positive integer layer sizes, got ${JSON.stringify(p.hidden)}`);
  const stages = p.arch === 'mlp' ? p.hidden.length + 1 : 6;
  if (!Array.isArray(p.lr_factors) || p.lr_factors.length !== stages) throw new UserError(`lr_factors must list ${stages} numbers (one per stage of the ${p.arch}), got ${JSON.stringify(p.lr_factors)}`);
  if (p.tau_m !== null && !(typeof p.tau_m === 'number' && p.tau_m > 0)) throw new UserError(`tau_m must be a positive number or null, got ${JSON.stringify(p.tau_m)}`);
  if (p.bp_lr !== null && !(typeof p.bp_lr === 'number' && p.bp_lr > 0)) throw new UserError(`bp_lr must be a positive number or null, got ${JSON.stringify(p.bp_lr)}`);
  if (p.data !== null && typeof p.data !== 'string') throw new UserError(`data must be a folder path or null, got ${JSON.stringify(p.data)}`);
  if (p.target_filter && !(p.tau_s > 0)) throw new UserError('target_filter needs tau_s > 0');
  oneOf('device', p.device ?? 'cpu', ['cpu', 'webgpu'] as const);
  if (p.device === 'webgpu') {
    if (p.model !== 'le') throw new UserError("device 'webgpu' runs the LE network only (the BP twin steps on the CPU backend)");
    const off = (['target_filter', 'adapt_tau', 'forward_filter', 'backward_filter'] as const).filter((k) => p[k]);
    if (p.noise_width > 0) off.push('noise_width' as never);
    if (p.optimizer !== 'none') off.push('optimizer' as never);
    if (off.length) throw new UserError(`device 'webgpu' does not run LE with ${off.join(', ')}; use device=cpu`);
  }
  return leRunSpec(p, seed);
}

const STATE = 'state.bin';
const FORMAT = 'gle-le-run/1';

interface Cursor {
  /** epochs completed */
  epoch: number;
  /** batches done in the current epoch */
  batch: number;
  /** whether the current epoch's order is drawn (it is in the checkpoint's `order`) */
  shuffled: boolean;
  /** the shuffle generator's state */
  rng: number[];
  right: number;
  seen: number;
  /** network steps (all of the run) */
  steps: number;
}

interface Curve {
  epoch: number[];
  test: number[];
  train: number[];
}

type Saved = FBuf | Float64Array | Int32Array;
const view = (b: Saved) => (b instanceof Float64Array || b instanceof Int32Array ? b : b.a);

function packState(bufs: [string, Saved][]): { bin: Uint8Array; layout: [string, number][] } {
  const arr = view;
  const n = bufs.reduce((s, [, b]) => s + arr(b).length, 0);
  const f = new Float64Array(n);
  let o = 0;
  for (const [, b] of bufs) {
    f.set(arr(b), o);
    o += arr(b).length;
  }
  return { bin: new Uint8Array(f.buffer), layout: bufs.map(([name, b]) => [name, arr(b).length]) };
}

function unpackState(dir: string, bufs: [string, Saved][]): Record<string, unknown> {
  const where = `checkpoint ${dir}`;
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>;
  if (meta.format !== FORMAT || !existsSync(join(dir, STATE))) throw new UserError(`${where}: not an LE run checkpoint`);
  const layout = meta.layout as [string, number][];
  const want = bufs.map(([name, b]) => [name, view(b).length] as [string, number]);
  if (JSON.stringify(layout) !== JSON.stringify(want)) throw new UserError(`${where}: its tensors do not match this network (${layout.length} saved, ${want.length} expected)`);
  const raw = readFileSync(join(dir, STATE));
  const f = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  let o = 0;
  for (const [, b] of bufs) {
    const a = view(b);
    if (o + a.length > f.length) throw new UserError(`${where}: ${STATE} is truncated`);
    a.set(f.subarray(o, o + a.length));
    o += a.length;
  }
  return meta;
}

const cut = (s: ClassSet, n: number): ClassSet => {
  if (!(n > 0 && n < s.n)) return s;
  const d = s.x.length / s.n;
  return { x: s.x.subarray(0, n * d), y: s.y.subarray(0, n), n, scale: s.scale };
};

/** The first non-finite entry of the network's state, or null. */
function nonFinite(net: LENetwork): { what: string; value: string } | null {
  for (const [name, b] of net.stateBuffers()) {
    const a = b.a;
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return { what: `${name}[${i}]`, value: String(a[i]) };
  }
  return null;
}

export const leTask: TaskFn = async (ctx: RunContext) => {
  const p = ctx.params as unknown as LeRunParams;
  const k = ctx.backend;
  const spec = checkLeParams(p, ctx.seed);
  const data = p.dataset === 'mnist' ? loadMnist(p.data) : loadCifar10(p.data);
  const train = cut(data.train, p.maxTrain), test = cut(data.test, p.maxTest);
  if (train.n < p.batch) throw new UserError(`batch ${p.batch} is larger than the ${train.n} training samples`);
  const classes = 10, B = p.batch, d = train.x.length / train.n;

  // the network (LE), or the holder of the twin's parameters (BP: batch 1, the same initial draw)
  let net: LENetwork;
  // webgpu: the host copy of the network lives on the js backend in float32 (initial values, checkpoints)
  const onGpu = p.device === 'webgpu';
  try {
    net = new LENetwork(onGpu ? new JsBackend('float32') : k, spec, p.model === 'le' ? B : 1);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const nLayers = net.stages.filter((s) => s.kind === 'neurons').length;
  const le = p.model === 'le' ? new LeClassifier(net, { targetFilter: p.target_filter ? p.dt / (nLayers * p.tau_s) : 0 }) : null;
  const c: Classifier = le ?? new BpTwin(k, net, B, { loss: p.bp_loss, lr: p.bp_lr });
  let gpu: GpuLeClassifier | null = null;
  if (onGpu) {
    const engine = await createWebGpuEngine();
    gpu = new GpuLeClassifier(new GpuLeNetwork(engine, net, { chunk: p.n_updates, hold: p.n_updates }));
  }
  const idx = Int32Array.from({ length: train.n }, (_, i) => i);
  // everything a resume needs: the network's state, the target filter's, this epoch's sample order
  const bufs: [string, Saved][] = [...net.stateBuffers(), ...(le?.yBar ? [['target_filter', le.yBar] as [string, Saved]] : []), ['order', idx]];
  const nParams = net.stages.reduce((s, st) => s + (st.kind === 'neurons' ? st.proj.tensors.filter((t) => t.suffix !== 'feedback').reduce((q, t) => q + t.buf.n, 0) : 0), 0);

  const shuffle = new Rng(ctx.seed + 77);
  let cur: Cursor = { epoch: 0, batch: 0, shuffled: false, rng: shuffle.getState(), right: 0, seen: 0, steps: 0 };
  let curve: Curve = { epoch: [], test: [], train: [] };
  let adapted: { presentations: number; mean_abs_tau_diff: number } | null = null;
  if (ctx.resumeFrom) {
    const meta = unpackState(ctx.resumeFrom, bufs);
    cur = meta.cursor as Cursor;
    curve = meta.curve as Curve;
    adapted = (meta.adapted as typeof adapted) ?? null;
    net.scalarState = meta.net as LENetwork['scalarState'];
    gpu?.dev.upload();
    shuffle.setState(cur.rng);
    ctx.log(`resuming at epoch ${cur.epoch + 1}, batch ${cur.batch}`);
  }
  const save = async () => {
    if (gpu) await gpu.dev.download();
    cur.rng = shuffle.getState();
    const { bin, layout } = packState(bufs);
    ctx.saveCheckpointFiles({ [STATE]: bin }, { format: FORMAT, layout, cursor: cur, curve, adapted, net: net.scalarState, extra: { step: cur.steps, epoch: cur.epoch } });
  };
  const where = gpu ? `webgpu (${gpu.dev.engine.adapterName}) float32` : `${k.name} ${k.dtype}`;
  ctx.log(`${p.dataset} ${p.arch} model ${p.model}: ${data.source}, train ${train.n}, test ${test.n}, batch ${B}, ${where}, seed ${ctx.seed}`);

  const x = new Float64Array(B * d), y = new Float64Array(B * classes);
  const per = le ? p.n_updates : 1;
  const nb = Math.floor(train.n / B), nTestB = Math.ceil(test.n / B);
  const perEpoch = (nb + nTestB) * per;
  let session = 0;

  // τ adaptation (LE, fresh runs): training inputs, nudging off, until the mean |τ_m − τ| settles
  if (le && p.adapt_tau && !ctx.resumeFrom) {
    let last = Infinity, m = 0, done = 0;
    for (let i = 0; i < p.adapt_tau_max; i++) {
      fillBatch(train, idx, (i * B) % train.n, B, d, classes, x, y);
      m = le.adaptTau(x);
      session += p.n_updates;
      done = i + 1;
      if (Math.abs(m - last) < 1e-6) break;
      last = m;
      if (i % 10 === 0) await ctx.breathe();
    }
    adapted = { presentations: done, mean_abs_tau_diff: m };
    cur.steps += session;
    ctx.log(`tau adaptation: ${done} presentations, mean |tau_m - tau| ${m.toExponential(3)}`);
  }

  const bar = ctx.progress((p.epochs - cur.epoch) * perEpoch - cur.batch * per, `${p.dataset} ${p.arch} ${p.model}`, 'steps', 1);
  let done = 0, interrupted = false;
  const t0 = performance.now();
  const hint = () => `; stopped, the last good checkpoint is kept in ${join(ctx.dir, 'checkpoint')}`;
  outer: while (cur.epoch < p.epochs) {
    if (!cur.shuffled) {
      shuffle.shuffle(idx);
      cur.shuffled = true;
    }
    for (; cur.batch < nb; ) {
      await ctx.breathe();
      if (ctx.stopRequested()) {
        interrupted = true;
        break outer;
      }
      fillBatch(train, idx, cur.batch * B, B, d, classes, x, y);
      const n = gpu ? await gpu.train(x, y) : c.train(x, y);
      cur.steps += n;
      session += n;
      done += n;
      // training accuracy: the prediction at the end of the presentation (LE: still nudged, as the reference logs it)
      const out = gpu ? gpu.lastOutput : le ? net.output().a : (c as BpTwin).output().a;
      for (let b = 0; b < B; b++) if (argmaxRow(out, b * classes, classes) === train.y[idx[cur.batch * B + b]]) cur.right++;
      cur.seen += B;
      cur.batch++;
      bar.update(done);
      if (cur.batch < nb && ctx.checkpointDue()) {
        if (gpu) await gpu.dev.download();
        const bad = nonFinite(net);
        if (bad) throw new DivergenceError({ step: cur.steps, unit: 'step', ...bad }, hint());
        await save();
      }
    }
    const ev = gpu ? await accuracyAsync(gpu, test, classes) : accuracy(c, test, classes);
    cur.steps += ev.steps;
    session += ev.steps;
    done += ev.steps;
    bar.update(done);
    const trainAcc = cur.right / cur.seen;
    if (gpu) await gpu.dev.download();
    const bad = nonFinite(net);
    if (bad) throw new DivergenceError({ step: cur.epoch + 1, unit: 'epoch', ...bad }, hint());
    cur.epoch++;
    curve.epoch.push(cur.epoch);
    curve.test.push(ev.acc);
    curve.train.push(trainAcc);
    ctx.metrics.append({ kind: 'train', step: cur.steps, epoch: cur.epoch, acc: trainAcc, wall_s: (performance.now() - t0) / 1000 });
    ctx.metrics.append({ kind: 'eval', step: cur.steps, epoch: cur.epoch, split: 'test', acc: ev.acc });
    ctx.log(`epoch ${cur.epoch}: test acc ${(100 * ev.acc).toFixed(2)} %, train acc ${(100 * trainAcc).toFixed(2)} %`);
    cur = { ...cur, batch: 0, shuffled: false, right: 0, seen: 0 };
    await save();
  }
  bar.stop();
  if (interrupted) {
    await save();
    ctx.log(`stopped at epoch ${cur.epoch + 1}, batch ${cur.batch}; resume with --resume ${ctx.dir}`);
  }
  gpu?.dev.engine.destroy();
  const final: Record<string, number> = { epochs: cur.epoch, params: nParams };
  if (curve.test.length) {
    final.test_acc = curve.test[curve.test.length - 1];
    final.best_test_acc = Math.max(...curve.test);
    final.train_acc = curve.train[curve.train.length - 1];
  }
  if (curve.epoch.length > 1)
    ctx.figure(
      'accuracy',
      await lineChartSvg({
        title: `${p.dataset} ${p.arch} (${p.model === 'le' ? 'LE' : 'BP twin'}): accuracy`,
        xLabel: 'epoch',
        yLabel: 'accuracy',
        series: [
          { name: 'test', x: curve.epoch, y: curve.test },
          { name: 'train', x: curve.epoch, y: curve.train },
        ],
      }),
    );
  return { final, steps: session, totalSteps: cur.steps, extra: { data: data.source, train_samples: train.n, test_samples: test.n, ...(adapted ? { tau_adaptation: adapted } : {}) } };
};

const quickMlp = { epochs: 2, maxTrain: 2048, maxTest: 500, batch: 128, n_updates: 20 };

export const LE_EXPERIMENTS: ExperimentDef[] = [
  {
    name: 'le-mnist-mlp',
    description: "LE paper Fig. 2b: Latent Equilibrium MNIST MLP 784-300-100-10 (the paper's settings; model le or bp = its BP twin)",
    task: 'le',
    params: LE_MNIST_MLP,
    quick: quickMlp,
  },
  {
    name: 'le-mnist-lenet',
    description: 'LE paper Fig. 2c: LE LeNet-5 on MNIST (conv 20 k5, pool, conv 50 k5, pool, 500, 10; model le or bp)',
    task: 'le',
    params: LE_MNIST_LENET,
    // quick: 10 steps per batch with lr_multiplier scaled so each step's weight increment (lr·lr_mult·factor/n_updates)
    // stays the paper's; at the paper's lr_multiplier, 10-step presentations diverged (docs/RESULTS.md §14)
    quick: { epochs: 2, maxTrain: 1024, maxTest: 256, batch: 64, n_updates: 10, dt: 1, lr_multiplier: 12.8 },
  },
  {
    name: 'le-cifar10-lenet',
    description: 'LE paper Fig. 2e: LE LeNet-5 on CIFAR-10 (conv 3->20 k5, pool, conv 20->50 k5, pool, 500, 10; model le or bp; --set data=DIR)',
    task: 'le',
    params: LE_CIFAR10_LENET,
    quick: { epochs: 1, maxTrain: 256, maxTest: 128, batch: 32, n_updates: 10, dt: 0.5, lr_multiplier: 12.8 },
  },
] as unknown as ExperimentDef[];
