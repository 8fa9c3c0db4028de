/**
 * The KW12 Speech Commands task as the GLE reference builds it (browser-safe: no `node:` imports; the file
 * listing, split hashing and WAV reading live in `files.ts`).
 *
 * Labels: unknown (0), silence (1), yes, no, up, down, left, right, on, off, stop, go (2..11).
 *
 * Per split (training / validation / testing), starting from the split's keyword clips (K of them):
 *  - "unknown": ceil(10 % of K) clips drawn with the seeded Rng, without replacement, from the split's clips of
 *    the other (non-KW12) words;
 *  - "silence": round(10 % of (K + unknown)) entries, each 1 s of constant 1e-9. The reference says "10 % of the
 *    split size" after adding the unknown clips; on the real GSC v0.02 validation split (3,703 keyword clips +
 *    371 unknown = 4,074) floor and round give 407 and the reference's N = 4,481, ceil would give 4,482. We use
 *    floor (Python's int(), and free of the half-way ambiguity between JS Math.round and Python's round);
 *  - the split is then shuffled once with the seeded Rng (a fixed order; validation/testing are served in it).
 *
 * Training: class-balanced sampling with replacement (weight 1/count of the class, as many draws as the split
 * has entries), and per clip, with p = 0.8, background noise mixed in — out = (s·wave + noise)/2 with
 * s = exp(snr/10)·‖noise‖/‖wave‖, snr drawn from {20, 10, 3}, the noise a random segment of a random
 * background file — then a random shift of −1600..+1600 samples with zero fill (not circular). The same
 * augmentation is applied to the silence entries of the training split (as a per-sample transform would).
 *
 * Features: each clip is featurised at its own length (T = 1 + floor(n/400) frames, 20·T steps); a batch is
 * zero-padded at the end of time to its longest clip (820 steps for 1 s).
 */
import type { DType, FloatArray } from '../../kernels/types.js';
import { Rng } from '../../util/rng.js';
import { LogMelExtractor, MEL_PIPELINE, interpolateStep } from './melspec.js';

export const KW12_LABELS = ['unknown', 'silence', 'yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'] as const;
export type KW12Label = (typeof KW12_LABELS)[number];
export const KW12_KEYWORDS = KW12_LABELS.slice(2) as readonly string[];
export const LABEL_UNKNOWN = 0;
export const LABEL_SILENCE = 1;
export const SPLITS = ['training', 'validation', 'testing'] as const;
export type Split = (typeof SPLITS)[number];

/** Samples of a full clip and of a silence entry. */
export const CLIP_SAMPLES = 16000;
export const SILENCE_VALUE = 1e-9;

/** KW12 label of a GSC word folder: its keyword index, or unknown (0). */
export function kw12Label(word: string): number {
  const i = KW12_KEYWORDS.indexOf(word);
  return i < 0 ? LABEL_UNKNOWN : i + 2;
}

/** A clip of a data set folder: `path` is "<word>/<file>.wav" (posix, relative to the root). */
export interface ListedClip {
  path: string;
  word: string;
  split: Split;
}

/** One entry of a KW12 split. Silence entries have path null and word "_silence_". */
export interface SpeechClip {
  path: string | null;
  word: string;
  label: number;
}

export interface KW12SplitCounts {
  keywords: number;
  unknownPool: number;
  unknown: number;
  silence: number;
  total: number;
  perLabel: number[];
}

/** Unknown entries to add to a split with K keyword clips: ceil(10 % of K). */
export function unknownCount(keywordClips: number): number {
  return Math.ceil((keywordClips * 10) / 100);
}

/** Silence entries to add: floor(10 % of (keywords + unknown)). */
export function silenceCount(keywordPlusUnknown: number): number {
  return Math.floor((keywordPlusUnknown * 10) / 100);
}

/**
 * Build one KW12 split from the listed clips of that split (any order; they are sorted by path first so the
 * result depends only on the seed). Returns the shuffled entries and the counts.
 */
export function buildKW12Split(listed: readonly ListedClip[], rng: Rng): { clips: SpeechClip[]; counts: KW12SplitCounts } {
  const sorted = [...listed].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const kw: SpeechClip[] = [];
  const pool: SpeechClip[] = [];
  for (const c of sorted) {
    const label = kw12Label(c.word);
    (label === LABEL_UNKNOWN ? pool : kw).push({ path: c.path, word: c.word, label });
  }
  const nUnknown = Math.min(unknownCount(kw.length), pool.length);
  rng.shuffle(pool);
  const clips = kw.concat(pool.slice(0, nUnknown));
  const nSilence = silenceCount(clips.length);
  for (let i = 0; i < nSilence; i++) clips.push({ path: null, word: '_silence_', label: LABEL_SILENCE });
  rng.shuffle(clips);
  const perLabel = new Array<number>(KW12_LABELS.length).fill(0);
  for (const c of clips) perLabel[c.label]++;
  return {
    clips,
    counts: { keywords: kw.length, unknownPool: pool.length, unknown: nUnknown, silence: nSilence, total: clips.length, perLabel },
  };
}

/** The reference's silence waveform: n samples of constant 1e-9. */
export function silenceWave(n = CLIP_SAMPLES): Float64Array {
  return new Float64Array(n).fill(SILENCE_VALUE);
}

/**
 * Class-balanced sampling with replacement: `n` indices drawn with probability ∝ 1/count(label of the index)
 * (torch's WeightedRandomSampler with those weights).
 */
export function balancedSample(labels: ArrayLike<number>, n: number, rng: Rng): Int32Array {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  const cum = new Float64Array(labels.length);
  let acc = 0;
  for (let i = 0; i < labels.length; i++) {
    acc += 1 / counts.get(labels[i])!;
    cum[i] = acc;
  }
  const out = new Int32Array(n);
  for (let d = 0; d < n; d++) {
    const u = rng.uniform() * acc;
    let lo = 0;
    let hi = labels.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    out[d] = lo;
  }
  return out;
}

export interface AugmentOptions {
  /** Probability of mixing in background noise (0.8). */
  pNoise?: number;
  /** SNR choices (20, 10, 3). */
  snrs?: readonly number[];
  /** Maximum |shift| in samples (1600 = 0.1 s). */
  maxShift?: number;
}

/** Training augmentation: background noise mixing then a zero-filled shift. Reuses its buffers. */
export class SpeechAugmenter {
  readonly pNoise: number;
  readonly snrs: readonly number[];
  readonly maxShift: number;
  private buf = new Float64Array(0);
  private out = new Float64Array(0);

  constructor(
    readonly noises: readonly Float64Array[],
    opts: AugmentOptions = {},
  ) {
    this.pNoise = opts.pNoise ?? 0.8;
    this.snrs = opts.snrs ?? [20, 10, 3];
    this.maxShift = opts.maxShift ?? 1600;
  }

  /**
   * Augment `wave`; the result is a view of an internal buffer valid until the next call. Draw order per clip:
   * u (noise?), [noise file, offset, snr], shift.
   */
  apply(wave: ArrayLike<number>, rng: Rng): Float64Array {
    const n = wave.length;
    if (this.buf.length < n) {
      this.buf = new Float64Array(n);
      this.out = new Float64Array(n);
    }
    const x = this.buf.subarray(0, n);
    for (let i = 0; i < n; i++) x[i] = wave[i];
    if (this.noises.length > 0 && rng.uniform() < this.pNoise) {
      const noise = this.noises[rng.int(this.noises.length)];
      const start = noise.length > n ? rng.int(noise.length - n + 1) : 0;
      const snr = this.snrs[rng.int(this.snrs.length)];
      const len = Math.min(n, noise.length - start);
      let nw = 0;
      let nn = 0;
      for (let i = 0; i < n; i++) nw += x[i] * x[i];
      for (let i = 0; i < len; i++) nn += noise[start + i] * noise[start + i];
      const s = nw > 0 ? (Math.exp(snr / 10) * Math.sqrt(nn)) / Math.sqrt(nw) : 0;
      for (let i = 0; i < n; i++) x[i] = (s * x[i] + (i < len ? noise[start + i] : 0)) / 2;
    }
    const shift = rng.int(2 * this.maxShift + 1) - this.maxShift;
    const y = this.out.subarray(0, n);
    for (let i = 0; i < n; i++) {
      const k = i - shift;
      y[i] = k >= 0 && k < n ? x[k] : 0;
    }
    return y;
  }
}

/**
 * One batch of B clips, ready to stream into an online network: each clip's standardised log-mel matrix
 * (time-major [T][32]) is interpolated ×20 on the fly; steps past a clip's end are zeros.
 */
export class SpeechBatch {
  readonly B: number;
  /** Steps of the batch: 20 × the longest clip's frames (820 for 1 s clips). */
  readonly steps: number;
  readonly nMels = MEL_PIPELINE.nMels;
  /** Frames per clip. */
  readonly frames: Int32Array;

  constructor(
    readonly features: readonly FloatArray[],
    frames: ArrayLike<number>,
    readonly labels: Int32Array,
    /** Index of each clip in its split's entry list. */
    readonly indices: Int32Array,
  ) {
    this.B = features.length;
    this.frames = Int32Array.from(frames);
    let maxT = 0;
    for (let b = 0; b < this.B; b++) maxT = Math.max(maxT, this.frames[b]);
    this.steps = MEL_PIPELINE.upsample * maxT;
  }

  /** Write step t ([B][32]) into out[off..off + B·32). */
  fillStep(t: number, out: FloatArray, off = 0): void {
    const M = this.nMels;
    for (let b = 0; b < this.B; b++) interpolateStep(this.features[b], this.frames[b], t, out, off + b * M, M);
  }

  /** The whole batch, time-major [steps][B][32]. */
  timeMajor(out?: Float32Array): Float32Array {
    const per = this.B * this.nMels;
    const o = out ?? new Float32Array(this.steps * per);
    if (o.length < this.steps * per) throw new RangeError(`timeMajor: output needs ${this.steps * per} elements`);
    for (let t = 0; t < this.steps; t++) this.fillStep(t, o, t * per);
    return o;
  }
}

/** Where samples come from: the raw waveform of a file clip (int16 / 32768), and optionally cached features. */
export interface ClipSource {
  /** The clip's waveform (float64, int16/32768). Not called for silence entries. */
  wave(clip: SpeechClip & { path: string }): Float64Array;
  /** Unaugmented standardised features (time-major [T][32]) if the source can supply them (e.g. a disk cache). */
  features?(clip: SpeechClip & { path: string }, extractor: LogMelExtractor): { T: number; data: FloatArray };
}

export interface KW12SplitOptions {
  split: Split;
  /** Augment and class-balance (training). Default: split === 'training'. */
  train?: boolean;
  noises?: readonly Float64Array[];
  augment?: AugmentOptions;
  seed?: number;
  dtype?: DType;
}

/** One split of the KW12 set with a seeded batch streamer. */
export class KW12Split {
  readonly split: Split;
  readonly train: boolean;
  readonly rng: Rng;
  readonly extractor: LogMelExtractor;
  readonly augmenter: SpeechAugmenter;
  readonly labels: Int32Array;
  private readonly silence = silenceWave();

  constructor(
    readonly clips: readonly SpeechClip[],
    readonly source: ClipSource,
    opts: KW12SplitOptions,
  ) {
    this.split = opts.split;
    this.train = opts.train ?? opts.split === 'training';
    this.rng = new Rng(opts.seed ?? 0);
    this.extractor = new LogMelExtractor({ dtype: opts.dtype ?? 'float32' });
    this.augmenter = new SpeechAugmenter(opts.noises ?? [], opts.augment);
    this.labels = Int32Array.from(clips, (c) => c.label);
  }

  get length(): number {
    return this.clips.length;
  }

  /** The order of one epoch: class-balanced draws with replacement (training) or 0..N−1 (evaluation). */
  epochOrder(): Int32Array {
    if (this.train) return balancedSample(this.labels, this.clips.length, this.rng);
    return Int32Array.from({ length: this.clips.length }, (_, i) => i);
  }

  /** Standardised features (time-major [T][32]) of entry i; augmented (consuming the Rng) when training. */
  clipFeatures(i: number): { T: number; data: FloatArray } {
    const c = this.clips[i];
    const ex = this.extractor;
    if (!this.train && c.path !== null && this.source.features) return this.source.features(c as SpeechClip & { path: string }, ex);
    let w: ArrayLike<number> = c.path === null ? this.silence : this.source.wave(c as SpeechClip & { path: string });
    if (this.train) w = this.augmenter.apply(w, this.rng);
    const data = ex.standardise(w);
    return { T: ex.T, data };
  }

  /** Build the batch of the given entries. */
  batch(indices: ArrayLike<number>): SpeechBatch {
    const feats: FloatArray[] = [];
    const frames = new Int32Array(indices.length);
    const labels = new Int32Array(indices.length);
    for (let b = 0; b < indices.length; b++) {
      const f = this.clipFeatures(indices[b]);
      feats.push(f.data);
      frames[b] = f.T;
      labels[b] = this.labels[indices[b]];
    }
    return new SpeechBatch(feats, frames, labels, Int32Array.from(indices));
  }

  /** One epoch of batches of up to `batchSize` clips (the last may be smaller). */
  *batches(batchSize: number): Generator<SpeechBatch> {
    if (!(batchSize >= 1)) throw new RangeError('batchSize must be >= 1');
    const order = this.epochOrder();
    for (let s = 0; s < order.length; s += batchSize) yield this.batch(order.subarray(s, Math.min(order.length, s + batchSize)));
  }
}
