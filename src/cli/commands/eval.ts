import type { Command } from 'commander';
import { Option } from 'commander';
import { createNodeBackend, createWebGpuEngine } from '../../node.js';
import { Learner } from '../../learn/learner.js';
import { evaluateLearner, type SeqBatch } from '../../learn/classify-loop.js';
import { GLENetwork } from '../../model/network.js';
import { applyAverage, applyCheckpoint, readCheckpoint } from '../../io/checkpoint.js';
import { loadXY } from '../../data/mnist1d-files.js';
import type { EvalResult } from '../../experiments/classify.js';
import { speechSource, xySource } from '../../experiments/sources.js';
import type { NetworkSpecInput } from '../../model/spec.js';
import type { BackendName } from '../../kernels/index.js';
import { UserError } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate a trained classifier checkpoint (argmax of summed logits) on MNIST-1D-format data (--x/--y: N x L inputs streamed one point per step) or on a Speech Commands folder (--data, KW12 log-mel stream); a spec with `average` is evaluated with its averaged parameters')
    .requiredOption('--checkpoint <dir>', 'checkpoint directory (spec.json + model.safetensors), e.g. RUN/checkpoint')
    .option('--x <file>', 'inputs .npy, N x L (float32/float64)')
    .option('--y <file>', 'labels .npy, N integers')
    .option('--data <path>', 'a Speech Commands folder (speech checkpoints): evaluates the KW12 entries of --split')
    .addOption(new Option('--split <which>', 'with --data: which split(s)').choices(['val', 'test', 'val+test', 'train']).default('val+test'))
    .option('--seed <n>', 'with --data: the seed that draws the "unknown" clips of each split', (v) => Number(v), 0)
    .option('--batch <n>', 'evaluation batch size', (v) => Number(v), 1000)
    .option('--carry-state', 'start from the state stored in the checkpoint instead of zero', false)
    .addOption(new Option('--backend <name>', 'kernel backend; webgpu: dense GLE networks evaluated on the GPU (float32)').choices(['auto', 'js', 'wasm', 'native', 'webgpu']).default('auto'))
    .action(async (o) => {
      if (!Number.isInteger(o.batch) || o.batch < 1) throw new UserError('--batch must be a positive integer');
      if (o.data && (o.x || o.y)) throw new UserError('give either --data (speech) or --x and --y (MNIST-1D format), not both');
      if (o.data) return evalSpeech(o);
      if (!o.x || !o.y) throw new UserError('give --x and --y (MNIST-1D format), or --data PATH (a Speech Commands folder)');
      const ck = readCheckpoint(o.checkpoint);
      const d = loadXY(o.x, o.y);
      if (d.n === 0) throw new UserError(`${o.x}: holds 0 samples; nothing to evaluate`);
      if (ck.spec.input_size !== 1 && !(ck.meta?.extra as { frontend?: unknown })?.frontend) throw new UserError(`checkpoint ${o.checkpoint}: the network takes ${ck.spec.input_size} inputs per step; MNIST-1D data has 1`);
      const nOut = outputs(ck);
      for (let i = 0; i < d.n; i++) if (d.y[i] >= nOut) throw new UserError(`${o.y}: label ${d.y[i]} at index ${i} is outside the network's ${nOut} classes`);
      const { net, learner, backend, label, evalBatches } = await loadNet(ck, o);
      applyCheckpoint(ck, net, null, o.checkpoint, { state: o.carryState });
      applyAverage(ck, learner, o.checkpoint);
      const frontSpec = (ck.meta?.extra as { frontend?: NetworkSpecInput | null })?.frontend ?? null;
      const front = frontSpec ? new GLENetwork({ ...frontSpec, dtype: ck.spec.dtype }, await createNodeBackend(backend.name, backend.dtype, () => {}), { batchSize: o.batch }) : null;
      if (front) front.training = false;
      const t0 = performance.now();
      const src = xySource(d, nOut);
      const r = await evalBatches(src.batches('test', o.batch, null, 0), front);
      printResult(r, t0, label + weightsNote(learner));
    });
}

type Checkpoint = ReturnType<typeof readCheckpoint>;

const outputs = (ck: Checkpoint): number => ck.spec.resolved[ck.spec.resolved.length - 1].size;

/** An evaluation over batches with the parameters evaluation reads (the averaged ones with the spec's `average`). */
type EvalBatches = (batches: Iterable<SeqBatch>, front: GLENetwork | null) => Promise<EvalResult> | EvalResult;

/**
 * The checkpoint's network on the requested backend (parameters and state are applied by the caller) and its
 * `evalBatches`: on the CPU `evaluateLearner`; on webgpu the host copy on the js backend, evaluated on the device
 * (each call uploads the host's current values); a network the device path does not run is refused (one line,
 * exit 2), as is a missing package or adapter.
 */
async function loadNet(ck: Checkpoint, o: { backend: BackendName | 'webgpu'; batch: number }): Promise<{ net: GLENetwork; learner: Learner; backend: Awaited<ReturnType<typeof createNodeBackend>>; label: string; evalBatches: EvalBatches }> {
  if (o.backend !== 'webgpu') {
    const backend = await createNodeBackend(o.backend, ck.spec.dtype);
    const net = new GLENetwork(ck.spec, backend, { batchSize: o.batch });
    const learner = new Learner(net);
    return { net, learner, backend, label: backend.name, evalBatches: (batches, front) => evaluateLearner(learner, front, batches) };
  }
  if (ck.spec.dtype !== 'float32') throw new UserError(`checkpoint ${ck.spec.name ?? ''}: a ${ck.spec.dtype} network does not run on webgpu (float32 only); use a CPU backend`);
  const backend = await createNodeBackend('auto', 'float32'); // the host copy (and a fixed front end)
  const net = new GLENetwork(ck.spec, backend, { batchSize: o.batch });
  const { gpuUnsupported } = await import('../../learn/gpu-trainer.js');
  const why = gpuUnsupported(net);
  if (why) throw new UserError(`this checkpoint's network does not run on webgpu: ${why}`);
  const engine = await createWebGpuEngine();
  const { GpuSequenceClassifier } = await import('../../learn/gpu-classify.js');
  const learner = new Learner(net);
  const evalBatches: EvalBatches = async (batches, front) => {
    const c = new GpuSequenceClassifier(engine, learner, front);
    try {
      return await c.evaluate(batches);
    } finally {
      c.destroy();
    }
  };
  return { net, learner, backend, label: `webgpu (${engine.adapterName})`, evalBatches };
}

/** With the spec's `average` the checkpoint's averaged parameters are evaluated (its raw ones go on learning). */
const weightsNote = (l: Learner): string => (l.average ? ' (averaged parameters: spec average)' : '');

function printResult(r: EvalResult, t0: number, backendName: string, label = ''): void {
  process.stdout.write(`${label}accuracy ${(100 * r.acc).toFixed(2)}% (${Math.round(r.acc * r.n)}/${r.n}), loss ${r.loss.toFixed(4)}, ${((performance.now() - t0) / 1000).toFixed(1)}s on ${backendName}\n`);
  process.stdout.write(`confusion (rows = label, columns = prediction):\n${r.confusion.map((row) => row.map((v) => String(v).padStart(4)).join('')).join('\n')}\n`);
}

/** Speech checkpoints: the KW12 entries of one or two splits of a Speech Commands folder, each from zero state. */
async function evalSpeech(o: { checkpoint: string; data: string; split: string; seed: number; batch: number; backend: BackendName | 'webgpu'; carryState: boolean }): Promise<void> {
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new UserError('--seed must be a non-negative integer');
  const ck = readCheckpoint(o.checkpoint);
  if (ck.spec.input_size !== 32) throw new UserError(`checkpoint ${o.checkpoint}: the network takes ${ck.spec.input_size} inputs per step; the speech features have 32`);
  const src = await speechSource(o.data, o.seed, undefined);
  const C = outputs(ck);
  if (C !== src.classNames.length) throw new UserError(`checkpoint ${o.checkpoint}: the network has ${C} outputs; KW12 has ${src.classNames.length} classes`);
  const { net, learner, label, evalBatches } = await loadNet(ck, o);
  const splits = (o.split === 'val+test' ? ['val', 'test'] : [o.split]) as ('train' | 'val' | 'test')[];
  const all: EvalResult = { acc: 0, loss: 0, n: 0, confusion: Array.from({ length: C }, () => new Array<number>(C).fill(0)) };
  const t0 = performance.now();
  for (const sp of splits) {
    const t1 = performance.now();
    // each split starts from the checkpoint's state (--carry-state) or from zero, so its figure does not depend on the order
    applyCheckpoint(ck, net, null, o.checkpoint, { state: o.carryState });
    applyAverage(ck, learner, o.checkpoint);
    if (!o.carryState) net.resetState();
    const r = await evalBatches(src.batches(sp, o.batch, null, 0), null);
    if (r.n === 0) throw new UserError(`${o.data}: the ${sp} split holds 0 clips; nothing to evaluate`);
    printResult(r, t1, label + weightsNote(learner), `${sp}: `);
    all.loss += r.loss * r.n;
    all.n += r.n;
    r.confusion.forEach((row, i) => row.forEach((v, j) => (all.confusion[i][j] += v)));
  }
  if (splits.length > 1) {
    all.acc = all.n ? all.confusion.reduce((s, row, i) => s + row[i], 0) / all.n : NaN;
    all.loss = all.n ? all.loss / all.n : NaN;
    printResult(all, t0, label, `${splits.join('+')}: `);
  }
}
