/** Bundled for headless Chromium by test/webgpu-browser.test.ts: replay a golden trace on `navigator.gpu`. */
import { WebGpuEngine } from '../../src/kernels/webgpu/engine.js';
import { replayTraceGpu } from '../../src/io/trace-gpu.js';
import { validateTrace } from '../../src/io/trace.js';

(globalThis as Record<string, unknown>).replayGolden = async (url: string) => {
  if (!navigator.gpu) return { error: 'navigator.gpu is missing' };
  let e: WebGpuEngine;
  try {
    e = await WebGpuEngine.create(navigator.gpu);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const g = validateTrace(await (await fetch(url)).json(), url);
  const rep = await replayTraceGpu(g, e, 5e-5, 1e-4);
  const bad = Object.entries(rep.quantities).filter(([, d]) => d.worstExcess > 0).map(([k, d]) => `${k}: maxAbs ${d.maxAbs.toExponential(2)} at step ${d.worstStep}`);
  return { adapter: e.adapterName, ok: rep.ok, bad, quantities: Object.keys(rep.quantities).length, submits: rep.counters.submits };
};
