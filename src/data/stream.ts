/**
 * Streaming sequence data into a network that sees one time step per dt (browser-safe).
 *
 * The GLE reference feeds MNIST-1D one point per dt-step: a batch of B samples is presented for L steps, input
 * column t being x[:, t] (B x C). Batches follow each other directly in time: **no state reset** between samples or
 * batches, the network's state simply carries over (so batches are concatenated in time). The last partial batch
 * is kept, with a smaller batch size, unless `dropLast` is set.
 *
 * Usage:
 *   const s = new SequenceBatcher({ x, y, steps: 360, batchSize: 100, shuffle: true, rng });
 *   s.startEpoch();
 *   while (s.nextBatch()) {
 *     for (let t = 0; t < s.steps; t++) { s.fillStep(t, input); ... s.labels ... }
 *   }
 * `fillStep` writes `batchSize * channels` values (row b = sample b of the batch) and allocates nothing.
 */
import type { Rng } from '../util/rng.js';

export interface SequenceBatcherOptions {
  /** N x L x C values, row-major (sample, step, channel) */
  x: Float32Array | Float64Array;
  /** N labels */
  y: ArrayLike<number>;
  /** L, time steps per sample */
  steps: number;
  /** C, input channels per step (default 1) */
  channels?: number;
  batchSize: number;
  /** reshuffle the sample order at every startEpoch() (requires rng); default false: in order */
  shuffle?: boolean;
  rng?: Rng;
  /** drop the last batch when it is smaller than batchSize; default false */
  dropLast?: boolean;
}

export class SequenceBatcher {
  readonly numSamples: number;
  readonly steps: number;
  readonly channels: number;
  /** the nominal batch size; the current batch's size is `batchSize` */
  readonly maxBatchSize: number;
  private readonly x: Float32Array | Float64Array;
  private readonly yAll: Int32Array;
  private readonly order: Int32Array;
  private readonly labelBuf: Int32Array;
  private readonly shuffle: boolean;
  private readonly rng: Rng | undefined;
  private readonly dropLast: boolean;
  private cursor = 0;
  private started = false;
  /** size of the current batch (B) */
  batchSize = 0;
  /** index of the current batch within the epoch (-1 before the first nextBatch) */
  batchIndex = -1;
  /** sample indices of the current batch (view of length B; valid until the next nextBatch/startEpoch) */
  indices: Int32Array;
  /** labels of the current batch (view of length B) */
  labels: Int32Array;

  constructor(o: SequenceBatcherOptions) {
    const C = o.channels ?? 1;
    if (!Number.isInteger(o.steps) || o.steps <= 0) throw new Error(`SequenceBatcher: bad steps ${o.steps}`);
    if (!Number.isInteger(C) || C <= 0) throw new Error(`SequenceBatcher: bad channels ${C}`);
    if (!Number.isInteger(o.batchSize) || o.batchSize <= 0) {
      throw new Error(`SequenceBatcher: bad batchSize ${o.batchSize}`);
    }
    const N = o.y.length;
    if (o.x.length !== N * o.steps * C) {
      throw new Error(`SequenceBatcher: x has ${o.x.length} values, expected ${N} x ${o.steps} x ${C}`);
    }
    if (o.shuffle && !o.rng) throw new Error('SequenceBatcher: shuffle needs an rng');
    this.numSamples = N;
    this.steps = o.steps;
    this.channels = C;
    this.maxBatchSize = o.batchSize;
    this.x = o.x;
    this.yAll = Int32Array.from(o.y as ArrayLike<number>);
    this.order = new Int32Array(N);
    for (let i = 0; i < N; i++) this.order[i] = i;
    this.labelBuf = new Int32Array(o.batchSize);
    this.shuffle = o.shuffle ?? false;
    this.rng = o.rng;
    this.dropLast = o.dropLast ?? false;
    this.indices = this.order.subarray(0, 0);
    this.labels = this.labelBuf.subarray(0, 0);
  }

  /** Batches per epoch. */
  get numBatches(): number {
    const full = Math.floor(this.numSamples / this.maxBatchSize);
    return this.dropLast || this.numSamples % this.maxBatchSize === 0 ? full : full + 1;
  }

  /** Time steps per epoch (sum over batches of `steps`). */
  get stepsPerEpoch(): number {
    return this.numBatches * this.steps;
  }

  /** Begin an epoch: reshuffle (if shuffling) and rewind to the first batch. */
  startEpoch(): void {
    if (this.shuffle) {
      for (let i = 0; i < this.numSamples; i++) this.order[i] = i;
      this.rng!.shuffle(this.order);
    }
    this.cursor = 0;
    this.batchIndex = -1;
    this.batchSize = 0;
    this.started = true;
  }

  /** Move to the next batch of the epoch; false when the epoch is over. */
  nextBatch(): boolean {
    if (!this.started) this.startEpoch();
    const left = this.numSamples - this.cursor;
    if (left <= 0 || (this.dropLast && left < this.maxBatchSize)) {
      this.batchSize = 0;
      this.indices = this.order.subarray(0, 0);
      this.labels = this.labelBuf.subarray(0, 0);
      this.started = false;
      return false;
    }
    const B = Math.min(this.maxBatchSize, left);
    this.indices = this.order.subarray(this.cursor, this.cursor + B);
    this.labels = this.labelBuf.subarray(0, B);
    for (let b = 0; b < B; b++) this.labelBuf[b] = this.yAll[this.indices[b]];
    this.cursor += B;
    this.batchSize = B;
    this.batchIndex++;
    return true;
  }

  /** Write the B x C input of step t (0 <= t < steps) of the current batch into out[0 .. B*C). */
  fillStep(t: number, out: Float32Array | Float64Array): void {
    const B = this.batchSize;
    const C = this.channels;
    const idx = this.indices;
    const x = this.x;
    const rowStride = this.steps * C;
    const tOff = t * C;
    if (C === 1) {
      for (let b = 0; b < B; b++) out[b] = x[idx[b] * rowStride + tOff];
    } else {
      for (let b = 0; b < B; b++) {
        const src = idx[b] * rowStride + tOff;
        const dst = b * C;
        for (let c = 0; c < C; c++) out[dst + c] = x[src + c];
      }
    }
  }
}
