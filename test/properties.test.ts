import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/kernels/js/index.js';
import { GLENetwork } from '../src/model/network.js';
import { Rng } from '../src/util/rng.js';

/** Plain feed-forward function of the same weights: the LE limit of the network. */
function feedForward(net: GLENetwork, x: Float64Array): Float64Array {
  let a = x;
  for (const l of net.layers) {
    const out = new Float64Array(l.nOut);
    for (let j = 0; j < l.nOut; j++) {
      let s = l.params.b ? l.params.b.a[j] : 0;
      for (let k = 0; k < l.nIn; k++) s += l.params.W.a[j * l.nIn + k] * a[k];
      out[j] = l.spec.phi === 'tanh' ? Math.tanh(s) : l.spec.phi === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s;
    }
    a = out;
  }
  return a;
}

test('LE property: tau_r == tau_m, no nudging -> output is the feed-forward function of the input delayed by one step per layer', () => {
  const spec = {
    input_size: 4, dt: 0.05, dtype: 'float64' as const, seed: 3, beta: 0,
    layers: [
      { size: 7, phi: 'tanh', tau_m: [0.05, 0.3, 1, 5, 20, 2, 0.7], gamma: 0 },
      { size: 5, phi: 'sigmoid', tau_m: 3, gamma: 0 },
      { size: 2, phi: 'linear', tau_m: 0.5, gamma: 0 },
    ],
  };
  const net = new GLENetwork(spec, new JsBackend('float64'), { batchSize: 1 });
  net.training = false;
  const rng = new Rng(1);
  const xs: Float64Array[] = [];
  const L = net.layers.length;
  let maxErr = 0;
  for (let t = 0; t < 300; t++) {
    const x = Float64Array.from({ length: 4 }, (_, i) => Math.sin(0.13 * t * (i + 1)) + 0.3 * rng.normal());
    xs.push(x);
    const out = net.step(x, null);
    // output at step t = top rate from step t-1, which saw the input of step t-1-(L-1) = t-L
    if (t >= L + 1) {
      const ff = feedForward(net, xs[t - L]);
      for (let j = 0; j < 2; j++) maxErr = Math.max(maxErr, Math.abs(out.a[j] - ff[j]));
    }
  }
  assert.ok(maxErr < 1e-12, `max deviation ${maxErr}`);
});

/** Project a steady-state signal onto sin/cos of angular frequency w over whole periods. */
function amplitudePhase(sig: number[], w: number, dt: number, t0: number): { amp: number; phase: number } {
  let s = 0, c = 0;
  for (let i = 0; i < sig.length; i++) {
    const t = (t0 + i) * dt;
    s += sig[i] * Math.sin(w * t);
    c += sig[i] * Math.cos(w * t);
  }
  s *= 2 / sig.length;
  c *= 2 / sig.length;
  return { amp: Math.hypot(s, c), phase: Math.atan2(c, s) };
}

test('operator property: a linear GLE neuron has the gain and phase of D+_{tau_r} I-_{tau_m}; the error neuron the inverse phase', () => {
  const dt = 0.001, tauM = 1.0, tauR = 0.2;
  for (const w of [0.5, 2, 5]) {
    const net = new GLENetwork(
      { input_size: 1, dt, dtype: 'float64', beta: 1, loss: 'mse',
        layers: [{ size: 1, phi: 'linear', bias: false, tau_m: tauM, tau_r: tauR, gamma: 0, init: { weight: [[1]] } }] },
      new JsBackend('float64'), { batchSize: 1 });
    const period = (2 * Math.PI) / w;
    const nPer = Math.round(period / dt);
    const settle = Math.ceil((12 * tauM) / dt / nPer) * nPer;
    const rs: number[] = [], vs: number[] = [];
    const x = [0], tg = [0];
    for (let i = 0; i < settle + 4 * nPer; i++) {
      x[0] = Math.sin(w * i * dt);
      // drive the error neuron with a sinusoidal target error: target - y = sin(w t) (y is the previous rate)
      tg[0] = 0; // set below once y is known
      const y = net.state(0).r.a[0];
      tg[0] = y + Math.sin(w * i * dt);
      net.step(x, tg);
      if (i >= settle) {
        rs.push(net.scratch(0).prospU.a[0]);
        vs.push(net.scratch(0).prospV.a[0]);
      }
    }
    const r = amplitudePhase(rs, w, dt, settle);
    const e = amplitudePhase(vs, w, dt, settle);
    const gain = Math.sqrt((1 + w * w * tauR * tauR) / (1 + w * w * tauM * tauM));
    const phase = Math.atan(w * tauR) - Math.atan(w * tauM);
    // discretisation error of explicit Euler at this dt is O(w dt)
    assert.ok(Math.abs(r.amp / gain - 1) < 0.01, `w=${w}: gain ${r.amp} vs ${gain}`);
    assert.ok(Math.abs(r.phase - phase) < 0.01, `w=${w}: phase ${r.phase} vs ${phase}`);
    // error neuron: tau_m and tau_r swapped -> inverse gain and phase (r' = 1 for a linear neuron)
    assert.ok(Math.abs(e.amp * gain - 1) < 0.02, `w=${w}: error gain ${e.amp} vs ${1 / gain}`);
    assert.ok(Math.abs(e.phase + phase) < 0.02, `w=${w}: error phase ${e.phase} vs ${-phase}`);
  }
});

test('state is never reset between calls; resetState zeroes it; batch-size change tiles and truncates', () => {
  const net = new GLENetwork({ input_size: 2, dt: 0.1, dtype: 'float64', layers: [{ size: 3, phi: 'tanh', tau_m: 1 }] }, new JsBackend('float64'), { batchSize: 2 });
  net.step([1, 2, 3, 4], null);
  net.step([1, 2, 3, 4], null);
  const u = Array.from(net.state(0).u.a);
  assert.ok(u.some((x) => x !== 0));
  net.setBatchSize(5);
  const u5 = Array.from(net.state(0).u.a);
  for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) assert.equal(u5[i * 3 + j], u[(i % 2) * 3 + j]);
  net.setBatchSize(1);
  assert.deepEqual(Array.from(net.state(0).u.a), u.slice(0, 3));
  net.resetState();
  assert.ok(Array.from(net.state(0).u.a).every((x) => x === 0));
});

test('r_prime starts at 0: no error reaches any layer at t = 0', () => {
  const net = new GLENetwork({ input_size: 1, dt: 0.1, dtype: 'float64', beta: 1, layers: [{ size: 3, phi: 'tanh', tau_m: 1 }, { size: 2, phi: 'linear', tau_m: 1 }] }, new JsBackend('float64'), { batchSize: 1 });
  net.step([1], [5, -5]);
  for (let l = 0; l < 2; l++) assert.ok(Array.from(net.scratch(l).instE.a).every((x) => x === 0));
  net.step([1], [5, -5]);
  assert.ok(Array.from(net.scratch(1).instE.a).some((x) => x !== 0));
});

test('eval mode skips gradient work entirely (grad buffers untouched)', () => {
  const net = new GLENetwork({ input_size: 1, dt: 0.1, dtype: 'float64', beta: 1, layers: [{ size: 2, phi: 'tanh', tau_m: 1 }] }, new JsBackend('float64'), { batchSize: 1 });
  net.training = false;
  for (let i = 0; i < 5; i++) net.step([1], [0.5, 0.5]);
  for (const p of net.parameters()) assert.ok(Array.from(p.g.a).every((x) => x === 0));
  net.training = true;
  net.step([1], [0.5, 0.5]);
  assert.ok(net.parameters().some((p) => Array.from(p.g.a).some((x) => x !== 0)));
});
