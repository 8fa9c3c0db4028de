import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { JsBackend } from '../src/kernels/js/index.js';
import { replayTrace, validateTrace } from '../src/io/trace.js';

const GOLDEN = new URL('./fixtures/golden/', import.meta.url);
const files = ['lagline.json', 'lagline_sgd.json', 'dense_pe.json', 'dense_le.json', 'dense_pe_adam.json'];

for (const f of files) {
  const g = validateTrace(JSON.parse(readFileSync(new URL(f, GOLDEN), 'utf8')), f);
  for (const [dtype, atol, rtol] of [['float64', 1e-10, 1e-9], ['float32', 5e-5, 1e-4]] as const) {
    test(`golden ${f} ${dtype} (js)`, () => {
      const rep = replayTrace(g, new JsBackend(dtype), atol, rtol);
      const bad = Object.entries(rep.quantities).filter(([, d]) => d.worstExcess > 0);
      assert.equal(bad.length, 0, bad.map(([k, d]) => `${k}: maxAbs ${d.maxAbs.toExponential(2)} at step ${d.worstStep}`).join('; '));
      // every layer field, grad and param was compared at every step
      assert.ok(Object.keys(rep.quantities).length >= 1 + g.layers.length * 8);
    });
  }
}
