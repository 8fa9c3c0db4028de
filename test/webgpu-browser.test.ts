/**
 * The webgpu kernels in headless Chromium on SwiftShader's WebGPU adapter (--use-webgpu-adapter=swiftshader): the
 * browser-safe core is bundled (esbuild, as Vite does for the lab) and replays GLE goldens on `navigator.gpu`.
 * Skipped, with the reason printed, without Chromium or when it exposes no adapter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumSkip, openGoldenPage } from './helpers/browser.js';

const skip = chromiumSkip('the webgpu browser test');

test('GLE goldens float32 on WebGPU in headless Chromium (SwiftShader)', { skip, timeout: 300_000 }, async (t) => {
  const golden = await openGoldenPage(new URL('./helpers/webgpu-browser-entry.ts', import.meta.url), new URL('./fixtures/golden/', import.meta.url), 'replayGolden');
  try {
    for (const f of ['dense_pe.json', 'lagline_sgd.json']) {
      const r = (await golden.replay(f)) as { error?: string; adapter?: string; ok?: boolean; bad?: string[]; quantities?: number; submits?: number };
      if (r.error) {
        t.skip(`Chromium has no WebGPU adapter here: ${r.error}`);
        return;
      }
      t.diagnostic(`${f}: adapter ${r.adapter}, ${r.quantities} quantities, ${r.submits} submits`);
      assert.equal(r.ok, true, `${f}: ${r.bad?.join('; ')}`);
      assert.ok(r.submits! <= 2);
    }
  } finally {
    await golden.close();
  }
});
