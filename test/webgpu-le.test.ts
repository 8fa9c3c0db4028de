/**
 * Latent Equilibrium on the webgpu backend (whatever adapter the machine has: a GPU, else SwiftShader's software Vulkan
 * driver): the five LE goldens in float32 (atol 5e-5, rtol 1e-4; argmax exactly), every recorded quantity and
 * parameter at every step, all steps in one command buffer; a held-pattern run with output logging against the js
 * backend; state round trips; the host crossings of a training chunk. Skipped, with the reason printed, where no
 * adapter exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { replayLeTraceGpu } from '../src/io/le-trace-gpu.js';
import { JsBackend } from '../src/kernels/js/index.js';
import { GpuLeNetwork } from '../src/learn/gpu-le.js';
import { LENetwork, type LeSpecInput } from '../src/model/le-network.js';
import { failures, LE_GOLDEN_FILES, loadLeGolden, maxAbsOverall } from './helpers/le-golden.js';
import { testEngine } from './helpers/webgpu.js';

const { engine, skip } = await testEngine();
if (skip) console.log(`# webgpu LE tests skipped: ${skip}`);
else console.log(`# webgpu adapter: ${engine!.adapterName}${engine!.isFallback ? ' (software/fallback)' : ''}`);

for (const f of LE_GOLDEN_FILES) {
  test(`LE golden ${f} float32 (webgpu, every step in one command buffer)`, { skip: skip ?? false }, async (t) => {
    const g = loadLeGolden(f);
    const rep = await replayLeTraceGpu(g, engine!, 5e-5, 1e-4);
    assert.deepEqual(failures(rep.quantities), []);
    const pools = (g.layers as { type: string }[]).filter((l) => l.type === 'maxpool2d').length;
    // 9 quantities + weight (+ bias) per neuron stage, 4 per pooling stage: nothing skipped
    assert.ok(Object.keys(rep.quantities).length >= (g.layers.length - pools) * 10 + pools * 4);
    // the work of all steps in one submit (+ one for the field log's read-back)
    assert.ok(rep.counters.submits <= 2, `submits ${rep.counters.submits}`);
    assert.ok(rep.counters.readbacks <= 1, `read-backs ${rep.counters.readbacks}`);
    t.diagnostic(`${f}: max |diff| ${maxAbsOverall(rep.quantities).toExponential(2)}, ${rep.dispatchesPerStep} dispatches per step, ${rep.counters.submits} submits for ${rep.steps} steps`);
  });
}

/** A small conv net (conv → pool → conv → dense) with held patterns; the js backend is the oracle. */
const convSpec: LeSpecInput = {
  model: 'le', input_shape: [2, 10, 10], dt: 0.1, tau: 1.5, beta: 0.1, variant: 'vanilla', learning_rate: 0.125, lr_multiplier: 64, n_updates: 5, init_std: 0.3, seed: 3,
  layers: [
    { type: 'conv2d', channels: 3, kernel: 3, phi: 'sigmoid', lr_factor: 1 },
    { type: 'maxpool', kernel: 2 },
    { type: 'conv2d', channels: 4, kernel: 2, phi: 'hard_sigmoid', lr_factor: 0.5 },
    { type: 'dense', size: 5, phi: 'linear', lr_factor: 0.2 },
  ],
};

function patterns(K: number, n: number, s: number): Float32Array {
  return Float32Array.from({ length: K * n }, (_, i) => 0.5 + 0.5 * Math.sin(0.71 * i + s));
}
function oneHot(K: number, B: number, c: number): Float32Array {
  const y = new Float32Array(K * B * c);
  for (let k = 0; k < K; k++) for (let b = 0; b < B; b++) y[(k * B + b) * c + ((k * 3 + b) % c)] = 1;
  return y;
}

test('LE conv net, patterns held 5 steps, chunks of 2 patterns: outputs and parameters agree with js (float32)', { skip: skip ?? false }, async () => {
  const B = 3, K = 6, hold = 5;
  const host = new LENetwork(new JsBackend('float32'), convSpec, B);
  const ref = new LENetwork(new JsBackend('float32'), convSpec, B);
  const dev = new GpuLeNetwork(engine!, host, { chunk: 10, hold });
  const xs = patterns(K, B * host.nIn, 1), ys = oneHot(K, B, host.nOut);
  const c0 = { ...engine!.counters };
  const res = await dev.run(xs, ys, hold, { outputs: true });
  const submits = engine!.counters.submits - c0.submits;
  assert.equal(submits, K / 2, 'one submit per chunk of 10 steps');
  // evaluation: 2 patterns without nudging
  const xe = patterns(2, B * host.nIn, 7);
  const ev = await dev.run(xe, null, hold, { outputs: true });
  const n = B * host.nIn, m = B * host.nOut;
  let worst = 0;
  const check = (got: Float32Array, want: ArrayLike<number>, what: string) => {
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      worst = Math.max(worst, d);
      assert.ok(d <= 5e-5 + 1e-4 * Math.abs(want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
    }
  };
  for (let k = 0; k < K; k++) {
    for (let s = 0; s < hold; s++) ref.step(xs.subarray(k * n, (k + 1) * n), ys.subarray(k * m, (k + 1) * m));
    check(res.outputs!.subarray(k * m, (k + 1) * m), ref.output().a, `output of pattern ${k}`);
  }
  for (let k = 0; k < 2; k++) {
    for (let s = 0; s < hold; s++) ref.step(xe.subarray(k * n, (k + 1) * n), null);
    check(ev.outputs!.subarray(k * m, (k + 1) * m), ref.output().a, `evaluation output ${k}`);
  }
  // the device state, downloaded into the host network, is the reference's
  await dev.download();
  assert.equal(host.t, ref.t);
  const hb = new Map(host.stateBuffers()), rb = new Map(ref.stateBuffers());
  for (const [name, b] of rb) check(hb.get(name)!.a as Float32Array, b.a, name);
  assert.ok(worst > 0, 'the comparison saw the float32 rounding of two implementations');
});

test('LE on webgpu: full forward pass + feedback alignment + per-neuron τ mismatch; upload resumes a host state exactly', { skip: skip ?? false }, async () => {
  const spec: LeSpecInput = {
    model: 'le', input_shape: [7], dt: 0.1, tau: 2, tau_m: 2.5, variant: 'full_forward_pass', feedback_alignment: true, tau_width: 0.3, init_std: 0.4, seed: 5, n_updates: 10,
    layers: [
      { type: 'dense', size: 6, phi: 'tanh' },
      { type: 'dense', size: 5, phi: 'relu', lr_factor: 0.5 },
      { type: 'dense', size: 3, phi: 'linear', lr_factor: 0.2 },
    ],
  };
  const B = 4, K = 8;
  const host = new LENetwork(new JsBackend('float32'), spec, B);
  const ref = new LENetwork(new JsBackend('float32'), spec, B);
  const xs = patterns(K, B * 7, 2), ys = oneHot(K, B, 3);
  // three host steps first: the device starts from a running state (odd parity, nonzero errors)
  for (const net of [host, ref]) for (let s = 0; s < 3; s++) net.step(xs.subarray(0, B * 7), ys.subarray(0, B * 3));
  const dev = new GpuLeNetwork(engine!, host, { chunk: 8, hold: 2 });
  const res = await dev.run(xs, ys, 2, { outputs: true });
  for (let k = 0; k < K; k++) {
    for (let s = 0; s < 2; s++) ref.step(xs.subarray(k * B * 7, (k + 1) * B * 7), ys.subarray(k * B * 3, (k + 1) * B * 3));
    const want = ref.output().a;
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(res.outputs![k * B * 3 + i] - want[i]) <= 5e-5 + 1e-4 * Math.abs(want[i]), `pattern ${k}: ${res.outputs![k * B * 3 + i]} vs ${want[i]}`);
  }
  // then single steps (a hold shorter than the one the heap was sized for: more patterns than slots, split over submits)
  const c0 = engine!.counters.submits;
  const one = await dev.run(xs, ys, 1, { outputs: true });
  assert.equal(engine!.counters.submits - c0, 2, 'the heap holds 4 patterns: 8 patterns in 2 submits');
  for (let k = 0; k < K; k++) {
    ref.step(xs.subarray(k * B * 7, (k + 1) * B * 7), ys.subarray(k * B * 3, (k + 1) * B * 3));
    const want = ref.output().a;
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(one.outputs![k * B * 3 + i] - want[i]) <= 5e-5 + 1e-4 * Math.abs(want[i]), `step ${k}: ${one.outputs![k * B * 3 + i]} vs ${want[i]}`);
  }
});

test('LE on webgpu refuses what it does not run, with a message', { skip: skip ?? false }, () => {
  const base: LeSpecInput = { model: 'le', input_shape: [3], dt: 0.1, tau: 1, layers: [{ type: 'dense', size: 2 }] };
  for (const [extra, msg] of [
    [{ optimizer: 'adam' }, /optimizer 'adam'/],
    [{ noise_width: 0.1 }, /rate noise/],
    [{ forward_filter: true, tau_s: 1 }, /synaptic filters/],
  ] as const) {
    const net = new LENetwork(new JsBackend('float32'), { ...base, ...extra } as LeSpecInput, 2);
    assert.throws(() => new GpuLeNetwork(engine!, net), msg);
  }
  assert.throws(() => new GpuLeNetwork(engine!, new LENetwork(new JsBackend('float64'), base, 2)), /float32 only/);
});

test('gle replay --backend webgpu replays an LE trace on the device', { skip: skip ?? false }, async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['bin/gle.js', 'replay', '--quiet', '--backend', 'webgpu', 'test/fixtures/golden/le/le_mlp_fa.json'], { encoding: 'utf8', env: process.env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /le_mlp_fa\.json: .*60 steps, webgpu \(.+\) float32, atol 0\.00005 rtol 0\.0001: OK/);
});

test('GpuLeClassifier presents batches as LeClassifier does (training and prediction), one submit per presentation', { skip: skip ?? false }, async () => {
  const { LeClassifier } = await import('../src/learn/le-classify.js');
  const { GpuLeClassifier } = await import('../src/learn/gpu-le.js');
  const spec: LeSpecInput = {
    model: 'le', input_shape: [12], dt: 0.1, tau: 2, n_updates: 6, init_std: 0.3, seed: 9,
    layers: [{ type: 'dense', size: 8, phi: 'hard_sigmoid' }, { type: 'dense', size: 3, phi: 'linear', lr_factor: 0.2 }],
  };
  const B = 5;
  const cpu = new LeClassifier(new LENetwork(new JsBackend('float32'), spec, B));
  const gpu = new GpuLeClassifier(new GpuLeNetwork(engine!, new LENetwork(new JsBackend('float32'), spec, B), { chunk: 6, hold: 6 }));
  const c0 = engine!.counters.submits;
  const outC = new Int32Array(B), outG = new Int32Array(B);
  for (let i = 0; i < 4; i++) {
    const x = Float64Array.from(patterns(1, B * 12, i));
    const y = Float64Array.from(oneHot(1, B, 3).map((v, j) => (j % 3 === i % 3 ? 1 - v : v)));
    assert.equal(await gpu.train(x, y), cpu.train(x, y));
    const want = cpu.net.output().a;
    for (let j = 0; j < want.length; j++) assert.ok(Math.abs(gpu.lastOutput[j] - want[j]) <= 5e-5 + 1e-4 * Math.abs(want[j]), `batch ${i} [${j}]: ${gpu.lastOutput[j]} vs ${want[j]}`);
  }
  const x = Float64Array.from(patterns(1, B * 12, 11));
  assert.equal(await gpu.predict(x, outG), cpu.predict(x, outC));
  assert.deepEqual([...outG], [...outC]);
  assert.equal(engine!.counters.submits - c0, 5, 'one submit per presentation');
});

test("gle run le-* --set device=webgpu: what the device does not run is one line, exit 2", async () => {
  const { spawnSync } = await import('node:child_process');
  for (const [set, msg] of [
    [['--set', 'model=bp'], /device 'webgpu' runs the LE network only/],
    [['--set', 'noise_width=0.1'], /device 'webgpu' does not run LE with noise_width/],
    [['--set', 'device=gpu'], /le-mnist-mlp: device: must be one of 'cpu', 'webgpu', got 'gpu'/],
  ] as const) {
    const args = ['bin/gle.js', 'run', 'le-mnist-mlp', '--set', 'device=webgpu', ...set, '--set', 'maxTrain=64', '--set', 'maxTest=32', '--set', 'batch=32', '--out', `/tmp/gle-webgpu-le-bad-${process.pid}`, '--progress', 'off'];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: process.env });
    rmSync(`/tmp/gle-webgpu-le-bad-${process.pid}`, { recursive: true, force: true });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('gle:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], msg);
  }
});
