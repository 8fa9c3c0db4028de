import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseIdx, EMBEDDED_SPLIT_SEED } from '../src/data/mnist.js';
import { loadEmbeddedMnist, loadMnist, loadMnistIdx } from '../src/data/mnist-files.js';

function idx(dims: number[], values: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length + values.length);
  b[2] = 0x08;
  b[3] = dims.length;
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  values.forEach((v, i) => (b[4 + 4 * dims.length + i] = v));
  return b;
}

test('MNIST IDX files: parsed (plain and .gz), pixels /255, sizes validated with one-line errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-mnist-'));
  const img = (n: number) => idx([n, 28, 28], Array.from({ length: n * 784 }, (_, i) => (i * 7) % 256));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), img(3));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([3], [5, 0, 9]));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(img(2)));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx([2], [1, 2])));
  const d = loadMnist(dir);
  assert.equal(d.train.n, 3);
  assert.equal(d.test.n, 2);
  assert.deepEqual(Array.from(d.train.y), [5, 0, 9]);
  assert.equal(d.train.x[1], Math.fround(7 / 255));
  assert.equal(d.test.x[783 + 2], Math.fround(((785 * 7) % 256) / 255));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx([3], [1, 2, 3])));
  assert.throws(() => loadMnistIdx(dir), /MNIST test labels: 3 labels for 2 images/);
  assert.throws(() => parseIdx(Buffer.from([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), 'f'), /f: has 2 values, the header says 5 = 5/);
  assert.throws(() => parseIdx(Buffer.from([1, 2, 3, 4]), 'f'), /bad magic number/);
  assert.throws(() => loadMnistIdx(join(dir, 'nope')), /does not exist/);
});

test('the embedded MNIST set: 10,000 real digits of the mnist package, fixed 8,000 / 2,000 split', () => {
  const a = loadEmbeddedMnist();
  assert.equal(a.train.n, 8000);
  assert.equal(a.test.n, 2000);
  assert.match(a.source, new RegExp(`seed ${EMBEDDED_SPLIT_SEED}`));
  for (const s of [a.train, a.test]) {
    const counts = new Array(10).fill(0);
    s.y.forEach((c) => counts[c]++);
    assert.ok(counts.every((c) => c > s.n / 20), `every class present: ${counts}`);
    let lo = Infinity, hi = -Infinity;
    for (const v of s.x) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    assert.ok(lo === 0 && hi <= 1 && hi > 0.99);
  }
  // the split is fixed: the same first labels every time (this list pins it)
  assert.deepEqual(Array.from(a.train.y.slice(0, 10)), [7, 7, 4, 6, 5, 0, 1, 6, 5, 6]);
});
