import type { Command } from 'commander';
import { Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { createNodeBackend } from '../../node.js';
import { loadMnist } from '../../data/mnist-files.js';
import { LENetwork } from '../../model/le-network.js';
import { BpTwin, LeClassifier, trainClassifier, type ClassSet } from '../../learn/le-classify.js';
import { LE_MNIST_MLP_DEFAULTS, applySets, leMnistMlpSpec } from '../../experiments/le-mnist.js';
import { UserError } from '../../util/errors.js';

const cut = (s: ClassSet, n: number): ClassSet => (n > 0 && n < s.n ? { x: s.x.subarray(0, n * 784), y: s.y.subarray(0, n), n } : s);

export function register(program: Command): void {
  program
    .command('le-mnist-mlp')
    .description("Latent Equilibrium MNIST MLP (784-300-100-10, the LE paper's settings); --set model=bp trains its BP twin")
    .option('--set <key=value...>', `override a parameter (${Object.keys(LE_MNIST_MLP_DEFAULTS).join(', ')}); data=DIR reads the IDX files there`, (v: string, prev: string[] = []) => [...prev, v])
    .addOption(new Option('--backend <name>', 'kernel backend').choices(['auto', 'js', 'wasm', 'native']).default('auto'))
    .option('--out <file>', 'write the epoch log and settings as JSON')
    .action(async (o) => {
      let p;
      try {
        p = applySets(LE_MNIST_MLP_DEFAULTS, o.set ?? []);
      } catch (e) {
        throw new UserError((e as Error).message);
      }
      const data = loadMnist(p.data);
      const train = cut(data.train, p.max_train), test = cut(data.test, p.max_test);
      if (train.n < p.batch) throw new UserError(`batch ${p.batch} is larger than the ${train.n} training samples`);
      const k = await createNodeBackend(o.backend, 'float32');
      const spec = leMnistMlpSpec(p);
      const c = p.model === 'bp' ? new BpTwin(k, new LENetwork(k, spec, 1).spec, p.batch) : new LeClassifier(new LENetwork(k, spec, p.batch));
      const now = () => performance.now() / 1000;
      process.stdout.write(`le-mnist-mlp: model ${p.model}, ${data.source}, train ${train.n}, test ${test.n}, ${k.name} float32, seed ${p.seed}\n`);
      const t0 = now();
      const logs = trainClassifier(c, { train, test }, {
        epochs: p.epochs, classes: 10, seed: p.seed, now,
        onEpoch: (e) => process.stdout.write(`epoch ${e.epoch}: test acc ${(100 * e.testAcc).toFixed(2)} %, train acc ${Number.isNaN(e.trainAcc) ? '-' : (100 * e.trainAcc).toFixed(2) + ' %'}, ${e.seconds.toFixed(1)} s, ${(e.steps / e.seconds).toFixed(1)} steps/s\n`),
      });
      const wall = now() - t0;
      const best = Math.max(...logs.map((l) => l.testAcc));
      process.stdout.write(`done: final test acc ${(100 * logs[logs.length - 1].testAcc).toFixed(2)} %, best ${(100 * best).toFixed(2)} %, wall ${wall.toFixed(1)} s\n`);
      if (o.out) writeFileSync(o.out, JSON.stringify({ params: p, backend: k.name, source: data.source, wall_s: wall, epochs: logs }, null, 1));
    });
}
