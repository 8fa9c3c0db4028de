/**
 * MNIST-1D streamed online through a GLE network (paper §2.3 style): one point per dt-step, the label held as the
 * target for the whole sample, one optimiser step per dt-step, logits summed over the sample for the readout.
 * No state reset between samples. Browser-safe; used by the lab's worker and by tests.
 */
import { GLENetwork, Learner, Rng, SequenceBatcher, SequenceClassifier, parseSpec, type Backend, type NetworkSpecInput, type ResolvedSpec, type SeqBatch } from 'gle/core';

export interface Mnist1dArrays {
  x: Float32Array;
  y: Uint8Array;
  n: number;
  length: number;
}

/** Batch of the lab's default (the CLI's). */
export const DEFAULT_MNIST_BATCH = 100;
/** The lab's default lr (Adam, per dt-step; constant). */
export const DEFAULT_MNIST_LR = 3e-4;
/** The default weight average's decay per Adam step (spec `average`; ~33,000 steps ≈ 92 batches of 100 at most). */
export const DEFAULT_MNIST_AVERAGE = 0.99997;

/**
 * The lab's default MNIST-1D network: small enough to learn visibly within a minute or two in a page. Adam at a
 * constant lr 3e-4 per dt-step, and the weights that are evaluated (Evaluate, the prequential score, the download) are
 * a moving average of the learning weights (spec `average`). At any constant lr the learning weights' test accuracy
 * swings from batch to batch (each batch's held labels pull the whole network for 360 Adam steps); their average
 * does not, and it keeps improving as long as learning goes on (seed 0: 24 % after 4,000 samples, 53 % after 16,000,
 * 73 % after 32,000, 76 % after 48,000; docs/RESULTS.md §28; the §23 default annealed the lr to 0 and stopped there).
 */
export const DEFAULT_MNIST_SPEC: NetworkSpecInput = {
  name: 'mnist1d-lab',
  input_size: 1,
  dt: 0.2,
  dtype: 'float32',
  seed: 0,
  loss: 'ce',
  beta: 1,
  prospective_errors: true,
  layers: [
    {
      size: 24,
      phi: 'linear',
      bias: true,
      tau_m: { groups: [{ count: 8, value: 0.6 }, { count: 8, value: 1.2 }, { count: 8, value: 1.2 }] },
      tau_r: { groups: [{ count: 8, value: 0.2 }, { count: 8, value: 0.2 }, { count: 8, value: 1.2 }] },
    },
    {
      size: 24,
      phi: 'tanh',
      bias: true,
      tau_m: { groups: [{ count: 8, value: 0.6 }, { count: 8, value: 1.2 }, { count: 8, value: 1.2 }] },
      tau_r: { groups: [{ count: 8, value: 0.2 }, { count: 8, value: 0.2 }, { count: 8, value: 1.2 }] },
    },
    {
      size: 24,
      phi: 'tanh',
      bias: true,
      tau_m: { groups: [{ count: 8, value: 0.6 }, { count: 8, value: 1.2 }, { count: 8, value: 1.2 }] },
      tau_r: { groups: [{ count: 8, value: 0.2 }, { count: 8, value: 0.2 }, { count: 8, value: 1.2 }] },
    },
    { size: 10, phi: 'linear', bias: true, tau_m: 1.2, tau_r: 1.2 },
  ],
  optimizer: { type: 'adam', lr: DEFAULT_MNIST_LR },
  average: { decay: DEFAULT_MNIST_AVERAGE },
};

/** A named tensor as carried in checkpoints (safetensors) and worker messages. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array | Float64Array;
}

/**
 * Copy checkpoint tensors into a network by name (layer_<i>.weight/bias/tau_m/tau_r). Missing weights or biases and
 * size mismatches are errors; missing time constants keep the spec's values.
 */
export function loadTensors(net: GLENetwork, tensors: NamedTensor[], what = 'checkpoint'): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const t of net.allTensors()) {
    const src = byName.get(t.name);
    if (!src) {
      if (t.name.endsWith('.tau_r') || t.name.endsWith('.tau_m')) continue;
      throw new Error(`${what} has no tensor '${t.name}'`);
    }
    const want = t.shape.reduce((a, b) => a * b, 1);
    if (src.data.length !== want) throw new Error(`${what} tensor '${t.name}' has ${src.data.length} values, the spec needs ${want} (shape ${t.shape.join('x')})`);
    for (let i = 0; i < want; i++) if (!Number.isFinite(src.data[i])) throw new Error(`${what} tensor '${t.name}' holds a non-finite value at index ${i}`);
    t.buf.a.set(src.data);
  }
}

/** Mean of the last `cap` 0/1 values. */
export class RunningMean {
  private buf: Uint8Array;
  private n = 0;
  private pos = 0;
  private sum = 0;
  constructor(cap: number) {
    this.buf = new Uint8Array(cap);
  }
  push(v: 0 | 1): void {
    if (this.n === this.buf.length) this.sum -= this.buf[this.pos];
    else this.n++;
    this.buf[this.pos] = v;
    this.sum += v;
    this.pos = (this.pos + 1) % this.buf.length;
  }
  clear(): void {
    this.buf.fill(0);
    this.n = this.pos = this.sum = 0;
  }
  get mean(): number {
    return this.n ? this.sum / this.n : 0;
  }
}


/** Options of an MNIST-1D stream (both backends). */
export interface MnistOptions {
  batch?: number;
  seed?: number;
  window?: number;
  shuffle?: boolean;
  prequential?: boolean;
}

/**
 * What the page's MNIST-1D stream does on either backend (MnistSim here, GpuMnistSim in ./mnist-gpu.ts): the
 * networks (the learning one and the prequential scorer), the sample stream (shuffled samples, B parallel streams,
 * no state reset), the lr warm-up, and the statistics at each batch's end. The backends differ only in how a batch's
 * steps run. With the spec's `average`, evaluation and the prequential score read the averaged parameters.
 */
export abstract class MnistStream {
  readonly net: GLENetwork;
  readonly learner: Learner;
  /**
   * Prequential ("test, then train") readout: a second network with the parameters frozen at each batch's start runs
   * on the same input stream without target; its summed logits give the running accuracy, so a sample is scored
   * before the learner has adapted to its label. null when prequential scoring is off.
   */
  readonly scoreNet: GLENetwork | null;
  readonly spec: ResolvedSpec;
  /** streams per batch (nominal; the last batch of an evaluation pass may be smaller) */
  B: number;
  /** learning on (train split, online) or off (evaluation, no target) */
  learning = true;
  readonly confusion = new Int32Array(100);
  samples = 0;
  correct = 0;
  /** running accuracy of the learning network's own readout (includes its adaptation to the label during the sample) */
  readonly recentS: RunningMean;
  /** running accuracy of the prequential readout (sample scored with the parameters from before it); = recentS when off */
  readonly recentP: RunningMean;
  /** dataset index of each stream's current sample */
  idx: Int32Array<ArrayBufferLike> = new Int32Array(0);
  lastPred = new Int32Array(0);
  /** labels and summed logits of the last finished samples (B x 10) */
  lastLabels = new Int32Array(0);
  lastLogits = new Float64Array(0);
  lossSum = 0;
  lossN = 0;
  protected batcher!: SequenceBatcher;
  protected batch!: SeqBatch;
  private shuffle = true;
  private readonly rng: Rng;
  private warmBase = 0;
  private warmTotal = 0;
  private warmDone = 0;

  constructor(
    host: Backend,
    spec: NetworkSpecInput | ResolvedSpec,
    public data: Mnist1dArrays,
    opts: MnistOptions,
    check: (net: GLENetwork) => void = () => undefined,
  ) {
    this.spec = 'resolved' in spec ? (spec as ResolvedSpec) : parseSpec(spec);
    if (this.spec.input_size !== 1) throw new Error(`MNIST-1D streams one point per step: the spec's input_size must be 1, not ${this.spec.input_size}`);
    const nOut = this.spec.resolved[this.spec.resolved.length - 1].size;
    if (nOut !== 10) throw new Error(`MNIST-1D has 10 classes: the top layer must have size 10, not ${nOut}`);
    this.B = opts.batch ?? DEFAULT_MNIST_BATCH;
    this.net = new GLENetwork(this.spec, host, { batchSize: this.B });
    check(this.net);
    this.learner = new Learner(this.net);
    this.scoreNet = opts.prequential ?? true ? new GLENetwork(this.spec, host, { batchSize: this.B }) : null;
    if (this.scoreNet) this.scoreNet.training = false;
    this.recentS = new RunningMean(opts.window ?? 200);
    this.recentP = new RunningMean(opts.window ?? 200);
    this.rng = new Rng(opts.seed ?? 0);
    this.setData(data, opts.shuffle ?? true);
  }

  /** Switch the data stream (e.g. to the test split) and restart sample order and statistics. */
  setData(data: Mnist1dArrays, shuffle: boolean): void {
    if (data.x.length < data.n * data.length) throw new Error(`MNIST-1D data: ${data.x.length} values for ${data.n} samples of ${data.length} points`);
    this.data = { ...data, x: data.x.subarray(0, data.n * data.length) };
    this.shuffle = shuffle;
    this.resetStats();
    this.newBatcher();
  }

  /** Change the number of parallel streams (takes effect at once; the current samples restart). */
  setBatch(B: number): void {
    if (!Number.isInteger(B) || B < 1 || B > 1000) throw new Error(`batch must be an integer from 1 to 1000, not ${B}`);
    this.B = B;
    this.newBatcher();
  }

  protected newBatcher(): void {
    const d = this.data;
    this.batcher = new SequenceBatcher({ x: d.x, y: d.y, steps: d.length, batchSize: this.B, shuffle: this.shuffle, rng: this.shuffle ? this.rng : undefined });
    this.batcher.startEpoch();
    const it = this.batcher;
    this.batch = {
      get B() {
        return it.batchSize;
      },
      steps: d.length,
      get labels() {
        return it.labels;
      },
      fillStep: (t, out) => it.fillStep(t, out),
    };
  }

  resetStats(): void {
    this.samples = 0;
    this.correct = 0;
    this.confusion.fill(0);
    this.recentS.clear();
    this.recentP.clear();
    this.lossSum = this.lossN = 0;
  }

  /** true when the running statistics come from the prequential scoring network */
  get scoring(): boolean {
    return this.scoreNet !== null && this.learning;
  }

  /** which parameters evaluation and the prequential score read: 'averaged' (spec `average`) or 'raw' */
  get evaluated(): 'averaged' | 'raw' {
    return this.learner.evaluated;
  }

  /**
   * Ramp the learning rate linearly from 0 to its current value over the next `steps` learning steps. Used after
   * loading trained parameters: a fresh Adam's first updates are ±lr on every parameter whatever the gradient's size
   * (its moments start at 0), which at the spec's lr undoes the training within a few hundred steps.
   */
  warmup(steps: number): void {
    if (this.warmTotal > 0) this.learner.lr = this.warmBase;
    this.warmBase = this.learner.lr;
    this.warmTotal = Math.max(0, Math.round(steps));
    this.warmDone = 0;
  }

  /** The host network's parameters were replaced (a loaded checkpoint): the average restarts from them. */
  loaded(): void {
    this.learner.average?.reset();
  }

  /** The next batch of the stream (a new epoch after the last). */
  protected nextBatch(): void {
    if (!this.batcher.nextBatch()) {
      this.batcher.startEpoch();
      this.batcher.nextBatch();
    }
    this.idx = this.batcher.indices;
  }

  /** Advance a warm-up by `steps` learning steps (the lr they run at). */
  protected advanceWarmup(steps: number): void {
    if (!this.learning || this.warmTotal <= 0) return;
    this.warmDone += steps;
    this.learner.lr = this.warmBase * Math.min(1, this.warmDone / this.warmTotal);
    if (this.warmDone >= this.warmTotal) this.warmTotal = 0;
  }

  /** The scorer gets the evaluated parameters (averaged or raw) of the host network. */
  protected copyToScorer(): void {
    const src = this.net.allTensors(), dst = this.scoreNet!.allTensors(), avg = this.learner.average;
    for (let k = 0; k < src.length; k++) dst[k].buf.a.set((avg?.averageOf(src[k].name) ?? src[k].buf).a);
  }

  /**
   * The statistics of a finished batch: `pred` / `sums` the scored readout (the prequential scorer's while learning,
   * else the evaluated network's), `streamPred` the learning network's own.
   */
  protected record(pred: Int32Array, sums: Float64Array, streamPred: Int32Array): void {
    const B = this.batch.B, labels = this.batch.labels;
    if (this.lastPred.length !== B) {
      this.lastPred = new Int32Array(B);
      this.lastLabels = new Int32Array(B);
      this.lastLogits = new Float64Array(B * 10);
    }
    this.lastLogits.set(sums.subarray(0, B * 10));
    this.lastLabels.set(labels.subarray(0, B));
    for (let b = 0; b < B; b++) {
      const ok = pred[b] === labels[b] ? 1 : 0;
      this.lastPred[b] = pred[b];
      this.samples++;
      this.correct += ok;
      this.confusion[labels[b] * 10 + pred[b]]++;
      this.recentS.push(streamPred[b] === labels[b] ? 1 : 0);
      this.recentP.push(ok);
    }
  }

  /** in-stream running accuracy (the learning network's own summed logits) */
  get runningAccuracy(): number {
    return this.recentS.mean;
  }
  /** prequential running accuracy (scored before learning each sample) */
  get prequentialAccuracy(): number {
    return this.recentP.mean;
  }
  get accuracy(): number {
    return this.samples ? this.correct / this.samples : 0;
  }
}

/**
 * MNIST-1D learned online in the page with the shared classify loop of the core (`SequenceClassifier`, the same code
 * the CLI's classify task runs), one step at a time so that the worker can interleave it with posting records.
 * Evaluation (learning off) runs with the averaged parameters swapped in when the spec averages.
 */
export class MnistSim extends MnistStream {
  /** the learning (or evaluated) network's loop and the prequential scorer's, over the same batches */
  private readonly cls: SequenceClassifier;
  private readonly score: SequenceClassifier | null;
  private started = false;

  constructor(backend: Backend, spec: NetworkSpecInput | ResolvedSpec, data: Mnist1dArrays, opts: MnistOptions = {}) {
    super(backend, spec, data, opts);
    this.cls = new SequenceClassifier(this.net);
    this.score = this.scoreNet ? new SequenceClassifier(this.scoreNet) : null;
  }

  protected override newBatcher(): void {
    super.newBatcher();
    this.started = false;
  }

  private beginBatch(): void {
    this.nextBatch();
    // evaluation reads the averaged parameters, learning the raw ones
    const avg = this.learner.average;
    if (avg && avg.swapped === this.learning) avg.swap();
    if (this.scoring) {
      this.copyToScorer();
      this.score!.begin(this.batch, null);
    }
    this.net.training = this.learning;
    this.cls.begin(this.batch, this.learning ? this.learner : null);
    this.started = true;
  }

  /** One dt-step for the whole batch. Returns true when the batch's samples finished at this step. */
  step(): boolean {
    if (!this.started || this.cls.done) this.beginBatch();
    this.advanceWarmup(1);
    this.cls.step();
    const scoring = this.scoring;
    if (scoring) this.score!.step();
    if (this.learning) {
      this.lossSum += this.net.lastLoss();
      this.lossN++;
    }
    if (!this.cls.done) return false;
    const r = this.cls.finish();
    if (scoring) this.record(this.score!.finish().pred, this.score!.sums, r.pred);
    else this.record(r.pred, this.cls.sums, r.pred);
    return true;
  }
}
