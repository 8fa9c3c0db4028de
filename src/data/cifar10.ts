/**
 * CIFAR-10 in its binary format (browser-safe parser; the files are read in cifar10-files.ts): each record is one label
 * byte (0..9) followed by 3,072 pixel bytes, the red, green and blue 32 × 32 planes in turn, each row-major. The real
 * set ships five training batches `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin` of 10,000 records each
 * (30,730,000 bytes). Pixels are scaled to [0, 1] by /255 (torchvision's ToTensor, no normalisation, as the LE paper).
 * A sample is C × H × W = 3 × 32 × 32, the file's own layout.
 */

export const CIFAR10_RECORD = 3073;
export const CIFAR10_PIXELS = 3072;
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export interface Cifar10Split {
  /** n × 3072 pixel bytes (C × H × W per sample), kept as bytes (the full set is 150 MB so, 600 MB as floats) */
  x: Uint8Array;
  /** 1/255: the input value is x · scale, in [0, 1] */
  scale: number;
  y: Uint8Array;
  n: number;
}

/** Check one batch file's size and labels; returns its record count. Throws one line naming the problem. */
export function checkCifar10Batch(buf: Uint8Array, where: string): number {
  if (buf.length === 0 || buf.length % CIFAR10_RECORD !== 0)
    throw new Error(`${where}: ${buf.length} bytes is not a whole number of ${CIFAR10_RECORD}-byte CIFAR-10 records (label + 3 x 32 x 32 pixels)`);
  const n = buf.length / CIFAR10_RECORD;
  for (let i = 0; i < n; i++) {
    const l = buf[i * CIFAR10_RECORD];
    if (l > 9) throw new Error(`${where}: record ${i} has label ${l}, not 0..9 (not a CIFAR-10 binary batch)`);
  }
  return n;
}

/** One split from one or more batch files (each checked). */
export function cifar10FromBatches(bufs: { buf: Uint8Array; where: string }[]): Cifar10Split {
  const counts = bufs.map((b) => checkCifar10Batch(b.buf, b.where));
  const n = counts.reduce((a, b) => a + b, 0);
  const x = new Uint8Array(n * CIFAR10_PIXELS), y = new Uint8Array(n);
  let k = 0;
  bufs.forEach(({ buf }, f) => {
    for (let i = 0; i < counts[f]; i++, k++) {
      const o = i * CIFAR10_RECORD;
      y[k] = buf[o];
      x.set(buf.subarray(o + 1, o + CIFAR10_RECORD), k * CIFAR10_PIXELS);
    }
  });
  return { x, y, n, scale: 1 / 255 };
}

/** Encode records (labels 0..9, pixels as bytes C × H × W) in the binary batch format (fixtures, synthetic sets). */
export function encodeCifar10(labels: ArrayLike<number>, pixels: Uint8Array): Uint8Array {
  const n = labels.length;
  if (pixels.length !== n * CIFAR10_PIXELS) throw new Error(`encodeCifar10: ${pixels.length} pixel bytes for ${n} records`);
  const out = new Uint8Array(n * CIFAR10_RECORD);
  for (let i = 0; i < n; i++) {
    out[i * CIFAR10_RECORD] = labels[i];
    out.set(pixels.subarray(i * CIFAR10_PIXELS, (i + 1) * CIFAR10_PIXELS), i * CIFAR10_RECORD + 1);
  }
  return out;
}
