/**
 * MNIST-1D (Greydanus 2020): the in-memory data set type, the file names of the shipped set, and validation.
 * Browser-safe. Loading from disk is in ./mnist1d-files.ts, the generator in ./mnist1d-gen.ts.
 *
 * x arrays are N x L row-major float32 (one channel: sample i, point t at x[i * L + t]); labels are uint8 0..9.
 */
import { UserError } from '../util/errors.js';

export interface Mnist1dData {
  xTrain: Float32Array;
  yTrain: Uint8Array;
  xTest: Float32Array;
  yTest: Uint8Array;
  /** points per sample (L) */
  length: number;
  nTrain: number;
  nTest: number;
}

export const MNIST1D_NUM_CLASSES = 10;

/** The file names used by the shipped set (data/mnist1d) and written by `gle mnist1d generate`. */
export const MNIST1D_FILES = {
  x: (length: number, split: 'train' | 'test') => `mnist1d_${length}_x_${split}.npy`,
  y: (split: 'train' | 'test') => `mnist1d_y_${split}.npy`,
  templates: 'mnist1d_templates_x.npy',
} as const;

/**
 * Check an x/y pair: x has n * length finite values, y has n labels in 0..9. `what` names the source in the
 * error message (a file path or "train split").
 */
export function validateXY(x: ArrayLike<number>, y: ArrayLike<number>, length: number, what: string): void {
  if (!Number.isInteger(length) || length <= 0) throw new UserError(`${what}: bad sequence length ${length}`);
  if (x.length !== y.length * length) {
    throw new UserError(
      `${what}: x holds ${x.length} values, expected ${y.length} samples x ${length} points = ${y.length * length}`,
    );
  }
  for (let i = 0; i < y.length; i++) {
    const c = y[i];
    if (!Number.isInteger(c) || c < 0 || c >= MNIST1D_NUM_CLASSES) {
      throw new UserError(`${what}: label ${c} at index ${i} is not in 0..${MNIST1D_NUM_CLASSES - 1}`);
    }
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new UserError(`${what}: x value ${x[i]} at sample ${Math.floor(i / length)}, point ${i % length}`);
    }
  }
}

/** Validate a whole data set (both splits). */
export function validateMnist1d(d: Mnist1dData, what = 'MNIST-1D'): void {
  if (d.yTrain.length !== d.nTrain || d.yTest.length !== d.nTest) {
    throw new UserError(`${what}: label counts (${d.yTrain.length}, ${d.yTest.length}) disagree with nTrain/nTest`);
  }
  validateXY(d.xTrain, d.yTrain, d.length, `${what} train split`);
  validateXY(d.xTest, d.yTest, d.length, `${what} test split`);
}
