/**
 * The `backprop` task: an MNIST-1D stock baseline (src/baselines/models.ts) trained offline as mnist1d's
 * `train_model` does: Adam (lr 1e-2, no weight decay), cross-entropy, batches taken in order
 * (x_train[(step·B) mod N : … + B], no shuffling), steps 0 … totalSteps inclusive (6,001 updates), and after the
 * update of every step that is a multiple of evalEvery (0, 250, …, 6000: 25 values) the accuracy and loss on the
 * whole test set. The headline `test_acc` is the last evaluation, `best_test_acc` the best one.
 *
 * `validation: N` (default 0, the stock protocol) holds out the last N training samples as a validation split: the
 * model trains on the first 4000 − N (batches wrap around that shorter set) and every evaluation also scores the
 * held-out samples (`split: 'val'` records; `val_acc`, `best_val_acc`). A hyper-parameter search selects on it, so
 * the test split stays unseen until the chosen setting's final runs (MNIST-1D ships no validation split).
 *
 * On the native backend (float32) the dense and conv layers compute their products with its OpenBLAS sgemm (the
 * summary's `products`); elsewhere with the layers' plain loops: the same sums in another order.
 *
 * A checkpoint (parameters, Adam moments, step, curve) is written to RUN/checkpoint at every evaluation, so
 * `gle run --resume RUN` continues exactly where it stopped (the batch order depends on the step only).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { loadMnist1d } from '../data/mnist1d-files.js';
import { lineChartSvg } from '../report/plot.js';
import type { RunContext, TaskFn } from '../experiments/types.js';
import { alloc, type Arr, type DType } from './layers.js';
import { Adam, createBaseline, crossEntropy, type BaselineKind, type BaselineModel, type CrossEntropyResult } from './models.js';
import { nativeGemm } from './native-gemm.js';

export interface BackpropParams {
  dataset: 'mnist1d';
  /** directory with the MNIST-1D files (default: the shipped set) */
  data: string | null;
  model: BaselineKind;
  /** mlp: hidden width; gru: hidden size per direction; null: the stock value (mlp 100, gru 6) */
  hidden: number | null;
  /** tcn: channels per conv layer */
  channels: number;
  lr: number;
  weightDecay: number;
  batch: number;
  /** training samples held out (the last N of the training set) as a validation split; 0 = none */
  validation: number;
  totalSteps: number;
  evalEvery: number;
  dtype: DType;
}

const BIN = 'state.bin';

/** The checkpoint's files: every parameter and Adam moment as one float64 blob, and its meta (written last). */
function stateFiles(model: BaselineModel, opt: Adam, info: { step: number; curve: unknown; model: string }): { files: Record<string, Uint8Array>; meta: Record<string, unknown> & { extra: Record<string, unknown> } } {
  const parts: Arr[] = [...model.params().map((p) => p.value), ...opt.m, ...opt.v];
  const n = parts.reduce((s, a) => s + a.length, 0);
  const f64 = new Float64Array(n);
  let o = 0;
  for (const a of parts) {
    f64.set(a, o);
    o += a.length;
  }
  return { files: { [BIN]: new Uint8Array(f64.buffer) }, meta: { format: 'gle-backprop-baseline/1', values: n, adam_t: opt.t, ...info, extra: { step: info.step } } };
}

function loadState(dir: string, model: BaselineModel, opt: Adam): Record<string, unknown> {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>;
  if (meta.format !== 'gle-backprop-baseline/1' || !existsSync(join(dir, BIN))) throw new UserError(`${dir}: not a backprop-baseline checkpoint`);
  const buf = readFileSync(join(dir, BIN));
  const f64 = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const parts: Arr[] = [...model.params().map((p) => p.value), ...opt.m, ...opt.v];
  const n = parts.reduce((s, a) => s + a.length, 0);
  if (f64.length !== n) throw new UserError(`${dir}: checkpoint holds ${f64.length} values, this model needs ${n}`);
  let o = 0;
  for (const a of parts) {
    a.set(f64.subarray(o, o + a.length));
    o += a.length;
  }
  opt.t = meta.adam_t as number;
  return meta;
}

/**
 * train_model's step as a function of the step number: the batch x_train[(step·B) mod N : … + B] (wrapping at the end
 * of the N training samples), forward, cross-entropy, backward, the optimiser's update. The buffers are allocated
 * here, once, so a step allocates nothing (test/baselines-alloc.test.ts); the returned record is reused by every step.
 */
export function createTrainStep(model: BaselineModel, opt: { step(): void }, x: ArrayLike<number>, y: ArrayLike<number>, nTrain: number, L: number, batch: number, dtype: DType): (step: number) => CrossEntropyResult {
  const C = model.nClasses;
  const xb = alloc(dtype, batch * L);
  const yb = new Uint8Array(batch);
  const dLogits = alloc(dtype, batch * C);
  const r: CrossEntropyResult = { loss: 0, correct: 0 };
  return (step) => {
    let bix = (step * batch) % nTrain;
    for (let i = 0; i < batch; i++) {
      // the stock slice x_train[bix : bix + B] is short at the end of the set when N is not a multiple of B;
      // 4000 / 100 is exact, other batch sizes (or a held-out validation split) wrap around instead
      if (bix + i >= nTrain) bix -= nTrain;
      const s = bix + i;
      for (let k = 0, o = i * L, so = s * L; k < L; k++) xb[o + k] = x[so + k];
      yb[i] = y[s];
    }
    crossEntropy(model.forward(xb, batch), yb, 0, batch, C, dLogits, r);
    if (!Number.isFinite(r.loss)) throw new UserError(`training diverged at step ${step} (loss ${r.loss}); try a smaller lr`);
    model.backward(dLogits, batch);
    opt.step();
    return r;
  };
}

export const backpropTask: TaskFn<BackpropParams> = async (ctx: RunContext<BackpropParams>) => {
  const p = ctx.params;
  if (!['mlp', 'tcn', 'gru'].includes(p.model)) throw new UserError(`model must be mlp, tcn or gru, got '${String(p.model)}'`);
  const hidden = p.hidden ?? (p.model === 'gru' ? 6 : 100);
  if (!Number.isInteger(hidden) || hidden <= 0) throw new UserError(`hidden must be a positive integer or null, got ${JSON.stringify(p.hidden)}`);
  for (const k of ['channels', 'batch', 'totalSteps', 'evalEvery'] as const) {
    if (!Number.isInteger(p[k]) || p[k] <= 0) throw new UserError(`${k} must be a positive integer, got ${JSON.stringify(p[k])}`);
  }
  if (!(p.lr > 0)) throw new UserError(`lr must be positive, got ${JSON.stringify(p.lr)}`);
  const d = loadMnist1d({ length: 40, dir: p.data ?? undefined });
  const L = d.length, C = 10;
  const nVal = p.validation; // the schema checked it is an integer >= 0; the bound depends on the set
  if (nVal >= d.nTrain) throw new UserError(`validation must be an integer from 0 to ${d.nTrain - 1} (training samples held out), got ${nVal}`);
  const nTrain = d.nTrain - nVal;
  const dtype: DType = p.dtype === 'float64' ? 'float64' : 'float32';
  // the native backend's sgemm for the dense and conv products (float32); other backends: the layers' loops
  const gemm = nativeGemm(ctx.backend, dtype);
  const model = createBaseline(p.model, { L, nClasses: C, hidden, channels: p.channels, maxB: Math.max(p.batch, d.nTest, nVal), dtype, gemm }, new Rng(ctx.seed));
  const opt = new Adam(model.params(), p.lr, p.weightDecay);
  const nParams = model.params().reduce((s, q) => s + q.value.length, 0);
  const trainStep = createTrainStep(model, opt, d.xTrain, d.yTrain, nTrain, L, p.batch, dtype);
  const xTest = dtype === 'float64' ? Float64Array.from(d.xTest) : d.xTest;
  const xValSrc = d.xTrain.subarray(nTrain * L, d.nTrain * L);
  const xVal = dtype === 'float64' ? Float64Array.from(xValSrc) : xValSrc;
  const yVal = d.yTrain.subarray(nTrain, d.nTrain);

  let step = 0;
  const curve: { step: number[]; acc: number[]; loss: number[]; valAcc?: number[] } = { step: [], acc: [], loss: [] };
  if (nVal > 0) curve.valAcc = [];
  if (ctx.resumeFrom) {
    const meta = loadState(ctx.resumeFrom, model, opt);
    step = (meta.step as number) + 1;
    Object.assign(curve, meta.curve as typeof curve);
    ctx.log(`resuming ${ctx.dir} at step ${step}`);
  }
  /** Accuracy and mean loss on n samples, in one pass as train_model does. */
  const evaluate = (x: Arr, y: Uint8Array, n: number) => {
    const logits = model.forward(x.subarray(0, n * L), n);
    const r = crossEntropy(logits, y, 0, n, C, null);
    return { acc: r.correct / n, loss: r.loss };
  };

  const bar = ctx.progress(p.totalSteps + 1 - step, `mnist1d ${p.model}`, 'steps', 50);
  const t0 = performance.now();
  let steps = 0, trainLoss = 0, trainCorrect = 0, trainN = 0;
  let interrupted = false;
  for (; step <= p.totalSteps; step++) {
    if (step % 50 === 0) {
      await ctx.breathe();
      if (ctx.stopRequested()) {
        interrupted = true;
        break;
      }
    }
    const r = trainStep(step);
    trainLoss += r.loss;
    trainCorrect += r.correct;
    trainN += p.batch;
    steps++;
    bar.update(steps);
    if (step % p.evalEvery === 0 || step === p.totalSteps) {
      const ev = evaluate(xTest, d.yTest, d.nTest);
      curve.step.push(step);
      curve.acc.push(ev.acc);
      curve.loss.push(ev.loss);
      const epoch = ((step + 1) * p.batch) / nTrain;
      ctx.metrics.append({ kind: 'train', step, epoch, loss: trainLoss / Math.max(1, trainN / p.batch), acc: trainCorrect / Math.max(1, trainN), wall_s: (performance.now() - t0) / 1000 });
      ctx.metrics.append({ kind: 'eval', step, epoch, split: 'test', acc: ev.acc, loss: ev.loss });
      if (nVal > 0) {
        const vv = evaluate(xVal, yVal, nVal);
        curve.valAcc!.push(vv.acc);
        ctx.metrics.append({ kind: 'eval', step, epoch, split: 'val', acc: vv.acc, loss: vv.loss });
      }
      trainLoss = trainCorrect = trainN = 0;
      const ck = stateFiles(model, opt, { step, curve, model: p.model });
      ctx.saveCheckpointFiles(ck.files, ck.meta);
    }
  }
  bar.stop();
  if (interrupted) ctx.log(`stopped at step ${step}; resume with --resume ${ctx.dir}`);
  const final: Record<string, number> = { steps: Math.min(step, p.totalSteps), params: nParams };
  if (curve.acc.length) {
    final.test_acc = curve.acc[curve.acc.length - 1];
    final.test_loss = curve.loss[curve.loss.length - 1];
    final.best_test_acc = Math.max(...curve.acc);
  }
  if (curve.valAcc?.length) {
    final.val_acc = curve.valAcc[curve.valAcc.length - 1];
    final.best_val_acc = Math.max(...curve.valAcc);
  }
  if (curve.step.length > 1) {
    ctx.figure('accuracy', await lineChartSvg({ title: `MNIST-1D ${p.model}: test accuracy`, xLabel: 'step', yLabel: 'accuracy', series: [{ name: 'test', x: curve.step, y: curve.acc }, ...(curve.valAcc ? [{ name: 'validation', x: curve.step, y: curve.valAcc }] : [])] }));
  }
  return { final, steps, extra: { products: gemm ? 'native (OpenBLAS sgemm)' : 'js loops' } };
};
