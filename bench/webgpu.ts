/**
 * The webgpu rows of `npm run bench`: dense GLE training on the device (src/learn/gpu-trainer.ts), steps recorded
 * `chunk` at a time into one command buffer. Prints the adapter, steps/s and GFLOP/s per case, and the dispatches,
 * submits, uploads and read-backs per 100 steps. On a software (fallback) adapter the Speech Commands case at B = 256
 * takes minutes per step on 2 cores, so only the small cases run there unless `--webgpu-all` is given.
 */
import { createNodeEngine } from '../src/kernels/webgpu/node.js';
import { GpuTrainer } from '../src/learn/gpu-trainer.js';
import { Learner } from '../src/learn/learner.js';
import { GLENetwork } from '../src/model/network.js';
import { JsBackend } from '../src/kernels/js/index.js';
import { findExperiment } from '../src/experiments/registry.js';
import type { ClassifyParams } from '../src/experiments/types.js';
import { parseSpec, type NetworkSpecInput } from '../src/model/spec.js';
import { median } from '../src/util/stats.js';

function flops(spec: NetworkSpecInput, B: number): number {
  let nIn = spec.input_size, f = 0;
  for (const l of parseSpec(spec).resolved) {
    f += 3 * 2 * B * nIn * l.size;
    nIn = l.size;
  }
  return f;
}

export async function benchWebgpu(opts: { runs: number; only?: string[]; all: boolean; scale: number }): Promise<Record<string, unknown>[]> {
  const results: Record<string, unknown>[] = [];
  let engine;
  try {
    engine = await createNodeEngine();
  } catch (e) {
    process.stdout.write(`\nwebgpu: not available (${(e as Error).message})\n`);
    return results;
  }
  const soft = engine.isFallback || /swiftshader|llvmpipe|lavapipe/i.test(engine.adapterName);
  process.stdout.write(`\nwebgpu: adapter ${engine.adapterName}${soft ? ' (software)' : ''}\n`);
  process.stdout.write(`  ${'case'.padEnd(14)} ${'steps/s'.padStart(10)} ${'GFLOP/s'.padStart(8)}  per 100 steps: dispatches submits uploads read-backs   runs (steps/s)\n`);
  const cases = [
    { name: 'mnist15k', exp: 'mnist1d-15k', B: 100, steps: soft ? 20 : 500 },
    { name: 'mnist42k', exp: 'mnist1d-42k', B: 100, steps: soft ? 10 : 500 },
    { name: 'gsc', exp: 'gsc', B: 256, steps: soft ? (opts.all ? 2 : 0) : 100 },
  ];
  for (const c of cases) {
    if (opts.only && !opts.only.includes(c.name)) continue;
    const n = Math.max(0, Math.round(c.steps * opts.scale));
    if (n === 0) {
      process.stdout.write(`  ${c.name.padEnd(14)} skipped on a software adapter (--webgpu-all runs it)\n`);
      continue;
    }
    const p = findExperiment(c.exp)!.params as ClassifyParams;
    const spec = { ...p.network, dtype: 'float32' as const };
    const net = new GLENetwork(spec, new JsBackend('float32'), { batchSize: c.B });
    const tr = new GpuTrainer(engine, new Learner(net), { chunk: Math.min(n, 100) });
    const x = Float32Array.from({ length: n * c.B * net.nIn }, (_, i) => Math.sin(0.1 * i));
    const y = Array.from({ length: n }, () => Int32Array.from({ length: c.B }, (_, i) => i % net.nOut));
    await tr.run(x.subarray(0, Math.min(n, 2) * c.B * net.nIn), y.slice(0, Math.min(n, 2))); // warm-up (pipelines, first submit)
    const rates: number[] = [];
    const c0 = { ...engine.counters };
    for (let r = 0; r < opts.runs; r++) {
      const t0 = performance.now();
      await tr.run(x, y);
      rates.push((n * 1000) / (performance.now() - t0));
    }
    const cn = engine.counters;
    const per100 = (k: keyof typeof cn) => (((cn[k] - c0[k]) / (n * opts.runs)) * 100).toFixed(k === 'dispatches' ? 0 : 2);
    const med = median(rates);
    const gf = (med * flops(spec, c.B)) / 1e9;
    process.stdout.write(
      `  ${c.name.padEnd(14)} ${med.toFixed(med < 10 ? 2 : 0).padStart(10)} ${gf.toFixed(2).padStart(8)}  ${per100('dispatches').padStart(25)} ${per100('submits').padStart(8)} ${per100('uploads').padStart(7)} ${per100('readbacks').padStart(10)}   ${rates.map((v) => v.toFixed(2)).join(' ')}\n`,
    );
    results.push({
      backend: 'webgpu', case: c.name, B: c.B, steps_per_s: med, gflops: gf, runs: rates, steps_per_run: n, adapter: engine.adapterName, software: soft,
      per_100_steps: { dispatches: Number(per100('dispatches')), submits: Number(per100('submits')), uploads: Number(per100('uploads')), readbacks: Number(per100('readbacks')) },
      dispatches_per_step: tr.dispatchesPerStep(),
    });
  }
  return results;
}
