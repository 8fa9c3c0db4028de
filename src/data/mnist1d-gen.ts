/**
 * A MNIST-1D generator (browser-safe), implementing the procedure described in data/mnist1d/README.md
 * (Greydanus 2020). It reproduces the data set's distribution, not NumPy's random stream: the draws come from the
 * project's `Rng`, so seed 42 here is not the shipped set, but any seed gives a statistically equivalent set.
 *
 * Per sample of class c:
 *   1. take template c (MNIST1D_TEMPLATES: 12 points, already whitened, starting and ending at 0, divided by 6),
 *      plus 1e-8 so that only padding counts as "empty" below;
 *   2. append p ~ U{padding[0] .. padding[1]} zeros;
 *   3. resample linearly to templateLen + padding[1] points (72 by default);
 *   4. multiply by 1 + scaleCoeff (U(0,1) - 0.5);
 *   5. roll (circular shift towards higher indices) by k ~ U{0 .. maxTranslation - 1};
 *   6. the positions that are exactly 0 (the padding) get correlated noise: corrNoiseScale * N(0,1) per point,
 *      smoothed by a Gaussian filter of sigma 2 (scipy.ndimage.gaussian_filter1d semantics: truncate 4, 'reflect');
 *   7. add iid noise iidNoiseScale * N(0,1) everywhere;
 *   8. subtract the shear shearScale (U(0,1) - 0.5) * linspace(-0.5, 0.5, n);
 *   9. resample linearly to finalSeqLength points.
 * Samples are made class by class (sample i has class i mod 10, so classes are balanced exactly when numSamples is
 * a multiple of 10), shuffled, standardised over the whole set ((x - mean) / std, population std), and split:
 * the first floor(numSamples * trainSplit) are the training set.
 */
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { MNIST1D_NUM_CLASSES, type Mnist1dData } from './mnist1d.js';

/** The ten digit templates of MNIST-1D (the values of data/mnist1d/mnist1d_templates_x.npy, float64 10 x 12). */
export const MNIST1D_TEMPLATES: ReadonlyArray<readonly number[]> = [
  [0.0, 0.23693955110363696, 0.35540932665545544, 0.4146442144313647, 0.4738791022072739, 0.4738791022072739, 0.4738791022072739, 0.4738791022072739, 0.4146442144313647, 0.35540932665545544, 0.23693955110363696, 0.0],
  [0.0, -0.36986336072765463, -0.36986336072765463, -0.2958906885821237, -0.22191801643659279, -0.1479453442910618, -0.07397267214553098, 0.0, 0.07397267214553098, 0.1479453442910618, 0.0, 0.0],
  [0.0, 0.15936381457791915, 0.2390457218668787, 0.2390457218668787, 0.15936381457791915, 0.03984095364447979, -0.03984095364447979, -0.15936381457791915, -0.2390457218668787, -0.2390457218668787, -0.15936381457791915, 0.0],
  [0.0, 0.26726124191242445, 0.40089186286863665, 0.40089186286863665, 0.26726124191242445, 0.0, 0.0, 0.26726124191242445, 0.40089186286863665, 0.40089186286863665, 0.26726124191242445, 0.0],
  [0.0, -0.10599978800063593, -0.21199957600127206, -0.317999364001908, -0.42399915200254396, -0.42399915200254396, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
  [0.0, -0.247712448889053, -0.247712448889053, -0.247712448889053, -0.247712448889053, 0.0, 0.1238562244445265, 0.18578433666678976, 0.18578433666678976, 0.1238562244445265, -0.06192811222226325, 0.0],
  [0.0, -0.23693955110363696, -0.35540932665545544, -0.4146442144313647, -0.4738791022072739, -0.4738791022072739, -0.4738791022072739, -0.4738791022072739, -0.4146442144313647, -0.35540932665545544, -0.23693955110363696, 0.0],
  [0.0, 0.36986336072765463, 0.36986336072765463, 0.2958906885821236, 0.22191801643659279, 0.1479453442910618, 0.07397267214553098, 0.0, -0.07397267214553098, -0.1479453442910618, 0.0, 0.0],
  [0.0, -0.26726124191242445, -0.40089186286863665, -0.40089186286863665, -0.26726124191242445, 0.0, 0.0, -0.26726124191242445, -0.40089186286863665, -0.40089186286863665, -0.26726124191242445, 0.0],
  [0.0, -0.2858309752375147, -0.42874646285627205, -0.42874646285627205, -0.2858309752375147, 0.0, 0.0, 0.0, 0.0, -0.08574929257125435, -0.20008168266626036, 0.0],
];

export interface Mnist1dGenOptions {
  /** default 42 (the reference's seed; the stream differs, see above) */
  seed?: number;
  /** default 5000 */
  numSamples?: number;
  /** default 0.8 */
  trainSplit?: number;
  /** default 12 (must equal the templates' length) */
  templateLen?: number;
  /** inclusive range of zero padding; default [36, 60] */
  padding?: [number, number];
  /** default 0.4 */
  scaleCoeff?: number;
  /** default 48 */
  maxTranslation?: number;
  /** default 0.25 */
  corrNoiseScale?: number;
  /** default 0.02 */
  iidNoiseScale?: number;
  /** default 0.75 */
  shearScale?: number;
  /** default 40 (the GLE paper streams 360) */
  finalSeqLength?: number;
  /** default MNIST1D_TEMPLATES; one array per class */
  templates?: ReadonlyArray<ArrayLike<number>>;
}

export const MNIST1D_GEN_DEFAULTS = {
  seed: 42,
  numSamples: 5000,
  trainSplit: 0.8,
  templateLen: 12,
  padding: [36, 60] as [number, number],
  scaleCoeff: 0.4,
  maxTranslation: 48,
  corrNoiseScale: 0.25,
  iidNoiseScale: 0.02,
  shearScale: 0.75,
  finalSeqLength: 40,
} as const;

/**
 * scipy.ndimage.gaussian_filter1d(input, sigma, mode='reflect', truncate) for a 1-D signal: correlation with the
 * normalised kernel exp(-x^2 / (2 sigma^2)), x = -r..r, r = floor(truncate * sigma + 0.5), the signal extended by
 * half-sample symmetric reflection (d c b a | a b c d | d c b a). `out` must not alias `input`.
 */
export function gaussianFilter1d(
  input: ArrayLike<number>,
  sigma: number,
  out: Float64Array | Float32Array = new Float64Array(input.length),
  truncate = 4.0,
): Float64Array | Float32Array {
  const n = input.length;
  const r = Math.floor(truncate * sigma + 0.5);
  const w = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let k = -r; k <= r; k++) {
    w[k + r] = Math.exp((-0.5 * k * k) / (sigma * sigma));
    sum += w[k + r];
  }
  for (let k = 0; k < w.length; k++) w[k] /= sum;
  const period = 2 * n;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let k = -r; k <= r; k++) {
      let j = i + k;
      if (j < 0 || j >= n) {
        j = ((j % period) + period) % period;
        if (j >= n) j = period - 1 - j;
      }
      acc += w[k + r] * input[j];
    }
    out[i] = acc;
  }
  return out;
}

/**
 * Linear resampling of `x` (placed at linspace(0, 1, x.length)) to out.length points at linspace(0, 1, out.length),
 * as scipy.interpolate.interp1d(kind='linear') evaluates it.
 */
export function resampleLinear(
  x: ArrayLike<number>,
  out: Float64Array | Float32Array,
  nIn = x.length,
): Float64Array | Float32Array {
  const m = out.length;
  if (nIn === 1 || m === 1) {
    out.fill(x[0]);
    return out;
  }
  for (let i = 0; i < m; i++) {
    const pos = (i / (m - 1)) * (nIn - 1);
    let j = Math.floor(pos);
    if (j >= nIn - 1) j = nIn - 2;
    const f = pos - j;
    out[i] = x[j] * (1 - f) + x[j + 1] * f;
  }
  return out;
}

/** The generated set: the usual splits plus the templates used. */
export interface Mnist1dGenerated extends Mnist1dData {
  templates: Float64Array;
  templateLen: number;
}

function checkNumber(name: string, v: number, ok: boolean, what: string): void {
  if (!Number.isFinite(v) || !ok) throw new UserError(`mnist1d generator: ${name} must be ${what}, got ${v}`);
}

/** Generate a MNIST-1D data set (see the module comment for the procedure). */
export function generateMnist1d(options: Mnist1dGenOptions = {}): Mnist1dGenerated {
  const L = options.finalSeqLength ?? MNIST1D_GEN_DEFAULTS.finalSeqLength;
  return generateMnist1dLengths(options, [L])[0];
}

/**
 * Generate the same samples (identical random draws) at several final lengths, as the shipped 40- and 360-point
 * files are: only the last resampling differs, and each length is standardised on its own.
 * `options.finalSeqLength` is ignored.
 */
export function generateMnist1dLengths(options: Mnist1dGenOptions, lengths: readonly number[]): Mnist1dGenerated[] {
  const o = { ...MNIST1D_GEN_DEFAULTS, ...options };
  const templates = options.templates ?? MNIST1D_TEMPLATES;
  const tl = o.templateLen;
  const [p0, p1] = o.padding;
  checkNumber('numSamples', o.numSamples, Number.isInteger(o.numSamples) && o.numSamples >= 1, 'a positive integer');
  checkNumber('trainSplit', o.trainSplit, o.trainSplit >= 0 && o.trainSplit <= 1, 'in [0, 1]');
  checkNumber('templateLen', tl, Number.isInteger(tl) && tl >= 2, 'an integer >= 2');
  checkNumber('padding[0]', p0, Number.isInteger(p0) && p0 >= 0, 'a non-negative integer');
  checkNumber('padding[1]', p1, Number.isInteger(p1) && p1 >= p0, 'an integer >= padding[0]');
  checkNumber('scaleCoeff', o.scaleCoeff, true, 'a number');
  checkNumber(
    'maxTranslation',
    o.maxTranslation,
    Number.isInteger(o.maxTranslation) && o.maxTranslation >= 1,
    'a positive integer',
  );
  checkNumber('corrNoiseScale', o.corrNoiseScale, o.corrNoiseScale >= 0, '>= 0');
  checkNumber('iidNoiseScale', o.iidNoiseScale, o.iidNoiseScale >= 0, '>= 0');
  checkNumber('shearScale', o.shearScale, true, 'a number');
  checkNumber('seed', o.seed, Number.isInteger(o.seed), 'an integer');
  if (lengths.length === 0) throw new UserError('mnist1d generator: no final length given');
  for (const L of lengths) checkNumber('finalSeqLength', L, Number.isInteger(L) && L >= 2, 'an integer >= 2');
  if (templates.length !== MNIST1D_NUM_CLASSES) {
    throw new UserError(`mnist1d generator: expected ${MNIST1D_NUM_CLASSES} templates, got ${templates.length}`);
  }
  const tpl = new Float64Array(MNIST1D_NUM_CLASSES * tl);
  templates.forEach((t, c) => {
    if (t.length !== tl) {
      throw new UserError(`mnist1d generator: template ${c} has ${t.length} points, templateLen is ${tl}`);
    }
    for (let i = 0; i < tl; i++) {
      if (!Number.isFinite(t[i])) throw new UserError(`mnist1d generator: template ${c} has a non-finite value`);
      tpl[c * tl + i] = t[i];
    }
  });

  const N = o.numSamples;
  const nMid = tl + p1;
  const rng = new Rng(o.seed);
  const midAll = new Float64Array(N * nMid); // the nMid-point signals before the final resampling
  const labels = new Uint8Array(N);
  const padded = new Float64Array(tl + p1);
  const mid = new Float64Array(nMid);
  const noise = new Float64Array(nMid);
  const smooth = new Float64Array(nMid);
  for (let s = 0; s < N; s++) {
    const c = s % MNIST1D_NUM_CLASSES;
    labels[s] = c;
    const sig = midAll.subarray(s * nMid, (s + 1) * nMid);
    // 1-2. template + eps, zero padding
    const p = p0 + rng.int(p1 - p0 + 1);
    padded.fill(0);
    for (let i = 0; i < tl; i++) padded[i] = tpl[c * tl + i] + 1e-8;
    // 3. dilate to nMid points
    resampleLinear(padded, mid, tl + p);
    // 4. scale
    const scale = 1 + o.scaleCoeff * (rng.uniform() - 0.5);
    // 5. roll by k
    const k = rng.int(o.maxTranslation) % nMid;
    for (let i = 0; i < nMid; i++) sig[(i + k) % nMid] = mid[i] * scale;
    // 6. correlated noise into the empty positions
    for (let i = 0; i < nMid; i++) noise[i] = o.corrNoiseScale * rng.normal();
    gaussianFilter1d(noise, 2, smooth);
    for (let i = 0; i < nMid; i++) if (sig[i] === 0) sig[i] = smooth[i];
    // 7. iid noise
    for (let i = 0; i < nMid; i++) sig[i] += o.iidNoiseScale * rng.normal();
    // 8. shear
    const shear = o.shearScale * (rng.uniform() - 0.5);
    for (let i = 0; i < nMid; i++) sig[i] -= shear * (-0.5 + i / (nMid - 1));
  }
  // shuffle (one order for every length)
  const order = new Int32Array(N);
  for (let i = 0; i < N; i++) order[i] = i;
  rng.shuffle(order);
  const nTrain = Math.floor(N * o.trainSplit);
  const nTest = N - nTrain;
  const yTrain = new Uint8Array(nTrain);
  const yTest = new Uint8Array(nTest);
  for (let r = 0; r < N; r++) {
    if (r < nTrain) yTrain[r] = labels[order[r]];
    else yTest[r - nTrain] = labels[order[r]];
  }
  return lengths.map((L, li) => {
    // 9. final length, then standardise over the whole set and split
    const raw = new Float64Array(N * L);
    const buf = new Float64Array(L);
    for (let s = 0; s < N; s++) {
      resampleLinear(midAll.subarray(s * nMid, (s + 1) * nMid), buf);
      raw.set(buf, s * L);
    }
    let mean = 0;
    for (let i = 0; i < raw.length; i++) mean += raw[i];
    mean /= raw.length;
    let v = 0;
    for (let i = 0; i < raw.length; i++) v += (raw[i] - mean) ** 2;
    const std = Math.sqrt(v / raw.length) || 1;
    const xTrain = new Float32Array(nTrain * L);
    const xTest = new Float32Array(nTest * L);
    for (let r = 0; r < N; r++) {
      const s = order[r];
      const dst = r < nTrain ? xTrain : xTest;
      const off = (r < nTrain ? r : r - nTrain) * L;
      for (let t = 0; t < L; t++) dst[off + t] = (raw[s * L + t] - mean) / std;
    }
    return {
      xTrain,
      yTrain: li === 0 ? yTrain : yTrain.slice(),
      xTest,
      yTest: li === 0 ? yTest : yTest.slice(),
      length: L,
      nTrain,
      nTest,
      templates: tpl,
      templateLen: tl,
    };
  });
}
