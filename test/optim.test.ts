import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/kernels/js/index.js';
import { Adam, CosineLR, ReduceLROnPlateau, SGD, WeightAverage } from '../src/learn/optim.js';
import { SchedulerSpec, type PlateauSchedulerSpec } from '../src/model/spec.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';

const k = new JsBackend('float64');
function param(values: number[], grads: number[]) {
  const p = k.alloc(values.length), g = k.alloc(values.length);
  p.a.set(values);
  g.a.set(grads);
  return { name: 'w', p, g, shape: [values.length] };
}

test('SGD with momentum, dampening, nesterov and weight decay follows PyTorch', () => {
  for (const [mu, damp, nest, wd] of [[0, 0, false, 0], [0.9, 0, false, 0], [0.9, 0.1, false, 0.01], [0.9, 0, true, 0.05]] as const) {
    const P = param([1, -2], [0, 0]);
    const opt = new SGD(k, [P], 0.1, mu, damp, nest, wd);
    let p = [1, -2], buf = [0, 0];
    const grads = [[0.5, -1], [0.2, 0.3], [-0.4, 0.1]];
    grads.forEach((gr, step) => {
      P.g.a.set(gr);
      opt.step();
      for (let i = 0; i < 2; i++) {
        let g = gr[i] + wd * p[i];
        if (mu !== 0) {
          buf[i] = step === 0 ? g : mu * buf[i] + (1 - damp) * g;
          g = nest ? g + mu * buf[i] : buf[i];
        }
        p[i] -= 0.1 * g;
      }
      assert.ok(Math.abs(P.p.a[0] - p[0]) < 1e-15 && Math.abs(P.p.a[1] - p[1]) < 1e-15, `mu=${mu} step ${step}`);
    });
  }
});

test('Adam: bias correction with the step count starting at 1; the first step moves each entry by ~lr', () => {
  const P = param([0.5, 0.5, 0.5], [1e-3, -10, 0]);
  const opt = new Adam(k, [P], 0.01);
  opt.step();
  // after one step mhat = g, vhat = g^2 -> update = lr * g / (|g| + eps)
  assert.ok(Math.abs(P.p.a[0] - (0.5 - (0.01 * 1e-3) / (1e-3 + 1e-8))) < 1e-15);
  assert.ok(Math.abs(P.p.a[1] - (0.5 + (0.01 * 10) / (10 + 1e-8))) < 1e-15);
  assert.equal(P.p.a[2], 0.5);
  assert.equal(opt.stepCount, 1);
  // second step against the textbook formulas
  P.g.a.set([2e-3, 5, 1]);
  opt.step();
  const b1 = 0.9, b2 = 0.999;
  const g1 = [1e-3, -10, 0], g2 = [2e-3, 5, 1];
  const p0 = [0.5 - (0.01 * 1e-3) / (1e-3 + 1e-8), 0.5 + (0.01 * 10) / (10 + 1e-8), 0.5];
  for (let i = 0; i < 3; i++) {
    const m = b1 * (1 - b1) * g1[i] + (1 - b1) * g2[i];
    const v = b2 * (1 - b2) * g1[i] ** 2 + (1 - b2) * g2[i] ** 2;
    const expect = p0[i] - ((0.01 / (1 - b1 ** 2)) * m) / (Math.sqrt(v) / Math.sqrt(1 - b2 ** 2) + 1e-8);
    assert.ok(Math.abs(P.p.a[i] - expect) < 1e-14, `entry ${i}: ${P.p.a[i]} vs ${expect}`);
  }
});

test('ReduceLROnPlateau follows PyTorch (rel threshold, patience, cooldown, min_lr)', () => {
  const opt = { lr: 1 };
  const s = new ReduceLROnPlateau(opt, SchedulerSpec.parse({ type: 'plateau', patience: 2, factor: 0.5 }) as PlateauSchedulerSpec);
  const seq = [1.0, 0.9, 0.9, 0.9, 0.9, 0.85, 0.86, 0.86, 0.86, 0.86];
  const lrs = seq.map((x) => (s.step(x), opt.lr));
  // bad epochs after 0.9: 3rd consecutive non-improvement (> patience 2) halves the lr
  assert.deepEqual(lrs, [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]);
  const o2 = { lr: 1 };
  const s2 = new ReduceLROnPlateau(o2, SchedulerSpec.parse({ type: 'plateau', patience: 0, factor: 0.1, cooldown: 1, min_lr: 0.005 }) as PlateauSchedulerSpec);
  const l2 = [1, 1, 1, 1, 1, 1].map((x) => (s2.step(x), o2.lr));
  assert.deepEqual(l2.map((x) => +x.toPrecision(6)), [1, 0.1, 0.1, 0.01, 0.01, 0.005]);
  // a tiny improvement below the relative threshold does not count
  const o3 = { lr: 1 };
  const s3 = new ReduceLROnPlateau(o3, SchedulerSpec.parse({ type: 'plateau', patience: 1, factor: 0.5 }) as PlateauSchedulerSpec);
  [1, 0.99995, 0.99991, 0.9999].forEach((x) => s3.step(x));
  assert.equal(o3.lr, 0.5);
});

test('cosine annealing: lr(t) = min_lr + (lr0 - min_lr)(1 + cos(pi t / steps)) / 2 per optimiser step, then min_lr; the Learner applies it before every step and its lr setter sets lr0', () => {
  const net = new GLENetwork({ input_size: 1, dt: 0.1, dtype: 'float64', loss: 'mse', layers: [{ size: 1, tau_m: 1 }], optimizer: { type: 'adam', lr: 0.01 }, scheduler: { type: 'cosine', steps: 4, min_lr: 0.001 } }, k);
  const L = new Learner(net);
  assert.ok(L.scheduler instanceof CosineLR);
  const seen: number[] = [];
  for (let i = 0; i < 6; i++) {
    L.trainStep([1], [0.5]);
    seen.push(L.lr);
  }
  const want = [0, 1, 2, 3, 4, 4].map((t) => 0.001 + 0.009 * 0.5 * (1 + Math.cos((Math.PI * t) / 4)));
  seen.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-15, `step ${i}: ${v} vs ${want[i]}`));
  assert.equal((L.scheduler as CosineLR).done, true);
  // the epoch hook does nothing; state round-trips (checkpoints)
  assert.equal(L.scheduler!.step(1), false);
  const st = L.scheduler!.getState();
  const o = { lr: 0.01 };
  const c = new CosineLR(o, { type: 'cosine', steps: 4, min_lr: 0.001 });
  c.setState(st);
  assert.equal(c.lrAt(c.t), want[5]);
  // the lr setter rescales the schedule (lr0), it does not override it
  const L2 = new Learner(new GLENetwork({ input_size: 1, dt: 0.1, dtype: 'float64', loss: 'mse', layers: [{ size: 1, tau_m: 1 }], optimizer: { type: 'adam', lr: 0.01 }, scheduler: { type: 'cosine', steps: 4 } }, k));
  L2.trainStep([1], [0.5]);
  L2.lr = 0.02;
  L2.trainStep([1], [0.5]);
  assert.ok(Math.abs(L2.lr - 0.02 * 0.5 * (1 + Math.cos(Math.PI / 4))) < 1e-15);
});

test('weight average: a ← a + (1 − d_t)(p − a) after every optimiser step with d_t = min(decay, (1 + t)/(10 + t)); evaluation swaps it in exactly and back; without `average` nothing changes', () => {
  const spec = { input_size: 1, dt: 0.1, dtype: 'float64' as const, loss: 'mse' as const, layers: [{ size: 2, tau_m: 1 }], optimizer: { type: 'adam' as const, lr: 0.05 } };
  const L = new Learner(new GLENetwork({ ...spec, average: { decay: 0.5 } }, k));
  const plain = new Learner(new GLENetwork(spec, k));
  assert.ok(L.average instanceof WeightAverage);
  assert.equal(plain.average, null);
  assert.equal(L.evaluated, 'averaged');
  assert.equal(plain.evaluated, 'raw');
  const W = L.net.allTensors().find((t) => t.name === 'layer_0.weight')!;
  const Wp = plain.net.allTensors().find((t) => t.name === 'layer_0.weight')!;
  // the oracle: the average of the weights after each step
  let a = Array.from(W.buf.a);
  for (let t = 0; t < 5; t++) {
    L.trainStep([1], [0.5, -0.5]);
    plain.trainStep([1], [0.5, -0.5]);
    const d = Math.min(0.5, (1 + t) / (10 + t));
    a = a.map((v, i) => v + (1 - d) * (W.buf.a[i] - v));
  }
  assert.deepEqual(Array.from(Wp.buf.a), Array.from(W.buf.a), 'averaging does not change learning');
  const avg = L.average!.averageOf('layer_0.weight')!;
  a.forEach((v, i) => assert.ok(Math.abs(avg.a[i] - v) < 1e-15, `average[${i}]: ${avg.a[i]} vs ${v}`));
  const raw = Array.from(W.buf.a);
  const seen = L.withAveraged(() => Array.from(W.buf.a));
  assert.deepEqual(seen, Array.from(avg.a));
  assert.notDeepEqual(seen, raw);
  assert.deepEqual(Array.from(W.buf.a), raw, 'the raw parameters are back, bit for bit');
  assert.equal(L.average!.swapped, false);
  // learning while the averages are swapped in is refused
  L.average!.swap();
  assert.throws(() => L.trainStep([1], [0.5, -0.5]), /swapped/);
  L.average!.swap();
  // the spec refuses a decay outside (0, 1)
  assert.throws(() => new GLENetwork({ ...spec, average: { decay: 1 } }, k), /average/);
});
