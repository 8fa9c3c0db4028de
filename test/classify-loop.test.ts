/**
 * The shared classify loop (src/learn/classify-loop.ts): stepping a batch one dt at a time is the same computation as
 * running it at once, and the lab's MNIST-1D stream (lab/src/sim/mnist.ts) and the CLI's evaluation give the same
 * predictions on the same data, because both run it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { JsBackend, GLENetwork, Learner, SequenceBatcher, SequenceClassifier, evaluateBatches, type NetworkSpecInput, type SeqBatch } from 'gle/core';
import { loadMnist1d } from '../src/data/mnist1d-files.js';
import { MnistSim } from '../lab/src/sim/mnist.js';

const spec: NetworkSpecInput = {
  name: 'tiny',
  input_size: 1,
  dt: 0.2,
  dtype: 'float64',
  seed: 3,
  loss: 'ce',
  beta: 1,
  prospective_errors: true,
  layers: [
    { size: 6, phi: 'tanh', bias: true, tau_m: 0.6, tau_r: 0.2 },
    { size: 10, phi: 'linear', bias: true, tau_m: 1.2, tau_r: 1.2 },
  ],
  optimizer: { type: 'adam', lr: 1e-3 },
};

const d = loadMnist1d({ dir: join(import.meta.dirname, '..', 'data', 'mnist1d'), length: 360 });
function batches(n: number, B: number): SeqBatch[] {
  const it = new SequenceBatcher({ x: d.xTest.subarray(0, n * d.length), y: d.yTest.subarray(0, n), steps: d.length, batchSize: B });
  it.startEpoch();
  const out: SeqBatch[] = [];
  while (it.nextBatch()) {
    const idx = Int32Array.from(it.indices), labels = Int32Array.from(it.labels), L = d.length;
    out.push({ B: idx.length, steps: L, labels, fillStep: (t, o) => idx.forEach((i, b) => (o[b] = d.xTest[i * L + t])) });
  }
  return out;
}

test('a batch stepped one dt at a time equals the batch run at once (learning and evaluating)', () => {
  const [b] = batches(4, 4);
  const run = (stepwise: boolean) => {
    const net = new GLENetwork(spec, new JsBackend('float64'), { batchSize: 4 });
    const c = new SequenceClassifier(net);
    const learner = new Learner(net);
    let r;
    if (stepwise) {
      c.begin(b, learner);
      while (!c.done) c.step();
      r = c.finish();
    } else r = c.run(b, learner);
    return { pred: Array.from(r.pred), loss: r.lossSum, w: Array.from(net.layers[0].params.W.a), sums: Array.from(c.sums) };
  };
  const a = run(true), z = run(false);
  assert.deepEqual(a, z);
  assert.ok(a.w.some((v, i) => v !== new GLENetwork(spec, new JsBackend('float64')).layers[0].params.W.a[i]), 'it learned');
});

test("the lab's MNIST-1D stream and the CLI's evaluation agree sample by sample (one shared loop)", () => {
  const n = 24, B = 8;
  const net = new GLENetwork(spec, new JsBackend('float64'), { batchSize: B });
  const cli = evaluateBatches(net, null, batches(n, B));
  const sim = new MnistSim(new JsBackend('float64'), spec, { x: d.xTest.subarray(0, n * d.length), y: d.yTest.subarray(0, n), n, length: d.length }, { batch: B, shuffle: false });
  sim.learning = false;
  sim.setData(sim.data, false);
  while (sim.samples < n) sim.step();
  const labConfusion = Array.from({ length: 10 }, (_, r) => Array.from(sim.confusion.subarray(r * 10, r * 10 + 10)));
  assert.equal(cli.n, n);
  assert.deepEqual(labConfusion, cli.confusion);
  assert.equal(sim.accuracy, cli.acc);
});
