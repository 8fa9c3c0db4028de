import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../src/kernels/index.js';
import { runExperiment } from '../src/experiments/runner.js';
import { LENetwork, type LeSpecInput } from '../src/model/le-network.js';
import { BpTwin } from '../src/learn/le-classify.js';
import { encodeCifar10, CIFAR10_PIXELS, CIFAR10_TRAIN_FILES } from '../src/data/cifar10.js';
import { loadCifar10 } from '../src/data/cifar10-files.js';
import { Rng } from '../src/util/rng.js';

const GLE = new URL('../bin/gle.js', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'gle-le-exp-'));
const gle = (...args: string[]) => spawnSync(process.execPath, [GLE, ...args], { encoding: 'utf8', env: { ...process.env, GLE_FROM_SOURCE: '1', GLE_PROGRESS: 'off' } });
const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('gle run le-mnist-mlp: the LE MLP and its BP twin both learn the embedded digits in a short run (well above 10 % chance)', async () => {
  const set = ['maxTrain=1024', 'maxTest=400', 'batch=64', 'n_updates=10', 'epochs=2'];
  for (const model of ['le', 'bp']) {
    const s = await runExperiment({ experiment: 'le-mnist-mlp', seed: 1, out: join(tmp, `mlp-${model}`), set: [...set, `model=${model}`], progress: 'off' });
    assert.ok(s.final.test_acc > 0.6, `${model} test accuracy ${s.final.test_acc}`);
    assert.equal(s.final.epochs, 2);
    const ev = metrics(s.dir).filter((r) => r.kind === 'eval');
    assert.equal(ev.length, 2);
  }
});

test('τ adaptation capped by adapt_tau_max reports the presentations it ran; τ_m moves toward the mismatched τ', async () => {
  const set = ['hidden=[8]', 'lr_factors=[1,0.1]', 'maxTrain=64', 'maxTest=32', 'batch=32', 'n_updates=2', 'epochs=1', 'tau_width=0.2', 'adapt_tau=true', 'prosp_rate_errors=true'];
  const runs = [];
  for (const max of [1, 3]) {
    const s = await runExperiment({ experiment: 'le-mnist-mlp', seed: 2, out: join(tmp, `adapt-${max}`), set: [...set, `adapt_tau_max=${max}`], progress: 'off', backend: 'js' });
    const a = (s as unknown as { tau_adaptation: { presentations: number; mean_abs_tau_diff: number } }).tau_adaptation;
    assert.equal(a.presentations, max);
    runs.push(a.mean_abs_tau_diff);
  }
  assert.ok(runs[1] < runs[0], `mean |τ_m − τ| after 3 presentations ${runs[1]} vs after 1 ${runs[0]}`);
});

test('an LE run resumes exactly: stopped mid-epoch (noise, filters and all), resumed, it ends with the same state and metrics as an unbroken run', async () => {
  const set = ['maxTrain=320', 'maxTest=64', 'batch=32', 'n_updates=3', 'epochs=2', 'noise_width=0.05', 'forward_filter=true', 'target_filter=true', 'tau_s=0.05'];
  const a = await runExperiment({ experiment: 'le-mnist-mlp', seed: 5, out: join(tmp, 'res-a'), set, progress: 'off', backend: 'js' });
  // the same run in pieces: one epoch, then on to two (the epoch-boundary checkpoint) ...
  const bDir = join(tmp, 'res-b');
  await runExperiment({ experiment: 'le-mnist-mlp', seed: 5, out: bDir, set: set.map((x) => (x === 'epochs=2' ? 'epochs=1' : x)), progress: 'off', backend: 'js' });
  const b = await runExperiment({ experiment: '', resume: bDir, set: ['epochs=2'], progress: 'off', backend: 'js' });
  // ... and stopped within an epoch (a checkpoint after every batch), then resumed
  const cDir = join(tmp, 'res-c');
  const c1 = await runExperiment({ experiment: 'le-mnist-mlp', seed: 5, out: cDir, set, progress: 'off', backend: 'js', checkpointSeconds: 0, maxSeconds: 0.15 });
  const c = c1.interrupted ? await runExperiment({ experiment: '', resume: cDir, progress: 'off', backend: 'js' }) : c1;
  const state = (dir: string) => readFileSync(join(dir, 'checkpoint', 'state.bin'));
  for (const r of [b, c]) {
    assert.deepEqual(r.final, a.final);
    assert.ok(state(r.dir).equals(state(a.dir)), `${r.dir}: the final state differs from the unbroken run's`);
    const acc = (dir: string) => metrics(dir).map((m) => [m.kind, m.epoch, m.acc, m.step]);
    assert.deepEqual(acc(r.dir), acc(a.dir));
  }
});

test('the BP twin backpropagates exactly through conv, max-pool and dense stages (finite differences, mse and cross-entropy)', async () => {
  const k = await createBackend({ backend: 'js', dtype: 'float64' });
  const spec: LeSpecInput = {
    model: 'le', input_shape: [1, 8, 8], dt: 0.1, tau: 1, seed: 3, init_std: 0.5,
    layers: [
      { type: 'conv2d', channels: 2, kernel: 3, phi: 'sigmoid', lr_factor: 1 },
      { type: 'maxpool', kernel: 2 },
      { type: 'conv2d', channels: 3, kernel: 2, phi: 'tanh', lr_factor: 1 },
      { type: 'dense', size: 4, phi: 'sigmoid', lr_factor: 1 },
      { type: 'dense', size: 3, phi: 'linear', lr_factor: 1 },
    ],
  };
  const B = 3, rng = new Rng(9);
  const x = Float64Array.from({ length: B * 64 }, () => rng.uniform());
  const y = new Float64Array(B * 3);
  for (let b = 0; b < B; b++) y[b * 3 + (b % 3)] = 1;
  for (const loss of ['mse', 'ce'] as const) {
    const net = new LENetwork(k, spec, 1);
    const twin = new BpTwin(k, net, B, { loss, lr: 1 });
    const out = new Int32Array(B);
    const L = () => {
      twin.predict(x, out);
      const r = twin.output().a;
      let s = 0;
      for (let b = 0; b < B; b++) {
        if (loss === 'mse') for (let j = 0; j < 3; j++) s += 0.5 * (y[b * 3 + j] - r[b * 3 + j]) ** 2;
        else {
          const m = Math.max(r[b * 3], r[b * 3 + 1], r[b * 3 + 2]);
          const z = Math.log(Math.exp(r[b * 3] - m) + Math.exp(r[b * 3 + 1] - m) + Math.exp(r[b * 3 + 2] - m)) + m;
          s += z - r[b * 3 + (b % 3)];
        }
      }
      return s / B;
    };
    const params = net.stages.flatMap((st) => (st.kind === 'neurons' ? st.proj.tensors.map((t) => t.buf.a) : []));
    const before = params.map((p) => Float64Array.from(p));
    // numerical gradients of the batch-mean loss
    const num = params.map((p) =>
      Float64Array.from(p, (v, i) => {
        const h = 1e-6;
        p[i] = v + h;
        const up = L();
        p[i] = v - h;
        const dn = L();
        p[i] = v;
        return (up - dn) / (2 * h);
      }),
    );
    twin.train(x, y);
    let worst = 0;
    params.forEach((p, q) => p.forEach((v, i) => (worst = Math.max(worst, Math.abs(before[q][i] - v - num[q][i])))));
    assert.ok(worst < 1e-7, `${loss}: SGD step vs −lr·∇L differs by ${worst}`);
  }
});

function writeCifar(dir: string, perFile: number, seed: number): void {
  const rng = new Rng(seed);
  const make = () => {
    const labels = Array.from({ length: perFile }, () => rng.int(10));
    // each class a different mean brightness per channel, plus noise: learnable
    const px = new Uint8Array(perFile * CIFAR10_PIXELS);
    labels.forEach((l, i) => {
      for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) px[i * CIFAR10_PIXELS + c * 1024 + p] = Math.min(255, Math.max(0, Math.round(25 * l + 10 * c + 30 * rng.normal())));
    });
    return encodeCifar10(labels, px);
  };
  for (const f of CIFAR10_TRAIN_FILES) writeFileSync(join(dir, f), make());
  writeFileSync(join(dir, 'test_batch.bin'), make());
}

test('CIFAR-10 binary batches: read from a generated set in the format, sizes and labels validated with one-line errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-cifar-'));
  writeCifar(dir, 7, 1);
  const d = loadCifar10(dir);
  assert.equal(d.train.n, 35);
  assert.equal(d.test.n, 7);
  assert.equal(d.train.x.length, 35 * 3072);
  const raw = readFileSync(join(dir, 'data_batch_2.bin'));
  assert.equal(d.train.y[7], raw[0]);
  assert.equal(d.train.x[7 * 3072 + 1024 + 5], raw[1 + 1024 + 5]);
  assert.equal(d.train.scale, 1 / 255);
  writeFileSync(join(dir, 'data_batch_3.bin'), raw.subarray(0, 3073 * 2 + 10));
  assert.throws(() => loadCifar10(dir), /data_batch_3\.bin: 6156 bytes is not a whole number of 3073-byte CIFAR-10 records/);
  const bad = Buffer.from(raw);
  bad[3073] = 12;
  writeFileSync(join(dir, 'data_batch_3.bin'), bad);
  assert.throws(() => loadCifar10(dir), /data_batch_3\.bin: record 1 has label 12/);
  assert.throws(() => loadCifar10(join(dir, 'nope')), /does not exist/);
  assert.throws(() => loadCifar10(null), /--set data=DIR/);
});

test('gle run le-cifar10-lenet runs the whole pipeline on a generated CIFAR-10 set (LE and BP twin); a bad file is one line, exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-cifar-run-'));
  writeCifar(dir, 40, 2);
  for (const model of ['le', 'bp']) {
    const s = await runExperiment({ experiment: 'le-cifar10-lenet', seed: 1, quick: true, out: join(tmp, `cifar-${model}`), set: [`data=${dir}`, `model=${model}`, 'maxTrain=64', 'maxTest=40', 'batch=16', 'n_updates=3'], progress: 'off' });
    assert.equal(s.final.epochs, 1);
    assert.ok(s.final.test_acc >= 0 && s.final.test_acc <= 1);
    assert.equal(s.final.params, 20 * 75 + 20 + 50 * 500 + 50 + 1250 * 500 + 500 + 5010);
  }
  writeFileSync(join(dir, 'test_batch.bin'), Buffer.alloc(100));
  const r = gle('run', 'le-cifar10-lenet', '--quick', '--set', `data=${dir}`, '--out', join(tmp, 'cifar-bad'));
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /test_batch\.bin: 100 bytes is not a whole number/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  const p = gle('run', 'le-mnist-lenet', '--set', 'lr_factors=[1,2]', '--out', join(tmp, 'lenet-bad'));
  assert.equal(p.status, 2, p.stderr);
  assert.match(p.stderr, /lr_factors must list 6 numbers/);
});
