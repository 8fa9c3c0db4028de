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

/** The first n test samples in the lab's data form. */
const testSplit = (n: number) => ({ x: d.xTest.subarray(0, n * d.length), y: d.yTest.subarray(0, n), n, length: d.length });

/** The lab's Evaluate: `sim` over `data` without learning; its confusion matrix as rows (the CLI's form). */
function labEvaluate(sim: MnistSim, data: ReturnType<typeof testSplit>): number[][] {
  sim.learning = false;
  sim.setData(data, false);
  while (sim.samples < data.n) sim.step();
  return Array.from({ length: 10 }, (_, r) => Array.from(sim.confusion.subarray(r * 10, r * 10 + 10)));
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
  const sim = new MnistSim(new JsBackend('float64'), spec, testSplit(n), { batch: B, shuffle: false });
  const labConfusion = labEvaluate(sim, testSplit(n));
  assert.equal(cli.n, n);
  assert.deepEqual(labConfusion, cli.confusion);
  assert.equal(sim.accuracy, cli.acc);
});

test("with the spec's weight average the lab's Evaluate reads the averaged parameters, as the CLI's evaluation does (Learner.withAveraged)", () => {
  const n = 24, B = 8;
  const avgSpec: NetworkSpecInput = { ...spec, optimizer: { type: 'adam', lr: 1e-2 }, average: { decay: 0.999 } };
  const train = { x: d.xTrain.subarray(0, 16 * d.length), y: d.yTrain.subarray(0, 16), n: 16, length: d.length };
  const sim = new MnistSim(new JsBackend('float64'), avgSpec, train, { batch: B });
  assert.equal(sim.evaluated, 'averaged');
  while (sim.samples < 16) sim.step();
  // the CLI's side: a network holding the learning network's raw parameters and a copy of its average
  const cliNet = new GLENetwork(avgSpec, new JsBackend('float64'), { batchSize: B });
  const cli = new Learner(cliNet);
  sim.net.allTensors().forEach((t, i) => cliNet.allTensors()[i].buf.a.set(t.buf.a));
  sim.learner.average!.stateTensors().forEach((t, i) => cli.average!.stateTensors()[i].buf.a.set(t.buf.a));
  const raw = evaluateBatches(cliNet, null, batches(n, B));
  cliNet.resetState();
  const averaged = cli.withAveraged(() => evaluateBatches(cliNet, null, batches(n, B)));
  assert.notDeepEqual(averaged.confusion, raw.confusion, 'the averaged and the raw parameters predict differently here');
  sim.net.resetState();
  assert.deepEqual(labEvaluate(sim, testSplit(n)), averaged.confusion);
  // learning again swaps the raw parameters back in
  sim.learning = true;
  sim.setData(train, true);
  sim.step();
  assert.equal(sim.learner.average!.swapped, false);
});
