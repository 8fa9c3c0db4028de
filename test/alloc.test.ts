import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/kernels/js/index.js';
import type { Backend } from '../src/kernels/types.js';
import { createNodeBackend } from '../src/node.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { medianBytesPerStep } from './helpers/heap.js';

/**
 * No allocation per step: the median heap growth per step over chunks of steps (test/helpers/heap.ts) is compared with
 * a control loop that allocates one small typed array per step: the measurement must see the control's allocation,
 * and must see (almost) none in the real training loop.
 */

const small = {
  input_size: 1, dt: 0.01, dtype: 'float32' as const, beta: 0.01, loss: 'mse' as const,
  layers: [
    { size: 1, phi: 'softplus' as const, bias: false, tau_m: 1, tau_r: 0.1, gamma: 1, learn_tau: true },
    { size: 1, phi: 'softplus' as const, bias: false, tau_m: 2, tau_r: 0.1, gamma: 1, learn_tau: true },
  ],
  optimizer: { type: 'adam' as const, lr: 1e-4 },
  clamp_tau_min: 0.1,
};
// 100 x 53 x 53 = 281 k multiply-adds per product: the native backend splits these layer steps over its thread pool
const wide = { ...small, layers: [{ ...small.layers[0], size: 53 }, { ...small.layers[0], size: 53 }, { ...small.layers[1], size: 1 }] };

const cases = [
  { name: 'js', backend: 'js' as const, spec: small, B: 8, warm: 20000, chunk: 2000, chunks: 41 },
  { name: 'wasm', backend: 'wasm' as const, spec: small, B: 8, warm: 20000, chunk: 2000, chunks: 41 },
  { name: 'native', backend: 'native' as const, spec: small, B: 8, warm: 20000, chunk: 2000, chunks: 41 },
  { name: 'native, layers split over 2 threads', backend: 'native' as const, spec: wide, B: 100, warm: 3000, chunk: 500, chunks: 21 },
];

for (const c of cases) {
  test(`training steps (dynamics + gradients + Adam + clamp) allocate nothing: ${c.name}`, async (t) => {
    let k: Backend;
    try {
      k = c.backend === 'js' ? new JsBackend('float32') : await createNodeBackend(c.backend, 'float32', () => {});
    } catch (e) {
      t.skip(`${c.backend} backend not available: ${(e as Error).message}`);
      return;
    }
    if (c.backend === 'native') (k as Backend & { setMaxThreads(n: number): void }).setMaxThreads(2);
    const B = c.B;
    const net = new GLENetwork(c.spec, k, { batchSize: B });
    const learner = new Learner(net);
    const x = new Float32Array(B);
    const tg = new Float32Array(B);
    let sink = 0;
    const train = (i: number) => {
      const v = Math.sin(i * 0.01);
      // element writes, not fill(v): passing a non-integer double to a builtin boxes it (16 bytes per call)
      for (let j = 0; j < B; j++) {
        x[j] = v;
        tg[j] = 0.5 * v + 1;
      }
      learner.trainStep(x, tg);
    };
    const control = (i: number) => {
      train(i);
      sink += x.slice(0, 1)[0]; // one tiny typed array per step: what a careless kernel would do
    };
    for (let i = 0; i < c.warm; i++) train(i); // warm up the JIT
    for (let i = 0; i < c.warm; i++) control(i);
    const ctl = medianBytesPerStep(control, c.chunk, c.chunks);
    const real = medianBytesPerStep(train, c.chunk, c.chunks);
    t.diagnostic(`median heap growth per step: training ${real.toFixed(2)} B, allocating control ${ctl.toFixed(1)} B`);
    assert.ok(Number.isFinite(sink));
    assert.ok(ctl > 32, `the measurement must see the control loop's allocation (saw ${ctl.toFixed(1)} B/step)`);
    assert.ok(real < 1, `training allocates ${real.toFixed(2)} bytes per step (control: ${ctl.toFixed(1)})`);
  });
}
