import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../src/kernels/js/index.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { applyCheckpoint, readCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { decodeSafetensors } from '../src/io/safetensors.js';

const spec = {
  input_size: 3, dt: 0.1, seed: 7, loss: 'ce' as const, beta: 1, prospective_errors: true,
  layers: [
    { size: 6, phi: 'tanh', tau_m: [0.5, 1, 1, 2, 0.3, 1], tau_r: 0.2, gamma: 0.2, learn_tau: true },
    { size: 4, phi: 'linear', tau_m: 1, gamma: 0.2 },
  ],
  optimizer: { type: 'adam' as const, lr: 3e-3 },
  scheduler: { type: 'plateau' as const, patience: 1, factor: 0.5 },
  clamp_tau_min: 0.2,
};

for (const dtype of ['float32', 'float64'] as const) {
  test(`checkpoint round trip continues bit-identically (${dtype})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gle-ck-'));
    const B = 5;
    const x = (t: number) => Float64Array.from({ length: B * 3 }, (_, i) => Math.sin(0.07 * t * (1 + (i % 3)) + i));
    const y = (t: number) => Int32Array.from({ length: B }, (_, b) => (b + Math.floor(t / 50)) % 4);
    const run = (net: GLENetwork, l: Learner, from: number, to: number) => {
      for (let t = from; t < to; t++) {
        l.trainStep(x(t), y(t));
        if (t % 40 === 39) l.scheduler!.step(net.lastLoss());
      }
    };
    const a = new GLENetwork({ ...spec, dtype }, new JsBackend(dtype), { batchSize: B });
    const la = new Learner(a);
    run(a, la, 0, 150);
    saveCheckpoint(dir, a, la, { note: 'mid' });
    run(a, la, 150, 300);

    const ck = readCheckpoint(dir);
    const b = new GLENetwork(ck.spec, new JsBackend(dtype), { batchSize: 1 });
    const lb = new Learner(b);
    applyCheckpoint(ck, b, lb);
    assert.equal(b.B, B);
    assert.equal(lb.opt!.stepCount, 150);
    run(b, lb, 150, 300);
    for (const [ta, tb] of [[a.allTensors(), b.allTensors()], [a.stateTensors(), b.stateTensors()], [la.opt!.stateTensors(), lb.opt!.stateTensors()]] as const) {
      ta.forEach((t, i) => assert.deepEqual(Array.from(tb[i].buf.a), Array.from(t.buf.a), t.name));
    }
    assert.equal(lb.lr, la.lr);

    // the tensors file is plain safetensors with the reference names
    const st = decodeSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))));
    for (const n of ['layer_0.weight', 'layer_0.bias', 'layer_0.tau_m', 'layer_0.tau_r', 'state.layer_1.u', 'optim.layer_0.weight.exp_avg']) assert.ok(n in st.tensors, n);
    assert.deepEqual(st.tensors['layer_0.weight'].shape, [6, 3]);
    assert.equal(st.tensors['layer_0.weight'].dtype, dtype === 'float32' ? 'F32' : 'F64');
  });
}

test('the weight average (spec average) is checkpointed: a resumed run continues it bit-identically; an old checkpoint restarts it at the loaded parameters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-ck-avg-'));
  const sp = { ...spec, dtype: 'float32' as const, average: { decay: 0.99 }, scheduler: { type: 'cosine' as const, steps: 200, min_lr: 1e-4 } };
  const B = 3;
  const x = (t: number) => Float64Array.from({ length: B * 3 }, (_, i) => Math.cos(0.05 * t + i));
  const y = (t: number) => Int32Array.from({ length: B }, (_, b) => (b + Math.floor(t / 30)) % 4);
  const run = (l: Learner, from: number, to: number) => { for (let t = from; t < to; t++) l.trainStep(x(t), y(t)); };
  const a = new GLENetwork(sp, new JsBackend('float32'), { batchSize: B });
  const la = new Learner(a);
  run(la, 0, 120);
  saveCheckpoint(dir, a, la);
  run(la, 120, 240);
  const ck = readCheckpoint(dir);
  assert.deepEqual(ck.meta!.average, { t: 120 });
  assert.ok('avg.layer_0.weight' in ck.tensors);
  const b = new GLENetwork(ck.spec, new JsBackend('float32'), { batchSize: 1 });
  const lb = new Learner(b);
  applyCheckpoint(ck, b, lb);
  run(lb, 120, 240);
  assert.equal(lb.average!.t, 240);
  la.average!.stateTensors().forEach((t, i) => assert.deepEqual(Array.from(lb.average!.stateTensors()[i].buf.a), Array.from(t.buf.a), t.name));
  // a checkpoint without the average (written before it existed, or without `average`): restarted at the parameters
  const c = new GLENetwork(ck.spec, new JsBackend('float32'), { batchSize: 1 });
  const lc = new Learner(c);
  const { average: _a, ...meta } = ck.meta!;
  applyCheckpoint({ ...ck, meta }, c, lc);
  assert.equal(lc.average!.t, 0);
  const w = c.allTensors().find((t) => t.name === 'layer_0.weight')!;
  assert.deepEqual(Array.from(lc.average!.averageOf('layer_0.weight')!.a), Array.from(w.buf.a));
});

test('a torn or damaged checkpoint is refused with a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-ck-'));
  const net = new GLENetwork({ ...spec, dtype: 'float64' }, new JsBackend('float64'), { batchSize: 2 });
  saveCheckpoint(dir, net, new Learner(net));
  const p = join(dir, 'model.safetensors');
  const bytes = readFileSync(p);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(p, bytes);
  assert.throws(() => readCheckpoint(dir), /sha256 differs/);
  writeFileSync(p, bytes.subarray(0, 100));
  assert.throws(() => readCheckpoint(dir), /checkpoint|safetensors|sha256/);
  assert.throws(() => readCheckpoint(join(dir, 'nope')), /no such directory/);
});
