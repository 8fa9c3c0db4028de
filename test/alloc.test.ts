import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import { JsBackend } from '../src/kernels/js/index.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';

/**
 * No allocation per step: a step loop that allocates nothing triggers no garbage collection at all. We count GC
 * events (minor and major) while 1e5 training steps (dynamics + gradients + Adam + clamp) run, and check that the
 * heap does not grow.
 */
async function countGcDuring(fn: () => void): Promise<number> {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    n += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return n;
}

test('1e5 training steps allocate nothing (no GC, flat heap)', async () => {
  const net = new GLENetwork(
    {
      input_size: 1, dt: 0.01, dtype: 'float32', beta: 0.01, loss: 'mse',
      layers: [
        { size: 1, phi: 'softplus', bias: false, tau_m: 1, tau_r: 0.1, gamma: 1, learn_tau: true },
        { size: 1, phi: 'softplus', bias: false, tau_m: 2, tau_r: 0.1, gamma: 1, learn_tau: true },
      ],
      optimizer: { type: 'adam', lr: 1e-4 },
      clamp_tau_min: 0.1,
    },
    new JsBackend('float32'),
    { batchSize: 8 },
  );
  const learner = new Learner(net);
  const x = new Float32Array(8);
  const tg = new Float32Array(8);
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const v = Math.sin(i * 0.01);
      x.fill(v);
      tg.fill(0.5 * v + 1);
      learner.trainStep(x, tg);
    }
  };
  run(20000); // warm up the JIT
  const before = process.memoryUsage().heapUsed;
  const gcs = await countGcDuring(() => run(100000));
  const growth = process.memoryUsage().heapUsed - before;
  assert.ok(gcs <= 1, `${gcs} garbage collections during 1e5 steps`);
  assert.ok(growth < 512 * 1024, `heap grew by ${growth} bytes`);
});
