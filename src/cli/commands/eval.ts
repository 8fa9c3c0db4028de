import type { Command } from 'commander';
import { Option } from 'commander';
import { createNodeBackend } from '../../node.js';
import { GLENetwork } from '../../model/network.js';
import { applyCheckpoint, readCheckpoint } from '../../io/checkpoint.js';
import { loadXY } from '../../data/mnist1d-files.js';
import { evaluate } from '../../experiments/classify.js';
import type { SeqSource } from '../../experiments/sources.js';
import { SequenceBatcher } from '../../data/stream.js';
import type { NetworkSpecInput } from '../../model/spec.js';
import { UserError } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate a trained classifier checkpoint on MNIST-1D-format data (N x L inputs streamed one point per step; argmax of summed logits)')
    .requiredOption('--checkpoint <dir>', 'checkpoint directory (spec.json + model.safetensors), e.g. RUN/checkpoint')
    .requiredOption('--x <file>', 'inputs .npy, N x L (float32/float64)')
    .requiredOption('--y <file>', 'labels .npy, N integers')
    .option('--batch <n>', 'evaluation batch size', (v) => Number(v), 1000)
    .option('--carry-state', 'start from the state stored in the checkpoint instead of zero', false)
    .addOption(new Option('--backend <name>', 'kernel backend').choices(['auto', 'js', 'wasm', 'native']).default('auto'))
    .action(async (o) => {
      if (!Number.isInteger(o.batch) || o.batch < 1) throw new UserError('--batch must be a positive integer');
      const ck = readCheckpoint(o.checkpoint);
      const d = loadXY(o.x, o.y);
      if (ck.spec.input_size !== 1 && !(ck.meta?.extra as { frontend?: unknown })?.frontend) throw new UserError(`checkpoint ${o.checkpoint}: the network takes ${ck.spec.input_size} inputs per step; MNIST-1D data has 1`);
      const nOut = ck.spec.resolved[ck.spec.resolved.length - 1].size;
      for (let i = 0; i < d.n; i++) if (d.y[i] >= nOut) throw new UserError(`${o.y}: label ${d.y[i]} at index ${i} is outside the network's ${nOut} classes`);
      const backend = await createNodeBackend(o.backend, ck.spec.dtype);
      const net = new GLENetwork(ck.spec, backend, { batchSize: o.batch });
      applyCheckpoint(ck, net, null, o.checkpoint, { state: o.carryState });
      const frontSpec = (ck.meta?.extra as { frontend?: NetworkSpecInput | null })?.frontend ?? null;
      const front = frontSpec ? new GLENetwork({ ...frontSpec, dtype: ck.spec.dtype }, await createNodeBackend(backend.name, backend.dtype, () => {}), { batchSize: o.batch }) : null;
      if (front) front.training = false;
      const src: SeqSource = {
        classNames: Array.from({ length: nOut }, (_, i) => String(i)),
        channels: 1,
        size: () => d.n,
        stepsPerEpoch: () => 0,
        *batches(_split, batch) {
          const it = new SequenceBatcher({ x: d.x, y: d.y, steps: d.length, batchSize: batch });
          it.startEpoch();
          const view = { get B() { return it.batchSize; }, steps: d.length, get labels() { return it.labels; }, fillStep: (t: number, out: Float32Array | Float64Array) => it.fillStep(t, out) };
          while (it.nextBatch()) yield view;
        },
      };
      const t0 = performance.now();
      const r = evaluate(net, front, src, 'test', o.batch, 0);
      process.stdout.write(`accuracy ${(100 * r.acc).toFixed(2)}% (${Math.round(r.acc * r.n)}/${r.n}), loss ${r.loss.toFixed(4)}, ${((performance.now() - t0) / 1000).toFixed(1)}s on ${backend.name}\n`);
      process.stdout.write(`confusion (rows = label, columns = prediction):\n${r.confusion.map((row) => row.map((v) => String(v).padStart(4)).join('')).join('\n')}\n`);
    });
}
