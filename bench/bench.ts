/**
 * `npm run bench [-- --backends js,wasm,native,webgpu --runs 5 --json out.json --only lagline,mnist15k]`
 *
 * Steps per second (median of several timed runs after a warm-up; wall clock, and "per CPU-s" from the process's CPU
 * time, which a loaded machine distorts less) per backend for:
 *   lagline      the LagLine training loop as the reference times it: teacher step + student step + MSE + Adam + clamp,
 *                1-1-1 softplus chain, B = 100
 *   mnist15k     MNIST-1D 15k net 1-53-53x5-10 (per-neuron taus as the reference), B = 100, training step with Adam
 *   mnist15k-eval  the same at B = 1000 without learning (the test pass)
 *   mnist42k / mnist42k-eval   hidden width 90
 *   gsc          the Speech Commands net 32-750x3-12 at B = 256, training step with Adam
 *   ssn7-*, microcirc-b60, salnet-b32, salnet-mnist-b8/b32   spiking (SAL) cases (js; the dense ssn7 and the salnet-mnist cases also wasm): bench/spiking.ts
 *   lenet-conv-b128, lenet-sgemm-b128, lenet-mnist-*, le-lenet-cifar-b128, le-lenet-mnist-b128   LE LeNet conv stages vs bare sgemm on the
 *                same shapes, and a whole LE LeNet step (bench/le-conv.ts); the run ends with the conv/sgemm ratios
 *   le-mlp-mnist-b512   a whole LE step of the MNIST MLP 784-300-100-10 at batch 512 (bench/le-conv.ts)
 *   mnist1d-tcn25, mnist1d-tcn64, mnist1d-mlp   a training step of the MNIST-1D backprop baselines at B = 100 (the
 *                native backend's sgemm for their products, the layers' loops elsewhere; bench/baselines.ts)
 *   webgpu       the dense GLE cases above on the device (bench/webgpu.ts) and the LE cases le-mlp-mnist-b512 and
 *                le-lenet-cifar-b128 (bench/webgpu-le.ts), with the adapter and the dispatches/submits per step
 * with the achieved GFLOP/s (matrix products only: 3 per layer when training, 2 when evaluating) and the ratio to the
 * reference PyTorch figures measured on this kind of machine (1 thread).
 *
 * `--native-threads 1,2` measures the native backend once per thread bound (its layer-step pool; default: its own rule).
 * `--torch PYTHON` also times the same networks (the MNIST-1D and speech cases) in PyTorch in the same run, through
 * bench/torch/gle_step.py (an efficient PyTorch GLE step: three matrix products per layer + torch.optim.Adam), at
 * the thread counts of `--torch-threads 1,2` (torch.set_num_threads; OpenBLAS inside torch keeps its own default),
 * and prints our steps/s divided by PyTorch's. `--torch-grad gemm,bmm` adds the reference code's way of forming the
 * weight gradient (a B x out x in torch.bmm batch of outer products) next to the plain e^T r product.
 */
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createNodeBackend } from '../src/node.js';
import type { Backend } from '../src/kernels/types.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { findExperiment } from '../src/experiments/registry.js';
import type { ClassifyParams, TeacherStudentParams } from '../src/experiments/types.js';
import { parseSpec, type NetworkSpecInput, type ResolvedSpec } from '../src/model/spec.js';
import { median } from '../src/util/stats.js';
import { spikingCases } from './spiking.js';
import { CONV_PAIRS, leConvCases } from './le-conv.js';
import { baselineCases } from './baselines.js';

import { benchWebgpu } from './webgpu.js';
import { benchWebgpuLe } from './webgpu-le.js';

/** Reference PyTorch steps/s on this kind of machine (reference-gle.md §4.1; issue 5). */
const REFERENCE: Record<string, number> = { lagline: 1612, mnist15k: 278, 'mnist15k-eval': 33, mnist42k: 135 };

interface Case {
  name: string;
  make: (k: Backend, kT: Backend) => { step: () => void; flopsPerStep: number };
  /** a rough per-backend budget of steps per timed run */
  steps: Record<string, number>;
  /** the same network for bench/torch/gle_step.py */
  torch?: () => { cfg: Record<string, unknown>; flopsPerStep: number };
}

function flops(spec: NetworkSpecInput, B: number, training: boolean): number {
  let nIn = spec.input_size, f = 0;
  for (const l of parseSpec(spec).resolved) {
    f += (training ? 3 : 2) * 2 * B * nIn * l.size;
    nIn = l.size;
  }
  return f;
}

function torchConfig(spec: ResolvedSpec, B: number, training: boolean): Record<string, unknown> {
  const opt = spec.optimizer as { type: string; lr: number } | undefined;
  if (opt && opt.type !== 'adam') throw new Error('the torch baseline implements Adam only');
  if (spec.resolved.some((l) => l.learn_tau)) throw new Error('the torch baseline does not learn tau');
  return {
    B, dt: spec.dt, beta: spec.beta, loss: spec.loss, lr: opt?.lr ?? 1e-3, training,
    layers: spec.resolved.map((l) => ({ nIn: l.nIn, size: l.size, phi: l.phi, bias: l.bias, tauM: l.tauM, tauR: l.tauR, gamma: l.gamma, prospective: l.prospective })),
  };
}

function classifyCase(name: string, exp: string, B: number, training: boolean, steps: Record<string, number>): Case {
  const p = findExperiment(exp)!.params as ClassifyParams;
  return {
    name,
    steps,
    torch: () => ({ cfg: torchConfig(parseSpec({ ...p.network, dtype: 'float32' }), B, training), flopsPerStep: flops(p.network, B, training) }),
    make: (k) => {
      const spec = { ...p.network, dtype: k.dtype };
      const net = new GLENetwork(spec, k, { batchSize: B });
      const learner = new Learner(net);
      const x = new Float32Array(B * net.nIn);
      const y = new Int32Array(B);
      for (let i = 0; i < B; i++) y[i] = i % net.nOut;
      let t = 0;
      const step = training
        ? () => {
            x.fill(Math.sin(0.1 * t++));
            learner.trainStep(x, y);
          }
        : () => {
            x.fill(Math.sin(0.1 * t++));
            learner.evalStep(x, null);
          };
      return { step, flopsPerStep: flops(spec, B, training) };
    },
  };
}

const CASES: Case[] = [
  {
    name: 'lagline',
    steps: { js: 20000, wasm: 40000, native: 40000 },
    make: (k, kT) => {
      const p = findExperiment('lagline')!.params as TeacherStudentParams;
      const B = 100;
      const teacher = new GLENetwork({ ...p.teacher, dtype: k.dtype }, kT, { batchSize: B });
      teacher.training = false;
      const student = new GLENetwork(
        { ...p.teacher, dtype: k.dtype, prospective_errors: true, optimizer: { type: 'adam', lr: 1e-4 }, clamp_tau_min: 0.1 },
        k,
        { batchSize: B },
      );
      const learner = new Learner(student);
      const x = new Float32Array(B);
      const tg = new Float32Array(B);
      let t = 0;
      return {
        step: () => {
          x.fill(Math.sin(0.01 * t++));
          tg.set(teacher.step(x, null).a);
          learner.trainStep(x, tg);
        },
        flopsPerStep: flops(p.teacher, B, true) + flops(p.teacher, B, false),
      };
    },
  },
  classifyCase('mnist15k', 'mnist1d-15k', 100, true, { js: 60, wasm: 1500, native: 3000 }),
  classifyCase('mnist15k-eval', 'mnist1d-15k', 1000, false, { js: 10, wasm: 200, native: 400 }),
  classifyCase('mnist42k', 'mnist1d-42k', 100, true, { js: 30, wasm: 600, native: 1500 }),
  classifyCase('mnist42k-eval', 'mnist1d-42k', 1000, false, { js: 5, wasm: 100, native: 200 }),
  classifyCase('gsc', 'gsc', 256, true, { js: 0, wasm: 4, native: 20 }),
  ...spikingCases(),
  ...leConvCases(),
  ...baselineCases(),
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const runs = Number(arg('runs') ?? 5);
  const only = arg('only')?.split(',');
  const wantedAll = (arg('backends') ?? 'js,wasm,native,webgpu').split(',');
  const wanted = wantedAll.filter((b) => b !== 'webgpu') as ('js' | 'wasm' | 'native')[];
  const scale = Number(arg('scale') ?? 1);
  const results: Record<string, unknown>[] = [];
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  process.stdout.write(`gle bench — ${cpu}, ${os.cpus().length} cores, node ${process.version}, ${runs} runs, median\n`);
  // `--native-threads 1,2`: the native backend once per thread bound (its layer-step pool; default: its own rule)
  const nativeThreads = arg('native-threads')?.split(',').map(Number);
  type Entry = { bname: 'js' | 'wasm' | 'native'; threads: number | undefined };
  const entries = wanted.flatMap((b): Entry[] => (b === 'native' && nativeThreads ? nativeThreads.map((t) => ({ bname: b, threads: t })) : [{ bname: b, threads: undefined }]));
  for (const { bname, threads } of entries) {
    let k: Backend, kT: Backend;
    try {
      k = await createNodeBackend(bname, 'float32');
      kT = await createNodeBackend(bname, 'float32');
    } catch (e) {
      process.stdout.write(`\n${bname}: not available (${(e as Error).message})\n`);
      continue;
    }
    const label = threads ? `${bname}-${threads}t` : bname;
    if (threads) (k as Backend & { setMaxThreads(n: number): void }).setMaxThreads(threads);
    process.stdout.write(`\n${label}: ${JSON.stringify(k.info)}\n`);
    process.stdout.write(`  ${'case'.padEnd(14)} ${'steps/s'.padStart(10)} ${'GFLOP/s'.padStart(8)} ${'vs ref'.padStart(8)}  runs (steps/s)\n`);
    for (const c of CASES) {
      if (only && !only.includes(c.name)) continue;
      const n = Math.max(0, Math.round((c.steps[bname] ?? 0) * scale));
      if (n === 0) continue;
      const { step, flopsPerStep } = c.make(k, kT);
      for (let i = 0; i < Math.max(2, Math.ceil(n / 5)); i++) step(); // warm-up
      const rates: number[] = [], cpuRates: number[] = [];
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now(), c0 = process.cpuUsage();
        for (let i = 0; i < n; i++) step();
        rates.push((n * 1000) / (performance.now() - t0));
        const c = process.cpuUsage(c0);
        cpuRates.push((n * 1e6) / Math.max(1, c.user + c.system));
      }
      const med = median(rates), cpuMed = median(cpuRates);
      const gf = (med * flopsPerStep) / 1e9;
      const ref = REFERENCE[c.name];
      const ratio = ref ? med / ref : NaN;
      process.stdout.write(
        `  ${c.name.padEnd(14)} ${Math.round(med).toLocaleString('en-US').padStart(10)} ${gf.toFixed(2).padStart(8)} ${(ref ? `${ratio.toFixed(1)}x` : '-').padStart(8)}  ${rates.map((x) => Math.round(x)).join(' ')}  (per CPU-s: ${Math.round(cpuMed).toLocaleString('en-US')})\n`,
      );
      results.push({ backend: label, case: c.name, steps_per_s: med, cpu_steps_per_s: cpuMed, gflops: gf, reference_steps_per_s: ref ?? null, ratio_to_reference: ref ? ratio : null, runs: rates, steps_per_run: n, info: k.info });
    }
  }
  // the LeNet conv stages against the native sgemm rate on the same shapes (issue 14: >= 50 %)
  const rate = (backend: string, name: string) => results.find((r) => r.backend === backend && r.case === name)?.steps_per_s as number | undefined;
  for (const [conv, gemm] of CONV_PAIRS) {
    const ref = rate('native', gemm);
    if (!ref) continue;
    for (const b of [...new Set(results.map((r) => String(r.backend)))]) {
      const c = rate(b, conv);
      if (c) process.stdout.write(`${conv} on ${b}: ${((100 * c) / ref).toFixed(0)} % of the native sgemm rate on the same shapes (${gemm})\n`);
    }
  }

  // webgpu (issue 19): dense GLE training on the device, many steps per command buffer (bench/webgpu.ts)
  if (wantedAll.includes('webgpu')) results.push(...(await benchWebgpu({ runs, only, all: process.argv.includes('--webgpu-all'), scale })));
  // webgpu LE (issue 19): layered LE networks on the device (bench/webgpu-le.ts)
  if (wantedAll.includes('webgpu')) results.push(...(await benchWebgpuLe({ runs, only, scale })));
  const python = arg('torch');
  if (python) {
    const threads = (arg('torch-threads') ?? '1,2').split(',').map(Number);
    const grads = (arg('torch-grad') ?? 'gemm').split(',');
    const script = fileURLToPath(new URL('./torch/gle_step.py', import.meta.url));
    process.stdout.write(`\ntorch (${python} ${script}; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? 'unset'})\n`);
    process.stdout.write(`  ${'case'.padEnd(14)} ${'grad'.padStart(5)} ${'threads'.padStart(7)} ${'steps/s'.padStart(10)} ${'GFLOP/s'.padStart(8)}  runs (steps/s)\n`);
    for (const c of CASES) {
      if (!c.torch || (only && !only.includes(c.name))) continue;
      const n = Math.max(1, Math.round((c.steps.native ?? c.steps.wasm ?? 10) * scale));
      const t = c.torch();
      const cfg = { ...t.cfg, steps: n, runs };
      const flopsPerStep = t.flopsPerStep;
      for (const grad of grads) for (const th of threads) {
        if (grad === 'bmm' && !t.cfg.training) continue;
        const res = spawnSync(python, [script], { input: JSON.stringify({ ...cfg, threads: th, grad }), encoding: 'utf8', maxBuffer: 1 << 24 });
        if (res.status !== 0) {
          process.stdout.write(`  ${c.name.padEnd(14)} torch failed: ${(res.stderr || res.error?.message || '').trim().split('\n').pop()}\n`);
          break;
        }
        const out = JSON.parse(res.stdout) as { torch: string; threads: number; grad: string; rates: number[] };
        const med = median(out.rates);
        const ours = results.filter((r) => r.case === c.name && !String(r.backend).startsWith('torch')).map((r) => `${r.backend} ${((r.steps_per_s as number) / med).toFixed(2)}x`);
        process.stdout.write(`  ${c.name.padEnd(14)} ${out.grad.padStart(5)} ${String(out.threads).padStart(7)} ${Math.round(med).toLocaleString('en-US').padStart(10)} ${((med * flopsPerStep) / 1e9).toFixed(2).padStart(8)}  ${out.rates.map((x) => Math.round(x)).join(' ')}   ours/torch: ${ours.join(', ') || '-'}\n`);
        results.push({ backend: `torch-${out.grad}-${out.threads}t`, case: c.name, steps_per_s: med, gflops: (med * flopsPerStep) / 1e9, runs: out.rates, steps_per_run: n, info: { torch: out.torch, threads: out.threads, grad: out.grad } });
      }
    }
  }
  const json = arg('json');
  if (json) writeFileSync(json, JSON.stringify({ cpu, cores: os.cpus().length, node: process.version, date: new Date().toISOString(), results }, null, 2));
}

await main();
