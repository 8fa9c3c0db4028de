/**
 * One allocation measurement in a fresh process (used by test/alloc-layers.test.ts): node --import tsx
 * test/helpers/alloc-case.ts BACKEND CASE prints {"real": bytes/step, "ctl": bytes/step of an allocating control}.
 * The method is test/alloc.test.ts's (test/helpers/heap.ts): median heap growth over chunks of steps, against a
 * control loop that allocates one small typed array per step. A fresh process per case keeps other cases' nets and
 * JIT state out of the count.
 */
import { JsBackend } from '../../src/kernels/js/index.js';
import type { Backend } from '../../src/kernels/types.js';
import { createNodeBackend } from '../../src/node.js';
import { GLENetwork } from '../../src/model/network.js';
import { Learner } from '../../src/learn/learner.js';
import type { NetworkSpecInput } from '../../src/model/spec.js';
import { printAllocCase } from './heap.js';

const [backend, which] = process.argv.slice(2) as ['js' | 'wasm' | 'native', string];

const neurons = { phi: 'softplus', bias: false, tau_m: 1, tau_r: 0.1, gamma: 1, learn_tau: true };
const small: NetworkSpecInput = {
  input_size: 1, dt: 0.01, dtype: 'float32', beta: 0.01, loss: 'mse',
  layers: [{ size: 1, ...neurons }, { size: 1, ...neurons, tau_m: 2 }],
  optimizer: { type: 'adam', lr: 1e-4 },
  clamp_tau_min: 0.1,
};
const specs: Record<string, { spec: NetworkSpecInput; B: number; path?: 'composed' }> = {
  composed: { spec: small, B: 8, path: 'composed' },
  fa: { spec: { ...small, layers: [small.layers[0], { ...small.layers[1], feedback: 'fixed' }] }, B: 8 },
  learned: { spec: { ...small, layers: [small.layers[0], { ...small.layers[1], feedback: 'learned' }] }, B: 8 },
  conv: {
    spec: {
      ...small, input_size: 16, input_shape: [1, 4, 4],
      layers: [{ type: 'conv2d', channels: 2, kernel: 3, ...neurons, phi: 'tanh', bias: true }, { type: 'maxpool', kernel: 2 }, { size: 1, ...neurons }],
    },
    B: 4,
  },
};

const c = specs[which];
const k: Backend = backend === 'js' ? new JsBackend('float32') : await createNodeBackend(backend, 'float32', () => {});
const net = new GLENetwork(c.spec, k, { batchSize: c.B, path: c.path });
const learner = new Learner(net);
const x = new Float32Array(c.B * net.nIn), tg = new Float32Array(c.B);
const train = (i: number) => {
  const v = Math.sin(i * 0.01);
  for (let j = 0; j < x.length; j++) x[j] = v;
  for (let j = 0; j < tg.length; j++) tg[j] = 0.5 * v + 1;
  learner.trainStep(x, tg);
};
printAllocCase(train, 10000, 1000, 21);
