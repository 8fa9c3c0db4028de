/**
 * The projections + populations design: the composed path (projection kernels + population kernel) against the
 * fused dense GLE kernel, on the goldens and on random nets, on every backend; feedback alignment as a dense
 * projection with a fixed B; conv and max-pool projections against the LE reference's conv golden.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Backend, FBuf } from '../src/kernels/types.js';
import { JsBackend } from '../src/kernels/js/index.js';
import { replayTrace } from '../src/io/trace.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { parseSpec, type NetworkSpecInput } from '../src/model/spec.js';
import { Rng } from '../src/util/rng.js';
import type { ConvProjection } from '../src/model/layers/conv.js';
import type { MaxPoolProjection } from '../src/model/layers/pool.js';
import { listKernels } from '../src/kernels/registry.js';
import { gleGoldens, goldenBackends } from './helpers/goldens.js';

const GOLDEN = new URL('./fixtures/golden/', import.meta.url);
const goldens = gleGoldens;
const backends = goldenBackends;

test('every GLE golden passes through the composed path (projection + population kernels) on every backend', async () => {
  const bs = await backends();
  assert.ok(bs.length >= 2);
  for (const { name, k, atol, rtol } of bs) {
    for (const g of goldens) {
      const rep = replayTrace(g, k, atol, rtol, { path: 'composed' });
      const bad = Object.entries(rep.quantities).filter(([, d]) => d.worstExcess > 0);
      assert.equal(bad.length, 0, `${name} ${g.scenario}: ${bad.map(([q, d]) => `${q} ${d.maxAbs.toExponential(2)}`).join(', ')}`);
    }
  }
});

function randomSpec(rng: Rng, dtype: 'float32' | 'float64', feedback: 'transpose' | 'fixed' | 'learned' = 'transpose', sgd = false): NetworkSpecInput {
  const phis = ['tanh', 'sigmoid', 'softplus', 'linear', 'relu'];
  const sizes = [3 + Math.floor(rng.uniform() * 6), 2 + Math.floor(rng.uniform() * 9), 1 + Math.floor(rng.uniform() * 5)];
  return {
    input_size: 1 + Math.floor(rng.uniform() * 5),
    dt: 0.05,
    dtype,
    seed: Math.floor(rng.uniform() * 1000),
    loss: 'mse',
    beta: 0.5,
    layers: sizes.map((size, i) => ({
      size,
      phi: phis[Math.floor(rng.uniform() * phis.length)],
      tau_m: Array.from({ length: size }, () => 0.2 + rng.uniform()),
      tau_r: Array.from({ length: size }, () => 0.06 + 0.2 * rng.uniform()),
      gamma: i === 1 ? 0.3 : 0,
      learn_tau: i !== 0,
      bias: i !== 2,
      prospective_errors: i !== 1,
      feedback: i > 0 ? feedback : 'transpose',
    })),
    // SGD for the path comparison: Adam divides by √v and so magnifies the rounding of near-zero gradients
    optimizer: sgd ? { type: 'sgd', lr: 0.05 } : { type: 'adam', lr: 0.01 },
  };
}

/** Run fused and composed copies side by side; returns the largest difference of outputs, states and parameters. */
function compare(spec: NetworkSpecInput, k: Backend, B: number, steps: number, seed: number): number {
  const nets = [new GLENetwork(spec, k, { batchSize: B, computeInputError: true }), new GLENetwork(spec, k, { batchSize: B, computeInputError: true, path: 'composed' })];
  assert.ok(nets[0].layers.every((l) => l.fused) && nets[1].layers.every((l) => !l.fused));
  const ls = nets.map((n) => new Learner(n));
  const rng = new Rng(seed);
  const nIn = nets[0].nIn, nOut = nets[0].nOut;
  const x = new Float64Array(B * nIn), y = new Float64Array(B * nOut);
  let worst = 0;
  const diff = (a: FBuf, b: FBuf) => {
    for (let i = 0; i < a.n; i++) worst = Math.max(worst, Math.abs(a.a[i] - b.a[i]));
  };
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(0.1 * t + i) + 0.3 * rng.uniform();
    for (let i = 0; i < y.length; i++) y[i] = Math.cos(0.07 * t + i);
    diff(ls[0].trainStep(x, y), ls[1].trainStep(x, y));
    for (let l = 0; l < nets[0].layers.length; l++)
      for (const f of ['u', 'v', 'r', 'r_prime', 'e_bottom', 'prosp_u', 'prosp_v', 'inst_e']) diff(nets[0].field(l, f)!, nets[1].field(l, f)!);
    const t0 = nets[0].allTensors(), t1 = nets[1].allTensors();
    t0.forEach((a, i) => diff(a.buf, t1[i].buf));
  }
  return worst;
}

test('composed and fused paths agree to float rounding on random nets (every backend, every feedback mode)', async () => {
  const rng = new Rng(7);
  for (const { name, k } of await backends()) {
    for (let trial = 0; trial < 4; trial++) {
      const fb = (['transpose', 'fixed', 'learned', 'transpose'] as const)[trial];
      const spec = randomSpec(rng, k.dtype, fb, true);
      const worst = compare(spec, k, 1 + trial * 3, 60, trial);
      const tol = k.dtype === 'float64' ? 1e-11 : 2e-4;
      assert.ok(worst < tol, `${name} trial ${trial} (${fb}): fused vs composed differ by ${worst}`);
    }
  }
});

test('feedback alignment: a dense projection with a fixed random B sends the error down through B, W unchanged at init', () => {
  const k = new JsBackend('float64');
  const base = randomSpec(new Rng(3), 'float64');
  const fa = { ...base, layers: base.layers.map((l, i) => ({ ...l, feedback: i === 2 ? ('fixed' as const) : ('transpose' as const) })) };
  const nBP = new GLENetwork(base, k, { batchSize: 2 }), nFA = new GLENetwork(fa, k, { batchSize: 2 });
  // same W and b (B comes from its own random stream); B is a separate out × in tensor, not W
  const W = nFA.layers[2].params.W.a, Wbp = nBP.layers[2].params.W.a;
  assert.deepEqual(Array.from(W), Array.from(Wbp));
  const fb = nFA.allTensors().find((t) => t.name === 'layer_2.feedback');
  assert.ok(fb, 'the feedback matrix is a named tensor (checkpoints keep it)');
  assert.deepEqual(fb.shape, [nFA.layers[2].nOut, nFA.layers[2].nIn]);
  assert.ok(Array.from(fb.buf.a).some((v, i) => v !== W[i]));
  // fixed B is not learned
  assert.ok(!nFA.parameters().some((p) => p.name === 'layer_2.feedback'));
  // e_bottom = prosp_v B exactly
  const x = new Float64Array(2 * nFA.nIn).fill(0.5), y = new Float64Array(2 * nFA.nOut).fill(1);
  const learner = new Learner(nFA);
  for (let t = 0; t < 20; t++) learner.trainStep(x, y);
  const pv = nFA.field(2, 'prosp_v')!.a, eb = nFA.field(2, 'e_bottom')!.a, B = fb.buf.a;
  const { nIn, nOut } = nFA.layers[2];
  let maxAbs = 0;
  for (let b = 0; b < 2; b++)
    for (let i = 0; i < nIn; i++) {
      let acc = 0;
      for (let o = 0; o < nOut; o++) acc += pv[b * nOut + o] * B[o * nIn + i];
      assert.ok(Math.abs(eb[b * nIn + i] - acc) < 1e-12);
      maxAbs = Math.max(maxAbs, Math.abs(acc));
    }
  assert.ok(maxAbs > 0, 'errors flowed');
});

test('feedback alignment learns: a 2-layer student with a fixed random B fits a teacher mapping', () => {
  const k = new JsBackend('float32');
  const spec: NetworkSpecInput = {
    input_size: 4, dt: 0.1, seed: 5, loss: 'mse', beta: 1,
    layers: [
      { size: 16, phi: 'tanh', tau_m: 0.2, tau_r: 0.2, prospective_errors: false },
      { size: 2, phi: 'linear', tau_m: 0.2, tau_r: 0.2, prospective_errors: false, feedback: 'fixed' },
    ],
    optimizer: { type: 'adam', lr: 0.003 },
  };
  const net = new GLENetwork(spec, k, { batchSize: 8 });
  const learner = new Learner(net);
  const rng = new Rng(11);
  const T = [0.8, -0.5, 0.3, 0.1, -0.2, 0.6, -0.7, 0.4];
  const x = new Float32Array(32), y = new Float32Array(16);
  const draw = () => {
    for (let i = 0; i < 32; i++) x[i] = rng.range(-1, 1);
    for (let b = 0; b < 8; b++)
      for (let o = 0; o < 2; o++) {
        let s = 0;
        for (let i = 0; i < 4; i++) s += T[o * 4 + i] * x[b * 4 + i];
        y[b * 2 + o] = Math.tanh(s);
      }
  };
  const evalLoss = () => {
    let acc = 0;
    for (let r = 0; r < 20; r++) {
      draw();
      for (let t = 0; t < 30; t++) learner.evalStep(x, null);
      learner.evalStep(x, null);
      const out = net.output.a;
      for (let i = 0; i < 16; i++) acc += (out[i] - y[i]) ** 2 / 16;
    }
    return acc / 20;
  };
  const before = evalLoss();
  for (let pattern = 0; pattern < 400; pattern++) {
    draw();
    for (let t = 0; t < 20; t++) learner.trainStep(x, y);
  }
  const after = evalLoss();
  assert.ok(after < 0.3 * before, `FA loss ${before.toFixed(4)} -> ${after.toFixed(4)}`);
});

test("learned feedback, rule 'kp': B is a parameter 'layer_i.feedback' whose gradient is W's (Kolen-Pollack)", () => {
  const k = new JsBackend('float64');
  const base = randomSpec(new Rng(9), 'float64', 'learned');
  const spec = { ...base, layers: base.layers.map((l) => ({ ...l, feedback_rule: 'kp' as const })) };
  const net = new GLENetwork(spec, k, { batchSize: 3 });
  const p = net.parameters().find((q) => q.name === 'layer_1.feedback');
  assert.ok(p && p.kind === 'feedback');
  const learner = new Learner(net);
  const x = new Float64Array(3 * net.nIn).fill(0.4), y = new Float64Array(3 * net.nOut).fill(0.7);
  const B0 = Float64Array.from(p.p.a);
  for (let t = 0; t < 10; t++) learner.trainStep(x, y);
  assert.deepEqual(Array.from(p.g.a), Array.from(net.layers[1].grads.W.a));
  assert.ok(Array.from(p.p.a).some((v, i) => v !== B0[i]), 'B was updated by the optimiser');
});

test('specs: a layer without type is a GLE dense layer; conv, max-pool and flatten are spec types', () => {
  const old = parseSpec({ input_size: 2, dt: 0.1, layers: [{ size: 3, tau_m: 1 }] });
  assert.equal(old.resolved[0].type, 'dense');
  assert.equal(old.resolved[0].feedback, 'transpose');
  assert.throws(() => parseSpec({ input_size: 2, dt: 0.1, layers: [{ type: 'conv3d', size: 3 }] }), /layers\[0\]/);
  assert.throws(() => parseSpec({ input_size: 4, dt: 0.1, layers: [{ type: 'conv2d', channels: 2, kernel: 3, tau_m: 1 }] }), /input of shape \[C, H, W\]/);
  assert.throws(() => parseSpec({ input_size: 4, dt: 0.1, layers: [{ type: 'maxpool', kernel: 2 }] }), /map input|top layer/);
  const c1 = parseSpec({
    input_size: 20, input_shape: [2, 10], dt: 0.1,
    layers: [{ type: 'conv1d', channels: 3, kernel: 3, padding: 1, tau_m: [1, 2, 3] }, { type: 'maxpool', kernel: 2 }, { type: 'flatten' }, { size: 4, tau_m: 1 }],
  });
  assert.deepEqual(c1.resolved.map((l) => l.outShape), [[3, 10], [3, 5], [4]]);
  assert.deepEqual(c1.resolved[0].tauM.slice(9, 11), [1, 2], 'one time constant per channel, over its positions');
});

/** The LE reference's conv net (test/fixtures/golden/le/README.md) as a spec. */
function leConvSpec(g: { init: Record<string, unknown> }): NetworkSpecInput {
  const neur = { tau_m: 2, tau_r: 2, prospective_errors: false };
  return {
    input_size: 64, input_shape: [1, 8, 8], dt: 0.1, dtype: 'float64', loss: 'mse', beta: 0.1,
    layers: [
      { type: 'conv2d', channels: 2, kernel: 3, phi: 'sigmoid', ...neur, init: { weight: g.init['layer_0.weight'] as unknown[], bias: g.init['layer_0.bias'] as number[] } },
      { type: 'maxpool', kernel: 2 },
      { type: 'conv2d', channels: 3, kernel: 2, phi: 'hard_sigmoid', ...neur, init: { weight: g.init['layer_2.weight'] as unknown[], bias: g.init['layer_2.bias'] as number[] } },
      { type: 'flatten' },
      { size: 4, phi: 'sigmoid', ...neur, init: { weight: g.init['layer_3.weight'] as number[][], bias: g.init['layer_3.bias'] as number[] } },
      { size: 3, phi: 'linear', ...neur, init: { weight: g.init['layer_4.weight'] as number[][], bias: g.init['layer_4.bias'] as number[] } },
    ],
  };
}

const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);

test("the LE conv golden's conv and max-pool stages are expressed by a spec and its projections reproduce the reference's drive, pooling and errors", () => {
  const g = JSON.parse(readFileSync(new URL('le/le_conv.json', GOLDEN), 'utf8'));
  const k = new JsBackend('float64');
  const B = g.batch_size as number;
  const net = new GLENetwork(leConvSpec(g), k, { batchSize: B });
  const shapes = net.layers.map((l) => l.spec.outShape);
  assert.deepEqual(shapes, [[2, 6, 6], [2, 3, 3], [3, 2, 2], [4], [3]]);
  for (const t of net.allTensors().filter((x) => x.name.endsWith('weight') || x.name.endsWith('bias')))
    assert.deepEqual(Array.from(t.buf.a), flat(g.init[t.name]), `${t.name} loaded from the golden's init`);
  const tr = g.trace.layers;
  const buf = (vals: number[]) => {
    const b = k.alloc(vals.length);
    b.a.set(vals);
    return b;
  };
  const close = (got: ArrayLike<number>, want: number[], what: string) => {
    assert.equal(got.length, want.length, what);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-12, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  };
  const c0 = net.layers[0].projection as ConvProjection, pool = net.layers[1].projection as MaxPoolProjection, c2 = net.layers[2].projection as ConvProjection;
  const ws0 = c0.workspace(k, B), wsP = pool.workspace(k, B), ws2 = c2.workspace(k, B);
  // step 0: the first conv's basal input from x[0] and the initial weights
  const drive0 = k.alloc(B * c0.nOut);
  c0.forward(k, ws0, buf(flat(g.inputs[0])), drive0);
  close(drive0.a, flat(tr[0].basal[0]), 'conv 1 basal[0]');
  for (const t of [3, 17]) {
    // max pool reads the previous rate of conv 1; ties go to the first element
    const pooled = k.alloc(B * pool.nOut);
    pool.forward(k, wsP, buf(flat(tr[0].r[t - 1])), pooled);
    close(pooled.a, flat(tr[1].r[t]), `pool r[${t}]`);
    close(wsP.argmax, flat(tr[1].argmax[t]), `pool argmax[${t}]`);
    // conv 2 with the weights before step t's update
    for (const [name, tb] of [['layer_2.weight', c2.W], ['layer_2.bias', c2.b!]] as const) tb.a.set(flat(g.trace.params[name][t - 1]));
    const drive2 = k.alloc(B * c2.nOut);
    c2.forward(k, ws2, buf(flat(tr[1].r[t - 1])), drive2);
    close(drive2.a, flat(tr[2].basal[t]), `conv 2 basal[${t}]`);
    // conv 2's error sent down: r'_in ⊙ transposed conv of (ŭ_m − a)
    const err = flat(tr[2].prosp_u_m[t]).map((v, i) => v - flat(tr[2].basal[t])[i]);
    const down = k.alloc(B * c2.nIn);
    c2.backward(k, ws2, buf(err), down);
    const rpIn = flat(tr[1].r_prime[t - 1]);
    close(Array.from(down.a, (v, i) => v * rpIn[i]), flat(tr[2].e_bottom[t]), `conv 2 e_bottom[${t}]`);
    // the pool scatters the error above to this step's argmax
    const scattered = k.alloc(B * pool.nIn);
    pool.forward(k, wsP, buf(flat(tr[0].r[t - 1])), pooled);
    pool.backward(k, wsP, buf(flat(tr[2].e_bottom[t])), scattered);
    close(scattered.a, flat(tr[1].e_bottom[t]), `pool e_bottom[${t}]`);
  }
});

test('conv projection: forward and backward are adjoint, and its weight gradient is the derivative of <drive, err>', () => {
  const k = new JsBackend('float64');
  const spec = parseSpec({
    input_size: 2 * 5 * 6, input_shape: [2, 5, 6], dt: 0.1, dtype: 'float64', seed: 3,
    layers: [{ type: 'conv2d', channels: 3, kernel: [2, 3], stride: 2, padding: 1, tau_m: 1 }],
  });
  const net = new GLENetwork(spec, k, { batchSize: 2 });
  const c = net.layers[0].projection as ConvProjection;
  const ws = c.workspace(k, 2);
  const rng = new Rng(1);
  const x = k.alloc(2 * c.nIn), e = k.alloc(2 * c.nOut), y = k.alloc(2 * c.nOut), xb = k.alloc(2 * c.nIn);
  for (const b of [x, e]) for (let i = 0; i < b.n; i++) b.a[i] = rng.range(-1, 1);
  c.b!.a.fill(0);
  c.forward(k, ws, x, y);
  c.backward(k, ws, e, xb);
  let lhs = 0, rhs = 0;
  for (let i = 0; i < y.n; i++) lhs += y.a[i] * e.a[i];
  for (let i = 0; i < x.n; i++) rhs += x.a[i] * xb.a[i];
  assert.ok(Math.abs(lhs - rhs) < 1e-12, `<Wx, e> ${lhs} vs <x, Wᵀe> ${rhs}`);
  c.grads(k, ws, e, x);
  // gW = −(1/B) ∂<drive, e>/∂W
  const h = 1e-6;
  for (const i of [0, 5, c.W.n - 1]) {
    const w0 = c.W.a[i];
    c.W.a[i] = w0 + h;
    c.forward(k, ws, x, y);
    let up = 0;
    for (let j = 0; j < y.n; j++) up += y.a[j] * e.a[j];
    c.W.a[i] = w0;
    assert.ok(Math.abs(-(up - lhs) / h / 2 - c.gW.a[i]) < 1e-6, `gW[${i}]`);
  }
});

test('a conv + pool + dense GLE net trains composed on every backend with the same results (float tolerance)', async () => {
  const spec: NetworkSpecInput = {
    input_size: 36, input_shape: [1, 6, 6], dt: 0.1, seed: 2, loss: 'mse', beta: 0.5,
    layers: [
      { type: 'conv2d', channels: 2, kernel: 3, phi: 'tanh', tau_m: 0.5, tau_r: 0.2, learn_tau: true },
      { type: 'maxpool', kernel: 2 },
      { size: 3, phi: 'linear', tau_m: 0.5, tau_r: 0.2 },
    ],
    optimizer: { type: 'adam', lr: 0.01 },
  };
  const runs: Float64Array[] = [];
  for (const { k } of await backends()) {
    const s = { ...spec, dtype: k.dtype };
    const net = new GLENetwork(s, k, { batchSize: 2 });
    const learner = new Learner(net);
    const x = new Float64Array(72).map((_, i) => Math.sin(i)), y = new Float64Array(6).fill(0.5);
    const losses: number[] = [];
    for (let t = 0; t < 80; t++) {
      learner.trainStep(x, y);
      losses.push(net.lastLoss());
    }
    assert.ok(losses[79] < losses[10], `loss falls: ${losses[10]} -> ${losses[79]}`);
    runs.push(Float64Array.from(net.output.a));
  }
  for (const r of runs.slice(1)) for (let i = 0; i < r.length; i++) assert.ok(Math.abs(r[i] - runs[0][i]) < 2e-4);
});

test('the kernel registry lists the generic kernels every backend can run', () => {
  const names = listKernels().map((x) => x.name);
  for (const n of ['gle.neurons', 'relay.neurons', 'im2col', 'col2im', 'maxpool.forward', 'maxpool.backward']) assert.ok(names.includes(n), n);
});

test('a feedback-alignment and a conv + pool network survive a checkpoint round trip (B, state and Adam moments), and traces record the fields each layer has', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { saveCheckpoint, readCheckpoint, applyCheckpoint } = await import('../src/io/checkpoint.js');
  const { recordTrace } = await import('../src/io/trace.js');
  const dir = mkdtempSync(join(tmpdir(), 'gle-arch-'));
  try {
    const specs: NetworkSpecInput[] = [
      { ...randomSpec(new Rng(4), 'float32', 'learned') },
      {
        input_size: 16, input_shape: [1, 4, 4], dt: 0.1, seed: 1, loss: 'mse', beta: 0.5, optimizer: { type: 'adam', lr: 0.01 },
        layers: [{ type: 'conv2d', channels: 2, kernel: 3, phi: 'tanh', tau_m: 0.5, tau_r: 0.2 }, { type: 'maxpool', kernel: 2 }, { size: 2, tau_m: 0.5 }],
      },
    ];
    for (const [n, spec] of specs.entries()) {
      const k = new JsBackend('float32');
      const a = new GLENetwork(spec, k, { batchSize: 2 });
      const la = new Learner(a);
      const x = new Float32Array(2 * a.nIn).map((_, i) => Math.cos(i)), y = new Float32Array(2 * a.nOut).fill(0.3);
      for (let t = 0; t < 15; t++) la.trainStep(x, y);
      const d = join(dir, `n${n}`);
      saveCheckpoint(d, a, la);
      const ck = readCheckpoint(d);
      const b = new GLENetwork(ck.spec, k, { batchSize: 2 });
      const lb = new Learner(b);
      applyCheckpoint(ck, b, lb);
      for (let t = 0; t < 5; t++) assert.deepEqual(Array.from(lb.trainStep(x, y).a), Array.from(la.trainStep(x, y).a), `net ${n} continues exactly`);
      const tr = recordTrace(b, lb, [x, x], [y, y]);
      if (n === 1) {
        assert.ok(tr.trace.layers[0].u && !tr.trace.layers[1].u, 'the pooling stage has no membrane');
        assert.equal(tr.trace.layers[1].e_bottom.length, 2);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
