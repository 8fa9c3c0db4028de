/**
 * The webgpu LE rows of `npm run bench`: layered LE networks stepped on the device (src/learn/gpu-le.ts), training
 * with a new pattern every `n_updates` steps as the reference presents batches, `chunk` steps per command buffer.
 * Prints the adapter, steps/s and GFLOP/s per case, and the dispatches, submits, uploads and read-backs per 100 steps.
 *   le-mlp-mnist-b512    the MNIST MLP 784-300-100-10 of le-mnist-mlp at its batch 512
 *   le-lenet-cifar-b128  the CIFAR-10 LeNet-5 of le-cifar10-lenet at its batch 128 (also a CPU row: bench/le-conv.ts)
 * GFLOP/s counts the three matrix products of every neuron stage (drive, error sent down, weight update), as the CPU
 * rows do. On a software adapter (SwiftShader) the cases run only a few steps: seconds per step on 2 cores.
 */
import { createNodeEngine } from '../src/kernels/webgpu/node.js';
import { JsBackend } from '../src/kernels/js/index.js';
import { GpuLeNetwork } from '../src/learn/gpu-le.js';
import { LENetwork } from '../src/model/le-network.js';
import { leRunSpec, LE_CIFAR10_LENET, LE_MNIST_MLP, type LeRunParams } from '../src/experiments/le.js';
import { median } from '../src/util/stats.js';

/** 2·M·N·K of each neuron stage's three products at batch B */
export function leFlops(net: LENetwork): number {
  let f = 0;
  for (const s of net.stages) {
    if (s.kind !== 'neurons') continue;
    const c = s.proj as unknown as { F: number; CKK: number; P: number };
    f += 3 * 2 * net.B * (s.spec.type === 'conv2d' ? c.F * c.CKK * c.P : s.nIn * s.n);
  }
  return f;
}

export async function benchWebgpuLe(opts: { runs: number; only?: string[]; scale: number }): Promise<Record<string, unknown>[]> {
  const results: Record<string, unknown>[] = [];
  const cases: { name: string; p: LeRunParams; B: number; steps: [number, number] }[] = [
    { name: 'le-mlp-mnist-b512', p: LE_MNIST_MLP, B: 512, steps: [4, 400] },
    { name: 'le-lenet-cifar-b128', p: LE_CIFAR10_LENET, B: 128, steps: [2, 100] },
  ];
  if (opts.only && !cases.some((c) => opts.only!.includes(c.name))) return results;
  let engine;
  try {
    engine = await createNodeEngine();
  } catch (e) {
    process.stdout.write(`\nwebgpu LE: not available (${(e as Error).message})\n`);
    return results;
  }
  const soft = engine.isFallback || /swiftshader|llvmpipe|lavapipe/i.test(engine.adapterName);
  process.stdout.write(`\nwebgpu LE: adapter ${engine.adapterName}${soft ? ' (software)' : ''}\n`);
  process.stdout.write(`  ${'case'.padEnd(20)} ${'steps/s'.padStart(10)} ${'GFLOP/s'.padStart(8)}  disp/step  per 100 steps: submits uploads read-backs   runs (steps/s)\n`);
  for (const c of cases) {
    if (opts.only && !opts.only.includes(c.name)) continue;
    const n = Math.max(1, Math.round(c.steps[soft ? 0 : 1] * opts.scale));
    const net = new LENetwork(new JsBackend('float32'), leRunSpec(c.p, 1), c.B);
    // a new pattern every n_updates steps (the reference's presentation); whole patterns per command buffer
    const hold = Math.min(c.p.n_updates, n);
    const dev = new GpuLeNetwork(engine, net, { chunk: Math.max(100, hold), hold });
    const K = Math.ceil(n / hold);
    const xs = Float32Array.from({ length: K * c.B * net.nIn }, (_, i) => 0.5 + 0.5 * Math.sin(0.1 * i));
    const ys = new Float32Array(K * c.B * net.nOut);
    for (let r = 0; r < K * c.B; r++) ys[r * net.nOut + (r % net.nOut)] = 1;
    await dev.run(xs.subarray(0, c.B * net.nIn), ys.subarray(0, c.B * net.nOut), 1); // warm-up (pipelines, first submit)
    const rates: number[] = [];
    const c0 = { ...engine.counters };
    for (let r = 0; r < opts.runs; r++) {
      const t0 = performance.now();
      await dev.run(xs, ys, hold);
      rates.push((K * hold * 1000) / (performance.now() - t0));
    }
    const cn = engine.counters;
    const steps = K * hold * opts.runs;
    const per100 = (k: keyof typeof cn) => (((cn[k] - c0[k]) / steps) * 100).toFixed(2);
    const med = median(rates);
    const gf = (med * leFlops(net)) / 1e9;
    const dps = dev.dispatchesPerStep();
    process.stdout.write(
      `  ${c.name.padEnd(20)} ${med.toFixed(med < 10 ? 3 : 0).padStart(10)} ${gf.toFixed(2).padStart(8)}  ${String(dps).padStart(9)}  ${per100('submits').padStart(22)} ${per100('uploads').padStart(7)} ${per100('readbacks').padStart(10)}   ${rates.map((v) => v.toFixed(3)).join(' ')}\n`,
    );
    results.push({
      backend: 'webgpu', case: c.name, B: c.B, steps_per_s: med, gflops: gf, runs: rates, steps_per_run: K * hold, hold, adapter: engine.adapterName, software: soft,
      dispatches_per_step: dps,
      per_100_steps: { submits: Number(per100('submits')), uploads: Number(per100('uploads')), readbacks: Number(per100('readbacks')), dispatches: Number(per100('dispatches')) },
    });
  }
  engine.destroy();
  return results;
}
