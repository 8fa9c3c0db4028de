/**
 * MNIST-1D learned online in the page on the webgpu backend: the lab's MnistSim (./mnist.ts) with the network
 * stepped on the device (`GpuSequenceClassifier` of the core, the loop the CLI's `gle run --backend webgpu` runs).
 * The same stream (shuffled samples, B parallel streams, no state reset), targets, readout and statistics; a batch's
 * steps run at once (one upload, a few submits, the outputs and the per-step losses read back), so the worker
 * posts once per batch instead of every few steps. The prequential scorer is a second device copy whose parameters
 * are set from the learning network's at each batch's start. A learning-rate warm-up advances per batch (the device
 * takes the lr per chunk of steps). Browser-safe; used by the lab's worker.
 */
import { GLENetwork, GpuSequenceClassifier, Learner, Rng, SequenceBatcher, gpuUnsupported, parseSpec, type Backend, type NetworkSpecInput, type ResolvedSpec, type SeqBatch, type WebGpuEngine } from 'gle/core';
import { DEFAULT_MNIST_BATCH, RunningMean, type Mnist1dArrays } from './mnist.js';

export class GpuMnistSim {
  readonly net: GLENetwork;
  readonly learner: Learner;
  readonly scoreNet: GLENetwork | null;
  readonly spec: ResolvedSpec;
  B: number;
  learning = true;
  readonly confusion = new Int32Array(100);
  samples = 0;
  correct = 0;
  readonly recentS: RunningMean;
  readonly recentP: RunningMean;
  idx: Int32Array<ArrayBufferLike> = new Int32Array(0);
  lastPred = new Int32Array(0);
  lastLabels = new Int32Array(0);
  lastLogits = new Float64Array(0);
  lossSum = 0;
  lossN = 0;
  /** device steps run (learning and scoring networks count once per step) */
  steps = 0;
  epochEnded = false;
  private readonly cls: GpuSequenceClassifier;
  private readonly score: GpuSequenceClassifier | null;
  private batcher!: SequenceBatcher;
  private batch!: SeqBatch;
  private shuffle = true;
  private readonly rng: Rng;
  private warmBase = 0;
  private warmTotal = 0;
  private warmDone = 0;

  constructor(
    readonly engine: WebGpuEngine,
    host: Backend,
    spec: NetworkSpecInput | ResolvedSpec,
    public data: Mnist1dArrays,
    opts: { batch?: number; seed?: number; window?: number; shuffle?: boolean; prequential?: boolean } = {},
  ) {
    this.spec = 'resolved' in spec ? (spec as ResolvedSpec) : parseSpec(spec);
    if (this.spec.input_size !== 1) throw new Error(`MNIST-1D streams one point per step: the spec's input_size must be 1, not ${this.spec.input_size}`);
    const nOut = this.spec.resolved[this.spec.resolved.length - 1].size;
    if (nOut !== 10) throw new Error(`MNIST-1D has 10 classes: the top layer must have size 10, not ${nOut}`);
    this.B = opts.batch ?? DEFAULT_MNIST_BATCH;
    this.net = new GLENetwork(this.spec, host, { batchSize: this.B });
    const why = gpuUnsupported(this.net);
    if (why) throw new Error(why);
    this.learner = new Learner(this.net);
    this.cls = new GpuSequenceClassifier(engine, this.learner);
    this.scoreNet = opts.prequential ?? true ? new GLENetwork(this.spec, host, { batchSize: this.B }) : null;
    this.score = this.scoreNet ? new GpuSequenceClassifier(engine, new Learner(this.scoreNet)) : null;
    this.recentS = new RunningMean(opts.window ?? 200);
    this.recentP = new RunningMean(opts.window ?? 200);
    this.rng = new Rng(opts.seed ?? 0);
    this.setData(data, opts.shuffle ?? true);
  }

  setData(data: Mnist1dArrays, shuffle: boolean): void {
    if (data.x.length < data.n * data.length) throw new Error(`MNIST-1D data: ${data.x.length} values for ${data.n} samples of ${data.length} points`);
    this.data = { ...data, x: data.x.subarray(0, data.n * data.length) };
    this.shuffle = shuffle;
    this.resetStats();
    this.newBatcher();
  }

  setBatch(B: number): void {
    if (!Number.isInteger(B) || B < 1 || B > 1000) throw new Error(`batch must be an integer from 1 to 1000, not ${B}`);
    this.B = B;
    this.newBatcher();
  }

  private newBatcher(): void {
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
    this.epochEnded = false;
  }

  get epochDone(): boolean {
    return this.epochEnded;
  }

  resetStats(): void {
    this.samples = 0;
    this.correct = 0;
    this.confusion.fill(0);
    this.recentS.clear();
    this.recentP.clear();
    this.lossSum = this.lossN = 0;
  }

  get scoring(): boolean {
    return this.score !== null && this.learning;
  }

  warmup(steps: number): void {
    if (this.warmTotal > 0) this.learner.lr = this.warmBase;
    this.warmBase = this.learner.lr;
    this.warmTotal = Math.max(0, Math.round(steps));
    this.warmDone = 0;
  }
  get warmingUp(): boolean {
    return this.warmTotal > 0;
  }

  /** The host network up to date with the device (before an export). */
  sync(): Promise<void> {
    return this.cls.sync();
  }

  /** The host network's parameters were replaced (a loaded checkpoint): the next batch uploads them. */
  invalidate(): void {
    this.cls.dev.invalidate();
  }

  /** One whole batch (all its steps) on the device; statistics as MnistSim.step at a batch's end. */
  async runBatch(): Promise<void> {
    if (!this.batcher.nextBatch()) {
      this.epochEnded = true;
      this.batcher.startEpoch();
      this.batcher.nextBatch();
    }
    const b = this.batch, B = b.B;
    this.idx = this.batcher.indices;
    if (this.learning && this.warmTotal > 0) {
      this.warmDone += b.steps;
      this.learner.lr = this.warmBase * Math.min(1, this.warmDone / this.warmTotal);
      if (this.warmDone >= this.warmTotal) this.warmTotal = 0;
    }
    const scoring = this.scoring;
    let scorePred: Int32Array | null = null, scoreSums: Float64Array | null = null;
    if (scoring) {
      // the scorer runs with the parameters from before this batch's learning
      await this.cls.sync();
      const src = this.net.allTensors(), dst = this.scoreNet!.allTensors();
      for (let k = 0; k < src.length; k++) dst[k].buf.a.set(src[k].buf.a);
      await this.score!.dev.use(B);
      this.score!.dev.uploadParams();
      const s = await this.score!.runBatch(b, false);
      scorePred = Int32Array.from(s.pred);
      scoreSums = Float64Array.from(s.sums);
    }
    const r = await this.cls.runBatch(b, this.learning);
    this.steps += b.steps;
    if (this.learning) {
      for (const v of r.stepLoss) {
        this.lossSum += v;
        this.lossN++;
      }
    }
    const labels = b.labels;
    const sums = scoreSums ?? r.sums;
    const pred = scorePred ?? r.pred;
    if (this.lastPred.length !== B) {
      this.lastPred = new Int32Array(B);
      this.lastLabels = new Int32Array(B);
      this.lastLogits = new Float64Array(B * 10);
    }
    this.lastLogits.set(sums.subarray(0, B * 10));
    this.lastLabels.set(labels.subarray(0, B));
    for (let i = 0; i < B; i++) {
      const ok = pred[i] === labels[i] ? 1 : 0;
      this.lastPred[i] = pred[i];
      this.samples++;
      this.correct += ok;
      this.confusion[labels[i] * 10 + pred[i]]++;
      this.recentS.push(r.pred[i] === labels[i] ? 1 : 0);
      this.recentP.push(ok);
    }
  }

  get runningAccuracy(): number {
    return this.recentS.mean;
  }
  get prequentialAccuracy(): number {
    return this.recentP.mean;
  }
  get accuracy(): number {
    return this.samples ? this.correct / this.samples : 0;
  }

  destroy(): void {
    this.cls.destroy();
    this.score?.destroy();
  }
}
