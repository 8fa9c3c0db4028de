/**
 * No allocation per step in the MNIST-1D backprop baselines' training step (src/baselines/task.ts createTrainStep:
 * batch copy, forward, cross-entropy, backward, Adam) for the MLP, the TCN and the GRU, on the layers' loops (js) and
 * on the native backend's sgemm. Each case runs in a fresh process (test/helpers/baseline-alloc-case.ts) with
 * test/alloc.test.ts's method.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeBackend } from '../src/node.js';
import { runAllocCase } from './helpers/heap.js';

const helper = new URL('./helpers/baseline-alloc-case.ts', import.meta.url);

for (const backend of ['js', 'native'] as const) {
  test(`the MNIST-1D baselines' training step allocates nothing: ${backend}`, async (t) => {
    if (backend !== 'js') {
      try {
        await createNodeBackend(backend, 'float32', () => {});
      } catch (e) {
        return t.skip(`${backend} backend not available: ${(e as Error).message}`);
      }
    }
    for (const kind of ['mlp', 'tcn', 'gru']) {
      const m = runAllocCase(helper, [backend, kind], { timeout: 240_000 });
      t.diagnostic(`${kind}: ${m.real.toFixed(2)} B/step (allocating control ${m.ctl.toFixed(1)} B/step)`);
      assert.ok(m.ctl > 32, `${kind}: the measurement must see the control loop's allocation (saw ${m.ctl.toFixed(1)} B/step)`);
      assert.ok(m.real < 1, `${kind}: ${m.real.toFixed(2)} bytes allocated per step`);
    }
  });
}
