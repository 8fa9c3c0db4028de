/**
 * No allocation per step on the paths of the projections + populations design: the composed path (projection
 * kernels + population kernel), feedback alignment and learned feedback (fused step + the projection's own error
 * product), and a conv + max-pool net — on js, wasm and native. Each case runs in a fresh process
 * (test/helpers/alloc-case.ts) with test/alloc.test.ts's method.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeBackend } from '../src/node.js';
import { runAllocCase } from './helpers/heap.js';

const helper = new URL('./helpers/alloc-case.ts', import.meta.url);

for (const backend of ['js', 'wasm', 'native'] as const) {
  test(`composed, feedback-alignment, learned-feedback and conv steps allocate nothing: ${backend}`, async (t) => {
    if (backend !== 'js') {
      try {
        await createNodeBackend(backend, 'float32', () => {});
      } catch (e) {
        return t.skip(`${backend} backend not available: ${(e as Error).message}`);
      }
    }
    for (const which of ['composed', 'fa', 'learned', 'conv']) {
      const m = runAllocCase(helper, [backend, which], { timeout: 120_000 });
      t.diagnostic(`${which}: ${m.real.toFixed(2)} B/step (allocating control ${m.ctl.toFixed(1)} B/step)`);
      assert.ok(m.ctl > 32, `${which}: the measurement must see the control loop's allocation (saw ${m.ctl.toFixed(1)} B/step)`);
      assert.ok(m.real < 1, `${which}: ${m.real.toFixed(2)} bytes allocated per step`);
    }
  });
}
