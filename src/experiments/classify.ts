/**
 * Sequence classification learned online (MNIST-1D, Speech Commands), as the reference does it:
 * samples are streamed one time step per dt, batches are concatenated in time with no state reset, the label is
 * the target at every step of its sample, one optimiser step per dt; the readout is the argmax of the logits
 * summed over all steps of the sample. Each epoch ends with an evaluation (no target, no learning) whose loss drives
 * ReduceLROnPlateau (with the spec's `average`, evaluations read the moving average of the parameters); a checkpoint (network, optimiser, scheduler, RNG, epoch) is written so `--resume` continues
 * bit-identically.
 */
import { GLENetwork } from '../model/network.js';
import { evaluateBatches, evaluateLearner, runBatch, type EvalResult } from '../learn/classify-loop.js';
import { Learner } from '../learn/learner.js';
import { Rng } from '../util/rng.js';
import { applyCheckpoint, readCheckpoint } from '../io/checkpoint.js';
import { heatmapSvg, lineChartSvg } from '../report/plot.js';
import type { ClassifyParams, RunContext, TaskFn } from './types.js';
import { openSource, type SeqSource } from './sources.js';

export type { EvalResult } from '../learn/classify-loop.js';
export { runBatch } from '../learn/classify-loop.js';

/** Evaluate on a split of a source with the shared loop (src/learn/classify-loop.ts); nothing learns. */
export function evaluate(net: GLENetwork, front: GLENetwork | null, src: SeqSource, split: 'train' | 'val' | 'test', batch: number, maxN: number, stop: () => boolean = () => false): EvalResult {
  return evaluateBatches(net, front, src.batches(split, batch, null, maxN), stop);
}

export const classifyTask: TaskFn<ClassifyParams> = async (ctx: RunContext<ClassifyParams>) => {
  const p = ctx.params;
  const dtype = ctx.backend.dtype;
  const src = await openSource(p, ctx);
  const net = new GLENetwork({ ...p.network, dtype }, ctx.backend, { batchSize: p.batch });
  const learner = new Learner(net);
  const front = p.frontend ? new GLENetwork({ ...p.frontend, dtype }, await ctx.newBackend(), { batchSize: p.batch }) : null;
  if (front) front.training = false;
  const rng = new Rng(ctx.seed);
  const split = p.evalSplit;

  let epoch = 0;
  let best = -Infinity;
  const curve: { epoch: number[]; acc: number[]; loss: number[]; trainAcc: number[]; trainEpoch: number[] } = { epoch: [], acc: [], loss: [], trainAcc: [], trainEpoch: [] };
  let last: EvalResult | null = null;
  let stepsBefore = 0;
  if (ctx.resumeFrom) {
    const ck = readCheckpoint(ctx.resumeFrom);
    applyCheckpoint(ck, net, learner, ctx.resumeFrom);
    const ex = (ck.meta?.extra ?? {}) as { epoch?: number; rng?: number[]; src?: number[]; best?: number; curve?: typeof curve; steps_total?: number };
    epoch = ex.epoch ?? 0;
    stepsBefore = ex.steps_total ?? 0;
    if (ex.rng) rng.setState(ex.rng);
    if (ex.src && src.setState) src.setState(ex.src);
    best = ex.best ?? best;
    if (ex.curve) Object.assign(curve, ex.curve);
    ctx.log(`resuming ${ctx.dir} after epoch ${epoch}`);
  }
  // --backend webgpu: the network steps on the device (src/learn/gpu-classify.ts), the host copy is brought up to
  // date before every checkpoint; the same loop, readout and loss as the CPU path
  const dev = ctx.gpu ? new (await import('../learn/gpu-classify.js')).GpuSequenceClassifier(ctx.gpu, learner, front) : null;
  const evalOn = (sp: 'train' | 'val' | 'test'): Promise<EvalResult> | EvalResult => {
    const batches = src.batches(sp, p.testBatch, null, p.maxTest);
    return dev ? dev.evaluate(batches) : evaluateLearner(learner, front, batches);
  };
  // spec `average`: every evaluation reads the moving average of the parameters (learning goes on with the raw ones)
  if (learner.average) ctx.log(`evaluations use the averaged parameters (spec average, decay ${learner.average.s.decay})`);
  if (!ctx.resumeFrom) {
    // epoch 0: evaluate before training
    last = await evalOn(split);
    ctx.metrics.append({ kind: 'eval', epoch: 0, step: 0, split, acc: last.acc, loss: last.loss, n: last.n, lr: learner.lr });
    curve.epoch.push(0);
    curve.acc.push(last.acc);
    curve.loss.push(last.loss);
    ctx.log(`epoch 0: ${split} acc ${(100 * last.acc).toFixed(2)}% loss ${last.loss.toFixed(4)}`);
  }

  const nTrain = src.size('train', p.maxTrain);
  const stepsPerEpoch = src.stepsPerEpoch(p.batch, p.maxTrain);
  const bar = ctx.progress((p.epochs - epoch) * stepsPerEpoch, p.dataset, 'steps', 1); // one update per batch
  let done = 0;
  let steps = 0;
  let interrupted = false;
  const t0 = performance.now();
  while (epoch < p.epochs) {
    let correct = 0, n = 0, lossSum = 0;
    for (const b of src.batches('train', p.batch, rng, p.maxTrain)) {
      await ctx.breathe();
      if (ctx.stopRequested()) {
        interrupted = true;
        break;
      }
      const r = dev ? await dev.runBatch(b, true) : runBatch(net, front, b, learner);
      ctx.guard(r.lossSum, net, learner, { step: stepsBefore + steps + b.steps, unit: 'step' });
      for (let i = 0; i < b.B; i++) if (r.pred[i] === b.labels[i]) correct++;
      n += b.B;
      lossSum += r.lossSum;
      done += b.steps;
      steps += b.steps;
      bar.update(done, { epoch: epoch + 1, acc: n ? correct / n : 0 });
    }
    if (interrupted) break;
    epoch++;
    const trainAcc = correct / Math.max(1, n);
    last = await evalOn(split);
    await dev?.sync();
    if (last.n > 0) ctx.guard(last.loss, net, learner, { step: stepsBefore + steps, unit: 'step' });
    const reduced = learner.scheduler ? learner.scheduler.step(last.loss) : false;
    best = Math.max(best, last.acc);
    ctx.metrics.append({ kind: 'train', epoch, step: stepsBefore + steps, loss: lossSum / Math.max(1, n), acc: trainAcc, n, lr: learner.lr, wall_s: (performance.now() - t0) / 1000 });
    ctx.metrics.append({ kind: 'eval', epoch, step: stepsBefore + steps, split, acc: last.acc, loss: last.loss, n: last.n, lr: learner.lr });
    curve.epoch.push(epoch);
    curve.acc.push(last.acc);
    curve.loss.push(last.loss);
    curve.trainEpoch.push(epoch);
    curve.trainAcc.push(trainAcc);
    ctx.log(`epoch ${epoch}: train acc ${(100 * trainAcc).toFixed(2)}%, ${split} acc ${(100 * last.acc).toFixed(2)}% loss ${last.loss.toFixed(4)}${reduced ? ` (lr -> ${learner.lr.toExponential(3)})` : ''}`);
    if (epoch % p.checkpointEvery === 0 || epoch === p.epochs) ctx.saveCheckpoint(net, learner, { epoch, rng: rng.getState(), src: src.getState ? src.getState() : null, best, curve, frontend: p.frontend, dataset: p.dataset, steps_total: stepsBefore + steps });
  }
  bar.stop();
  if (interrupted) ctx.log(`stopped during epoch ${epoch + 1}; the checkpoint holds the end of epoch ${epoch} (resume with --resume ${ctx.dir})`);

  const final: Record<string, number> = { epochs: epoch, train_samples: nTrain };
  if (curve.acc.length) {
    final[`${split}_acc`] = curve.acc[curve.acc.length - 1];
    final[`${split}_loss`] = curve.loss[curve.loss.length - 1];
    final[`best_${split}_acc`] = Math.max(...curve.acc);
  }
  if (curve.trainAcc.length) final.train_acc = curve.trainAcc[curve.trainAcc.length - 1];
  // a held-out split other than the one the scheduler watched (speech: test at the end, as the reference)
  if (split === 'val' && !interrupted && src.size('test', p.maxTest) > 0) {
    const te = await evalOn('test');
    final.test_acc = te.acc;
    final.test_loss = te.loss;
    ctx.metrics.append({ kind: 'eval', epoch, step: stepsBefore + steps, split: 'test', acc: te.acc, loss: te.loss, n: te.n, lr: learner.lr });
  }

  if (curve.epoch.length > 1) {
    ctx.figure('accuracy', await lineChartSvg({ title: `accuracy per epoch: ${split} (after the epoch) and training (online, during it)`, xLabel: 'epoch', yLabel: 'accuracy', xInteger: true, series: [{ name: split, x: curve.epoch, y: curve.acc }, { name: 'train (online)', x: curve.trainEpoch, y: curve.trainAcc, dash: true, strokeWidth: 2.5 }] }));
    ctx.figure('loss', await lineChartSvg({ title: `${split} loss per epoch`, xLabel: 'epoch', yLabel: 'cross-entropy', logY: true, xInteger: true, series: [{ name: split, x: curve.epoch, y: curve.loss }] }));
  }
  if (last) ctx.figure('confusion', await heatmapSvg({ title: `confusion matrix (${split}, epoch ${epoch})`, matrix: last.confusion, rowLabels: src.classNames, colLabels: src.classNames, showValues: true }));
  return { final, steps, totalSteps: stepsBefore + steps, extra: { interrupted_in_epoch: interrupted ? epoch + 1 : null } };
};
