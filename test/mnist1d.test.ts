import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { defaultMnist1dDir, loadMnist1d, loadXY } from '../src/data/mnist1d-files.js';
import {
  MNIST1D_TEMPLATES,
  gaussianFilter1d,
  generateMnist1d,
  generateMnist1dLengths,
  resampleLinear,
} from '../src/data/mnist1d-gen.js';
import { SequenceBatcher } from '../src/data/stream.js';
import { writeNpyFile, readNpyFile } from '../src/io/files.js';
import { register as registerMnist1d } from '../src/cli/commands/mnist1d.js';
import { Rng } from '../src/util/rng.js';
import { UserError } from '../src/util/errors.js';

const DIR = fileURLToPath(new URL('../data/mnist1d/', import.meta.url));

function throwsUser(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
}

/** Two-sample Kolmogorov–Smirnov statistic: sup |F_a - F_b|. */
function ks(a: Float64Array, b: Float64Array): number {
  const A = a.slice().sort();
  const B = b.slice().sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < A.length && j < B.length) {
    const v = Math.min(A[i], B[j]);
    while (i < A.length && A[i] <= v) i++;
    while (j < B.length && B[j] <= v) j++;
    d = Math.max(d, Math.abs(i / A.length - j / B.length));
  }
  return d;
}

/** Per-sample features: std, max|x|, mean, std of first differences, lag-5 autocorrelation. */
function features(x: Float32Array, L: number): Float64Array[] {
  const n = x.length / L;
  const f = Array.from({ length: 5 }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const s = x.subarray(i * L, (i + 1) * L);
    let m = 0;
    let mx = 0;
    for (const v of s) {
      m += v;
      mx = Math.max(mx, Math.abs(v));
    }
    m /= L;
    let v2 = 0;
    for (const v of s) v2 += (v - m) ** 2;
    let dm = 0;
    for (let t = 1; t < L; t++) dm += s[t] - s[t - 1];
    dm /= L - 1;
    let dv = 0;
    for (let t = 1; t < L; t++) dv += (s[t] - s[t - 1] - dm) ** 2;
    let ac = 0;
    for (let t = 5; t < L; t++) ac += (s[t] - m) * (s[t - 5] - m);
    f[0][i] = Math.sqrt(v2 / L);
    f[1][i] = mx;
    f[2][i] = m;
    f[3][i] = Math.sqrt(dv / (L - 1));
    f[4][i] = ac / v2;
  }
  return f;
}

function meanStd(...xs: Float32Array[]): [number, number] {
  let n = 0;
  let s = 0;
  let s2 = 0;
  for (const x of xs) for (const v of x) (n++, (s += v), (s2 += v * v));
  const m = s / n;
  return [m, Math.sqrt(s2 / n - m * m)];
}

test('shipped MNIST-1D files: checksums, shapes, dtypes, labels', () => {
  const sums = readFileSync(join(DIR, 'SHA256SUMS'), 'utf8').trim().split('\n');
  assert.equal(sums.length, 7);
  for (const line of sums) {
    const [hash, name] = line.split(/\s+/);
    assert.equal(createHash('sha256').update(readFileSync(join(DIR, name))).digest('hex'), hash, name);
  }
  assert.equal(defaultMnist1dDir().replace(/[\\/]$/, ''), DIR.replace(/[\\/]$/, ''));
  const d40 = loadMnist1d({ length: 40 });
  const d360 = loadMnist1d({ length: 360 });
  for (const [d, L] of [[d40, 40], [d360, 360]] as const) {
    assert.equal(d.length, L);
    assert.equal(d.nTrain, 4000);
    assert.equal(d.nTest, 1000);
    assert.ok(d.xTrain instanceof Float32Array && d.xTrain.length === 4000 * L);
    assert.ok(d.xTest instanceof Float32Array && d.xTest.length === 1000 * L);
    assert.ok(d.yTrain instanceof Uint8Array && d.yTest instanceof Uint8Array);
    const [m, s] = meanStd(d.xTrain, d.xTest);
    assert.ok(Math.abs(m) < 1e-3 && Math.abs(s - 1) < 1e-3, `mean ${m} std ${s}`);
  }
  assert.deepEqual(d40.yTrain, d360.yTrain);
  const counts = new Array(10).fill(0);
  for (const y of [d40.yTrain, d40.yTest]) for (const c of y) counts[c]++;
  assert.deepEqual(counts, new Array(10).fill(500));
  const t = readNpyFile(join(DIR, 'mnist1d_templates_x.npy'));
  assert.equal(t.dtype, 'float64');
  assert.deepEqual(t.shape, [10, 12]);
  assert.deepEqual(Array.from(t.data as Float64Array), MNIST1D_TEMPLATES.flat());
  throwsUser(() => loadMnist1d({ length: 41 as 40 }), /length must be 40 or 360/);
});

test('loadXY validates arbitrary MNIST-1D-format files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-m1d-'));
  try {
    const p = (n: string) => join(dir, n);
    writeNpyFile(p('x.npy'), { dtype: 'float64', shape: [3, 4], data: Float64Array.from({ length: 12 }, (_, i) => i / 2) });
    writeNpyFile(p('y64.npy'), { dtype: 'int64', shape: [3], data: BigInt64Array.from([0n, 9n, 4n]) });
    const r = loadXY(p('x.npy'), p('y64.npy'));
    assert.equal(r.n, 3);
    assert.equal(r.length, 4);
    assert.ok(r.x instanceof Float32Array);
    assert.equal(r.x[11], 5.5);
    assert.deepEqual(Array.from(r.y), [0, 9, 4]);
    writeNpyFile(p('y2.npy'), { dtype: 'uint8', shape: [2], data: Uint8Array.from([0, 1]) });
    throwsUser(() => loadXY(p('x.npy'), p('y2.npy')), /y2\.npy: 2 labels, but .*x\.npy holds 3 samples/);
    writeNpyFile(p('ybad.npy'), { dtype: 'int32', shape: [3], data: Int32Array.from([0, 10, 1]) });
    throwsUser(() => loadXY(p('x.npy'), p('ybad.npy')), /ybad\.npy: label 10 at index 1 is not in 0\.\.9/);
    writeNpyFile(p('yf.npy'), { dtype: 'float32', shape: [3], data: new Float32Array(3) });
    throwsUser(() => loadXY(p('x.npy'), p('yf.npy')), /labels must have an integer dtype/);
    writeNpyFile(p('x1.npy'), { dtype: 'float32', shape: [12], data: new Float32Array(12) });
    throwsUser(() => loadXY(p('x1.npy'), p('y64.npy')), /x1\.npy: expected a 2-D array/);
    writeNpyFile(p('xnan.npy'), { dtype: 'float32', shape: [3, 4], data: new Float32Array(12).fill(NaN) });
    throwsUser(() => loadXY(p('xnan.npy'), p('y64.npy')), /x value NaN at sample 0, point 0/);
    throwsUser(() => loadMnist1d({ length: 40, dir }), /\.npy file not found: .*mnist1d_40_x_train\.npy/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gaussianFilter1d matches scipy.ndimage.gaussian_filter1d (reflect, truncate 4)', () => {
  // reference values from scipy 1.x
  close(gaussianFilter1d([1, 2, 3, 5, 8], 2), [2.3744080844188122, 2.8903558000172316, 3.7639997550651536, 4.687393263367766, 5.2838430971310375], 1e-12);
  const x = Array.from({ length: 20 }, (_, i) => Math.sin(i * 0.7) + i * 0.1);
  close(gaussianFilter1d(x, 2), [0.5750461554302531, 0.6386910267850812, 0.6952969019200492, 0.6670580268415147, 0.53767172570565, 0.3709991812019441, 0.2733509694103751, 0.33133476209240986, 0.5630852628384222, 0.906310266652673, 1.2465674534595355, 1.4708601141816415, 1.520703294081461, 1.419499662854864, 1.2609467861016714, 1.1629881805646187, 1.207625584183368, 1.394970785782867, 1.6377047417206945, 1.8064448839455371], 1e-12);
  close(gaussianFilter1d(x, 1.5, new Float64Array(20), 3), [0.46943903141792465, 0.6419986646576585, 0.8119068984166375, 0.8052134759177851, 0.5938602835292277, 0.2978004058220062, 0.09760349536057918, 0.13369151119300132, 0.4361232581255846, 0.9096919224926368, 1.3787023242709353, 1.669603105557567, 1.6926106460064387, 1.4839357023848119, 1.1887529238569776, 0.9924899593898535, 1.0312361812477462, 1.3186213925095003, 1.7211651335009253, 2.012709450096834], 1e-12);
  close(resampleLinear([0, 1, 4], new Float64Array(5)), [0, 0.5, 1, 2.5, 4], 1e-15);
  close(resampleLinear([0, 3], new Float64Array(4)), [0, 1, 2, 3], 1e-15);
});

test('generator: KS statistics against the shipped 360-point training set, balance, standardisation', (t) => {
  const t0 = performance.now();
  const g = generateMnist1d({ seed: 2024, numSamples: 4000, trainSplit: 1, finalSeqLength: 360 });
  const genMs = performance.now() - t0;
  assert.equal(g.nTrain, 4000);
  assert.equal(g.nTest, 0);
  const counts = new Array(10).fill(0);
  for (const c of g.yTrain) counts[c]++;
  assert.deepEqual(counts, new Array(10).fill(400));
  const [m, s] = meanStd(g.xTrain);
  assert.ok(Math.abs(m) < 1e-6 && Math.abs(s - 1) < 1e-5, `mean ${m} std ${s}`);
  const shipped = loadMnist1d({ length: 360 });
  const fa = features(g.xTrain, 360);
  const fb = features(shipped.xTrain, 360);
  const names = ['std', 'max|x|', 'mean', 'std diff', 'lag-5 autocorr'];
  const stats = fa.map((a, k) => ks(a, fb[k]));
  for (let k = 0; k < 5; k++) assert.ok(stats[k] < 0.05, `KS(${names[k]}) = ${stats[k]}`);
  t.diagnostic(`generator: 4000 x 360 in ${genMs.toFixed(0)} ms; KS ${names.map((n, k) => `${n} ${stats[k].toFixed(4)}`).join(', ')}`);
});

test('generator: determinism, shared draws across lengths, option validation', () => {
  const a = generateMnist1d({ seed: 5, numSamples: 200 });
  const b = generateMnist1d({ seed: 5, numSamples: 200 });
  const c = generateMnist1d({ seed: 6, numSamples: 200 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.xTrain, c.xTrain);
  assert.equal(a.length, 40);
  assert.equal(a.nTrain, 160);
  assert.equal(a.nTest, 40);
  const [l40, l360] = generateMnist1dLengths({ seed: 5, numSamples: 200 }, [40, 360]);
  assert.deepEqual(l40, a);
  assert.deepEqual(l360.yTrain, a.yTrain);
  // both grids start at the same intermediate point: equal up to the per-length standardisation
  assert.ok(Math.abs(l360.xTrain[0] - l40.xTrain[0]) < 0.2);
  throwsUser(() => generateMnist1d({ numSamples: 0 }), /numSamples must be a positive integer/);
  throwsUser(() => generateMnist1d({ padding: [10, 5] }), /padding\[1\] must be an integer >= padding\[0\]/);
  throwsUser(() => generateMnist1d({ templates: [[1, 2]] }), /expected 10 templates/);
  throwsUser(() => generateMnist1d({ iidNoiseScale: -1 }), /iidNoiseScale must be >= 0/);
});

test('SequenceBatcher: order, partial batches, dropLast, fillStep, shuffling determinism', () => {
  const N = 7;
  const L = 3;
  const C = 2;
  // x[i, t, c] = 100 i + 10 t + c
  const x = new Float32Array(N * L * C);
  for (let i = 0; i < N; i++) for (let t = 0; t < L; t++) for (let c = 0; c < C; c++) x[(i * L + t) * C + c] = 100 * i + 10 * t + c;
  const y = Int32Array.from({ length: N }, (_, i) => i % 10);
  const s = new SequenceBatcher({ x, y, steps: L, channels: C, batchSize: 3 });
  assert.equal(s.numBatches, 3);
  assert.equal(s.stepsPerEpoch, 9);
  const out = new Float32Array(3 * C);
  const seen: number[][] = [];
  s.startEpoch();
  while (s.nextBatch()) {
    seen.push(Array.from(s.indices));
    assert.deepEqual(Array.from(s.labels), Array.from(s.indices, (i) => i % 10));
    s.fillStep(2, out);
    for (let b = 0; b < s.batchSize; b++) {
      assert.equal(out[b * C], 100 * s.indices[b] + 20);
      assert.equal(out[b * C + 1], 100 * s.indices[b] + 21);
    }
  }
  assert.deepEqual(seen, [[0, 1, 2], [3, 4, 5], [6]]);
  // the next nextBatch() starts a new epoch by itself
  assert.ok(s.nextBatch());
  assert.deepEqual(Array.from(s.indices), [0, 1, 2]);
  const d = new SequenceBatcher({ x, y, steps: L, channels: C, batchSize: 3, dropLast: true });
  assert.equal(d.numBatches, 2);
  let nb = 0;
  while (d.nextBatch()) nb++;
  assert.equal(nb, 2);
  // one channel
  const x1 = Float64Array.from({ length: N * L }, (_, k) => k);
  const s1 = new SequenceBatcher({ x: x1, y, steps: L, batchSize: 4 });
  s1.nextBatch();
  const o1 = new Float64Array(4);
  s1.fillStep(1, o1);
  assert.deepEqual(Array.from(o1), [1, 4, 7, 10]);
  // shuffling: each epoch a permutation, reproducible from the seed, different between epochs
  const epochs = (seed: number) => {
    const sh = new SequenceBatcher({ x, y, steps: L, channels: C, batchSize: 2, shuffle: true, rng: new Rng(seed) });
    const res: number[][] = [];
    for (let e = 0; e < 3; e++) {
      sh.startEpoch();
      const order: number[] = [];
      while (sh.nextBatch()) order.push(...sh.indices);
      res.push(order);
    }
    return res;
  };
  const e1 = epochs(11);
  assert.deepEqual(e1, epochs(11));
  assert.notDeepEqual(e1, epochs(12));
  for (const o of e1) assert.deepEqual([...o].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6]);
  assert.ok(e1[0].join() !== e1[1].join() || e1[1].join() !== e1[2].join());
  assert.throws(() => new SequenceBatcher({ x, y, steps: 4, channels: C, batchSize: 2 }), /expected 7 x 4 x 2/);
  assert.throws(() => new SequenceBatcher({ x, y, steps: L, channels: C, batchSize: 2, shuffle: true }), /needs an rng/);
});

test('gle mnist1d generate writes a loadable set with the shipped file names', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-m1d-cli-'));
  const run = async (...args: string[]) => {
    const program = new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
    registerMnist1d(program);
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await program.parseAsync(args, { from: 'user' });
    } finally {
      process.stdout.write = orig;
    }
  };
  try {
    await run('mnist1d', 'generate', '--out', dir, '--samples', '100', '--seed', '3', '--iid-noise', '0.05');
    assert.deepEqual(readdirSync(dir).sort(), readdirSync(DIR).filter((f) => f.endsWith('.npy')).sort());
    const d = loadMnist1d({ length: 360, dir });
    assert.equal(d.nTrain, 80);
    assert.equal(d.nTest, 20);
    assert.deepEqual(loadMnist1d({ length: 40, dir }).yTest, d.yTest);
    await assert.rejects(run('mnist1d', 'generate', '--out', dir, '--seed', 'abc'), /--seed must be an integer/);
    await assert.rejects(run('mnist1d', 'generate', '--out', dir, '--padding', '5'), /--padding must be two integers/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
