/**
 * `--backend webgpu` in the CLI (issue 19): the classify loop on the device against the CPU loop (js, float32),
 * `gle run` on webgpu against `gle run` on js, an interrupted-and-resumed webgpu run against an uninterrupted one
 * (identical records), `gle eval` / `gle simulate` on webgpu, and the refusal lines (one line, exit 2, no run
 * directory) for what the device path does not run. Tests that need an adapter use the machine's, else the software
 * one (SwiftShader), and are skipped with the reason printed where none can be had.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../src/kernels/js/index.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { SequenceClassifier, evaluateBatches, type SeqBatch } from '../src/learn/classify-loop.js';
import { GpuSequenceClassifier } from '../src/learn/gpu-classify.js';
import type { NetworkSpecInput } from '../src/model/spec.js';
import { testEngine } from './helpers/webgpu.js';

const { engine, skip } = await testEngine();
if (skip) console.log(`# webgpu tests skipped: ${skip}`);

const GLE = 'bin/gle.js';
const env = (): NodeJS.ProcessEnv => ({ ...process.env, GLE_FROM_SOURCE: '1', GLE_PROGRESS: 'off' });
const gle = (args: string[], extra: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [GLE, ...args], { encoding: 'utf8', env: { ...env(), ...extra }, timeout: 900_000 });

/** A small sequence classifier (2 dense GLE layers, Adam, ce): what the device path runs, cheap on a software adapter. */
const TINY: NetworkSpecInput = {
  name: 'tiny',
  input_size: 1,
  dt: 0.2,
  loss: 'ce',
  beta: 1,
  prospective_errors: true,
  layers: [
    { size: 6, phi: 'tanh', bias: true, tau_m: 1.2, tau_r: 0.2, gamma: 0 },
    { size: 10, phi: 'linear', bias: true, tau_m: 1.2, tau_r: 1.2, gamma: 0 },
  ],
  optimizer: { type: 'adam', lr: 3e-3 },
  scheduler: { type: 'plateau', patience: 2, factor: 0.5 },
};

function batch(B: number, steps: number, seed: number): SeqBatch {
  const labels = Int32Array.from({ length: B }, (_, i) => (i * 7 + seed) % 10);
  return { B, steps, labels, fillStep: (t, out) => { for (let i = 0; i < B; i++) out[i] = Math.sin(0.3 * t * (labels[i] + 1) + seed); } };
}

function close(a: number, b: number, atol: number, rtol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= atol + rtol * Math.abs(b), `${what}: ${a} vs ${b}`);
}

/** A float32 network of `spec` (js, batch B) and its Learner: one for the CPU loop, one for the device's. */
function learnerPair(spec: NetworkSpecInput, B: number): { net: GLENetwork; learner: Learner } {
  const net = new GLENetwork({ ...spec, dtype: 'float32' }, new JsBackend('float32'), { batchSize: B });
  return { net, learner: new Learner(net) };
}

type Tensors = readonly { name: string; buf: { n: number; a: ArrayLike<number> } }[];
/** The device side's tensors (parameters, optimiser or average state) against the CPU loop's, entry by entry. */
function closeTensors(dev: Tensors, cpu: Tensors, atol: number, rtol: number): void {
  assert.deepEqual(dev.map((t) => t.name), cpu.map((t) => t.name));
  for (const [i, t] of cpu.entries()) for (let j = 0; j < t.buf.n; j++) close(dev[i].buf.a[j], t.buf.a[j], atol, rtol, `${t.name}[${j}]`);
}

test('the classify loop on the device agrees with the CPU loop (js float32): batch-size changes, evaluation, sync', { skip: skip ?? false }, async () => {
  const cpu = learnerPair(TINY, 3), dev = learnerPair(TINY, 3);
  const sc = new SequenceClassifier(cpu.net);
  const gc = new GpuSequenceClassifier(engine!, dev.learner, null, { chunk: 16 });
  // training batches of 3 and one of 2 (a short last batch), then an evaluation batch of 5: every switch moves the
  // state through the host (tiled / truncated rows), as the CPU loop does
  const plan: [number, number, boolean][] = [[3, 40, true], [3, 40, true], [2, 40, true], [5, 40, false], [3, 40, true]];
  for (const [k, [B, T, learn]] of plan.entries()) {
    const b = batch(B, T, k);
    const rc = sc.run(b, learn ? cpu.learner : null);
    const predC = Array.from(rc.pred), lossC = rc.lossSum;
    if (!learn) cpu.net.training = true;
    const rg = await gc.runBatch(b, learn);
    close(rg.lossSum, lossC, 1e-4, 1e-3, `batch ${k} loss`);
    assert.deepEqual(Array.from(rg.pred), predC, `batch ${k} predictions`);
  }
  await gc.sync();
  closeTensors(dev.net.allTensors(), cpu.net.allTensors(), 1e-5, 1e-3);
  closeTensors(dev.learner.opt!.stateTensors(), cpu.learner.opt!.stateTensors(), 1e-7, 1e-2);
  assert.equal((dev.learner.opt as unknown as { stepCount: number }).stepCount, (cpu.learner.opt as unknown as { stepCount: number }).stepCount);
  assert.equal(cpu.net.B, dev.net.B);
  gc.destroy();
});

test('the device follows the cosine lr schedule step by step and keeps the weight average (spec average) as the CPU loop does; evaluation reads the averages', { skip: skip ?? false }, async () => {
  // the schedule ends inside the third batch and inside a chunk (16 steps): both the per-step lr and the average's
  // decay cross chunk and batch boundaries
  const spec: NetworkSpecInput = { ...TINY, dtype: 'float32', scheduler: { type: 'cosine', steps: 100, min_lr: 3e-4 }, average: { decay: 0.95 } };
  const cpu = learnerPair(spec, 3), dev = learnerPair(spec, 3);
  const sc = new SequenceClassifier(cpu.net);
  const gc = new GpuSequenceClassifier(engine!, dev.learner, null, { chunk: 16 });
  for (let k = 0; k < 4; k++) {
    const b = batch(3, 40, k);
    const rc = sc.run(b, cpu.learner);
    const rg = await gc.runBatch(b, true);
    close(rg.lossSum, rc.lossSum, 1e-4, 1e-3, `batch ${k} loss`);
    close(dev.learner.lr, cpu.learner.lr, 0, 1e-12, `lr after batch ${k}`);
  }
  assert.equal(cpu.learner.lr, 3e-4, 'the schedule reached its floor');
  const cs = cpu.learner.scheduler as unknown as { t: number }, ds = dev.learner.scheduler as unknown as { t: number };
  assert.equal(ds.t, cs.t);
  assert.equal(dev.learner.average!.t, cpu.learner.average!.t);
  // an evaluation reads the averaged parameters on both, and leaves the raw ones in place
  const ev = [batch(3, 40, 7), batch(3, 40, 8)];
  const ec = cpu.learner.withAveraged(() => evaluateBatches(cpu.net, null, ev));
  const eg = await gc.evaluate(ev);
  assert.deepEqual(eg.confusion, ec.confusion);
  close(eg.loss, ec.loss, 1e-4, 1e-3, 'evaluation loss (averaged parameters)');
  const W = cpu.net.allTensors().find((t) => t.name === 'layer_0.weight')!, Wa = cpu.learner.average!.averageOf('layer_0.weight')!;
  assert.ok(Array.from(W.buf.a).some((v, i) => Math.abs(v - Wa.a[i]) > 1e-4), 'the averages are not the raw parameters');
  await gc.sync();
  assert.equal(dev.learner.average!.swapped, false);
  assert.equal(cpu.learner.average!.swapped, false);
  closeTensors(dev.net.allTensors(), cpu.net.allTensors(), 1e-5, 1e-3);
  closeTensors(dev.learner.average!.stateTensors(), cpu.learner.average!.stateTensors(), 1e-5, 1e-3);
  gc.destroy();
});

test('the classify loop on the device with a fixed front end on the host (mnist1d-lagnet\'s design) agrees with the CPU loop', { skip: skip ?? false }, async () => {
  const frontSpec: NetworkSpecInput = { name: 'front', input_size: 1, dt: 0.2, loss: 'mse', beta: 0, prospective_errors: false, layers: [{ size: 3, phi: 'linear', bias: false, tau_m: [0.2, 0.6, 1.2], tau_r: 0.2, gamma: 0, trainable: false, init: { weight: [[1], [1], [1]] } }] };
  const mk = () => {
    const net = new GLENetwork({ ...TINY, input_size: 3, dtype: 'float32' }, new JsBackend('float32'), { batchSize: 2 });
    const front = new GLENetwork({ ...frontSpec, dtype: 'float32' }, new JsBackend('float32'), { batchSize: 2 });
    front.training = false;
    return { net, front, learner: new Learner(net) };
  };
  const cpu = mk(), dev = mk();
  const sc = new SequenceClassifier(cpu.net, cpu.front);
  const gc = new GpuSequenceClassifier(engine!, dev.learner, dev.front);
  for (const [k, learn] of [true, true, false].entries()) {
    const b = batch(2, 30, k);
    const rc = sc.run(b, learn ? cpu.learner : null);
    const lossC = rc.lossSum, predC = Array.from(rc.pred);
    const rg = await gc.runBatch(b, learn);
    close(rg.lossSum, lossC, 1e-4, 1e-3, `batch ${k} loss`);
    assert.deepEqual(Array.from(rg.pred), predC);
  }
  gc.destroy();
});

const RUN = ['mnist1d-15k', '--set', 'batch=2', 'testBatch=2', 'maxTrain=2', 'maxTest=2', `network=${JSON.stringify(TINY)}`];
const records = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      delete r.wall_s;
      return r;
    });

test('gle run --backend webgpu: the losses of js float32 within tolerance; a resumed run equals the uninterrupted one', { skip: skip ?? false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-webgpu-run-'));
  const full = gle(['run', ...RUN, 'epochs=2', '--backend', 'webgpu', '--out', join(dir, 'full')]);
  assert.equal(full.status, 0, full.stderr);
  assert.match(full.stdout, /\(webgpu\)/);
  const cfg = JSON.parse(readFileSync(join(dir, 'full', 'config.json'), 'utf8')) as { backend: Record<string, unknown> };
  assert.equal(cfg.backend.backend, 'webgpu');
  assert.equal(typeof cfg.backend.adapter, 'string');
  const js = gle(['run', ...RUN, 'epochs=2', '--backend', 'js', '--dtype', 'float32', '--out', join(dir, 'js')]);
  assert.equal(js.status, 0, js.stderr);
  const g = records(join(dir, 'full')), c = records(join(dir, 'js'));
  assert.equal(g.length, c.length);
  assert.equal(g.length, 5); // eval 0, (train, eval) x 2
  for (const [i, r] of g.entries()) {
    assert.equal(r.kind, c[i].kind);
    assert.equal(r.step, c[i].step);
    assert.equal(r.acc, c[i].acc, `record ${i} accuracy`);
    close(r.loss as number, c[i].loss as number, 1e-4, 1e-3, `record ${i} (${String(r.kind)} epoch ${String(r.epoch)}) loss`);
  }
  // the training loss moves (the network learns something of its two samples)
  assert.ok((g[3].loss as number) < (g[1].loss as number), `train loss ${String(g[1].loss)} -> ${String(g[3].loss)}`);
  // one epoch, then --resume to two: the same records as the uninterrupted run, exactly
  const part = gle(['run', ...RUN, 'epochs=1', '--backend', 'webgpu', '--out', join(dir, 'part')]);
  assert.equal(part.status, 0, part.stderr);
  const res = gle(['run', '--resume', join(dir, 'part'), '--set', 'epochs=2', '--backend', 'webgpu']);
  assert.equal(res.status, 0, res.stderr);
  assert.deepEqual(records(join(dir, 'part')), g);
  const s = JSON.parse(readFileSync(join(dir, 'part', 'summary.json'), 'utf8')) as { backend: string; final: Record<string, number> };
  assert.equal(s.backend, 'webgpu');
  // gle eval on the device: the checkpoint's test accuracy, the same as on js
  const x = join(dir, 'x.npy'), y = join(dir, 'y.npy');
  writeXY(x, y);
  const ev = gle(['eval', '--checkpoint', join(dir, 'full', 'checkpoint'), '--x', x, '--y', y, '--batch', '3', '--backend', 'webgpu']);
  assert.equal(ev.status, 0, ev.stderr);
  const evJs = gle(['eval', '--checkpoint', join(dir, 'full', 'checkpoint'), '--x', x, '--y', y, '--batch', '3', '--backend', 'js']);
  assert.equal(evJs.status, 0, evJs.stderr);
  const acc = (o: string) => /accuracy ([\d.]+)% \((\d+)\/(\d+)\), loss ([\d.]+)/.exec(o)!;
  const a = acc(ev.stdout), b = acc(evJs.stdout);
  assert.equal(a[2], b[2]);
  assert.equal(a[3], '5');
  close(Number(a[4]), Number(b[4]), 2e-4, 1e-3, 'eval loss');
  assert.match(ev.stdout, /on webgpu/);
});

/** 5 sequences of 30 points, labels 0..4 (npy v1, float32 / int64). */
function writeXY(x: string, y: string): void {
  const npy = (descr: string, shape: number[], data: ArrayBufferView) => {
    let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
    while ((10 + h.length + 1) % 64 !== 0) h += ' ';
    h += '\n';
    const head = Buffer.alloc(10);
    head.write('\x93NUMPY', 0, 'latin1');
    head[6] = 1;
    head[7] = 0;
    head.writeUInt16LE(h.length, 8);
    return Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
  };
  const xs = Float32Array.from({ length: 5 * 30 }, (_, i) => Math.sin(0.37 * i));
  const ys = BigInt64Array.from([0n, 1n, 2n, 3n, 4n]);
  writeFileSync(x, npy('<f4', [5, 30], xs));
  writeFileSync(y, npy('<i8', [5], ys));
}

test('gle simulate --backend webgpu writes the trace of the js backend (float32 tolerance)', { skip: skip ?? false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-webgpu-sim-'));
  const spec = join(dir, 'spec.json');
  writeFileSync(spec, JSON.stringify({ ...TINY, input_size: 2, loss: 'mse', layers: [TINY.layers[0], { ...TINY.layers[1], size: 2 }] }));
  const inp = join(dir, 'in.json'), tg = join(dir, 'tg.json');
  writeFileSync(inp, JSON.stringify(Array.from({ length: 12 }, (_, t) => [[Math.sin(t), Math.cos(t)], [0.5, -0.2 * t]])));
  writeFileSync(tg, JSON.stringify(Array.from({ length: 12 }, (_, t) => [[0.1 * t, 0], [0, -0.1]])));
  const a = gle(['simulate', spec, '--input', inp, '--target', tg, '--backend', 'webgpu', '--out', join(dir, 'g.json')]);
  assert.equal(a.status, 0, a.stderr);
  assert.match(a.stdout, /webgpu/);
  const b = gle(['simulate', spec, '--input', inp, '--target', tg, '--backend', 'js', '--dtype', 'float32', '--out', join(dir, 'c.json')]);
  assert.equal(b.status, 0, b.stderr);
  const r = gle(['replay', join(dir, 'g.json'), '--backend', 'js', '--quiet']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const G = JSON.parse(readFileSync(join(dir, 'g.json'), 'utf8')), C = JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8'));
  assert.equal(G.n_steps, 12);
  assert.deepEqual(Object.keys(G.trace.layers[0]).sort(), Object.keys(C.trace.layers[0]).sort());
  assert.deepEqual(Object.keys(G.trace.grads).sort(), Object.keys(C.trace.grads).sort());
  for (let t = 0; t < 12; t++) close(G.trace.loss[t] ?? 0, C.trace.loss[t] ?? 0, 5e-5, 1e-4, `loss step ${t}`);
});

test('gle run --backend webgpu refuses what the device path does not run: one line naming it, exit 2, no run directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-webgpu-refuse-'));
  const cases: [string[], RegExp][] = [
    [['lagline', '--quick'], /lagline \(task teacher-student\) does not run on webgpu: the teacher-student task/],
    [['le-mnist-mlp', '--quick'], /le-mnist-mlp \(task le\) does not run on webgpu: the LE task keeps its host backend.*--set device=webgpu/],
    [['mnist1d-baseline', '--quick'], /does not run on webgpu: the backprop baselines/],
    [['vle-chain', '--quick'], /does not run on webgpu: explicit populations and learned feedback/],
    [['mnist1d-15k', '--quick', '--dtype', 'float64'], /mnist1d-15k \(task classify\) does not run on webgpu: the webgpu backend runs float32 only/],
    [['mnist1d-15k', '--quick', '--set', `network=${JSON.stringify({ ...TINY, layers: [{ ...TINY.layers[0], feedback: 'fixed' }, TINY.layers[1]] })}`], /does not run on webgpu: the webgpu backend needs the transpose feedback \(B = W\^T\); layer 0 has 'fixed'/],
  ];
  for (const [i, [args, re]] of cases.entries()) {
    const out = join(dir, `r${i}`);
    const r = gle(['run', ...args, '--backend', 'webgpu', '--out', out]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
    assert.equal(r.stdout, '');
    assert.ok(!existsSync(out), `${out} was created`);
  }
  assert.deepEqual(readdirSync(dir), []);
});

test('gle run / eval / simulate --backend webgpu without an adapter: one line naming what is missing, exit 2, nothing written', () => {
  const inDir = mkdtempSync(join(tmpdir(), 'gle-webgpu-none-in-'));
  const dir = mkdtempSync(join(tmpdir(), 'gle-webgpu-none-'));
  const noAdapter = { VK_ICD_FILENAMES: '/nonexistent/icd.json' };
  writeFileSync(join(inDir, 'spec.json'), JSON.stringify(TINY));
  writeFileSync(join(inDir, 'in.json'), JSON.stringify([[0.5], [0.2]]));
  const runs = [
    ['run', 'mnist1d-15k', '--quick', '--backend', 'webgpu', '--out', join(dir, 'run')],
    ['simulate', join(inDir, 'spec.json'), '--input', join(inDir, 'in.json'), '--backend', 'webgpu', '--out', join(dir, 'sim.json')],
  ];
  for (const args of runs) {
    const r = gle(args, noAdapter);
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('gle:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.equal(r.stdout, '');
  }
  const r0 = gle(runs[0], noAdapter);
  assert.match(r0.stderr, /backend 'webgpu' cannot run here: (no WebGPU adapter|the optional package 'webgpu')/);
  assert.deepEqual(readdirSync(dir), []);
});
