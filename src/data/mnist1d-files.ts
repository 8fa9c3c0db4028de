/**
 * MNIST-1D from `.npy` files (Node only). The package ships the set in data/mnist1d/ (see its README.md):
 * `loadMnist1d({ length: 40 | 360 })` reads it; `loadXY` reads any pair of MNIST-1D-format files.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { readNpyFile } from '../io/files.js';
import type { NpyArray } from '../io/npy.js';
import { MNIST1D_FILES, validateXY, type Mnist1dData } from './mnist1d.js';

/** The package's data/mnist1d directory (resolved from this module's location: src/data or dist/src/data). */
export function defaultMnist1dDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  // src/data -> ../../data/mnist1d ; dist/src/data -> ../../../data/mnist1d
  const up = /[\\/]dist[\\/]src[\\/]data[\\/]?$/.test(here) ? '../../..' : '../..';
  return join(here, up, 'data', 'mnist1d');
}

export interface LoadMnist1dOptions {
  length: 40 | 360;
  /** directory holding the 7 files; default: the package's data/mnist1d */
  dir?: string;
}

/** Load and validate the shipped (or a generated) MNIST-1D set. */
export function loadMnist1d(opts: LoadMnist1dOptions): Mnist1dData {
  if (opts.length !== 40 && opts.length !== 360) {
    throw new UserError(`MNIST-1D length must be 40 or 360, got ${String(opts.length)}`);
  }
  const dir = opts.dir ?? defaultMnist1dDir();
  const train = loadXY(join(dir, MNIST1D_FILES.x(opts.length, 'train')), join(dir, MNIST1D_FILES.y('train')));
  const test = loadXY(join(dir, MNIST1D_FILES.x(opts.length, 'test')), join(dir, MNIST1D_FILES.y('test')));
  if (train.length !== opts.length || test.length !== opts.length) {
    throw new UserError(
      `${dir}: the length-${opts.length} files hold ${train.length}/${test.length}-point sequences (train/test)`,
    );
  }
  return {
    xTrain: train.x,
    yTrain: train.y,
    xTest: test.x,
    yTest: test.y,
    length: opts.length,
    nTrain: train.n,
    nTest: test.n,
  };
}

/**
 * Read an x file (N x L, float32 or float64; returned as float32) and a label file (N integers 0..9, any integer
 * dtype; returned as uint8), and check that they agree.
 */
export function loadXY(xPath: string, yPath: string): { x: Float32Array; y: Uint8Array; n: number; length: number } {
  const xa = readNpyFile(xPath);
  const ya = readNpyFile(yPath);
  if (xa.shape.length !== 2) {
    throw new UserError(`${xPath}: expected a 2-D array (samples x points), got shape (${xa.shape.join(', ')})`);
  }
  if (xa.dtype !== 'float32' && xa.dtype !== 'float64') {
    throw new UserError(`${xPath}: expected float32 or float64 data, got ${xa.dtype}`);
  }
  const [n, length] = xa.shape;
  if (ya.shape.length !== 1) {
    throw new UserError(`${yPath}: expected a 1-D array of labels, got shape (${ya.shape.join(', ')})`);
  }
  if (ya.shape[0] !== n) {
    throw new UserError(`${yPath}: ${ya.shape[0]} labels, but ${xPath} holds ${n} samples`);
  }
  const x = xa.data instanceof Float32Array ? xa.data : Float32Array.from(xa.data as Float64Array);
  const y = labelsToUint8(ya, yPath);
  validateXY(x, y, length, `${xPath} / ${yPath}`);
  return { x, y, n, length };
}

function labelsToUint8(a: NpyArray, path: string): Uint8Array {
  if (a.dtype === 'float32' || a.dtype === 'float64' || a.dtype === 'bool') {
    throw new UserError(`${path}: labels must have an integer dtype, got ${a.dtype}`);
  }
  if (a.data instanceof Uint8Array) return a.data;
  const y = new Uint8Array(a.data.length);
  for (let i = 0; i < y.length; i++) {
    const v = Number(a.data[i]);
    if (v < 0 || v > 9) throw new UserError(`${path}: label ${v} at index ${i} is not in 0..9`);
    y[i] = v;
  }
  return y;
}
