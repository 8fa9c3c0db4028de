/**
 * The GLE reference's Speech Commands features, stage by stage (browser-safe, no `node:` imports):
 *
 * 1. power mel spectrogram: 16 kHz, n_fft 1024, hop 400, 32 HTK mel bands over 0–8000 Hz (no area norm),
 *    periodic Hann window of 1024, centred frames with reflect padding of 512 (edge sample not repeated),
 *    |STFT|² over the 513 one-sided bins; T = 1 + floor(n / 400) frames (a 1 s clip gives 41);
 *    filterbank = triangles over linspace(0, 8000, 513) between 34 mel points equally spaced from mel(0) to
 *    mel(8000), peak 1 (torchaudio's `melscale_fbanks`, norm None, mel_scale "htk");
 * 2. log2(mel + 1e-9);
 * 3. per-sample standardisation over all 32·T values: subtract the mean, then divide by the unbiased
 *    (N − 1) standard deviation of the centred matrix;
 * 4. linear interpolation ×20 along time with align_corners = false: output step j reads
 *    src = max(0, (j + 0.5)·0.05 − 0.5) and mixes columns floor(src) and min(floor(src) + 1, T − 1).
 *
 * Everything is computed in float64; a float32 output is the float64 result rounded once. Features are stored
 * time-major ([step][band], one 32-vector per network step) for streaming; `toBandMajor` gives the
 * [band][time] layout of the reference for tests. The FFT is fft.js (real transform of size 1024).
 */
import FFT from 'fft.js';
import type { DType, FloatArray } from '../../kernels/types.js';
import { UserError } from '../../util/errors.js';

export const MEL_PIPELINE = {
  sampleRate: 16000,
  nFft: 1024,
  hop: 400,
  nMels: 32,
  fMin: 0,
  fMax: 8000,
  power: 2,
  logEps: 1e-9,
  upsample: 20,
  window: 'hann-periodic',
  center: true,
  padMode: 'reflect',
  melScale: 'htk',
  norm: null,
  std: 'unbiased',
  interpolation: 'linear-align-corners-false',
} as const;

/** A stable string describing the pipeline (for cache keys). */
export const MEL_PIPELINE_ID = `gle-logmel/1 ${JSON.stringify(MEL_PIPELINE)}`;

/** Frames of a clip of n samples: 1 + floor(n / hop). */
export function numFrames(n: number): number {
  return 1 + Math.floor(n / MEL_PIPELINE.hop);
}

/** Network steps (interpolated columns) of a clip of n samples: 20·T. */
export function numSteps(n: number): number {
  return MEL_PIPELINE.upsample * numFrames(n);
}

/** Periodic Hann window: w[k] = 0.5 − 0.5 cos(2πk/n). */
export function hannWindow(n = MEL_PIPELINE.nFft): Float64Array {
  const w = new Float64Array(n);
  for (let k = 0; k < n; k++) w[k] = 0.5 - 0.5 * Math.cos((2 * Math.PI * k) / n);
  return w;
}

export function hzToMelHtk(f: number): number {
  return 2595 * Math.log10(1 + f / 700);
}

export function melToHzHtk(m: number): number {
  return 700 * (Math.pow(10, m / 2595) - 1);
}

/** torch.linspace semantics: the first half counts up from start, the second half down from end. */
function linspace(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (steps - 1);
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? start + step * i : end - step * (steps - 1 - i);
  return out;
}

/**
 * Triangular HTK mel filterbank, [nFreqs][nMels] row-major (rows are FFT bins, columns mel bands, as torchaudio
 * stores it). Bin frequencies linspace(0, sampleRate/2, nFreqs); nMels + 2 mel points; peak 1; no area norm.
 */
export function melFilterbank(
  nFreqs = MEL_PIPELINE.nFft / 2 + 1,
  nMels: number = MEL_PIPELINE.nMels,
  fMin: number = MEL_PIPELINE.fMin,
  fMax: number = MEL_PIPELINE.fMax,
  sampleRate: number = MEL_PIPELINE.sampleRate,
): Float64Array {
  const freqs = linspace(0, Math.floor(sampleRate / 2), nFreqs);
  const mpts = linspace(hzToMelHtk(fMin), hzToMelHtk(fMax), nMels + 2);
  const fpts = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) fpts[i] = melToHzHtk(mpts[i]);
  const fb = new Float64Array(nFreqs * nMels);
  for (let k = 0; k < nFreqs; k++) {
    for (let m = 0; m < nMels; m++) {
      const down = -(fpts[m] - freqs[k]) / (fpts[m + 1] - fpts[m]);
      const up = (fpts[m + 2] - freqs[k]) / (fpts[m + 2] - fpts[m + 1]);
      fb[k * nMels + m] = Math.max(0, Math.min(down, up));
    }
  }
  return fb;
}

/** [rows][cols] row-major -> [cols][rows] (time-major features -> the reference's [band][time]). */
export function toBandMajor<A extends FloatArray>(x: A, rows: number, cols: number): A {
  const out = new (x.constructor as { new (n: number): A })(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

/**
 * Write interpolated step j (0 ≤ j < 20T) of a standardised time-major [T][nMels] matrix into out[off..off+nMels).
 * Steps ≥ 20T are zeros (the batch collate's end padding).
 */
export function interpolateStep(
  x: ArrayLike<number>,
  T: number,
  j: number,
  out: FloatArray,
  off = 0,
  nMels: number = MEL_PIPELINE.nMels,
): void {
  if (j >= MEL_PIPELINE.upsample * T) {
    out.fill(0, off, off + nMels);
    return;
  }
  let src = 0.05 * (j + 0.5) - 0.5;
  if (src < 0) src = 0;
  const i0 = Math.floor(src);
  const i1 = i0 + 1 < T ? i0 + 1 : T - 1;
  const l1 = src - i0;
  const l0 = 1 - l1;
  const a = i0 * nMels;
  const b = i1 * nMels;
  for (let m = 0; m < nMels; m++) out[off + m] = x[a + m] * l0 + x[b + m] * l1;
}

/** The intermediate stages of one clip, each [band][time] (float64), for tests and inspection. */
export interface MelStages {
  T: number;
  mean: number;
  std: number;
  mel: Float64Array;
  log2: Float64Array;
  standardised: Float64Array;
  interpolated: Float64Array;
}

export interface LogMelOptions {
  /** Output precision (internal work is always float64). Default float32. */
  dtype?: DType;
}

/**
 * Log-mel feature extractor with reusable buffers (grown on demand for longer clips). Not re-entrant: one
 * extractor per worker. The standardised matrix of the last clip is kept in `standardised` (time-major).
 */
export class LogMelExtractor {
  readonly dtype: DType;
  readonly nMels = MEL_PIPELINE.nMels;
  readonly nFft = MEL_PIPELINE.nFft;
  readonly hop = MEL_PIPELINE.hop;
  readonly window = hannWindow();
  readonly filterbank = melFilterbank();
  /** mean / std of the last clip's log2 matrix (step 3). */
  mean = 0;
  std = 0;
  /** Frames of the last clip. */
  T = 0;
  private readonly fft = new FFT(MEL_PIPELINE.nFft);
  private readonly frame = new Float64Array(MEL_PIPELINE.nFft);
  private readonly spec = new Float64Array(2 * MEL_PIPELINE.nFft);
  private readonly power = new Float64Array(MEL_PIPELINE.nFft / 2 + 1);
  private readonly kLo = new Int32Array(MEL_PIPELINE.nMels);
  private readonly kHi = new Int32Array(MEL_PIPELINE.nMels);
  private padded = new Float64Array(0);
  private melBuf = new Float64Array(0);
  private logBuf = new Float64Array(0);
  private stdBuf = new Float64Array(0);

  constructor(opts: LogMelOptions = {}) {
    this.dtype = opts.dtype ?? 'float32';
    const nF = this.power.length;
    for (let m = 0; m < this.nMels; m++) {
      let lo = nF;
      let hi = -1;
      for (let k = 0; k < nF; k++) {
        if (this.filterbank[k * this.nMels + m] !== 0) {
          if (k < lo) lo = k;
          hi = k;
        }
      }
      this.kLo[m] = lo;
      this.kHi[m] = hi;
    }
  }

  private ensure(n: number, T: number): void {
    if (this.padded.length < n + this.nFft) this.padded = new Float64Array(n + this.nFft);
    const sz = T * this.nMels;
    if (this.melBuf.length < sz) {
      this.melBuf = new Float64Array(sz);
      this.logBuf = new Float64Array(sz);
      this.stdBuf = new Float64Array(sz);
    }
  }

  /** Steps 1–3: fills the internal mel, log2 and standardised buffers (time-major); returns T. */
  private run(wave: ArrayLike<number>, n: number): number {
    const half = this.nFft / 2;
    if (n <= half) {
      throw new UserError(`clip of ${n} samples is too short for the log-mel features (needs more than ${half} samples)`);
    }
    const T = numFrames(n);
    this.ensure(n, T);
    const p = this.padded;
    for (let i = 0; i < n + this.nFft; i++) {
      let idx = i - half;
      if (idx < 0) idx = -idx;
      else if (idx >= n) idx = 2 * (n - 1) - idx;
      p[i] = wave[idx];
    }
    const M = this.nMels;
    const nF = this.power.length;
    const w = this.window;
    const fr = this.frame;
    const sp = this.spec;
    const pw = this.power;
    const fb = this.filterbank;
    const mel = this.melBuf;
    const lg = this.logBuf;
    for (let t = 0; t < T; t++) {
      const s = t * this.hop;
      for (let k = 0; k < this.nFft; k++) fr[k] = p[s + k] * w[k];
      this.fft.realTransform(sp, fr);
      for (let k = 0; k < nF; k++) {
        const re = sp[2 * k];
        const im = sp[2 * k + 1];
        pw[k] = re * re + im * im;
      }
      const row = t * M;
      for (let m = 0; m < M; m++) {
        let acc = 0;
        for (let k = this.kLo[m], e = this.kHi[m]; k <= e; k++) acc += fb[k * M + m] * pw[k];
        mel[row + m] = acc;
        lg[row + m] = Math.log2(acc + MEL_PIPELINE.logEps);
      }
    }
    // Standardise: mean (with one correction pass for accuracy), then unbiased std of the centred values.
    const N = T * M;
    let sum = 0;
    for (let i = 0; i < N; i++) sum += lg[i];
    let mean = sum / N;
    let corr = 0;
    for (let i = 0; i < N; i++) corr += lg[i] - mean;
    mean += corr / N;
    const st = this.stdBuf;
    let ss = 0;
    for (let i = 0; i < N; i++) {
      const d = lg[i] - mean;
      st[i] = d;
      ss += d * d;
    }
    const std = Math.sqrt(ss / (N - 1));
    for (let i = 0; i < N; i++) st[i] /= std;
    this.mean = mean;
    this.std = std;
    this.T = T;
    return T;
  }

  /**
   * Steps 1–3 only: the standardised matrix, time-major [T][32], as a new array in the output dtype.
   * (What the feature cache stores; interpolate per step with `interpolateStep`.)
   */
  standardise(wave: ArrayLike<number>, n = wave.length): FloatArray {
    const T = this.run(wave, n);
    const N = T * this.nMels;
    const out = this.dtype === 'float32' ? new Float32Array(N) : new Float64Array(N);
    for (let i = 0; i < N; i++) out[i] = this.stdBuf[i];
    return out;
  }

  /** Full pipeline into `out` (time-major [20T][32]) starting at element `off`; returns the number of steps 20T. */
  extractInto(wave: ArrayLike<number>, out: FloatArray, off = 0, n = wave.length): number {
    const T = this.run(wave, n);
    const steps = MEL_PIPELINE.upsample * T;
    if (out.length < off + steps * this.nMels) throw new RangeError(`output too small for ${steps} steps`);
    for (let j = 0; j < steps; j++) interpolateStep(this.stdBuf, T, j, out, off + j * this.nMels, this.nMels);
    return steps;
  }

  /** Full pipeline: a new time-major [20T][32] array in the output dtype. */
  extract(wave: ArrayLike<number>, n = wave.length): FloatArray {
    const steps = numSteps(n);
    const out = this.dtype === 'float32' ? new Float32Array(steps * this.nMels) : new Float64Array(steps * this.nMels);
    this.extractInto(wave, out, 0, n);
    return out;
  }

  /** All stages in float64, [band][time] like the reference (allocates; for tests and inspection). */
  stages(wave: ArrayLike<number>, n = wave.length): MelStages {
    const T = this.run(wave, n);
    const M = this.nMels;
    const N = T * M;
    const interp = new Float64Array(MEL_PIPELINE.upsample * N);
    for (let j = 0; j < MEL_PIPELINE.upsample * T; j++) interpolateStep(this.stdBuf, T, j, interp, j * M, M);
    return {
      T,
      mean: this.mean,
      std: this.std,
      mel: toBandMajor(this.melBuf.slice(0, N), T, M),
      log2: toBandMajor(this.logBuf.slice(0, N), T, M),
      standardised: toBandMajor(this.stdBuf.slice(0, N), T, M),
      interpolated: toBandMajor(interp, MEL_PIPELINE.upsample * T, M),
    };
  }
}
