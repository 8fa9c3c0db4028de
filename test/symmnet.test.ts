/**
 * The SymmNet layers (src/baselines/layers.ts: Conv2d, BatchNorm, MaxPool2d, feedback in Dense and Conv2d, the gemm
 * hook; src/baselines/symmnet.ts; Sgd) against finite differences in float64, and the sal-symmnet experiment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchNorm, Conv2d, Dense, jsGemm, MaxPool2d, type Arr } from '../src/baselines/layers.js';
import { SymmNet, type FeedbackMode } from '../src/baselines/symmnet.js';
import { crossEntropy, Sgd } from '../src/baselines/models.js';
import { Rng } from '../src/util/rng.js';
import { runExperiment } from '../src/experiments/runner.js';
import { readMetrics } from '../src/report/metrics.js';
import { findExperiment } from '../src/experiments/registry.js';

const randArr = (n: number, r: Rng, s = 1) => Float64Array.from({ length: n }, () => s * r.normal());
const dot = (a: ArrayLike<number>, b: ArrayLike<number>, n: number) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * b[i];
  return s;
};

/** central difference of f with respect to v[i], compared with the analytic g[i] at a few indices */
function checkFd(name: string, v: Arr, g: ArrayLike<number>, f: () => number, idx: number[], tol = 1e-6): void {
  for (const i of idx) {
    const h = 1e-5, o = v[i];
    v[i] = o + h;
    const fp = f();
    v[i] = o - h;
    const fm = f();
    v[i] = o;
    const fd = (fp - fm) / (2 * h);
    assert.ok(Math.abs(fd - g[i]) <= tol * Math.max(1, Math.abs(fd)), `${name}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
  }
}
const some = (n: number, r: Rng, k = 12) => Array.from({ length: k }, () => r.int(n));

test('jsGemm: all four transpose cases and beta against a plain triple loop', () => {
  const r = new Rng(1);
  const M = 5, N = 4, K = 3;
  for (const tA of [false, true])
    for (const tB of [false, true])
      for (const beta of [0, 1] as const) {
        const A = randArr(M * K, r), B = randArr(K * N, r), C0 = randArr(M * N, r), C = Float64Array.from(C0);
        jsGemm(tA, tB, M, N, K, A, B, beta, C);
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let s = beta * C0[i * N + j];
            for (let k = 0; k < K; k++) s += (tA ? A[k * M + i] : A[i * K + k]) * (tB ? B[j * K + k] : B[k * N + j]);
            assert.ok(Math.abs(s - C[i * N + j]) < 1e-12, `tA ${tA} tB ${tB} beta ${beta}`);
          }
      }
});

test('Conv2d: weight, bias and input gradients match finite differences; feedback replaces W in dx only', () => {
  const r = new Rng(2);
  const B = 2, cIn = 2, cOut = 3, K = 3, H = 6, W = 5;
  const conv = new Conv2d('c', cIn, cOut, K, H, W, B, 'float64', r, true);
  assert.equal(conv.hOut, 4);
  assert.equal(conv.wOut, 3);
  const x = randArr(B * cIn * H * W, r), R = randArr(B * cOut * conv.hOut * conv.wOut, r);
  const nY = R.length;
  const loss = () => dot(conv.forward(x, B), R, nY);
  // direct convolution as the oracle of the forward pass
  const y = conv.forward(x, B);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < cOut; o++)
      for (let i = 0; i < conv.hOut; i++)
        for (let j = 0; j < conv.wOut; j++) {
          let s = conv.b!.value[o];
          for (let c = 0; c < cIn; c++) for (let ki = 0; ki < K; ki++) for (let kj = 0; kj < K; kj++) s += conv.W.value[((o * cIn + c) * K + ki) * K + kj] * x[((b * cIn + c) * H + i + ki) * W + j + kj];
          assert.ok(Math.abs(s - y[((b * cOut + o) * conv.hOut + i) * conv.wOut + j]) < 1e-12);
        }
  const dx = new Float64Array(x.length);
  conv.backward(R, dx, B);
  const gW = Float64Array.from(conv.W.grad), gb = Float64Array.from(conv.b!.grad);
  checkFd('dW', conv.W.value, gW, loss, some(gW.length, r));
  checkFd('db', conv.b!.value, gb, loss, [0, 1, 2]);
  checkFd('dx', x, dx, loss, some(x.length, r));
  // feedback = W gives the same dx; feedback = 2W twice it; the weight gradient never changes
  conv.forward(x, B);
  conv.feedback = Float64Array.from(conv.W.value);
  const dx1 = new Float64Array(x.length);
  conv.backward(R, dx1, B);
  assert.deepEqual(Array.from(dx1).map((v) => v.toFixed(10)), Array.from(dx).map((v) => v.toFixed(10)));
  conv.feedback = conv.W.value.map((v) => 2 * v) as Float64Array;
  conv.backward(R, dx1, B);
  for (let i = 0; i < dx.length; i++) assert.ok(Math.abs(dx1[i] - 2 * dx[i]) < 1e-10);
  for (let i = 0; i < gW.length; i++) assert.ok(Math.abs(conv.W.grad[i] - gW[i]) < 1e-12);
});

test('BatchNorm (1d and 2d, training mode): gradients match finite differences; eval mode uses the running statistics', () => {
  const r = new Rng(3);
  for (const [C, inner, B] of [[4, 1, 5], [3, 6, 2]]) {
    const bn = new BatchNorm('bn', C, inner, B, 'float64');
    for (let c = 0; c < C; c++) (bn.gamma.value[c] = 1 + 0.3 * r.normal()), (bn.beta.value[c] = 0.2 * r.normal());
    const x = randArr(B * C * inner, r, 2), R = randArr(B * C * inner, r);
    const loss = () => dot(bn.forward(x, B), R, R.length);
    const y = bn.forward(x, B);
    // per channel: mean beta, std gamma (biased variance)
    for (let c = 0; c < C; c++) {
      let s = 0, s2 = 0;
      for (let b = 0; b < B; b++) for (let k = 0; k < inner; k++) (s += y[(b * C + c) * inner + k]), (s2 += y[(b * C + c) * inner + k] ** 2);
      const n = B * inner, m = s / n;
      assert.ok(Math.abs(m - bn.beta.value[c]) < 1e-9);
      assert.ok(Math.abs(Math.sqrt(s2 / n - m * m) - Math.abs(bn.gamma.value[c])) < 1e-3);
    }
    const dx = new Float64Array(x.length);
    bn.backward(R, dx, B);
    const gg = Float64Array.from(bn.gamma.grad), gb = Float64Array.from(bn.beta.grad);
    checkFd(`dx (C ${C}, inner ${inner})`, x, dx, loss, some(x.length, r));
    checkFd('dgamma', bn.gamma.value, gg, loss, [0, 1, 2]);
    checkFd('dbeta', bn.beta.value, gb, loss, [0, 1, 2]);
    bn.training = false;
    bn.runMean.fill(0.5);
    bn.runVar.fill(4);
    const ye = bn.forward(x, B);
    assert.ok(Math.abs(ye[0] - (bn.gamma.value[0] * (x[0] - 0.5)) / Math.sqrt(4 + 1e-5) - bn.beta.value[0]) < 1e-12);
  }
});

test('MaxPool2d routes the gradient to the maximum of each 2 x 2 window', () => {
  const r = new Rng(4);
  const B = 2, C = 3, H = 6, W = 4;
  const mp = new MaxPool2d(C, H, W, B, 'float64');
  const x = randArr(B * C * H * W, r), R = randArr(B * C * 3 * 2, r);
  const y = mp.forward(x, B);
  assert.equal(y[0], Math.max(x[0], x[1], x[W], x[W + 1]));
  const dx = new Float64Array(x.length);
  mp.backward(R, dx, B);
  checkFd('dx', x, dx, () => dot(mp.forward(x, B), R, R.length), Array.from({ length: x.length }, (_, i) => i));
});

test('Dense: the gemm path equals the plain loops; feedback B gives dx = dy Bᵀ, and B = Wᵀ is backprop', () => {
  const r = new Rng(5);
  const B = 3, nIn = 7, nOut = 4;
  const a = new Dense('a', nIn, nOut, B, 'float64', new Rng(9)), g = new Dense('g', nIn, nOut, B, 'float64', new Rng(9));
  g.gemm = jsGemm;
  const x = randArr(B * nIn, r), dy = randArr(B * nOut, r);
  const ya = Float64Array.from(a.forward(x, B)), yg = g.forward(x, B);
  for (let i = 0; i < ya.length; i++) assert.ok(Math.abs(ya[i] - yg[i]) < 1e-12);
  const dxa = new Float64Array(B * nIn), dxg = new Float64Array(B * nIn);
  a.backward(dy, dxa, B);
  g.backward(dy, dxg, B);
  for (let i = 0; i < dxa.length; i++) assert.ok(Math.abs(dxa[i] - dxg[i]) < 1e-12);
  for (let i = 0; i < a.W.grad.length; i++) assert.ok(Math.abs(a.W.grad[i] - g.W.grad[i]) < 1e-12);
  for (let i = 0; i < a.b.grad.length; i++) assert.ok(Math.abs(a.b.grad[i] - g.b.grad[i]) < 1e-12);
  for (const d of [a, g]) {
    const Bt = new Float64Array(nIn * nOut);
    for (let o = 0; o < nOut; o++) for (let j = 0; j < nIn; j++) Bt[j * nOut + o] = d.W.value[o * nIn + j];
    d.feedback = Bt;
    const dx = new Float64Array(B * nIn);
    d.backward(dy, dx, B);
    for (let i = 0; i < dx.length; i++) assert.ok(Math.abs(dx[i] - dxa[i]) < 1e-12, 'B = Wᵀ is backprop');
    const F = randArr(nIn * nOut, r);
    d.feedback = F;
    d.backward(dy, dx, B);
    for (let i = 0; i < B; i++)
      for (let j = 0; j < nIn; j++) {
        let s = 0;
        for (let o = 0; o < nOut; o++) s += dy[i * nOut + o] * F[j * nOut + o];
        assert.ok(Math.abs(dx[i * nIn + j] - s) < 1e-12);
      }
  }
});

const tiny = { channels: 1, size: 14, convChannels: 3, fc: [5, 4, 3] as [number, number, number], kernel: 3, maxB: 4, dtype: 'float64' as const };

test('SymmNet (bp): every parameter gradient of the cross-entropy matches finite differences', () => {
  const r = new Rng(6);
  const net = new SymmNet(tiny, 'bp', new Rng(7));
  assert.equal(net.flat, 3 * 2 * 2);
  const B = 4, x = Float64Array.from({ length: B * 196 }, () => r.uniform()), y = [0, 2, 1, 2];
  const d = new Float64Array(B * 3);
  const loss = () => crossEntropy(net.forward(x, B), y, 0, B, 3, null).loss;
  crossEntropy(net.forward(x, B), y, 0, B, 3, d);
  net.backward(d, B);
  const ps = net.params();
  assert.equal(ps.length, 2 + 2 * 2 + 3 * 2 + 2 * 2); // conv weights, conv BN, FC weights and biases, FC BN
  for (const p of ps) checkFd(p.name, p.value, Float64Array.from(p.grad), loss, some(p.value.length, r, 4), 1e-5);
});

test('SymmNet feedback modes: fa changes the FC and conv errors, bp_w_fa only the conv ones, the output layer gradient never', () => {
  const r = new Rng(8);
  const B = 4, x = Float64Array.from({ length: B * 196 }, () => r.uniform()), y = [0, 1, 2, 0];
  const grads: Record<string, Float64Array[]> = {};
  for (const mode of ['bp', 'fa', 'bp_w_fa', 'sal'] as FeedbackMode[]) {
    const net = new SymmNet(tiny, mode, new Rng(7));
    assert.equal(net.fc[0].feedback === null, mode === 'bp' || mode === 'bp_w_fa', mode);
    assert.equal(net.conv[0].feedback === null, mode === 'bp', mode);
    const d = new Float64Array(B * 3);
    crossEntropy(net.forward(x, B), y, 0, B, 3, d);
    net.backward(d, B);
    grads[mode] = net.params().map((p) => Float64Array.from(p.grad));
  }
  const same = (a: Float64Array, b: Float64Array) => a.every((v, i) => Math.abs(v - b[i]) < 1e-12);
  const last = grads.bp.length - 1; // fc3.bias; fc3.weight before it
  for (const m of ['fa', 'bp_w_fa', 'sal']) assert.ok(same(grads[m][last - 1], grads.bp[last - 1]), `${m}: fc3 weight gradient`);
  const fc1w = 6; // conv1.weight, bn1 (2), conv2.weight, bn2 (2), fc1.weight
  assert.ok(!same(grads.fa[fc1w], grads.bp[fc1w]), 'fa: fc1 weight gradient differs');
  assert.ok(same(grads.bp_w_fa[fc1w], grads.bp[fc1w]), 'bp_w_fa: fc1 weight gradient as bp');
  assert.ok(!same(grads.bp_w_fa[0], grads.bp[0]), 'bp_w_fa: conv1 weight gradient differs');
});

test('Sgd with momentum follows torch.optim.SGD', () => {
  const p = { name: 'p', value: Float64Array.of(1, -2), grad: Float64Array.of(0.5, 1) };
  const o = new Sgd([p], 0.1, 0.9);
  o.step(); // buf = g
  assert.deepEqual(Array.from(p.value).map((v) => +v.toFixed(12)), [0.95, -2.1]);
  o.step(); // buf = 0.9 g + g
  assert.deepEqual(Array.from(p.value).map((v) => +v.toFixed(12)), [0.855, -2.29]);
});

test('sal-symmnet: runs the modes, B = Wᵀ in bp, random B near 90°, the SAL phase turns the FC feedback toward W', async () => {
  assert.equal(findExperiment('sal-symmnet')?.task, 'spiking');
  const out = mkdtempSync(join(tmpdir(), 'gle-symmnet-'));
  const r = await runExperiment({
    experiment: 'sal-symmnet', out, progress: 'off',
    set: ['modes=["bp","sal"]', 'epochs=1', 'trainSamples=256', 'testSamples=128', 'salSteps=400', 'salRepeats=1', 'salBatch=4', 'salScale=2.5', 'salLr=1'],
  });
  const ev = readMetrics(r.dir).filter((m) => m.kind === 'eval');
  assert.equal(ev.length, 2 * 2);
  for (const m of ev.filter((e) => e.mode === 'bp')) assert.ok((m.fc1_angle as number) < 1e-3 && m.fc2_sign_agree === 1);
  const sal = ev.filter((e) => e.mode === 'sal');
  // before the first SAL phase B is FA's random start
  for (const l of [1, 2, 3]) assert.ok(Math.abs((sal[0][`fc${l}_angle`] as number) - 90) < 5, `random B: fc${l}`);
  // seeded, so deterministic: 90.1 / 89.8 / 90.8 -> 85.6 / 84.3 / 84.4 degrees; the angle of an unrelated B scatters by
  // ~0.1 / 0.2 / 1.3 degrees (1 / sqrt(entries) in correlation) around 90
  for (const l of [1, 2, 3]) assert.ok((sal[1][`fc${l}_angle`] as number) < (sal[0][`fc${l}_angle`] as number) - 2.5, `sal fc${l}: ${sal[0][`fc${l}_angle`]} -> ${sal[1][`fc${l}_angle`]}`);
  for (const m of ['bp', 'sal']) assert.ok(r.final[`acc_${m}`] >= 0 && r.final[`acc_${m}`] <= 1, m);
  // the phase's diagnostics: rates under the 1/τ_ref ceiling, and a step toward s·Wᵀ
  const ph = readMetrics(r.dir).filter((m) => m.kind === 'sal');
  assert.equal(ph.length, 1);
  for (const l of [0, 1, 2, 3]) {
    const rate = ph[0][`l${l}_rate`] as number, sil = ph[0][`l${l}_silent`] as number, sat = ph[0][`l${l}_saturated`] as number;
    assert.ok(rate > 0 && rate <= 0.1, `l${l} rate ${rate}`);
    assert.ok(sil >= 0 && sat >= 0 && sil + sat <= 1, `l${l} silent ${sil} saturated ${sat}`);
  }
  for (const l of [1, 2, 3]) {
    const c = ph[0][`fc${l}_drift_cos`] as number, q = ph[0][`fc${l}_step_ratio`] as number;
    assert.ok(c > 0.02 && c <= 1, `fc${l} drift cos ${c}`);
    assert.ok(q > 0 && Number.isFinite(q), `fc${l} step ratio ${q}`);
    assert.ok((ph[0][`fc${l}_w_rms`] as number) > 0);
  }
});
