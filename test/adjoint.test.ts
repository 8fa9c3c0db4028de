import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/kernels/js/index.js';
import { GLENetwork } from '../src/model/network.js';
import type { NetworkSpecInput } from '../src/model/spec.js';
import { Learner } from '../src/learn/learner.js';
import { TruncatedBPTT } from '../src/learn/bptt.js';
import { AdjointLearner } from '../src/learn/adjoint.js';

type Layers = NetworkSpecInput['layers'];

function chainSpec(dt: number, layers: Layers, beta = 0.1): NetworkSpecInput {
  return { input_size: 1, dt, dtype: 'float64', backend: 'js', loss: 'mse', beta, prospective_errors: true, layers };
}

const linearChain: Layers = [
  { size: 1, phi: 'linear', bias: true, tau_m: 1.0, tau_r: 0.3, gamma: 0, learn_tau: true, init: { weight: [[0.7]], bias: [0.1] } },
  { size: 1, phi: 'linear', bias: true, tau_m: 0.5, tau_r: 0.2, gamma: 0, learn_tau: true, init: { weight: [[1.3]], bias: [-0.2] } },
];
const tanhNet: Layers = [
  { size: 2, phi: 'tanh', bias: true, tau_m: [1.0, 0.6], tau_r: [0.2, 0.6], gamma: 0, learn_tau: true, init: { weight: [[0.9], [-0.6]], bias: [0.1, 0.3] } },
  { size: 1, phi: 'linear', bias: true, tau_m: 0.5, tau_r: 0.5, gamma: 0, learn_tau: true, init: { weight: [[1.2, 0.8]], bias: [0] } },
];

/**
 * Gradients of one window computed by the AM and by exact discrete BPTT (scaled by dt: the AM objective is
 * Σ_t ℓ_t dt), from the same detached start state. Returns the largest relative difference over all entries.
 */
function compare(dt: number, layers: Layers, windowTime: number): { worst: number; rows: string[] } {
  const B = 2;
  const net = new GLENetwork(chainSpec(dt, layers), new JsBackend('float64'), { batchSize: B });
  const learner = new Learner(net, { optimizer: null });
  const x = new Float64Array(B), y = new Float64Array(B);
  const drive = (t: number) => {
    const s = t * dt;
    for (let b = 0; b < B; b++) {
      x[b] = Math.sin(0.8 * s + b) + 0.5 * Math.sin(2.1 * s);
      y[b] = 0.6 * Math.sin(0.8 * s - 0.5 + b);
    }
  };
  const warm = Math.round(2 / dt), T = Math.round(windowTime / dt);
  for (let t = 0; t < warm; t++) {
    drive(t);
    learner.evalStep(x, y);
  }
  const snap = net.stateTensors().map((s) => Float64Array.from(s.buf.a));
  const bptt = new TruncatedBPTT(learner, T);
  for (let t = warm; t < warm + T; t++) {
    drive(t);
    bptt.step(x, y);
  }
  const gB = net.parameters().map((P) => Array.from(P.g.a, (v) => v * dt));
  net.stateTensors().forEach((s, i) => s.buf.a.set(snap[i]));
  const am = new AdjointLearner(learner, T);
  for (let t = warm; t < warm + T; t++) {
    drive(t);
    am.step(x, y);
  }
  assert.equal(am.windows, 1);
  assert.ok(Math.abs(am.lastWindowLoss - bptt.lastWindowLoss) < 1e-12);
  let worst = 0;
  const rows: string[] = [];
  net.parameters().forEach((P, pi) => {
    P.g.a.forEach((g, i) => {
      const ref = gB[pi][i];
      const rel = Math.abs(g - ref) / Math.abs(ref);
      worst = Math.max(worst, rel);
      rows.push(`${P.name}[${i}] am ${g.toExponential(4)} bptt·dt ${ref.toExponential(4)} (${(rel * 100).toFixed(2)} %)`);
    });
  });
  return { worst, rows };
}

test('AM gradient of a window agrees with exact discrete BPTT (linear chain, dt = 0.01), first-order convergence in dt', () => {
  const a = compare(0.01, linearChain, 4);
  console.log(`  [am vs bptt] linear 1-1-1, dt 0.01: worst ${(a.worst * 100).toFixed(2)} %\n    ${a.rows.join('\n    ')}`);
  assert.ok(a.worst < 0.02, `worst relative difference ${a.worst}`);
  const b = compare(0.001, linearChain, 4);
  console.log(`  [am vs bptt] linear 1-1-1, dt 0.001: worst ${(b.worst * 100).toFixed(3)} %`);
  assert.ok(b.worst < 0.003, `dt = 0.001: worst relative difference ${b.worst}`);
  assert.ok(b.worst < a.worst / 5, 'the discretisation error shrinks ~linearly with dt');
});

test('AM gradient agrees with exact discrete BPTT on a small tanh network (dt = 0.01 and 0.001)', () => {
  const a = compare(0.01, tanhNet, 4);
  console.log(`  [am vs bptt] 1-2-1 tanh/linear, dt 0.01: worst ${(a.worst * 100).toFixed(2)} %`);
  assert.ok(a.worst < 0.04, `worst relative difference ${a.worst}\n${a.rows.join('\n')}`);
  const b = compare(0.001, tanhNet, 4);
  console.log(`  [am vs bptt] 1-2-1 tanh/linear, dt 0.001: worst ${(b.worst * 100).toFixed(3)} %`);
  assert.ok(b.worst < 0.005, `dt = 0.001: worst relative difference ${b.worst}\n${b.rows.join('\n')}`);
});

/** Amplitude and phase (of A sin(ωt + φ)) of a signal over whole periods, by projection onto sin / cos. */
function project(s: ArrayLike<number>, w: number, dt: number, t0: number, t1: number, sign = 1): { amp: number; ph: number } {
  let c = 0, si = 0;
  for (let t = t0; t < t1; t++) {
    c += sign * s[t] * Math.cos(w * t * dt);
    si += sign * s[t] * Math.sin(w * t * dt);
  }
  return { amp: (2 * Math.hypot(c, si)) / (t1 - t0), ph: Math.atan2(c, si) };
}
const deg = (r: number) => (((r * 180) / Math.PI + 540) % 360) - 180;

test('theory check: the GLE prospective error and the adjoint λ have the same phase; gain ratio (1+ω²τm²)/(1+ω²τr²)', () => {
  // 1 → 1 → 1 linear chain, x = 0 so y = 0 and the output error is the sinusoidal target itself. Hidden layer:
  // τ_m = 1, τ_r = 0.1 (a lagged unit); top: τ_m = τ_r (its GLE error and its λ both equal the output error).
  // Normalisation: β = 2, B = n = 1, so the GLE top error β(target − y) = −∂ℓ/∂y = −α_top: ĕ is compared with −λ.
  const dt = 0.01, tm = 1, tr = 0.1;
  for (const P of [10, 5]) {
    const w = (2 * Math.PI) / P;
    const layers: Layers = [
      { size: 1, phi: 'linear', bias: false, tau_m: tm, tau_r: tr, gamma: 0, init: { weight: [[0.5]] } },
      { size: 1, phi: 'linear', bias: false, tau_m: 1, tau_r: 1, gamma: 0, init: { weight: [[0.8]] } },
    ];
    const net = new GLENetwork(chainSpec(dt, layers, 2), new JsBackend('float64'), { batchSize: 1 });
    const nP = Math.round(P / dt), T = 12 * nP;
    const am = new AdjointLearner(new Learner(net, { optimizer: null }), T);
    const x = new Float64Array(1), y = new Float64Array(1);
    const eH = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      y[0] = Math.sin(w * t * dt);
      am.step(x, y);
      eH[t] = net.scratch(0).prospV.a[0];
    }
    // steady state on both sides: after the forward transient, before the backward one near the window end
    const t0 = 4 * nP, t1 = 8 * nP;
    const e = project(eH, w, dt, t0, t1);
    const lam = project(am.lastLambda(0), w, dt, t0, t1, -1);
    const dPhase = deg(e.ph - lam.ph);
    // the Jacobi delays shift the two by one step each in opposite directions (ĕ_hidden[t] sees the top error of
    // t−1, λ_hidden[t] the top λ of t+1): 2 dt ω
    const jacobi = deg(2 * dt * w);
    const gain = e.amp / lam.amp, theory = (1 + w * w * tm * tm) / (1 + w * w * tr * tr);
    console.log(
      `  [phase] ω = ${w.toFixed(3)}: phase(ĕ) ${deg(e.ph).toFixed(2)}°, phase(−λ) ${deg(lam.ph).toFixed(2)}°, difference ${dPhase.toFixed(2)}° ` +
        `(${(dPhase + jacobi).toFixed(2)}° after the 2-step Jacobi offset); |ĕ|/|λ| ${gain.toFixed(4)} vs theory ${theory.toFixed(4)} ` +
        `(${((gain / theory - 1) * 100).toFixed(2)} %)`,
    );
    assert.ok(Math.abs(dPhase) < 3, `phase difference ${dPhase}°`);
    assert.ok(Math.abs(dPhase + jacobi) < 0.5, `phase difference after the Jacobi offset ${dPhase + jacobi}°`);
    assert.ok(Math.abs(gain / theory - 1) < 0.03, `gain ratio ${gain} vs ${theory}`);
  }
});

test('AdjointLearner learns (teacher → student, SGD), rejects nudging and mid-window batch-size changes', () => {
  const dt = 0.01;
  const mk = (w0: number, w1: number): Layers => [
    { size: 1, phi: 'linear', bias: false, tau_m: 1.0, tau_r: 0.2, gamma: 0, init: { weight: [[w0]] } },
    { size: 1, phi: 'linear', bias: false, tau_m: 0.5, tau_r: 0.5, gamma: 0, init: { weight: [[w1]] } },
  ];
  const teacher = new GLENetwork(chainSpec(dt, mk(1, 2)), new JsBackend('float64'), { batchSize: 1 });
  const student = new GLENetwork(chainSpec(dt, mk(0.4, 1.0)), new JsBackend('float64'), { batchSize: 1 });
  const windowLosses: number[] = [];
  const am = new AdjointLearner(new Learner(student, { optimizer: { type: 'sgd', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weight_decay: 0 } }), 300, {
    onWindow: (i) => windowLosses.push(i.lossSum),
  });
  const x = new Float64Array(1);
  for (let t = 0; t < 30 * 300; t++) {
    const s = t * dt;
    x[0] = Math.sin(0.49 * s) + Math.sin(1.07 * s) + Math.sin(1.98 * s);
    const target = teacher.step(x, null).a;
    am.step(x, target);
  }
  assert.equal(windowLosses.length, 30);
  const first = windowLosses[1], last = windowLosses[windowLosses.length - 1];
  console.log(`  [am learning] window loss ${first.toExponential(3)} → ${last.toExponential(3)}; w = ${student.layers[0].params.W.a[0].toFixed(3)}, ${student.layers[1].params.W.a[0].toFixed(3)}`);
  assert.ok(last < first / 100, `loss ${first} → ${last}`);
  assert.equal(am.lastLambda(0).length, 300);

  const nudged = new GLENetwork(chainSpec(dt, [{ ...mk(1, 1)[0], gamma: 0.1 }, mk(1, 1)[1]]), new JsBackend('float64'));
  assert.throws(() => new AdjointLearner(new Learner(nudged, { optimizer: null }), 10), /without nudging: layer 0 has gamma = 0.1/);

  const net = new GLENetwork(chainSpec(dt, mk(1, 1)), new JsBackend('float64'), { batchSize: 2 });
  const a2 = new AdjointLearner(new Learner(net, { optimizer: null }), 5);
  a2.step(new Float64Array(2), new Float64Array(2));
  net.setBatchSize(3);
  assert.throws(() => a2.step(new Float64Array(3), new Float64Array(3)), /batch size changed from 2 to 3 in the middle of a window/);
});
