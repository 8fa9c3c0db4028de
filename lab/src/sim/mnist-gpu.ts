/**
 * MNIST-1D learned online in the page on the webgpu backend: the lab's MNIST-1D stream (./mnist.ts MnistStream:
 * the same samples, B parallel streams without state reset, targets, readout, statistics, averaging) with the network
 * stepped on the device (`GpuSequenceClassifier` of the core, the loop the CLI's `gle run --backend webgpu` runs). A
 * batch's steps run at once (one upload, a few submits, the outputs and the per-step losses read back), so the worker
 * posts once per batch instead of every few steps. The prequential scorer is a second device copy whose parameters
 * are set from the learning network's evaluated ones at each batch's start. A learning-rate warm-up advances per
 * batch (the device takes the lr per step from the host's schedule, chunk by chunk). Browser-safe; used by the
 * lab's worker.
 */
import { GpuSequenceClassifier, Learner, gpuUnsupported, type Backend, type NetworkSpecInput, type ResolvedSpec, type WebGpuEngine } from 'gle/core';
import { MnistStream, type Mnist1dArrays, type MnistOptions } from './mnist.js';

export class GpuMnistSim extends MnistStream {
  private readonly cls: GpuSequenceClassifier;
  private readonly score: GpuSequenceClassifier | null;

  constructor(
    readonly engine: WebGpuEngine,
    host: Backend,
    spec: NetworkSpecInput | ResolvedSpec,
    data: Mnist1dArrays,
    opts: MnistOptions = {},
  ) {
    super(host, spec, data, opts, (net) => {
      const why = gpuUnsupported(net);
      if (why) throw new Error(why);
    });
    this.cls = new GpuSequenceClassifier(engine, this.learner);
    this.score = this.scoreNet ? new GpuSequenceClassifier(engine, new Learner(this.scoreNet)) : null;
  }

  /** The host network up to date with the device (before an export). */
  sync(): Promise<void> {
    return this.cls.sync();
  }

  /** The host network's parameters were replaced (a loaded checkpoint): the next batch uploads them. */
  override loaded(): void {
    super.loaded();
    this.cls.dev.invalidate();
  }

  /** One whole batch (all its steps) on the device; statistics as MnistSim.step at a batch's end. */
  async runBatch(): Promise<void> {
    this.nextBatch();
    const b = this.batch, B = b.B;
    this.advanceWarmup(b.steps);
    // evaluation reads the averaged parameters, learning the raw ones
    await this.cls.dev.averaged(!this.learning, B);
    const scoring = this.scoring;
    let scorePred: Int32Array | null = null, scoreSums: Float64Array | null = null;
    if (scoring) {
      // the scorer runs with the parameters from before this batch's learning
      await this.cls.sync();
      this.copyToScorer();
      await this.score!.dev.use(B);
      this.score!.dev.uploadParams();
      // (the scorer's own result buffers: the learning network's run below does not touch them)
      ({ pred: scorePred, sums: scoreSums } = await this.score!.runBatch(b, false));
    }
    const r = await this.cls.runBatch(b, this.learning);
    if (this.learning) {
      for (const v of r.stepLoss) {
        this.lossSum += v;
        this.lossN++;
      }
    }
    this.record(scorePred ?? r.pred, scoreSums ?? r.sums, r.pred);
  }

  destroy(): void {
    this.cls.destroy();
    this.score?.destroy();
  }
}
