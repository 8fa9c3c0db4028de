/** Bundled for headless Chromium by test/webgpu-le-browser.test.ts: replay an LE golden trace on `navigator.gpu`. */
import { WebGpuEngine } from '../../src/kernels/webgpu/engine.js';
import { replayLeTraceGpu } from '../../src/io/le-trace-gpu.js';
import { failures, maxAbsOverall, validateLeTrace } from '../../src/io/le-trace.js';

let engine: WebGpuEngine | null = null;

(globalThis as Record<string, unknown>).replayLeGolden = async (url: string) => {
  if (!navigator.gpu) return { error: 'navigator.gpu is missing' };
  try {
    engine ??= await WebGpuEngine.create(navigator.gpu);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const g = validateLeTrace(await (await fetch(url)).json(), url);
  const rep = await replayLeTraceGpu(g, engine, 5e-5, 1e-4);
  return {
    adapter: engine.adapterName,
    ok: rep.ok,
    bad: failures(rep.quantities),
    quantities: Object.keys(rep.quantities).length,
    maxAbs: maxAbsOverall(rep.quantities),
    submits: rep.counters.submits,
    dispatchesPerStep: rep.dispatchesPerStep,
  };
};
