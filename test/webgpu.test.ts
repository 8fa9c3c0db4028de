/**
 * The webgpu backend on whatever adapter the machine has (a GPU, else SwiftShader's software Vulkan driver): the GLE
 * goldens in float32, the primitives against the js backend, a speech-net-shaped run against the native backend, and
 * the host-crossing counts (one submit per chunk of steps). Skipped, with the reason printed, where no adapter exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { validateTrace } from '../src/io/trace.js';
import { replayTraceGpu } from '../src/io/trace-gpu.js';
import { JsBackend } from '../src/kernels/js/index.js';
import { fw, GpuHeap, groups1d } from '../src/kernels/webgpu/engine.js';
import { im2col } from '../src/kernels/generic.js';
import { GpuTrainer } from '../src/learn/gpu-trainer.js';
import { Learner } from '../src/learn/learner.js';
import { GLENetwork } from '../src/model/network.js';
import { createNodeBackend } from '../src/node.js';
import { findExperiment } from '../src/experiments/registry.js';
import type { ClassifyParams } from '../src/experiments/types.js';
import { PHI_COUNT, type PhiCode } from '../src/kernels/layout.js';
import { testEngine } from './helpers/webgpu.js';

const { engine, skip } = await testEngine();
if (skip) console.log(`# webgpu tests skipped: ${skip}`);
else console.log(`# webgpu adapter: ${engine!.adapterName}${engine!.isFallback ? ' (software/fallback)' : ''}`);

const GOLDEN = new URL('./fixtures/golden/', import.meta.url);
for (const f of ['lagline.json', 'lagline_sgd.json', 'dense_pe.json', 'dense_le.json', 'dense_pe_adam.json']) {
  test(`golden ${f} float32 (webgpu, every step in one command buffer)`, { skip: skip ?? false }, async () => {
    const g = validateTrace(JSON.parse(readFileSync(new URL(f, GOLDEN), 'utf8')), f);
    const rep = await replayTraceGpu(g, engine!, 5e-5, 1e-4);
    const bad = Object.entries(rep.quantities).filter(([, d]) => d.worstExcess > 0);
    assert.equal(bad.length, 0, bad.map(([k, d]) => `${k}: maxAbs ${d.maxAbs.toExponential(2)} at step ${d.worstStep}`).join('; '));
    assert.ok(Object.keys(rep.quantities).length >= 1 + g.layers.length * 8);
    // all steps: one submit for the work (+ one for the field log's read-back), no per-step round trip
    assert.ok(rep.counters.submits <= 2, `submits ${rep.counters.submits}`);
    assert.ok(rep.counters.readbacks <= 2);
  });
}

/** Run planned ops over a heap holding `inputs`, read back `out` ranges. */
async function runOps(sizes: number[], init: (Float32Array | null)[], plan: (h: GpuHeap, offs: number[], ctl: GPUBuffer) => ReturnType<NonNullable<typeof engine>['op']>[], read: number[]): Promise<Float32Array[]> {
  const e = engine!;
  const h = new GpuHeap();
  const offs = sizes.map((n) => h.alloc(n));
  const buf = e.createHeap(h);
  const ctl = e.createCtl();
  init.forEach((a, i) => a && e.write(buf, offs[i] * 4, a));
  const ops = plan(h, offs, ctl);
  const enc = e.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  e.record(pass, ops);
  pass.end();
  const got = await e.readRanges(enc, buf, read.map((i) => [offs[i], sizes[i]] as [number, number]));
  buf.destroy();
  return got;
}

const rand = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + s) * 0.9);
function close(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('gemm: every transpose, odd sizes, alpha and beta, against js', { skip: skip ?? false }, async () => {
  const js = new JsBackend('float32');
  for (const [M, N, K] of [[1, 1, 1], [67, 5, 130], [3, 70, 17], [65, 65, 64]]) {
    for (const tA of [false, true])
      for (const tB of [false, true]) {
        const A = rand(M * K, 1), Bm = rand(K * N, 2), C = rand(M * N, 3);
        const [out] = await runOps([M * K, K * N, M * N], [A, Bm, C], (h, o, ctl) => [engine!.op(h, ctl, 'gemm', [M, N, K, (tA ? 1 : 0) | (tB ? 2 : 0), fw(0.5), fw(-2), o[0], o[1], o[2]], [Math.ceil(N / 64), Math.ceil(M / 64), 1])], [2]);
        const a = js.alloc(M * K), b = js.alloc(K * N), c = js.alloc(M * N);
        a.a.set(A); b.a.set(Bm); c.a.set(C);
        js.gemm(tA, tB, M, N, K, 0.5, a, b, -2, c);
        close(out, c.a, 1e-5, 1e-4, `gemm ${M}x${N}x${K} tA=${tA} tB=${tB}`);
      }
  }
});

test('activate: every rate function against js', { skip: skip ?? false }, async () => {
  const js = new JsBackend('float32');
  const n = 301;
  const x = Float32Array.from({ length: n }, (_, i) => (i - 150) * 0.2); // −30 … 30: softplus's threshold, tanh's tails
  for (let phi = 0; phi < PHI_COUNT; phi++) {
    const [r, rp] = await runOps([n, n, n], [x, null, null], (h, o, ctl) => [engine!.op(h, ctl, 'activate', [n, phi, o[0], o[1], o[2]], groups1d(n))], [1, 2]);
    const xb = js.alloc(n), rb = js.alloc(n), pb = js.alloc(n);
    xb.a.set(x);
    js.activate(phi as PhiCode, xb, rb, pb, n);
    close(r, rb.a, 2e-6, 1e-5, `phi ${phi} r`);
    close(rp, pb.a, 2e-6, 1e-5, `phi ${phi} r'`);
  }
});

test('im2col (conv via im2col + gemm): padding and stride, against the generic kernel', { skip: skip ?? false }, async () => {
  const js = new JsBackend('float32');
  const g = { C: 2, H: 5, W: 6, kh: 3, kw: 2, stride: 2, padH: 1, padW: 1, Ho: 3, Wo: 4 };
  const B = 3, nx = B * g.C * g.H * g.W, nc = g.C * g.kh * g.kw * B * g.Ho * g.Wo;
  const x = rand(nx, 4);
  const [cols] = await runOps([nx, nc], [x, null], (h, o, ctl) => [engine!.op(h, ctl, 'im2col', [B, g.C, g.H, g.W, g.kh, g.kw, g.stride, g.padH, g.padW, g.Ho, g.Wo, o[0], o[1]], groups1d(nc))], [1]);
  const xb = js.alloc(nx), cb = js.alloc(nc);
  xb.a.set(x);
  im2col(js, { g, B, x: xb, cols: cb });
  close(cols, cb.a, 0, 0, 'cols');
});

test('adam: many steps on the device (t from the device counter) against js', { skip: skip ?? false }, async () => {
  const js = new JsBackend('float32');
  const n = 1000, steps = 5;
  const p0 = rand(n, 5), g = rand(n, 6);
  // the lr is read per step from slot + CTL[0] (a schedule's lr of every step of the chunk)
  const [p] = await runOps([n, n, n, n, steps], [p0, g, null, null, new Float32Array(steps).fill(0.01)], (h, o, ctl) => {
    const ops = [];
    for (let s = 0; s < steps; s++) {
      ops.push(engine!.op(h, ctl, 'adam', [n, o[0], o[1], o[2], o[3], o[4], fw(0.9), fw(0.999), fw(1e-8), fw(0.01)], groups1d(n)));
      ops.push(engine!.op(h, ctl, 'tick', [1], [1, 1, 1]));
    }
    return ops;
  }, [0]);
  const pb = js.alloc(n), gb = js.alloc(n), m = js.alloc(n), v = js.alloc(n);
  pb.a.set(p0); gb.a.set(g);
  for (let t = 1; t <= steps; t++) js.adam(pb, gb, m, v, n, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc1: 1 - 0.9 ** t, bc2: 1 - 0.999 ** t, weightDecay: 0.01 });
  close(p, pb.a, 5e-6, 1e-4, 'p');
});

// on a software adapter this case takes minutes on 2 shared cores: it runs there only with GLE_TEST_WEBGPU_SPEECH=1
const speechSkip = skip ?? (engine!.isFallback && !process.env.GLE_TEST_WEBGPU_SPEECH ? 'software adapter: set GLE_TEST_WEBGPU_SPEECH=1 to run the speech net (minutes)' : false);
if (typeof speechSkip === 'string' && !skip) console.log(`# webgpu speech-net test skipped: ${speechSkip}`);
test('the speech net (32-750x3-12, Adam, ce) agrees with the native backend: losses and weights', { skip: speechSkip }, async () => {
  // B and the step count are cut for the software adapter (a B = 256 step of this net takes minutes on SwiftShader
  // on 2 cores); bench/webgpu-gpu.sh runs B = 256 × 100 steps where a GPU exists
  const B = 4, T = 3;
  const p = findExperiment('gsc')!.params as ClassifyParams;
  const k = await createNodeBackend('auto', 'float32', () => {});
  const mk = () => new Learner(new GLENetwork({ ...p.network, dtype: 'float32' }, k, { batchSize: B }));
  const lg = mk(), ln = mk();
  const tr = new GpuTrainer(engine!, lg, { chunk: T });
  const nIn = lg.net.nIn;
  const x = Float32Array.from({ length: T * B * nIn }, (_, i) => Math.sin(0.37 * i) * 0.5);
  const tg = Array.from({ length: T }, (_, t) => Int32Array.from({ length: B }, (_, b) => (b * 7 + t) % 12));
  const before = engine!.counters.submits;
  const r = await tr.run(x, tg);
  assert.equal(engine!.counters.submits - before, 1, 'one submit for all steps');
  for (let t = 0; t < T; t++) {
    ln.trainStep(x.subarray(t * B * nIn, (t + 1) * B * nIn), tg[t]);
    const ref = ln.net.lastLoss();
    assert.ok(Math.abs(r.loss[t] - ref) <= 5e-5 + 1e-4 * Math.abs(ref), `loss at step ${t}: ${r.loss[t]} vs ${ref}`);
  }
  await tr.download();
  for (let l = 0; l < lg.net.layers.length; l++) close(lg.net.layers[l].params.W.a, ln.net.layers[l].params.W.a, 5e-5, 1e-4, `layer ${l} W`);
});

test('a chunk of 100 training steps is one submit and one read-back', { skip: skip ?? false }, async () => {
  const net = new GLENetwork({ input_size: 4, dt: 0.1, loss: 'mse', optimizer: { type: 'adam', lr: 1e-3 }, layers: [{ size: 16, phi: 'tanh', tau_m: 1, tau_r: 0.5 }, { size: 3, phi: 'linear', tau_m: 1, tau_r: 0.5 }] }, new JsBackend('float32'), { batchSize: 4 });
  const tr = new GpuTrainer(engine!, new Learner(net), { chunk: 100 });
  const c0 = { ...engine!.counters };
  const r = await tr.run(rand(200 * 4 * 4, 7), Array.from({ length: 200 }, (_, t) => rand(12, t)));
  const c = engine!.counters;
  assert.equal(c.submits - c0.submits, 2);
  assert.equal(c.readbacks - c0.readbacks, 2);
  assert.ok(c.uploads - c0.uploads <= 2 * 5, `uploads ${c.uploads - c0.uploads}`);
  assert.equal(c.dispatches - c0.dispatches, 200 * tr.dispatchesPerStep());
  assert.ok(r.loss.every((v) => Number.isFinite(v)));
});

test('gle replay --backend webgpu without an adapter: one line naming what is missing, exit 2, no fallback', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['bin/gle.js', 'replay', '--backend', 'webgpu', 'test/fixtures/golden/dense_pe.json'], {
    encoding: 'utf8',
    env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' },
  });
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('gle:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /backend 'webgpu' cannot run here: (no WebGPU adapter|the optional package 'webgpu')/);
  assert.equal(r.stdout, '');
});
