import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/kernels/js/index.js';
import { GLENetwork } from '../src/model/network.js';
import type { NetworkSpecInput } from '../src/model/spec.js';
import { Learner } from '../src/learn/learner.js';
import { TruncatedBPTT, phiDerivs } from '../src/learn/bptt.js';
import { PHI } from '../src/kernels/types.js';
import { Rng } from '../src/util/rng.js';

interface Case {
  name: string;
  spec: NetworkSpecInput;
  B: number;
  warm: number;
  win: number;
}

/** n time constants drawn from U[0.1, 1.6) (a stream per seed) */
function tauDraws(seed: number): (n: number) => number[] {
  const rng = new Rng(seed);
  return (n) => Array.from({ length: n }, () => 0.1 + rng.uniform() * 1.5);
}

function denseSpec(prospective: boolean, gamma: number, beta: number, seed: number): NetworkSpecInput {
  const taus = tauDraws(seed + 100);
  return {
    input_size: 2,
    dt: 0.1,
    dtype: 'float64',
    backend: 'js',
    seed,
    loss: 'mse',
    beta,
    prospective_errors: prospective,
    layers: [
      { size: 3, phi: 'tanh', bias: true, tau_m: taus(3), tau_r: taus(3), gamma, learn_tau: true },
      { size: 3, phi: 'softplus', bias: true, tau_m: taus(3), tau_r: taus(3), gamma, learn_tau: true },
      { size: 2, phi: 'linear', bias: true, tau_m: taus(2), tau_r: taus(2), gamma, learn_tau: true },
    ],
  };
}

const cases: Case[] = [
  { name: '2-3-3-2 tanh/softplus/linear, prospective errors, gamma 0.5', spec: denseSpec(true, 0.5, 0.5, 1), B: 3, warm: 25, win: 30 },
  { name: '2-3-3-2 tanh/softplus/linear, instantaneous errors, gamma 1', spec: denseSpec(false, 1, 0.3, 2), B: 3, warm: 25, win: 30 },
  {
    // the error path runs through fixed random B matrices (feedback alignment): BPTT differentiates through them
    name: '2-3-3-2 with feedback alignment (fixed B), prospective errors, gamma 0.5',
    spec: (() => {
      const s = denseSpec(true, 0.5, 0.5, 3);
      return { ...s, layers: s.layers.map((l, i) => ({ ...l, feedback: i > 0 ? ('fixed' as const) : ('transpose' as const) })) };
    })(),
    B: 3,
    warm: 25,
    win: 30,
  },
  {
    name: 'LagLine 1-1-1 softplus, instantaneous errors, gamma 1, beta 0.01',
    spec: {
      input_size: 1,
      dt: 0.01,
      dtype: 'float64',
      backend: 'js',
      loss: 'mse',
      beta: 0.01,
      prospective_errors: false,
      layers: [
        { size: 1, phi: 'softplus', bias: false, tau_m: 0.6, tau_r: 0.1, gamma: 1, learn_tau: true, init: { weight: [[0.5]] } },
        { size: 1, phi: 'softplus', bias: false, tau_m: 1.3, tau_r: 0.1, gamma: 1, learn_tau: true, init: { weight: [[0.9]] } },
      ],
    },
    B: 2,
    warm: 50,
    win: 100,
  },
  {
    // conv1d (GLE neurons, one τ per channel) → max pooling (a relay stage) → dense: the conv and pooling VJPs.
    // Where errors act on the dynamics (γ > 0, prospective), the pooled error path makes the loss jump when an argmax
    // flips; a net whose window has no flip within the differences' ±2h is chosen (seed 7; seeds 4 and 6 have one
    // within 2e-4 and agree to 1.5e-8 with h = 1e-5).
    name: '2x6 conv1d(3, k3, pad 1, tanh) → maxpool 2 → dense 2, prospective errors, gamma 0.5',
    spec: ((taus) => {
      return {
        input_size: 12, input_shape: [2, 6], dt: 0.1, dtype: 'float64', backend: 'js', seed: 7, loss: 'mse', beta: 0.5, prospective_errors: true,
        layers: [
          { type: 'conv1d', channels: 3, kernel: 3, padding: 1, phi: 'tanh', tau_m: taus(3), tau_r: taus(3), gamma: 0.5, learn_tau: true },
          { type: 'maxpool', kernel: 2 },
          { type: 'flatten' },
          { size: 2, phi: 'linear', bias: true, tau_m: taus(2), tau_r: taus(2), gamma: 0.5, learn_tau: true },
        ],
      } as NetworkSpecInput;
    })(tauDraws(11)),
    B: 2,
    warm: 25,
    win: 20,
  },
  {
    // conv2d with stride and padding → overlapping max pooling → conv2d → dense; instantaneous errors
    name: '1x5x5 conv2d(2, k3, stride 2, pad 1, softplus) → maxpool 2 stride 1 → conv2d(2, k2) → dense 2, gamma 1',
    spec: ((taus) => {
      return {
        input_size: 25, input_shape: [1, 5, 5], dt: 0.1, dtype: 'float64', backend: 'js', seed: 5, loss: 'mse', beta: 0.3, prospective_errors: false,
        layers: [
          { type: 'conv2d', channels: 2, kernel: 3, stride: 2, padding: 1, phi: 'softplus', tau_m: taus(2), tau_r: taus(2), gamma: 1, learn_tau: true },
          { type: 'maxpool', kernel: 2, stride: 1 },
          { type: 'conv2d', channels: 2, kernel: 2, phi: 'tanh', tau_m: taus(2), tau_r: taus(2), gamma: 1, learn_tau: true },
          { size: 2, phi: 'linear', bias: true, tau_m: taus(2), tau_r: taus(2), gamma: 1, learn_tau: true },
        ],
      } as NetworkSpecInput;
    })(tauDraws(12)),
    B: 2,
    warm: 25,
    win: 20,
  },
];

/** Deterministic inputs/targets for step t. */
function drive(net: GLENetwork, t: number, x: Float64Array, y: Float64Array): void {
  const B = net.B;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < net.nIn; i++) x[b * net.nIn + i] = Math.sin(0.7 * t * (i + 1) * 0.1 + b) + 0.3 * Math.cos(0.23 * t + i);
    for (let j = 0; j < net.nOut; j++) y[b * net.nOut + j] = 0.8 * Math.sin(0.31 * t + j + 0.5 * b) + 0.2;
  }
}

function snapshot(net: GLENetwork): Float64Array[] {
  return net.stateTensors().map((s) => Float64Array.from(s.buf.a));
}
function restore(net: GLENetwork, snap: Float64Array[]): void {
  net.stateTensors().forEach((s, i) => s.buf.a.set(snap[i]));
}

/** Loss sum of one window from a frozen start state, with the current parameters (no learning). */
function windowLoss(net: GLENetwork, snap: Float64Array[], t0: number, T: number): number {
  restore(net, snap);
  const x = new Float64Array(net.B * net.nIn), y = new Float64Array(net.B * net.nOut);
  net.training = false;
  let acc = 0;
  for (let t = t0; t < t0 + T; t++) {
    drive(net, t, x, y);
    net.step(x, y);
    acc += net.lastLoss();
  }
  net.training = true;
  return acc;
}

function fdCheck(net: GLENetwork, snap: Float64Array[], t0: number, T: number, grads: Float64Array[]): { worst: number; where: string } {
  let worst = 0, where = '';
  const params = net.parameters();
  params.forEach((P, pi) => {
    for (let i = 0; i < P.p.n; i++) {
      const p0 = P.p.a[i];
      const h = 1e-4 * Math.max(1, Math.abs(p0));
      const f = (d: number) => {
        P.p.a[i] = p0 + d;
        const v = windowLoss(net, snap, t0, T);
        P.p.a[i] = p0;
        return v;
      };
      // 4th-order central difference
      const fd = (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h);
      const g = grads[pi][i];
      const rel = Math.abs(g - fd) / Math.max(Math.abs(g), Math.abs(fd), 1e-9);
      if (rel > worst) {
        worst = rel;
        where = `${P.name}[${i}] bptt ${g.toExponential(6)} fd ${fd.toExponential(6)}`;
      }
    }
  });
  return { worst, where };
}

for (const c of cases) {
  test(`BPTT gradient = central finite differences: ${c.name}`, () => {
    const net = new GLENetwork(c.spec, new JsBackend('float64'), { batchSize: c.B });
    const learner = new Learner(net, { optimizer: null });
    const x = new Float64Array(c.B * net.nIn), y = new Float64Array(c.B * net.nOut);
    for (let t = 0; t < c.warm; t++) {
      drive(net, t, x, y);
      learner.evalStep(x, y);
    }
    // r' must be non-zero everywhere so every path is exercised
    for (let l = 0; l < net.layers.length; l++) assert.ok(net.state(l).rPrime.a.every((v) => v !== 0));
    const snap = snapshot(net);
    const bptt = new TruncatedBPTT(learner, c.win);
    for (let t = c.warm; t < c.warm + c.win; t++) {
      drive(net, t, x, y);
      bptt.step(x, y);
    }
    assert.equal(bptt.windows, 1);
    assert.equal(bptt.stepInWindow, 0);
    const grads = net.parameters().map((P) => Float64Array.from(P.g.a));
    const L0 = windowLoss(net, snap, c.warm, c.win);
    assert.ok(Math.abs(L0 - bptt.lastWindowLoss) <= 1e-12 * Math.abs(L0), `loss sum ${bptt.lastWindowLoss} vs ${L0}`);
    const { worst, where } = fdCheck(net, snap, c.warm, c.win, grads);
    console.log(`  [bptt fd] ${c.name}: worst relative error ${worst.toExponential(2)} (${where})`);
    assert.ok(worst <= 1e-6, `worst relative error ${worst} at ${where}`);
  });
}

test('BPTT window boundary detaches: window-2 gradient depends on window 1 only through the state', () => {
  const c = cases[0];
  const W = c.win;
  const net = new GLENetwork(c.spec, new JsBackend('float64'), { batchSize: c.B });
  const learner = new Learner(net, { optimizer: { type: 'sgd', lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weight_decay: 0 } });
  const x = new Float64Array(c.B * net.nIn), y = new Float64Array(c.B * net.nOut);
  for (let t = 0; t < c.warm; t++) {
    drive(net, t, x, y);
    learner.evalStep(x, y);
  }
  const bptt = new TruncatedBPTT(learner, W);
  const before = net.parameters().map((P) => Float64Array.from(P.p.a));
  let snap2: Float64Array[] = [];
  let params2: Float64Array[] = [];
  const t1 = c.warm + W;
  for (let t = c.warm; t < c.warm + 2 * W; t++) {
    if (t === t1) {
      snap2 = snapshot(net);
      params2 = net.parameters().map((P) => Float64Array.from(P.p.a));
    }
    drive(net, t, x, y);
    bptt.step(x, y);
    if (t === t1 - 1) assert.equal(bptt.windows, 1);
  }
  assert.equal(bptt.windows, 2);
  // the optimiser stepped after window 1 (the parameters of window 2 differ)
  assert.ok(params2.some((p, i) => p.some((v, j) => v !== before[i][j])));
  // gradients of window 2 (the last ones written; the SGD step after window 2 does not touch .g)
  const g2 = net.parameters().map((P) => Float64Array.from(P.g.a));

  // (1) a fresh network given only the window-2 start state and parameters reproduces them exactly
  const net2 = new GLENetwork(c.spec, new JsBackend('float64'), { batchSize: c.B });
  net2.parameters().forEach((P, i) => P.p.a.set(params2[i]));
  restore(net2, snap2);
  const bptt2 = new TruncatedBPTT(new Learner(net2, { optimizer: null }), W);
  for (let t = t1; t < t1 + W; t++) {
    drive(net2, t, x, y);
    bptt2.step(x, y);
  }
  const g2b = net2.parameters().map((P) => Float64Array.from(P.g.a));
  g2.forEach((g, i) => assert.deepEqual(Array.from(g2b[i]), Array.from(g)));
  // (2) and they are the finite-difference gradient of the window-2 loss with its start state held fixed
  const { worst, where } = fdCheck(net2, snap2, t1, W, g2);
  console.log(`  [bptt fd] window 2 (detached start): worst relative error ${worst.toExponential(2)} (${where})`);
  assert.ok(worst <= 1e-6, `window 2: worst relative error ${worst} at ${where}`);
});

test('BPTT throws when the batch size changes mid-window; reallocates at a window boundary', () => {
  const c = cases[0];
  const net = new GLENetwork(c.spec, new JsBackend('float64'), { batchSize: 3 });
  const bptt = new TruncatedBPTT(new Learner(net, { optimizer: null }), 4);
  const x = new Float64Array(3 * 2), y = new Float64Array(3 * 2);
  bptt.step(x, y);
  net.setBatchSize(2);
  assert.throws(() => bptt.step(new Float64Array(4), new Float64Array(4)), /batch size changed from 3 to 2 in the middle of a window/);
  net.setBatchSize(3);
  for (let i = 0; i < 3; i++) bptt.step(x, y);
  assert.equal(bptt.windows, 1);
  net.setBatchSize(2);
  bptt.step(new Float64Array(4), new Float64Array(4));
  assert.equal(bptt.stepInWindow, 1);
});

test('phiDerivs: second derivatives match finite differences of the stored r\'', () => {
  const be = new JsBackend('float64');
  const xb = be.alloc(1), r = be.alloc(1), rp = be.alloc(1);
  const d = new Float64Array(2);
  for (const name of ['linear', 'tanh', 'sigmoid', 'softplus', 'relu', 'hard_sigmoid', 'hard_tanh'] as const) {
    for (const x0 of [-1.7, -0.3, 0.4, 0.77, 1.6]) {
      const ev = (x: number) => {
        xb.a[0] = x;
        be.activate(PHI[name], xb, r, rp, 1);
        return [r.a[0], rp.a[0]];
      };
      const h = 1e-5;
      const [rP, rpP] = ev(x0 + h), [rM, rpM] = ev(x0 - h);
      phiDerivs(PHI[name], x0, d);
      assert.ok(Math.abs(d[0] - (rP - rM) / (2 * h)) < 1e-7, `${name}' at ${x0}`);
      assert.ok(Math.abs(d[1] - (rpP - rpM) / (2 * h)) < 1e-7, `${name}'' at ${x0}`);
    }
  }
});
