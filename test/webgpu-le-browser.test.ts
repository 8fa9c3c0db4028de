/**
 * The LE kernels in headless Chromium on SwiftShader's WebGPU adapter (--use-webgpu-adapter=swiftshader): the
 * browser-safe core is bundled (esbuild, as Vite does for the lab) and replays the five LE goldens on `navigator.gpu`
 * in float32 (atol 5e-5, rtol 1e-4; argmax exactly). Skipped, with the reason printed, without Chromium or when it
 * exposes no adapter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumSkip, openGoldenPage } from './helpers/browser.js';
import { LE_GOLDEN_FILES } from './helpers/le-golden.js';

const skip = chromiumSkip('the webgpu LE browser test');

test('LE goldens float32 on WebGPU in headless Chromium (SwiftShader)', { skip, timeout: 900_000 }, async (t) => {
  const golden = await openGoldenPage(new URL('./helpers/webgpu-le-browser-entry.ts', import.meta.url), new URL('./fixtures/golden/le/', import.meta.url), 'replayLeGolden', (f) => LE_GOLDEN_FILES.includes(f));
  try {
    for (const f of LE_GOLDEN_FILES) {
      const r = (await golden.replay(f)) as {
        error?: string; adapter?: string; ok?: boolean; bad?: string[]; quantities?: number; maxAbs?: number; submits?: number; dispatchesPerStep?: number;
      };
      if (r.error) {
        t.skip(`Chromium has no WebGPU adapter here: ${r.error}`);
        return;
      }
      t.diagnostic(`${f}: adapter ${r.adapter}, ${r.quantities} quantities, max |diff| ${r.maxAbs?.toExponential(2)}, ${r.submits} submits, ${r.dispatchesPerStep} dispatches/step`);
      assert.equal(r.ok, true, `${f}: ${r.bad?.join('; ')}`);
      assert.ok(r.quantities! >= 10, `${f}: ${r.quantities} quantities compared`);
      assert.ok(r.submits! <= 2);
    }
  } finally {
    await golden.close();
  }
});
