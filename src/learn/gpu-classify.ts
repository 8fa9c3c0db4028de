/**
 * Sequence classification on the webgpu backend (browser-safe): the loop of classify-loop.ts — same order of steps,
 * same targets, same readout (argmax of the logits summed over the sample's steps) and loss (per-sample
 * mean-over-steps cross-entropy) — with the network stepped on the device by `GpuTrainer`.
 *
 * A batch of T steps is uploaded as one block of inputs and run in chunks (one submit and one read-back per chunk,
 * see gpu-trainer.ts); what is read back is what the loop logs: the outputs of every step (T × B × C), from which the
 * host forms the summed logits and the cross-entropy exactly as the CPU loop does. An optional fixed front end (a
 * delay-line network, reset per batch) runs on the host and its outputs are the device network's inputs.
 *
 * `DeviceNet` keeps one device copy per batch size (training and evaluation batches differ) and moves the
 * network's values between them through the host network at a batch-size change, where the host applies its own
 * rule (state rows tiled or truncated, network.ts `setBatchSize`): the device run follows the CPU run's semantics.
 * `sync()` brings the host network (parameters, state, optimiser moments and step count) up to date, e.g. before a
 * checkpoint; after the host network was changed (a checkpoint loaded), `invalidate()` makes the next batch upload it.
 */
/// <reference types="@webgpu/types" preserve="true" />
import type { WebGpuEngine } from '../kernels/webgpu/engine.js';
import type { GLENetwork } from '../model/network.js';
import { crossEntropyRow } from '../model/losses.js';
import { GpuTrainer, type GpuTrainerOptions } from './gpu-trainer.js';
import type { Learner } from './learner.js';
import { EvalTally, type BatchResult, type EvalResult, type SeqBatch } from './classify-loop.js';

/** The device copies of one host network (one per batch size), the host network being the meeting point. */
export class DeviceNet {
  private readonly trainers = new Map<number, GpuTrainer>();
  private active: GpuTrainer | null = null;

  constructor(
    readonly engine: WebGpuEngine,
    readonly learner: Learner,
    readonly opts: GpuTrainerOptions = {},
  ) {}

  get net(): GLENetwork {
    return this.learner.net;
  }

  /** The device copy for batch size B, holding the network's current values. */
  async use(B: number): Promise<GpuTrainer> {
    if (this.active && this.active.B === B) return this.active;
    if (this.active) await this.active.download();
    this.net.setBatchSize(B);
    let t = this.trainers.get(B);
    if (!t) {
      t = new GpuTrainer(this.engine, this.learner, this.opts); // uploads the host's values
      this.trainers.set(B, t);
    } else t.upload();
    this.active = t;
    return t;
  }

  /** Copy the device's values (parameters, state, optimiser) into the host network and learner. */
  async sync(): Promise<void> {
    if (this.active) await this.active.download();
  }

  /** The host network's parameters changed (its state did not): copy them to the device copy in use. */
  uploadParams(): void {
    this.active?.uploadParams();
  }

  /**
   * Put the averaged parameters (spec `average`) into the device copy for batch size B (on = true), or the raw ones
   * back (on = false, in whichever copy is in use); no-op without averaging or when already so.
   */
  async averaged(on: boolean, B = this.net.B): Promise<void> {
    const a = this.learner.average;
    if (!a || a.swapped === on) return;
    const t = on ? await this.use(B) : this.active;
    if (t) t.swapAveraged();
    else a.swap(); // nothing on the device: the host holds the values
  }

  /** The host network was changed (checkpoint loaded, state reset): the next batch uploads it. */
  invalidate(): void {
    this.active = null;
  }

  destroy(): void {
    for (const t of this.trainers.values()) t.destroy();
    this.trainers.clear();
    this.active = null;
  }
}

/** The classify loop's batch runner and evaluation on the device. */
export class GpuSequenceClassifier {
  readonly dev: DeviceNet;
  private x = new Float32Array(0);
  private fx = new Float64Array(0);
  private sums = new Float64Array(0);
  private pred = new Int32Array(0);
  /** steps run on the device (training and evaluation) */
  steps = 0;

  constructor(
    engine: WebGpuEngine,
    readonly learner: Learner,
    readonly front: GLENetwork | null = null,
    opts: GpuTrainerOptions = {},
  ) {
    this.dev = new DeviceNet(engine, learner, opts);
  }

  get net(): GLENetwork {
    return this.learner.net;
  }

  /**
   * Stream batch b through the device network: learning (target = the label at every step) or evaluation. Also
   * returns the network's own loss of every step (NaN without a target), as `GLENetwork.lastLoss()` after each step.
   */
  async runBatch(b: SeqBatch, learn: boolean): Promise<BatchResult & { stepLoss: Float32Array; sums: Float64Array }> {
    const net = this.net, B = b.B, T = b.steps, C = net.nOut, nIn = net.nIn;
    const tr = await this.dev.use(B);
    if (this.x.length !== T * B * nIn) this.x = new Float32Array(T * B * nIn);
    const x = this.x;
    if (this.front) {
      const f = this.front;
      f.setBatchSize(B);
      f.resetState();
      if (this.fx.length !== B * f.nIn) this.fx = new Float64Array(B * f.nIn);
      for (let t = 0; t < T; t++) {
        b.fillStep(t, this.fx);
        x.set(f.step(this.fx, null).a, t * B * nIn);
      }
    } else for (let t = 0; t < T; t++) b.fillStep(t, x.subarray(t * B * nIn, (t + 1) * B * nIn));
    const targets = learn ? new Array<Int32Array>(T).fill(b.labels) : null;
    const res = await tr.run(x, targets, { training: learn, outputs: true });
    this.steps += T;
    const y = res.outputs!;
    if (this.sums.length !== B * C) this.sums = new Float64Array(B * C);
    if (this.pred.length !== B) this.pred = new Int32Array(B);
    const sums = this.sums, pred = this.pred;
    sums.fill(0);
    let ce = 0;
    for (let t = 0; t < T; t++) {
      const o = t * B * C;
      for (let i = 0; i < B * C; i++) sums[i] += y[o + i];
      const yt = y.subarray(o, o + B * C);
      for (let i = 0; i < B; i++) ce += crossEntropyRow(yt, i * C, C, b.labels[i]);
    }
    for (let i = 0; i < B; i++) {
      let best = 0;
      for (let j = 1; j < C; j++) if (sums[i * C + j] > sums[i * C + best]) best = j;
      pred[i] = best;
    }
    return { pred, lossSum: ce / Math.max(1, T), stepLoss: res.loss, sums };
  }

  /**
   * Evaluate (no target, no learning) over batches, as `evaluateBatches`, with the averaged parameters when the
   * learner averages (as `Learner.withAveraged`; the raw ones are back afterwards).
   */
  async evaluate(batches: Iterable<SeqBatch>, stop: () => boolean = () => false): Promise<EvalResult> {
    const tally = new EvalTally(this.net.nOut);
    try {
      for (const b of batches) {
        if (stop()) break;
        await this.dev.averaged(true, b.B);
        tally.add(b, await this.runBatch(b, false));
      }
    } finally {
      await this.dev.averaged(false);
    }
    return tally.result();
  }

  /** The host network and learner up to date with the device (checkpoints, the divergence guard). */
  sync(): Promise<void> {
    return this.dev.sync();
  }

  destroy(): void {
    this.dev.destroy();
  }
}
