import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/util/rng.js';
import { createBaseline, crossEntropy, Adam, type BaselineKind } from '../src/baselines/models.js';
import { runExperiment } from '../src/experiments/runner.js';
import { jsGemm, type Gemm } from '../src/baselines/layers.js';
import { nativeGemm } from '../src/baselines/native-gemm.js';
import { createNodeBackend } from '../src/node.js';

const nativeBuilt = existsSync(fileURLToPath(new URL('../native/build/Release/gle_native.node', import.meta.url)));

/** Analytic gradients of the mean CE against central finite differences, in float64, for every parameter entry. */
function checkGradients(kind: BaselineKind, L: number, hidden: number, channels: number, B: number, seed: number, gemm: Gemm | null = null) {
  const rng = new Rng(seed);
  const model = createBaseline(kind, { L, nClasses: 4, hidden, channels, maxB: B, dtype: 'float64', gemm }, rng);
  const x = new Float64Array(B * L);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = Uint8Array.from({ length: B }, (_, i) => i % 4);
  const d = new Float64Array(B * 4);
  const loss = () => crossEntropy(model.forward(x, B), y, 0, B, 4, null).loss;
  crossEntropy(model.forward(x, B), y, 0, B, 4, d);
  model.backward(d, B);
  let checked = 0, worst = 0;
  for (const p of model.params()) {
    const g = Float64Array.from(p.grad);
    for (let i = 0; i < p.value.length; i++) {
      const v = p.value[i], h = 1e-6;
      p.value[i] = v + h;
      const lp = loss();
      p.value[i] = v - h;
      const lm = loss();
      p.value[i] = v;
      const fd = (lp - lm) / (2 * h);
      const err = Math.abs(fd - g[i]) / Math.max(1e-4, Math.abs(fd) + Math.abs(g[i]));
      worst = Math.max(worst, err);
      assert.ok(err < 1e-5, `${kind} ${p.name}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
      checked++;
    }
  }
  return { checked, worst };
}

test('baselines: GRU (both directions, all 4 tensors each) backward matches finite differences', () => {
  const r = checkGradients('gru', 9, 4, 0, 3, 11);
  assert.equal(r.checked, 2 * (3 * 4 * 1 + 3 * 4 * 4 + 2 * 3 * 4) + (2 * 4 * 9) * 4 + 4);
});

test('baselines: MLP (with its residual) and ConvBase backward match finite differences', () => {
  checkGradients('mlp', 10, 7, 0, 3, 5);
  // L = 23: conv lengths 11, 6, 3 — padding touches both ends, and the strides skip positions
  checkGradients('tcn', 23, 0, 3, 2, 6);
});

test('baselines: the im2col + matrix-product path (conv1d, dense) matches finite differences too', () => {
  checkGradients('mlp', 10, 7, 0, 3, 5, jsGemm);
  checkGradients('tcn', 23, 0, 3, 2, 6, jsGemm);
  // the GRU's output layer
  checkGradients('gru', 7, 3, 0, 2, 8, jsGemm);
});

test('baselines: ConvBase on the native sgemm gives the loops\' logits and gradients (float32)', { skip: nativeBuilt ? false : 'native addon not built' }, async () => {
  const gemm = nativeGemm(await createNodeBackend('native', 'float32', () => {}));
  assert.ok(gemm, 'the native backend gives a gemm');
  assert.equal(nativeGemm(await createNodeBackend('js', 'float32', () => {})), null, 'js: the loops');
  const B = 37, L = 40, maxB = 50;
  const make = (g: Gemm | null) => createBaseline('tcn', { L, nClasses: 10, hidden: 0, channels: 16, maxB, dtype: 'float32', gemm: g }, new Rng(4));
  const a = make(null), b = make(gemm);
  const rng = new Rng(9);
  const x = Float32Array.from({ length: maxB * L }, () => rng.normal());
  const y = Uint8Array.from({ length: B }, (_, i) => (i * 7) % 10);
  const grads = (m: ReturnType<typeof make>) => {
    const d = new Float32Array(B * 10);
    const logits = Float32Array.from(m.forward(x, B).subarray(0, B * 10));
    crossEntropy(logits, y, 0, B, 10, d);
    m.backward(d, B);
    return { logits, g: m.params().map((p) => Float32Array.from(p.grad)) };
  };
  const ra = grads(a), rb = grads(b);
  const close = (u: Float32Array, v: Float32Array, what: string) => {
    let scale = 0;
    for (const t of u) scale = Math.max(scale, Math.abs(t));
    assert.ok(scale > 0, `${what} is not all zero`);
    for (let i = 0; i < u.length; i++) assert.ok(Math.abs(u[i] - v[i]) <= 1e-5 * scale + 1e-7, `${what}[${i}]: loops ${u[i]} vs sgemm ${v[i]}`);
  };
  close(ra.logits, rb.logits, 'logits');
  a.params().forEach((p, i) => close(ra.g[i], rb.g[i], p.name));
});

test('baselines: stock shapes have the stock parameter counts', () => {
  const count = (k: BaselineKind, hidden: number) =>
    createBaseline(k, { L: 40, nClasses: 10, hidden, channels: 25, maxB: 1, dtype: 'float32' }, new Rng(0))
      .params()
      .reduce((s, p) => s + p.value.length, 0);
  assert.equal(count('mlp', 100), 15210);
  assert.equal(count('tcn', 0), 5210);
  assert.equal(count('gru', 6), 5134);
});

test('baselines: Adam matches the closed form of its first step (lr per coordinate, sign of the gradient)', () => {
  const p = { name: 'w', value: new Float64Array([1, -2, 0.5]), grad: new Float64Array([0.3, -4, 0]) };
  const opt = new Adam([p], 0.1);
  opt.step();
  // first step: m̂ = g, v̂ = g², so Δ = -lr · g / (|g| + eps)
  assert.ok(Math.abs(p.value[0] - 0.9) < 1e-6 && Math.abs(p.value[1] - -1.9) < 1e-6 && p.value[2] === 0.5);
});

test('baselines: a short MLP run learns MNIST-1D above chance and resumes to the same result', async () => {
  const out = mkdtempSync(join(tmpdir(), 'gle-bl-'));
  const set = ['model="mlp"', 'totalSteps=300', 'evalEvery=100'];
  const full = await runExperiment({ experiment: 'mnist1d-baseline', seed: 3, out, set, progress: 'off' });
  assert.ok(full.final.test_acc > 0.35, `test acc ${full.final.test_acc}`);
  // a run stopped after its first evaluation and resumed ends exactly where the uninterrupted one did
  const out2 = mkdtempSync(join(tmpdir(), 'gle-bl-'));
  await runExperiment({ experiment: 'mnist1d-baseline', seed: 3, out: out2, set: ['model="mlp"', 'totalSteps=100', 'evalEvery=100'], progress: 'off' });
  // as a run directory written before `validation` existed: it resumes with the stock value (no held-out samples)
  const cfgPath = join(out2, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  delete cfg.params.validation;
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const res = await runExperiment({ experiment: '', resume: out2, set: ['totalSteps=300'], progress: 'off' });
  assert.equal(res.final.test_acc, full.final.test_acc);
  assert.deepEqual(readFileSync(join(out2, 'checkpoint', 'state.bin')), readFileSync(join(out, 'checkpoint', 'state.bin')));
});

test('baselines: validation=N holds out the last N training samples and scores them at every evaluation', async () => {
  const out = mkdtempSync(join(tmpdir(), 'gle-bl-'));
  const res = await runExperiment({ experiment: 'mnist1d-baseline', seed: 3, out, set: ['model="mlp"', 'totalSteps=300', 'evalEvery=100', 'validation=500'], progress: 'off' });
  const evals = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'eval');
  const val = evals.filter((r) => r.split === 'val'), test_ = evals.filter((r) => r.split === 'test');
  assert.equal(val.length, 4);
  assert.deepEqual(val.map((r) => r.step), test_.map((r) => r.step));
  assert.ok(res.final.val_acc > 0.35 && res.final.test_acc > 0.35, `val ${res.final.val_acc} test ${res.final.test_acc}`);
  assert.equal(res.final.val_acc, val[val.length - 1].acc);
  // an epoch is now 3,500 samples: step 100's record says so
  assert.ok(Math.abs(val[1].epoch - (101 * 100) / 3500) < 1e-12, `epoch ${val[1].epoch}`);
  await assert.rejects(
    runExperiment({ experiment: 'mnist1d-baseline', seed: 3, out: mkdtempSync(join(tmpdir(), 'gle-bl-')), set: ['validation=4000'], progress: 'off' }),
    /validation must be an integer from 0 to 3999/,
  );
});
