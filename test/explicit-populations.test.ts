/**
 * GLE as explicit representation and error populations (the GLE paper's Fig. 4, src/model/layers/explicit.ts)
 * against the fused dense step: every GLE golden, within the golden tolerances, on every backend; and side by side
 * with the fused form on random nets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/kernels/js/index.js';
import { replayTrace } from '../src/io/trace.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { Rng } from '../src/util/rng.js';
import { prospectivePopulation, type ProspectivePopArgs } from '../src/model/layers/explicit.js';
import { gleGoldens, goldenBackends } from './helpers/goldens.js';

const goldens = gleGoldens;
const backends = goldenBackends;

test('every GLE golden replays through explicit representation + error populations within the golden tolerances', async () => {
  const bs = await backends();
  for (const { name, k, atol, rtol } of bs) {
    for (const g of goldens) {
      const rep = replayTrace(g, k, atol, rtol, { path: 'populations' });
      const bad = Object.entries(rep.quantities).filter(([, d]) => d.worstExcess > 0);
      assert.equal(bad.length, 0, `${name} ${g.scenario}: ${bad.map(([q, d]) => `${q} ${d.maxAbs.toExponential(2)}`).join(', ')}`);
      // every layer field, grad and param was compared
      assert.ok(Object.keys(rep.quantities).length >= 1 + g.layers.length * 8);
    }
  }
});

test('explicit populations: the error population is the representation neuron model with tau_m and tau_r swapped', () => {
  const k = new JsBackend('float64');
  const net = new GLENetwork(
    { input_size: 1, dt: 0.1, dtype: 'float64', loss: 'mse', beta: 1, prospective_errors: true, layers: [{ size: 2, tau_m: [1, 2], tau_r: [0.2, 0.5] }] },
    k,
    { path: 'populations' },
  );
  assert.ok(!net.layers[0].fused);
  // one population kernel: feed the same input to a "representation" (τ_m, τ_r) and an "error" (τ_r, τ_m) record
  const mk = (leak: number[], ahead: number[]): ProspectivePopArgs => {
    const b = (v: number[]) => {
      const f = k.alloc(v.length);
      f.a.set(v);
      return f;
    };
    return { B: 1, nOut: 2, input: b([1, -1]), x: b([0.3, 0.1]), xN: k.alloc(2), out: k.alloc(2), xDot: k.alloc(2), tauLeak: b(leak), tauAhead: b(ahead), dt: 0.1, instantaneous: false };
  };
  const rep = mk([1, 2], [0.2, 0.5]), err = mk([0.2, 0.5], [1, 2]);
  prospectivePopulation(k, rep);
  prospectivePopulation(k, err);
  // representation: low-pass with τ_m, look ahead τ_r; error: low-pass with τ_r, look ahead τ_m
  assert.ok(Math.abs(rep.out.a[0] - (0.3 + 0.2 * (1 - 0.3) / 1)) < 1e-15);
  assert.ok(Math.abs(err.out.a[0] - (0.3 + 1 * (1 - 0.3) / 0.2)) < 1e-15);
  assert.ok(Math.abs(err.xN.a[1] - (0.1 + 0.1 * (-1 - 0.1) / 0.5)) < 1e-15);
});

test('explicit populations and the fused step agree on random nets with every feedback mode (side by side, 80 steps)', () => {
  const rng = new Rng(11);
  for (const [dtype, tol] of [['float64', 1e-11], ['float32', 2e-4]] as const) {
    for (const fb of ['transpose', 'fixed', 'learned'] as const) {
      const k = new JsBackend(dtype);
      const sizes = [4, 5, 2];
      const spec = {
        input_size: 3, dt: 0.05, dtype, seed: 5, loss: 'mse' as const, beta: 0.5,
        layers: sizes.map((size, i) => ({
          size, phi: ['tanh', 'softplus', 'linear'][i],
          tau_m: Array.from({ length: size }, () => 0.2 + rng.uniform()), tau_r: Array.from({ length: size }, () => 0.06 + 0.2 * rng.uniform()),
          gamma: i === 1 ? 0.3 : 0, learn_tau: i !== 0, prospective_errors: i !== 1, feedback: i > 0 ? fb : ('transpose' as const),
        })),
        optimizer: { type: 'sgd' as const, lr: 0.05 },
      };
      const nets = [new GLENetwork(spec, k, { batchSize: 3, computeInputError: true }), new GLENetwork(spec, k, { batchSize: 3, computeInputError: true, path: 'populations' })];
      const ls = nets.map((n) => new Learner(n));
      const x = new Float64Array(9), y = new Float64Array(6);
      let worst = 0;
      for (let t = 0; t < 80; t++) {
        for (let i = 0; i < x.length; i++) x[i] = Math.sin(0.1 * t + i);
        for (let i = 0; i < y.length; i++) y[i] = Math.cos(0.07 * t + i);
        const a = ls[0].trainStep(x, y), b = ls[1].trainStep(x, y);
        for (let i = 0; i < a.n; i++) worst = Math.max(worst, Math.abs(a.a[i] - b.a[i]));
        nets[0].allTensors().forEach((tn, i) => {
          const o = nets[1].allTensors()[i].buf.a;
          for (let j = 0; j < tn.buf.n; j++) worst = Math.max(worst, Math.abs(tn.buf.a[j] - o[j]));
        });
      }
      assert.ok(worst < tol, `${dtype} ${fb}: fused vs explicit populations differ by ${worst}`);
    }
  }
});
