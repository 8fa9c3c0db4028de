/**
 * The one sequence-classification loop shared by the CLI's classify task (src/experiments/classify.ts) and the
 * browser lab (lab/src/sim/mnist.ts). Browser-safe.
 *
 * A batch of B sequences is streamed one time step per dt: with a learner, one optimiser step per dt with the label
 * as the target at every step of its sample; without one, evaluation (no target, no learning). The readout is the
 * argmax of the logits summed over all steps of the sample; the loss is the per-sample mean-over-steps
 * cross-entropy. Batches follow each other in time with no state reset (an optional fixed front end is reset per
 * batch, as the reference builds a new one for every batch).
 *
 * `SequenceClassifier` runs a batch either at once (`run`) or one step at a time (`begin` / `step` / `finish`), so a
 * page can interleave it with drawing; both paths execute the same code and allocate nothing per step.
 */
import type { FloatArray } from '../kernels/types.js';
import type { GLENetwork } from '../model/network.js';
import { crossEntropyRow } from '../model/losses.js';
import type { Learner } from './learner.js';

/** One batch of B sequences of `steps` time steps; `fillStep(t, out)` writes the B × channels inputs of step t. */
export interface SeqBatch {
  readonly B: number;
  readonly steps: number;
  readonly labels: Int32Array;
  fillStep(t: number, out: Float32Array | Float64Array): void;
}

export interface EvalResult {
  acc: number;
  loss: number;
  n: number;
  confusion: number[][];
}

export interface BatchResult {
  /** per-sample argmax of the summed logits (view, valid until the next batch) */
  pred: Int32Array;
  /** summed over the batch's samples: each sample's mean-over-steps cross-entropy */
  lossSum: number;
}

export class SequenceClassifier {
  /** logits summed over the current batch's steps so far (B × C) */
  sums = new Float64Array(0);
  pred = new Int32Array(0);
  private x = new Float64Array(0);
  private batch: SeqBatch | null = null;
  private learner: Learner | null = null;
  private ce = 0;
  /** the next step of the current batch */
  t = 0;

  constructor(
    readonly net: GLENetwork,
    readonly front: GLENetwork | null = null,
  ) {}

  /** Start streaming batch `b`; with a learner it learns, without it only evaluates. */
  begin(b: SeqBatch, learner: Learner | null): void {
    const B = b.B, C = this.net.nOut, nIn = this.front ? this.front.nIn : this.net.nIn;
    if (this.sums.length !== B * C) this.sums = new Float64Array(B * C);
    if (this.pred.length !== B) this.pred = new Int32Array(B);
    if (this.x.length !== B * nIn) this.x = new Float64Array(B * nIn);
    this.sums.fill(0);
    this.net.setBatchSize(B);
    if (this.front) {
      this.front.setBatchSize(B);
      this.front.resetState();
    }
    this.batch = b;
    this.learner = learner;
    this.ce = 0;
    this.t = 0;
  }

  /** One dt-step of the current batch; returns the network output. */
  step(): FloatArray {
    const b = this.batch!;
    const B = b.B, C = this.net.nOut, x = this.x, sums = this.sums;
    b.fillStep(this.t, x);
    let xin: FloatArray = x;
    if (this.front) xin = this.front.step(x, null).a;
    const y = (this.learner ? this.learner.trainStep(xin, b.labels) : this.net.step(xin, null)).a;
    for (let i = 0; i < B * C; i++) sums[i] += y[i];
    for (let i = 0; i < B; i++) this.ce += crossEntropyRow(y, i * C, C, b.labels[i]);
    this.t++;
    return y;
  }

  /** true when every step of the current batch has run */
  get done(): boolean {
    return this.batch !== null && this.t >= this.batch.steps;
  }

  /** The batch's predictions (argmax of the summed logits) and summed per-sample loss. */
  finish(): BatchResult {
    const b = this.batch!;
    const B = b.B, C = this.net.nOut, sums = this.sums, pred = this.pred;
    for (let i = 0; i < B; i++) {
      let best = 0;
      for (let j = 1; j < C; j++) if (sums[i * C + j] > sums[i * C + best]) best = j;
      pred[i] = best;
    }
    return { pred, lossSum: this.ce / Math.max(1, this.t) };
  }

  /** Stream a whole batch. */
  run(b: SeqBatch, learner: Learner | null): BatchResult {
    this.begin(b, learner);
    while (this.t < b.steps) this.step();
    return this.finish();
  }
}

const shared = new WeakMap<GLENetwork, SequenceClassifier>();
function classifierFor(net: GLENetwork, front: GLENetwork | null): SequenceClassifier {
  let c = shared.get(net);
  if (!c || c.front !== front) {
    c = new SequenceClassifier(net, front);
    shared.set(net, c);
  }
  return c;
}

/**
 * Stream one batch through the network. With a learner: one optimiser step per dt (target = the label);
 * without: evaluation (no target). Returns the per-sample argmax of summed logits and the summed per-sample
 * mean-over-steps cross-entropy.
 */
export function runBatch(net: GLENetwork, front: GLENetwork | null, b: SeqBatch, learner: Learner | null): BatchResult {
  return classifierFor(net, front).run(b, learner);
}

/** The evaluation's tally over batches (confusion, accuracy, mean loss); shared by the CPU and the device loops. */
export class EvalTally {
  readonly confusion: number[][];
  private correct = 0;
  private n = 0;
  private lossSum = 0;
  constructor(C: number) {
    this.confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  }
  add(b: SeqBatch, r: BatchResult): void {
    for (let i = 0; i < b.B; i++) {
      this.confusion[b.labels[i]][r.pred[i]]++;
      if (r.pred[i] === b.labels[i]) this.correct++;
    }
    this.lossSum += r.lossSum;
    this.n += b.B;
  }
  result(): EvalResult {
    const n = this.n;
    return { acc: n ? this.correct / n : NaN, loss: n ? this.lossSum / n : NaN, n, confusion: this.confusion };
  }
}

/** Sum logits over each batch's steps, argmax, mean-over-steps CE; nothing learns. */
export function evaluateBatches(net: GLENetwork, front: GLENetwork | null, batches: Iterable<SeqBatch>, stop: () => boolean = () => false): EvalResult {
  const tally = new EvalTally(net.nOut);
  const wasTraining = net.training;
  net.training = false;
  try {
    for (const b of batches) {
      if (stop()) break;
      tally.add(b, runBatch(net, front, b, null));
    }
  } finally {
    net.training = wasTraining;
  }
  return tally.result();
}

/**
 * `evaluateBatches` of the learner's network with the parameters evaluation reads: the averaged ones with the spec's
 * `average` (swapped in and back, `Learner.withAveraged`), else the raw ones; the CPU twin of
 * `GpuSequenceClassifier.evaluate`.
 */
export function evaluateLearner(learner: Learner, front: GLENetwork | null, batches: Iterable<SeqBatch>, stop: () => boolean = () => false): EvalResult {
  return learner.withAveraged(() => evaluateBatches(learner.net, front, batches, stop));
}
