/**
 * Spiking cases for `npm run bench`. One "step" is one batched time step of all chains; flopsPerStep is 0 (spiking
 * steps are not matrix products). Under the wasm backend the dense sampling-network cases run its wasm engine
 * (src/spiking/wasm.ts); the other cases are js only.
 *   ssn7-b16-event, ssn7-b16-dense   the 7-unit sampling network, 16 chains, ws + SAL traces, either drive
 *   ssn7-b1-event, ssn7-b1-dense     the same with one chain (sal-sampling runs one chain, dense)
 *   microcirc-b60 60 1-1-1 spiking microcircuits side by side (3 variants x 20 seeds), training phase
 *   salnet-b32    the SymmNet SAL phase: layers 1600-384-192-10, 32 chains, SAL traces on every B
 *   salnet-mnist-b8  the SAL phase as the §16 sal-symmnet runs used it: 1024-384-192-10 (MNIST), 8 chains, weights x 2.5
 *   salnet-mnist-b32 the reference SAL phase of sal-symmnet (its defaults): 1024-384-192-10, 32 chains, weights x 1
 * The salnet-mnist cases run the SALNet's js engine under the js backend and its wasm engine under the wasm backend.
 */
import { SamplingNetwork } from '../src/spiking/ssn.js';
import { salRule, wsRule } from '../src/spiking/stdp.js';
import { Microcircuit } from '../src/spiking/microcircuit.js';
import { SalNet } from '../src/spiking/salnet.js';
import { Rng } from '../src/util/rng.js';

export interface SpikingCase {
  name: string;
  steps: Record<string, number>;
  make: (k: { name: string }) => { step: () => void; flopsPerStep: number };
}

/** The SymmNet's FC SALNet, 1024-384-192-10 (the 20-step SAL span), with PyTorch-style U(±1/√fan_in) weights times `scale` (sal-symmnet's salScale). */
const salnetMnist = (batch: number, scale: number) => (k: { name: string }) => {
  const sizes = [1024, 384, 192, 10];
  const net = new SalNet({ sizes, batch, tauRef: 10, nLast: 2, span: 20, seed: 1, engine: k.name === 'wasm' ? 'wasm' : 'js' });
  const r = new Rng(4);
  for (let l = 0; l < 3; l++) {
    const b = scale / Math.sqrt(sizes[l]);
    for (const pr of [net.fw[l], net.fb[l]]) {
      for (let q = 0; q < pr.W.length; q++) pr.W[q] = r.range(-b, b);
      pr.changed();
    }
  }
  return { step: () => net.run(1), flopsPerStep: 0 };
};

export function spikingCases(): SpikingCase[] {
  // under the wasm backend the dense cases run the wasm engine of the sampling network
  const ssn = (batch: number, mode: 'dense' | 'event') => (k: { name: string }) => {
    const r = new Rng(1);
    const net = new SamplingNetwork({ n: 7, tauRef: 50, batch, mode, seed: 1, engine: k.name === 'wasm' ? 'wasm' : 'js' });
    for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) net.W[i * 7 + j] = i === j ? 0 : r.range(-1, 1);
    for (let i = 0; i < 7; i++) net.b[i] = r.range(-1, 1);
    const tr = [net.trace(wsRule(50)), net.trace(salRule(50))];
    return { step: () => net.run(1, tr), flopsPerStep: 0 };
  };
  return [
    { name: 'ssn7-b16-event', steps: { js: 100000 }, make: ssn(16, 'event') },
    { name: 'ssn7-b16-dense', steps: { js: 100000, wasm: 100000 }, make: ssn(16, 'dense') },
    { name: 'ssn7-b1-event', steps: { js: 1000000 }, make: ssn(1, 'event') },
    { name: 'ssn7-b1-dense', steps: { js: 1000000, wasm: 1000000 }, make: ssn(1, 'dense') },
    {
      name: 'microcirc-b60',
      steps: { js: 50000 },
      make: () => {
        const variants = Array.from({ length: 60 }, (_, e) => (['sal', 'fa', 'bp'] as const)[e % 3]);
        const mc = new Microcircuit({ variants, tauRef: 10, lambdaApi: 0.02, lambdaNudge: 0.6, lrUp: [0.2, 0.003], lrDown: 0.001, bias: -1, avgSteps: 2000, seed: 1 });
        const r = new Rng(2);
        for (let e = 0; e < 60; e++) [mc.W1[e], mc.W2[e], mc.Bfb[e]] = [r.range(-3, 3), r.range(-3, 3), r.range(-3, 3)];
        return { step: () => mc.present(2, 0.2, 1, 0, 'train'), flopsPerStep: 0 };
      },
    },
    {
      name: 'salnet-b32',
      steps: { js: 20 },
      make: () => {
        const net = new SalNet({ sizes: [1600, 384, 192, 10], batch: 32, tauRef: 10, seed: 1 });
        const r = new Rng(3);
        for (const pr of [...net.fw, ...net.fb]) {
          for (let q = 0; q < pr.W.length; q++) pr.W[q] = 0.05 * r.normal();
          pr.changed();
        }
        for (const b of net.bias) b.fill(-1);
        return { step: () => net.run(1), flopsPerStep: 0 };
      },
    },
    { name: 'salnet-mnist-b8', steps: { js: 100, wasm: 300 }, make: salnetMnist(8, 2.5) },
    { name: 'salnet-mnist-b32', steps: { js: 25, wasm: 75 }, make: salnetMnist(32, 1) },
  ];
}
