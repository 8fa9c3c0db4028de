/**
 * `node --import tsx bench/webgpu-speech.ts [STEPS] [B]` — the Speech Commands net (32-750x3-12, Adam, ce) trained
 * STEPS steps (default 100) at batch B (default 256) on the webgpu backend and on the native backend from the same
 * initial weights and inputs: prints the adapter, both speeds, the speed ratio, the largest loss difference relative to
 * float32 tolerance (atol 5e-5, rtol 1e-4) and the host crossings per 100 steps. Exit 1 when the losses disagree.
 */
import { createWebGpuEngine, createNodeBackend } from '../src/node.js';
import { GpuTrainer } from '../src/learn/gpu-trainer.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { findExperiment } from '../src/experiments/registry.js';
import type { ClassifyParams } from '../src/experiments/types.js';

const T = Number(process.argv[2] ?? 100), B = Number(process.argv[3] ?? 256);
const e = await createWebGpuEngine();
const p = (findExperiment('gsc')!.params as ClassifyParams).network;
const cpu = await createNodeBackend('native', 'float32');
const mk = () => new Learner(new GLENetwork({ ...p, dtype: 'float32' }, cpu, { batchSize: B }));
const lg = mk(), ln = mk();
const tr = new GpuTrainer(e, lg, { chunk: Math.min(T, 100) });
const nIn = lg.net.nIn;
const x = Float32Array.from({ length: T * B * nIn }, (_, i) => Math.sin(0.37 * i) * 0.5);
const tg = Array.from({ length: T }, (_, t) => Int32Array.from({ length: B }, (_, b) => (b * 7 + t) % 12));
process.stdout.write(`webgpu adapter: ${e.adapterName}${e.isFallback ? ' (software/fallback)' : ''}; speech net B = ${B}, ${T} steps\n`);
const c0 = { ...e.counters };
let t0 = performance.now();
const r = await tr.run(x, tg);
const sGpu = (T * 1000) / (performance.now() - t0);
const c = e.counters;
t0 = performance.now();
let worst = -Infinity, at = -1;
for (let t = 0; t < T; t++) {
  ln.trainStep(x.subarray(t * B * nIn, (t + 1) * B * nIn), tg[t]);
  const ref = ln.net.lastLoss();
  const ex = Math.abs(r.loss[t] - ref) - (5e-5 + 1e-4 * Math.abs(ref));
  if (!(ex <= worst)) [worst, at] = [ex, t];
}
const sCpu = (T * 1000) / (performance.now() - t0);
const per100 = (k: keyof typeof c) => (((c[k] - c0[k]) / T) * 100).toFixed(2);
process.stdout.write(`webgpu ${sGpu.toFixed(2)} steps/s, native ${sCpu.toFixed(2)} steps/s (${cpu.info.blas ?? ''} ${cpu.info.threads ?? ''}), ratio ${(sGpu / sCpu).toFixed(2)}x\n`);
process.stdout.write(`loss: final webgpu ${r.loss[T - 1]} native ${ln.net.lastLoss()}; worst excess over tolerance ${worst.toExponential(2)} at step ${at} (${worst <= 0 ? 'agree' : 'DISAGREE'})\n`);
process.stdout.write(`per 100 steps: dispatches ${per100('dispatches')}, submits ${per100('submits')}, uploads ${per100('uploads')} (${per100('uploadBytes')} B), read-backs ${per100('readbacks')} (${per100('readbackBytes')} B)\n`);
process.exit(worst <= 0 ? 0 : 1);
