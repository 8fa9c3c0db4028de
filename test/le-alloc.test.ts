import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runAllocCase } from './helpers/heap.js';

// An LE step (conv + pool + dense; dense with feedback alignment, learning and not) allocates nothing on the heap.
// A fresh process with optimisation on the main thread (runAllocCase: unoptimised code boxes doubles).
const helper = new URL('./helpers/le-alloc-case.ts', import.meta.url);
const nativeBuilt = existsSync(fileURLToPath(new URL('../native/build/Release/gle_native.node', import.meta.url)));

for (const b of ['js', 'wasm', 'native'] as const) {
  test(`LE step allocates 0 bytes (${b})`, { skip: b === 'native' && !nativeBuilt && 'native backend not built' }, () => {
    const { real, ctl } = runAllocCase(helper, [b], { flags: ['--expose-gc'] });
    // the control's one small array per step must be visible, else the measurement proves nothing
    assert.ok(ctl > 40, `control ${ctl} bytes/step`);
    assert.ok(real < 4, `${real} bytes/step`);
  });
}
