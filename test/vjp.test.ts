/**
 * The per-type vector-Jacobian products of BPTT and the adjoint method beyond dense layers: a convolution whose
 * kernel covers its whole input is a dense layer (one position), so both rules must give it the dense layer's
 * gradients; and the adjoint through a conv + max-pool net agrees with exact discrete BPTT (× dt) to first order in
 * dt. (The conv and pooling VJPs against central finite differences: test/bptt.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/kernels/js/index.js';
import { GLENetwork } from '../src/model/network.js';
import type { NetworkSpecInput } from '../src/model/spec.js';
import { Learner } from '../src/learn/learner.js';
import { TruncatedBPTT } from '../src/learn/bptt.js';
import { AdjointLearner } from '../src/learn/adjoint.js';

type Rule = 'bptt' | 'am';

/** Run `warm` steps, then one window of rule over T steps from the same inputs; returns the gradients by name. */
function windowGrads(spec: NetworkSpecInput, rule: Rule, B: number, warm: number, T: number, init?: Map<string, Float64Array>): { grads: Map<string, Float64Array>; net: GLENetwork; loss: number } {
  const net = new GLENetwork(spec, new JsBackend('float64'), { batchSize: B });
  if (init) for (const t of net.allTensors()) if (init.has(t.name)) t.buf.a.set(init.get(t.name)!);
  const learner = new Learner(net, { optimizer: null });
  const x = new Float64Array(B * net.nIn), y = new Float64Array(B * net.nOut);
  const drive = (t: number) => {
    const s = t * net.dt;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < net.nIn; i++) x[b * net.nIn + i] = Math.sin(0.8 * s * (1 + 0.3 * i) + b) + 0.4 * Math.cos(1.7 * s + i);
      for (let j = 0; j < net.nOut; j++) y[b * net.nOut + j] = 0.6 * Math.sin(0.5 * s + j - 0.4 * b);
    }
  };
  for (let t = 0; t < warm; t++) {
    drive(t);
    learner.evalStep(x, y);
  }
  const r = rule === 'bptt' ? new TruncatedBPTT(learner, T) : new AdjointLearner(learner, T);
  for (let t = warm; t < warm + T; t++) {
    drive(t);
    r.step(x, y);
  }
  assert.equal(r.windows, 1);
  return { grads: new Map(net.parameters().map((P) => [P.name, Float64Array.from(P.g.a)])), net, loss: r.lastWindowLoss };
}

function maxRel(a: Map<string, Float64Array>, b: Map<string, Float64Array>): { worst: number; where: string } {
  let worst = 0, where = '';
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, ga] of a) {
    const gb = b.get(name)!;
    assert.equal(ga.length, gb.length, name);
    const scale = Math.max(...Array.from(gb, Math.abs), 1e-12);
    ga.forEach((v, i) => {
      const rel = Math.abs(v - gb[i]) / scale;
      if (rel > worst) {
        worst = rel;
        where = `${name}[${i}] ${v.toExponential(6)} vs ${gb[i].toExponential(6)}`;
      }
    });
  }
  return { worst, where };
}

const neurons = (gamma: number) => ({ tau_m: [0.9, 0.5, 1.3], tau_r: [0.3, 0.5, 0.1], gamma, learn_tau: true });
const top = (gamma: number) => ({ size: 2, phi: 'linear', bias: true, tau_m: [0.7, 1.1], tau_r: [0.2, 0.4], gamma, learn_tau: true });

for (const rule of ['bptt', 'am'] as const) {
  for (const dims of [1, 2] as const) {
    test(`${rule}: a conv${dims}d whose kernel covers its input has the gradients of the equal dense layer`, () => {
      const gamma = rule === 'am' ? 0 : 0.5;
      const base = { dt: 0.05, dtype: 'float64' as const, backend: 'js' as const, seed: 3, loss: 'mse' as const, beta: 0.4, prospective_errors: true };
      // input 2 × 3 (conv1d) or 2 × 2 × 2 (conv2d); the kernel is the whole map: one output position per channel
      const inShape = dims === 1 ? [2, 3] : [2, 2, 2];
      const n = inShape.reduce((a, b) => a * b, 1);
      const conv: NetworkSpecInput = {
        ...base, input_size: n, input_shape: inShape,
        layers: [
          dims === 1 ? { type: 'conv1d', channels: 3, kernel: 3, phi: 'tanh', ...neurons(gamma) } : { type: 'conv2d', channels: 3, kernel: 2, phi: 'tanh', ...neurons(gamma) },
          top(gamma),
        ],
      };
      const dense: NetworkSpecInput = { ...base, input_size: n, layers: [{ size: 3, phi: 'tanh', bias: true, ...neurons(gamma) }, top(gamma)] };
      const c = windowGrads(conv, rule, 2, 20, 15);
      // the dense twin starts from the conv net's parameters (the weight F × C·k… is the dense out × in matrix)
      const init = new Map(c.net.allTensors().map((t) => [t.name, Float64Array.from(t.buf.a)]));
      const d = windowGrads(dense, rule, 2, 20, 15, init);
      assert.ok(Math.abs(c.loss - d.loss) <= 1e-12 * Math.abs(d.loss), `loss ${c.loss} vs ${d.loss}`);
      const { worst, where } = maxRel(c.grads, d.grads);
      console.log(`  [${rule} conv${dims}d = dense] worst relative difference ${worst.toExponential(2)} (${where})`);
      assert.ok(worst < 1e-12, `${where}`);
    });
  }
}

test('am: the adjoint through conv1d → max pooling → dense agrees with exact discrete BPTT (× dt), first order in dt', () => {
  const spec = (dt: number): NetworkSpecInput => ({
    input_size: 8, input_shape: [1, 8], dt, dtype: 'float64', backend: 'js', seed: 9, loss: 'mse', beta: 0.1, prospective_errors: true,
    layers: [
      { type: 'conv1d', channels: 3, kernel: 3, padding: 1, phi: 'tanh', ...neurons(0) },
      { type: 'maxpool', kernel: 2 },
      top(0),
    ],
  });
  const gap = (dt: number) => {
    const warm = Math.round(2 / dt), T = Math.round(3 / dt);
    const b = windowGrads(spec(dt), 'bptt', 2, warm, T);
    const a = windowGrads(spec(dt), 'am', 2, warm, T);
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-12 * Math.abs(b.loss));
    for (const g of b.grads.values()) g.forEach((v, i) => (g[i] = v * dt));
    return maxRel(a.grads, b.grads);
  };
  const coarse = gap(0.01), fine = gap(0.002);
  console.log(`  [am vs bptt·dt] conv1d → maxpool → dense: dt 0.01 worst ${(coarse.worst * 100).toFixed(2)} % (${coarse.where}); dt 0.002 ${(fine.worst * 100).toFixed(3)} %`);
  assert.ok(coarse.worst < 0.05, coarse.where);
  assert.ok(fine.worst < coarse.worst / 3, `the gap shrinks with dt: ${fine.worst} vs ${coarse.worst}`);
});
