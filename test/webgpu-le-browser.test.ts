/**
 * The LE kernels in headless Chromium on SwiftShader's WebGPU adapter (--use-webgpu-adapter=swiftshader): the
 * browser-safe core is bundled (esbuild, as Vite does for the lab) and replays the five LE goldens on `navigator.gpu`
 * in float32 (atol 5e-5, rtol 1e-4; argmax exactly). Skipped, with the reason printed, without Chromium or when it
 * exposes no adapter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { LE_GOLDEN_FILES } from './helpers/le-golden.js';

const CHROMIUM = process.env.GLE_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set GLE_CHROMIUM)`;
if (skip) console.log(`# webgpu LE browser test skipped: ${skip}`);

test('LE goldens float32 on WebGPU in headless Chromium (SwiftShader)', { skip, timeout: 900_000 }, async (t) => {
  const entry = fileURLToPath(new URL('./helpers/webgpu-le-browser-entry.ts', import.meta.url));
  const out = await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
  const js = out.outputFiles[0].text;
  assert.ok(!/from ["']node:/.test(js), 'the bundle reaches a Node built-in');
  const golden = new URL('./fixtures/golden/le/', import.meta.url);
  const srv = createServer((req, res) => {
    const u = req.url ?? '/';
    if (u === '/') {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><script type="module" src="/b.js"></script>');
    } else if (u === '/b.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(js);
    } else if (/^\/g\/[a-z_]+\.json$/.test(u) && LE_GOLDEN_FILES.includes(u.slice(3))) {
      res.setHeader('content-type', 'application/json');
      res.end(readFileSync(new URL(u.slice(3), golden)));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => 'replayLeGolden' in globalThis);
    for (const f of LE_GOLDEN_FILES) {
      const r = (await page.evaluate((u) => (globalThis as unknown as { replayLeGolden: (u: string) => Promise<unknown> }).replayLeGolden(u), `/g/${f}`)) as {
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
    await browser.close();
    srv.close();
  }
});
