import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// An LE step (conv + pool + dense; dense with feedback alignment, learning and not) allocates nothing on the heap.
// --no-concurrent-recompilation: V8 optimises on the main thread, so the measurement does not depend on whether a
// busy machine let the background compiler finish during warm-up (unoptimised code boxes doubles).
const helper = fileURLToPath(new URL('./helpers/le-alloc-case.ts', import.meta.url));
const nativeBuilt = existsSync(fileURLToPath(new URL('../native/build/Release/gle_native.node', import.meta.url)));

for (const b of ['js', 'wasm', 'native'] as const) {
  test(`LE step allocates 0 bytes (${b})`, { skip: b === 'native' && !nativeBuilt && 'native backend not built' }, () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--no-concurrent-recompilation', '--import', 'tsx', helper, b], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { real, ctl } = JSON.parse(r.stdout) as { real: number; ctl: number };
    // the control's one small array per step must be visible, else the measurement proves nothing
    assert.ok(ctl > 40, `control ${ctl} bytes/step`);
    assert.ok(real < 4, `${real} bytes/step`);
  });
}
