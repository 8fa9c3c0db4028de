import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/kernels/js/index.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';

/**
 * No allocation per step. V8 counts every newly allocated object in `heapUsed` until the next scavenge, so the heap
 * growth over a chunk of steps is the number of bytes that chunk allocated (a chunk during which a GC ran shows a
 * drop instead). We take the median over many chunks, which is robust to the odd GC caused by anything else in the
 * process (test runner, JIT), and compare it with a control loop that allocates one small typed array per step: the
 * measurement must see the control's allocation, and must see (almost) none in the real training loop.
 */
function medianBytesPerStep(step: (i: number) => void, chunk = 2000, chunks = 41): number {
  const per: number[] = [];
  let i = 0;
  for (let c = 0; c < chunks; c++) {
    const before = process.memoryUsage().heapUsed;
    for (let k = 0; k < chunk; k++) step(i++);
    per.push((process.memoryUsage().heapUsed - before) / chunk);
  }
  per.sort((a, b) => a - b);
  return per[chunks >> 1];
}

test('training steps (dynamics + gradients + Adam + clamp) allocate nothing', (t) => {
  const net = new GLENetwork(
    {
      input_size: 1, dt: 0.01, dtype: 'float32', beta: 0.01, loss: 'mse',
      layers: [
        { size: 1, phi: 'softplus', bias: false, tau_m: 1, tau_r: 0.1, gamma: 1, learn_tau: true },
        { size: 1, phi: 'softplus', bias: false, tau_m: 2, tau_r: 0.1, gamma: 1, learn_tau: true },
      ],
      optimizer: { type: 'adam', lr: 1e-4 },
      clamp_tau_min: 0.1,
    },
    new JsBackend('float32'),
    { batchSize: 8 },
  );
  const learner = new Learner(net);
  const x = new Float32Array(8);
  const tg = new Float32Array(8);
  let sink = 0;
  const train = (i: number) => {
    const v = Math.sin(i * 0.01);
    // element writes, not fill(v): passing a non-integer double to a builtin boxes it (16 bytes per call)
    for (let k = 0; k < 8; k++) {
      x[k] = v;
      tg[k] = 0.5 * v + 1;
    }
    learner.trainStep(x, tg);
  };
  const control = (i: number) => {
    train(i);
    sink += x.slice(0, 1)[0]; // one tiny typed array per step: what a careless kernel would do
  };
  for (let i = 0; i < 20000; i++) train(i); // warm up the JIT
  for (let i = 0; i < 20000; i++) control(i);
  const ctl = medianBytesPerStep(control);
  const real = medianBytesPerStep(train);
  t.diagnostic(`median heap growth per step: training ${real.toFixed(2)} B, allocating control ${ctl.toFixed(1)} B`);
  assert.ok(Number.isFinite(sink));
  assert.ok(ctl > 32, `the measurement must see the control loop's allocation (saw ${ctl.toFixed(1)} B/step)`);
  assert.ok(real < 1, `training allocates ${real.toFixed(2)} bytes per step (control: ${ctl.toFixed(1)})`);
});
