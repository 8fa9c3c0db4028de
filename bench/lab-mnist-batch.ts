/**
 * MNIST-1D online in the lab's loop, in Node: test accuracy after a fixed number of training samples for a batch
 * size and learning rate. Usage: node --import tsx bench/lab-mnist-batch.ts BATCH LR SAMPLES [backend] [lab|15k] [ANNEAL]
 * (lab: the lab's default network; 15k: the network of `gle run mnist1d-15k`; ANNEAL: training samples over which the
 * lr is cosine-annealed to 0; 0 or absent: constant lr; `spec`: the spec's own scheduler; the spec's weight average,
 * if any, is kept: the lab's default evaluates the averaged parameters)
 */
import { join } from 'node:path';
import { createBackend } from '../src/kernels/index.js';
import { loadMnist1d } from '../src/data/mnist1d-files.js';
import { MnistSim, DEFAULT_MNIST_SPEC } from '../lab/src/sim/mnist.js';
import { findExperiment } from '../src/experiments/registry.js';
import type { NetworkSpecInput } from '../src/model/spec.js';

const [B, lr, N] = [Number(process.argv[2] ?? 8), Number(process.argv[3] ?? 3e-4), Number(process.argv[4] ?? 4000)];
const be = await createBackend({ backend: (process.argv[5] ?? 'auto') as 'auto', dtype: 'float32', onNotice: () => undefined });
const d = loadMnist1d({ dir: join(process.cwd(), 'data', 'mnist1d'), length: 360 });
const which = process.argv[6] ?? 'lab';
const base: NetworkSpecInput = which === '15k' ? ((findExperiment('mnist1d-15k')!.params as { network: NetworkSpecInput }).network) : DEFAULT_MNIST_SPEC;
const anneal = process.argv[7] === 'spec' ? NaN : Number(process.argv[7] ?? 0);
const scheduler = Number.isNaN(anneal) ? base.scheduler : anneal > 0 ? { type: 'cosine' as const, steps: Math.ceil(anneal / B) * 360, min_lr: 0 } : null;
const spec: NetworkSpecInput = { ...base, dtype: 'float32', scheduler, optimizer: { type: 'adam' as const, lr } };
const sim = new MnistSim(be, spec, { x: d.xTrain, y: d.yTrain, n: d.nTrain, length: d.length }, { batch: B });
const t0 = performance.now();
while (sim.samples < N) sim.step();
const trainS = (performance.now() - t0) / 1000;
const preq = sim.prequentialAccuracy;
sim.learning = false;
sim.setData({ x: d.xTest, y: d.yTest, n: d.nTest, length: d.length }, false);
while (sim.samples < d.nTest) sim.step();
const cpu = process.cpuUsage();
console.log(`${which} batch ${B} lr ${lr}${anneal > 0 ? ` annealed over ${anneal}` : Number.isNaN(anneal) ? ` scheduler ${JSON.stringify(scheduler)}` : ''} samples ${N}: prequential ${(100 * preq).toFixed(1)} %, test ${(100 * sim.accuracy).toFixed(1)} % (${sim.evaluated} weights), ${trainS.toFixed(1)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s (${be.name})`);
