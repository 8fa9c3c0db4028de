/**
 * MNIST-1D streamed online through a GLE network (paper §2.3 style): one point per dt-step, the label held as the
 * target for the whole sample, one optimiser step per dt-step, logits summed over the sample for the readout.
 * No state reset between samples. Browser-safe; used by the lab's worker and by tests.
 */
import { GLENetwork, Learner, Rng, parseSpec, type Backend, type NetworkSpecInput, type ResolvedSpec } from 'gle/core';

export interface Mnist1dArrays {
  x: Float32Array;
  y: Uint8Array;
  n: number;
  length: number;
}

/** The lab's default MNIST-1D network: small enough to learn visibly within a minute in a page. */
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
  optimizer: { type: 'adam', lr: 0.0003 },
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

function argmax10(a: ArrayLike<number>, o: number): number {
  let best = 0;
  for (let c = 1; c < 10; c++) if (a[o + c] > a[o + best]) best = c;
  return best;
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

export class MnistSim {
  net: GLENetwork;
  learner: Learner;
  /**
   * Prequential ("test, then train") readout: a second network with the parameters frozen at each sample's start runs
   * on the same input stream without target; its summed logits give the running accuracy, so a sample is scored
   * before the learner has adapted to its label. null when prequential scoring is off.
   */
  readonly scoreNet: GLENetwork | null;
  private readonly scoreSum: Float64Array;
  readonly spec: ResolvedSpec;
  readonly B: number;
  /** learning on (train split, online) or off (evaluation, no target) */
  learning = true;
  /** point index within the current samples */
  pos = 0;
  readonly idx: Int32Array;
  readonly labels: Int32Array;
  readonly logitSum: Float64Array;
  readonly confusion = new Int32Array(100);
  samples = 0;
  correct = 0;
  /** running accuracy of the learning network's own readout (includes its adaptation to the label during the sample) */
  readonly recentS: RunningMean;
  /** running accuracy of the prequential readout (sample scored with the parameters from before it); = recentS when off */
  readonly recentP: RunningMean;
  private order: Int32Array;
  private next = 0;
  private readonly rng: Rng;
  lastPred = new Int32Array(0);
  /** labels and summed logits of the last finished samples (B x 10) */
  lastLabels = new Int32Array(0);
  lastLogits = new Float64Array(0);
  lossSum = 0;
  lossN = 0;

  constructor(
    backend: Backend,
    spec: NetworkSpecInput | ResolvedSpec,
    public data: Mnist1dArrays,
    opts: { batch?: number; seed?: number; window?: number; shuffle?: boolean; prequential?: boolean } = {},
  ) {
    this.spec = 'resolved' in spec ? (spec as ResolvedSpec) : parseSpec(spec);
    if (this.spec.input_size !== 1) throw new Error(`MNIST-1D streams one point per step: the spec's input_size must be 1, not ${this.spec.input_size}`);
    const nOut = this.spec.resolved[this.spec.resolved.length - 1].size;
    if (nOut !== 10) throw new Error(`MNIST-1D has 10 classes: the top layer must have size 10, not ${nOut}`);
    this.B = opts.batch ?? 8;
    this.net = new GLENetwork(this.spec, backend, { batchSize: this.B });
    this.learner = new Learner(this.net);
    this.scoreNet = opts.prequential ?? true ? new GLENetwork(this.spec, backend, { batchSize: this.B }) : null;
    if (this.scoreNet) this.scoreNet.training = false;
    this.scoreSum = new Float64Array(this.B * 10);
    this.idx = new Int32Array(this.B);
    this.labels = new Int32Array(this.B);
    this.logitSum = new Float64Array(this.B * 10);
    this.lastPred = new Int32Array(this.B);
    this.lastLabels = new Int32Array(this.B);
    this.lastLogits = new Float64Array(this.B * 10);
    this.recentS = new RunningMean(opts.window ?? 200);
    this.recentP = new RunningMean(opts.window ?? 200);
    this.rng = new Rng(opts.seed ?? 0);
    this.order = new Int32Array(data.n);
    this.setData(data, opts.shuffle ?? true);
  }

  /** Switch the data stream (e.g. to the test split) and restart sample order and statistics. */
  setData(data: Mnist1dArrays, shuffle: boolean): void {
    this.data = data;
    this.order = new Int32Array(data.n);
    for (let i = 0; i < data.n; i++) this.order[i] = i;
    if (shuffle) this.rng.shuffle(this.order);
    this.next = 0;
    this.pos = 0;
    this.resetStats();
    this.loadSamples();
  }

  resetStats(): void {
    this.samples = 0;
    this.correct = 0;
    this.confusion.fill(0);
    this.recentS.clear();
    this.recentP.clear();
    this.lossSum = this.lossN = 0;
  }

  /** true when every sample of the current split has been seen once since setData */
  get epochDone(): boolean {
    return this.next >= this.data.n && this.pos === 0;
  }

  private loadSamples(): void {
    for (let b = 0; b < this.B; b++) {
      const i = this.order[this.next % this.data.n];
      this.next++;
      this.idx[b] = i;
      this.labels[b] = this.data.y[i];
    }
    this.logitSum.fill(0);
    this.scoreSum.fill(0);
    if (this.scoreNet && this.learning) {
      const src = this.net.allTensors(), dst = this.scoreNet.allTensors();
      for (let k = 0; k < src.length; k++) dst[k].buf.a.set(src[k].buf.a);
    }
  }

  /** true when the running statistics come from the prequential scoring network */
  get scoring(): boolean {
    return this.scoreNet !== null && this.learning;
  }

  /** One dt-step for the whole batch. Returns true when the batch's samples finished at this step. */
  step(): boolean {
    const L = this.data.length, x = this.net.input.a;
    for (let b = 0; b < this.B; b++) x[b] = this.data.x[this.idx[b] * L + this.pos];
    const out = this.learning ? this.learner.trainStep(null, this.labels) : this.learner.evalStep(null, null);
    const o = out.a;
    for (let k = 0; k < this.B * 10; k++) this.logitSum[k] += o[k];
    if (this.scoring) {
      const so = this.scoreNet!.step(this.net.input.a, null).a;
      for (let k = 0; k < this.B * 10; k++) this.scoreSum[k] += so[k];
    }
    if (this.learning) {
      this.lossSum += this.net.lastLoss();
      this.lossN++;
    }
    this.pos++;
    if (this.pos < L) return false;
    this.pos = 0;
    const scoring = this.scoring;
    const sums = scoring ? this.scoreSum : this.logitSum;
    this.lastLogits.set(sums);
    this.lastLabels.set(this.labels);
    for (let b = 0; b < this.B; b++) {
      const best = argmax10(sums, b * 10);
      const inStream = scoring ? argmax10(this.logitSum, b * 10) : best;
      const ok = best === this.labels[b] ? 1 : 0;
      this.lastPred[b] = best;
      this.samples++;
      this.correct += ok;
      this.confusion[this.labels[b] * 10 + best]++;
      this.recentS.push(inStream === this.labels[b] ? 1 : 0);
      this.recentP.push(ok);
    }
    this.loadSamples();
    return true;
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
