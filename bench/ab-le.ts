/**
 * A/B speed of the LE LeNet step in two builds of this repository in ONE process (issue 14's conv speed work):
 * `node --import tsx bench/ab-le.ts OLD_DIR NEW_DIR [ROUNDS] [native,wasm] [batch]` (each DIR a checkout with
 * node_modules and, for native, its addon built; run with GLE_NATIVE_THREADS=1). One whole LE training step of the
 * MNIST LeNet (1→20 k5, pool, 20→50 k5, pool, 500, 10) and of the CIFAR-10 LeNet (3→20 …) at batch 128 (the
 * experiments' defaults, learning on) alternate between the builds (order flipped every round) and are timed in CPU
 * time (user + system) as well as wall time, so load from other processes falls on both builds alike; medians
 * (bench/ab-harness.ts).
 */
import { runAb } from './ab-harness.js';

const B = Number(process.argv[6] ?? 128);
await runAb('bench/ab-le.ts', {
  usage: '[ROUNDS] [native,wasm] [batch]',
  load: async (root) => ({
    le: await import(`${root}/src/model/le-network.ts`),
    exp: await import(`${root}/src/experiments/le.ts`),
  }),
  cases: [
    { name: 'le-lenet-mnist', p: 'LE_MNIST_LENET', slice: { wasm: 1, native: 2 } },
    { name: 'le-lenet-cifar', p: 'LE_CIFAR10_LENET', slice: { wasm: 1, native: 2 } },
  ],
  make(m: any, k, c) {
    const net = new m.le.LENetwork(k, m.exp.leRunSpec(m.exp[c.p], 1), B);
    const x = new Float64Array(B * net.nIn), y = new Float64Array(B * 10);
    for (let i = 0; i < x.length; i++) x[i] = (i * 7919) % 256 / 255;
    for (let b = 0; b < B; b++) y[b * 10 + (b % 10)] = 1;
    return () => net.step(x, y);
  },
  defaultRounds: 5,
  defaultBackends: 'native',
  title: (c) => `${c.name} B=${B}`,
  digits: [2, 2],
});
