/**
 * A/B speed of two builds of this repository in ONE process: `node --import tsx bench/ab.ts OLD_DIR NEW_DIR
 * [ROUNDS] [wasm,native]` (each DIR a checkout with node_modules and, for native, its addon built; run with
 * GLE_NATIVE_THREADS=1). The MNIST-1D 15k / 42k (B = 100) and speech (B = 256) training steps of `npm run bench`
 * alternate between the builds in short slices (order flipped every round) and are timed in CPU time (user + system)
 * as well as wall time, so load from other processes on a shared machine falls on both builds alike; medians
 * (bench/ab-harness.ts).
 */
import { runAb } from './ab-harness.js';

await runAb('bench/ab.ts', {
  usage: '[ROUNDS] [wasm,native]',
  load: async (root) => ({
    net: await import(`${root}/src/model/network.ts`),
    learner: await import(`${root}/src/learn/learner.ts`),
    reg: await import(`${root}/src/experiments/registry.ts`),
  }),
  cases: [
    { name: 'mnist15k', exp: 'mnist1d-15k', B: 100, slice: { wasm: 150, native: 300 } },
    { name: 'mnist42k', exp: 'mnist1d-42k', B: 100, slice: { wasm: 60, native: 150 } },
    { name: 'gsc', exp: 'gsc', B: 256, slice: { wasm: 1, native: 3 } },
  ],
  make(m: any, k, c) {
    const p = m.reg.findExperiment(c.exp).params;
    const net = new m.net.GLENetwork({ ...p.network, dtype: 'float32' }, k, { batchSize: c.B });
    const learner = new m.learner.Learner(net);
    const x = new Float32Array(c.B * net.nIn), y = new Int32Array(c.B);
    for (let i = 0; i < c.B; i++) y[i] = i % net.nOut;
    let t = 0;
    return () => { x.fill(Math.sin(0.1 * t++)); learner.trainStep(x, y); };
  },
  defaultRounds: 15,
  defaultBackends: 'wasm,native',
  digits: [1, 3],
});
