/**
 * Output losses and the target error fed to the top layer's error neurons.
 * The error is the per-sample negative gradient of the loss w.r.t. the output, times β (no 1/B factor):
 *   mse: e = β (target − y)              (integer labels are one-hot encoded first)
 *   ce : e = β (onehot − softmax(y))     (y are logits)
 *   nll: e = β (onehot − exp(y))         (y are log-probabilities)
 * With no target, e = 0.
 */
import type { FloatArray } from '../kernels/types.js';

export type LossKind = 'mse' | 'ce' | 'nll';
export type TargetKind = 'none' | 'values' | 'labels';

/**
 * Decode one step's target (the one place that reads the forms `step` accepts):
 * - null/undefined: 'none';
 * - an Int32Array of B class labels → labels[0..B) ('labels');
 * - B × n values → values[off ..) ('values');
 * - B plain numbers with a classification loss (ce/nll) → labels.
 * Throws naming the expected lengths otherwise. Allocates nothing.
 */
export function decodeTarget(
  target: ArrayLike<number> | null | undefined,
  values: FloatArray | Float64Array,
  labels: Int32Array,
  B: number,
  n: number,
  loss: LossKind,
  off = 0,
): TargetKind {
  if (!target) return 'none';
  if (target instanceof Int32Array && target.length === B) {
    labels.set(target);
    return 'labels';
  }
  if (target.length === B * n) {
    if (off === 0) values.set(target as ArrayLike<number>);
    else for (let i = 0; i < B * n; i++) values[off + i] = target[i];
    return 'values';
  }
  if (target.length === B && loss !== 'mse') {
    for (let i = 0; i < B; i++) labels[i] = target[i];
    return 'labels';
  }
  throw new Error(`target has ${target.length} values, expected B*n_out = ${B * n} (or B = ${B} labels as Int32Array)`);
}

export function targetError(
  loss: LossKind,
  beta: number,
  y: FloatArray,
  kind: 'none' | 'values' | 'labels',
  target: FloatArray,
  labels: Int32Array,
  out: FloatArray,
  B: number,
  n: number,
): void {
  if (kind === 'none' || beta === 0) {
    out.fill(0, 0, B * n);
    return;
  }
  for (let b = 0; b < B; b++) {
    const o = b * n;
    const lab = kind === 'labels' ? labels[b] : -1;
    if (loss === 'mse') {
      for (let j = 0; j < n; j++) {
        const t = kind === 'labels' ? (j === lab ? 1 : 0) : target[o + j];
        out[o + j] = beta * (t - y[o + j]);
      }
    } else if (loss === 'ce') {
      let m = -Infinity;
      for (let j = 0; j < n; j++) if (y[o + j] > m) m = y[o + j];
      let z = 0;
      for (let j = 0; j < n; j++) z += Math.exp(y[o + j] - m);
      for (let j = 0; j < n; j++) {
        const t = kind === 'labels' ? (j === lab ? 1 : 0) : target[o + j];
        out[o + j] = beta * (t - Math.exp(y[o + j] - m) / z);
      }
    } else {
      for (let j = 0; j < n; j++) {
        const t = kind === 'labels' ? (j === lab ? 1 : 0) : target[o + j];
        out[o + j] = beta * (t - Math.exp(y[o + j]));
      }
    }
  }
}

/** Log-sum-exp of row b. */
function lse(y: FloatArray, o: number, n: number): number {
  let m = -Infinity;
  for (let j = 0; j < n; j++) if (y[o + j] > m) m = y[o + j];
  let z = 0;
  for (let j = 0; j < n; j++) z += Math.exp(y[o + j] - m);
  return m + Math.log(z);
}

/** The logged loss: mse = mean over all elements; ce / nll = batch mean. NaN when there is no target. */
export function lossValue(
  loss: LossKind,
  y: FloatArray,
  kind: 'none' | 'values' | 'labels',
  target: FloatArray,
  labels: Int32Array,
  B: number,
  n: number,
): number {
  if (kind === 'none') return NaN;
  let acc = 0;
  for (let b = 0; b < B; b++) {
    const o = b * n;
    if (loss === 'mse') {
      for (let j = 0; j < n; j++) {
        const t = kind === 'labels' ? (j === labels[b] ? 1 : 0) : target[o + j];
        const d = y[o + j] - t;
        acc += d * d;
      }
    } else {
      const l = loss === 'ce' ? lse(y, o, n) : 0;
      if (kind === 'labels') acc += l - y[o + labels[b]];
      else for (let j = 0; j < n; j++) acc += target[o + j] * (l - y[o + j]);
    }
  }
  return loss === 'mse' ? acc / (B * n) : acc / B;
}

/** Cross-entropy of one row of logits against a label (for readouts). */
export function crossEntropyRow(y: FloatArray, o: number, n: number, label: number): number {
  return lse(y, o, n) - y[o + label];
}
