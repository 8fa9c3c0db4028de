/**
 * `node --import tsx bench/webgpu-speech-chunks.ts [STEPS] [B] [CHUNK]` — the speech-net agreement check of
 * bench/webgpu-speech.ts (32-750x3-12, Adam, ce; webgpu vs native from the same initial weights and inputs) with a
 * line per chunk of CHUNK steps (default 10; one submit each): the chunk's wall and process CPU seconds on webgpu, the
 * native steps of the same chunk, and the worst loss difference relative to float32 tolerance (atol 5e-5, rtol 1e-4)
 * so far. For a slow (software) adapter, where the whole run may not fit: every finished chunk is reported at once.
 * Exit 1 when the losses disagree.
 */
import { createWebGpuEngine, createNodeBackend } from '../src/node.js';
import { GpuTrainer } from '../src/learn/gpu-trainer.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { findExperiment } from '../src/experiments/registry.js';
import type { ClassifyParams } from '../src/experiments/types.js';

const T = Number(process.argv[2] ?? 100), B = Number(process.argv[3] ?? 256), C = Number(process.argv[4] ?? 10);
const e = await createWebGpuEngine();
const p = (findExperiment('gsc')!.params as ClassifyParams).network;
const cpu = await createNodeBackend('native', 'float32');
const mk = () => new Learner(new GLENetwork({ ...p, dtype: 'float32' }, cpu, { batchSize: B }));
const lg = mk(), ln = mk();
const tr = new GpuTrainer(e, lg, { chunk: C });
const nIn = lg.net.nIn;
const x = Float32Array.from({ length: T * B * nIn }, (_, i) => Math.sin(0.37 * i) * 0.5);
const tg = Array.from({ length: T }, (_, t) => Int32Array.from({ length: B }, (_, b) => (b * 7 + t) % 12));
const say = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
say(`webgpu adapter: ${e.adapterName}${e.isFallback ? ' (software/fallback)' : ''}; speech net B = ${B}, ${T} steps in chunks of ${C}; native ${cpu.info.blas ?? ''} ${cpu.info.threads ?? ''}`);
let worst = -Infinity, at = -1, gpuWall = 0, gpuCpu = 0, natWall = 0;
const c0 = { ...e.counters };
for (let t0 = 0; t0 < T; t0 += C) {
  const n = Math.min(C, T - t0);
  const u0 = process.cpuUsage(), w0 = performance.now();
  const r = await tr.run(x.subarray(t0 * B * nIn, (t0 + n) * B * nIn), tg.slice(t0, t0 + n));
  const w = (performance.now() - w0) / 1000, u = process.cpuUsage(u0);
  gpuWall += w;
  gpuCpu += (u.user + u.system) / 1e6;
  const w1 = performance.now();
  let cw = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = t0 + i;
    ln.trainStep(x.subarray(t * B * nIn, (t + 1) * B * nIn), tg[t]);
    const ref = ln.net.lastLoss();
    const ex = Math.abs(r.loss[i] - ref) - (5e-5 + 1e-4 * Math.abs(ref));
    cw = Math.max(cw, ex);
    if (!(ex <= worst)) [worst, at] = [ex, t];
  }
  natWall += (performance.now() - w1) / 1000;
  say(
    `steps ${t0}-${t0 + n - 1}: webgpu ${w.toFixed(1)} s wall, ${((u.user + u.system) / 1e6).toFixed(1)} s CPU; loss webgpu ${r.loss[n - 1].toFixed(6)} native ${ln.net.lastLoss().toFixed(6)}; ` +
      `chunk's worst excess ${cw.toExponential(2)}; so far: ${t0 + n} steps, webgpu ${((t0 + n) / gpuWall).toFixed(3)} steps/s wall (${((t0 + n) / gpuCpu).toFixed(3)} per CPU-s), native ${((t0 + n) / natWall).toFixed(2)} steps/s, ${worst <= 0 ? 'agree' : 'DISAGREE'}`,
  );
}
const cn = e.counters;
const per100 = (k: keyof typeof cn) => (((cn[k] - c0[k]) / T) * 100).toFixed(2);
say(`done: worst excess over tolerance ${worst.toExponential(2)} at step ${at} (${worst <= 0 ? 'agree' : 'DISAGREE'}); per 100 steps: dispatches ${per100('dispatches')}, submits ${per100('submits')}, uploads ${per100('uploads')}, read-backs ${per100('readbacks')}`);
process.exit(worst <= 0 ? 0 : 1);
