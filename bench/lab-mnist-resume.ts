/**
 * Train on from the CLI's MNIST-1D checkpoint in the lab's loop (Node): test accuracy before and after a number of
 * online training samples. Usage: node --import tsx bench/lab-mnist-resume.ts BATCH LR SAMPLES [WARMUP_STEPS]
 */
import { join } from 'node:path';
import { createBackend } from '../src/kernels/index.js';
import { loadMnist1d } from '../src/data/mnist1d-files.js';
import { applyCheckpoint, readCheckpoint } from '../src/io/checkpoint.js';
import { MnistSim } from '../lab/src/sim/mnist.js';

const [B, lr, N, warm] = [Number(process.argv[2] ?? 8), Number(process.argv[3] ?? 1e-3), Number(process.argv[4] ?? 2500), Number(process.argv[5] ?? 0)];
const dir = join(process.cwd(), 'examples', 'checkpoints', 'mnist1d-15k-seed56');
const ck = readCheckpoint(dir);
const be = await createBackend({ backend: 'auto', dtype: 'float32', onNotice: () => undefined });
const d = loadMnist1d({ dir: join(process.cwd(), 'data', 'mnist1d'), length: 360 });
const train = { x: d.xTrain, y: d.yTrain, n: d.nTrain, length: d.length };
const test = { x: d.xTest, y: d.yTest, n: d.nTest, length: d.length };
const sim = new MnistSim(be, { ...ck.spec, optimizer: { ...ck.spec.optimizer!, lr } }, train, { batch: B });
applyCheckpoint(ck, sim.net, null, dir);
const evalTest = () => {
  sim.learning = false;
  sim.setData(test, false);
  while (sim.samples < d.nTest) sim.step();
  return sim.accuracy;
};
const before = evalTest();
sim.learning = true;
sim.setData(train, true);
if (warm > 0) sim.warmup(warm);
while (sim.samples < N) sim.step();
const preq = sim.prequentialAccuracy;
const after = evalTest();
console.log(`resume batch ${B} lr ${lr} warmup ${warm} samples ${N}: test ${(100 * before).toFixed(1)} % -> ${(100 * after).toFixed(1)} % (prequential at the end ${(100 * preq).toFixed(1)} %)`);
