import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/kernels/js/index.js';
import { LENetwork, type LeSpecInput } from '../src/model/le-network.js';
import { Rng } from '../src/util/rng.js';

// Properties of the LE network beyond the goldens: LE's instantaneous response, learning, and the options of the
// reference's dense copy (noise, synaptic filters, τ mismatch draws, τ adaptation, prosp_rate_errors, FA, Adam).

const mlp = (over: Partial<LeSpecInput> = {}): LeSpecInput => ({
  model: 'le', input_shape: [4], dt: 0.1, tau: 10, beta: 0.1, learning_rate: 0.125, lr_multiplier: 16, n_updates: 20, seed: 3,
  init_std: 0.5,
  layers: [{ type: 'dense', size: 6, phi: 'sigmoid' }, { type: 'dense', size: 3, phi: 'linear', lr_factor: 0.5 }],
  ...over,
});

/** the instantaneous feed-forward function of the net's current parameters (float64) */
function feedForward(net: LENetwork, x: number[], B: number): number[] {
  let r = x.slice();
  for (const st of net.stages) {
    if (st.kind !== 'neurons') throw new Error('dense only');
    const W = st.proj.W!.a, b = st.proj.b!.a, nIn = st.nIn, n = st.n;
    const out: number[] = [];
    for (let row = 0; row < B; row++)
      for (let o = 0; o < n; o++) {
        let a = b[o];
        for (let i = 0; i < nIn; i++) a += W[o * nIn + i] * r[row * nIn + i];
        out.push(st.spec.type === 'dense' && st.spec.phi === 'sigmoid' ? 1 / (1 + Math.exp(-a)) : a);
      }
    r = out;
  }
  return r;
}

const input = (B: number, n: number, seed: number) => {
  const g = new Rng(seed);
  return Array.from({ length: B * n }, () => g.uniform());
};

test('LE responds instantly despite slow membranes (τ = τ_m = 10, dt = 0.1): full forward pass at once, vanilla after one dt per stage', () => {
  const B = 2, x = input(B, 4, 1), x2 = input(B, 4, 2);
  for (const variant of ['full_forward_pass', 'vanilla'] as const) {
    const net = new LENetwork(new JsBackend('float64'), mlp({ variant }), B);
    const lag = variant === 'vanilla' ? 1 : 0;
    for (let i = 0; i <= lag; i++) net.step(x, null);
    const want = feedForward(net, x, B);
    Array.from(net.output().a).forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-12, `${variant}: ${v} vs ${want[i]}`));
    // a new input: the output follows as fast (the membranes have moved ~1 % of the way)
    for (let i = 0; i <= lag; i++) net.step(x2, null);
    const want2 = feedForward(net, x2, B);
    Array.from(net.output().a).forEach((v, i) => assert.ok(Math.abs(v - want2[i]) < 1e-12));
  }
  // without prospective coding (τ = 0: ŭ = u) the output lags far behind
  const slow = new LENetwork(new JsBackend('float64'), mlp({ variant: 'full_forward_pass', tau: 0, tau_m: 10 }), B);
  slow.step(x, null);
  const want = feedForward(slow, x, B);
  assert.ok(Array.from(slow.output().a).some((v, i) => Math.abs(v - want[i]) > 0.05));
});

test('an LE MLP learns a fixed mapping (vanilla, rate target); with feedback alignment B stays fixed and it still learns', () => {
  const B = 8, x = input(B, 4, 5);
  const y = Array.from({ length: B * 3 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0));
  for (const fa of [false, true]) {
    const net = new LENetwork(new JsBackend('float64'), mlp({ feedback_alignment: fa }), B);
    const fb = (net.stages[1].proj as unknown as { FB: { a: Float64Array } | null }).FB;
    const fb0 = fb ? Float64Array.from(fb.a) : null;
    assert.equal(fb !== null, fa);
    const err = () => {
      const r = net.output().a;
      return y.reduce((s, v, i) => s + (v - r[i]) ** 2, 0) / y.length;
    };
    for (let i = 0; i < 3; i++) net.step(x, null);
    const e0 = err();
    for (let i = 0; i < 3000; i++) net.step(x, y);
    net.step(x, null);
    net.step(x, null);
    assert.ok(err() < 0.25 * e0, `fa=${fa}: error ${err()} vs ${e0} before`);
    if (fb0) assert.deepEqual(Array.from(fb!.a), Array.from(fb0));
  }
});

test('LE options: τ mismatch draws, rate noise, forward and backward filters, prosp_rate_errors, Adam', () => {
  const B = 4, x = input(B, 4, 9), y = Array.from({ length: B * 3 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  // mismatch: τ·N(1, w²) and τ_m·N(1, w²) per neuron, independent, clipped to [1, 1000], reproducible by seed
  const mm = new LENetwork(new JsBackend('float64'), mlp({ tau: 2, tau_width: 0.3 }), B);
  const st0 = mm.stages[0];
  assert.ok(st0.kind === 'neurons');
  const tau = Array.from(st0.tau.a), tauM = Array.from(st0.tauM.a);
  assert.ok(tau.every((t) => t >= 1 && t <= 1000) && tauM.every((t) => t >= 1 && t <= 1000));
  assert.ok(new Set(tau).size > 3 && tau.some((t, j) => t !== tauM[j]));
  const again = new LENetwork(new JsBackend('float64'), mlp({ tau: 2, tau_width: 0.3 }), B);
  assert.deepEqual(Array.from((again.stages[0] as typeof st0).tau.a), tau);

  // rate noise: the rate sent forward is r + N(0, σ²); the recorded r is not noised
  const sd = 0.2;
  const noisy = new LENetwork(new JsBackend('float64'), mlp({ noise_width: sd, layers: [{ type: 'dense', size: 400, phi: 'sigmoid' }, { type: 'dense', size: 3 }] }), B);
  noisy.step(x, null);
  const s0 = noisy.stages[0];
  const d = Array.from(s0.out[0].a).map((v, i) => v - s0.r[0].a[i]);
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  const std = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length);
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(std - sd) < 0.03, `noise mean ${mean}, std ${std}`);

  // forward filter: r̄ ← r̄ + (dt/τ_s)(r − r̄) from r̄ = 0
  const filt = new LENetwork(new JsBackend('float64'), mlp({ forward_filter: true, tau_s: 0.5 }), B);
  filt.step(x, null);
  const f0 = filt.stages[0];
  Array.from(f0.out[0].a).forEach((v, i) => assert.ok(Math.abs(v - 0.2 * f0.r[0].a[i]) < 1e-15));
  filt.step(x, null);
  Array.from(f0.out[1].a).forEach((v, i) => assert.ok(Math.abs(v - (0.2 * f0.r[0].a[i] + 0.2 * (f0.r[1].a[i] - 0.2 * f0.r[0].a[i]))) < 1e-15));

  // backward filter: the own error of a hidden stage is the low-passed error sent down
  const plain = new LENetwork(new JsBackend('float64'), mlp(), B);
  const bf = new LENetwork(new JsBackend('float64'), mlp({ backward_filter: true, tau_s: 0.4 }), B);
  for (let i = 0; i < 3; i++) {
    plain.step(x, y, { learn: false });
    bf.step(x, y, { learn: false });
  }
  const eSent = bf.stages[1].eBottom.a, eOwn = (bf.stages[0] as typeof st0).e.a;
  assert.ok(eSent.some((v) => v !== 0));
  // first non-zero error arrives at step 2 (top error at 1, sent down at 2): own = 0.25 · sent
  Array.from(eOwn).forEach((v, i) => assert.ok(Math.abs(v - 0.25 * eSent[i]) < 1e-15));
  Array.from((plain.stages[0] as typeof st0).e.a).forEach((v, i) => assert.ok(Math.abs(v - plain.stages[1].eBottom.a[i]) === 0));

  // prosp_rate_errors: the error sent down uses ŭ − a instead of ŭᵐ − a (differs when τ ≠ τ_m)
  const pre = new LENetwork(new JsBackend('float64'), mlp({ tau: 5, tau_m: 10, prosp_rate_errors: true }), B);
  for (let i = 0; i < 4; i++) pre.step(x, y);
  const p1 = pre.stages[1] as typeof st0;
  Array.from(p1.diff.a).forEach((v, i) => assert.equal(v, p1.prospU.a[i] - p1.drive.a[i]));
  assert.ok(Array.from(p1.prospU.a).some((v, i) => v !== p1.prospUm.a[i]));

  // Adam option: parameters move by about lr per step
  const ad = new LENetwork(new JsBackend('float64'), mlp({ optimizer: 'adam', adam_lr: 1e-3 }), B);
  for (let i = 0; i < 3; i++) ad.step(x, y);
  const W0 = Float64Array.from(ad.stages[1].proj.W!.a);
  ad.step(x, y);
  const moved = Array.from(ad.stages[1].proj.W!.a).map((v, i) => Math.abs(v - W0[i]));
  assert.ok(Math.max(...moved) > 5e-4 && Math.max(...moved) < 1.1e-3, `adam step ${Math.max(...moved)}`);
});

test('τ adaptation (nudging off) drives a mismatched τ_m towards τ', () => {
  const B = 16;
  const net = new LENetwork(new JsBackend('float64'), mlp({ tau: 2, tau_m: 3, dt: 0.1, lr_multiplier: 1, adapt_tau_factor: 10 }), B);
  const gap = () => {
    const st = net.stages[0] as Extract<LENetwork['stages'][number], { kind: 'neurons' }>;
    return Array.from(st.tauM.a).reduce((s, t, j) => s + Math.abs(t - st.tau.a[j]), 0) / st.n;
  };
  const g0 = gap();
  assert.ok(Math.abs(g0 - 1) < 1e-12);
  for (let i = 0; i < 4000; i++) net.step(input(B, 4, 100 + Math.floor(i / 20)), null, { adaptTau: true });
  assert.ok(gap() < 0.5 * g0, `mean |τ_m − τ| ${gap()} (was ${g0})`);
});

test('bad LE specs: one message naming the problem', () => {
  const k = new JsBackend('float64');
  assert.throws(() => new LENetwork(k, mlp({ forward_filter: true }), 2), /forward_filter\/backward_filter need tau_s > 0/);
  assert.throws(() => new LENetwork(k, { ...mlp(), layers: [{ type: 'dense', size: 2, tau: [1, 2, 3] }] }, 2), /layers\[0\]\.tau: has 3 entries, expected 2/);
  assert.throws(() => new LENetwork(k, { ...mlp(), input_shape: [1, 6, 6], layers: [{ type: 'conv2d', channels: 2, kernel: 3 }, { type: 'maxpool', kernel: 3 }] }, 2), /top stage must have neurons/);
  assert.throws(() => new LENetwork(k, { ...mlp(), layers: [{ type: 'dense', size: 2, phi: 'nope' }] } as unknown as LeSpecInput, 2), /layers\.0\.phi/);
});
