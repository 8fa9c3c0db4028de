import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JsBackend } from '../src/kernels/js/index.js';
import type { Backend } from '../src/kernels/types.js';
import { loadWasmBackend } from '../src/kernels/wasm/index.js';
import { LE_GOLDEN_FILES, loadLeGolden, replayLeGolden, failures, maxAbsOverall } from './helpers/le-golden.js';

// The five LE golden traces of the authors' reference code (test/fixtures/golden/le/README.md): every recorded
// quantity and parameter at every step; js float64 at atol 1e-10, and float32 on js, wasm and native at atol 5e-5 /
// rtol 1e-4. argmax compared exactly.
const nativeBuilt = existsSync(fileURLToPath(new URL('../native/build/Release/gle_native.node', import.meta.url)));

const goldens = LE_GOLDEN_FILES.map((f) => [f, loadLeGolden(f)] as const);

function check(f: string, g: unknown, k: Backend, atol: number, rtol: number): void {
  const { net, quantities } = replayLeGolden(g, k, atol, rtol);
  assert.deepEqual(failures(quantities), []);
  assert.ok(maxAbsOverall(quantities) < atol, `${f}: max ${maxAbsOverall(quantities)}`);
  // every stage's η is the file's
  (g as { layers: { eta?: number }[] }).layers.forEach((l, i) => {
    if (l.eta !== undefined) assert.ok(Math.abs(net.eta(i)! - l.eta) < 1e-12, `${f} layer ${i} eta ${net.eta(i)} vs ${l.eta}`);
  });
  const pools = (g as { layers: { type: string }[] }).layers.filter((l) => l.type === 'maxpool2d').length;
  // 9 quantities per neuron stage (+ bias), 4 per pooling stage: nothing skipped
  assert.ok(Object.keys(quantities).length >= (net.stages.length - pools) * 9 + pools * 4);
}

for (const [f, g] of goldens) {
  test(`LE golden ${f} float64 (js)`, () => check(f, g, new JsBackend('float64'), 1e-10, 1e-9));
  test(`LE golden ${f} float32 (js)`, () => check(f, g, new JsBackend('float32'), 5e-5, 1e-4));
  test(`LE golden ${f} float32 (wasm)`, async () => check(f, g, await loadWasmBackend('float32'), 5e-5, 1e-4));
  test(`LE golden ${f} float32 (native)`, { skip: !nativeBuilt && 'native backend not built' }, async () => {
    const { loadNativeBackend } = await import('../src/kernels/native/index.js');
    check(f, g, await loadNativeBackend('float32', { onNotice: () => {} }), 5e-5, 1e-4);
  });
}
