/**
 * Ensembles of dendritic microcircuits (src/model/microcircuit.ts: a leading network dimension in every buffer):
 * network k of an ensemble equals the same network run alone, bit for bit, in float64 and float32; the native C
 * kernel (native/gle_microcircuit.c) agrees with the TypeScript step to rounding; a killed `yinyang` run resumes
 * exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Microcircuit, initMicrocircuitWeights, matchFeedbackNorm, networkSlice, selfPredict, transposeFeedback, type MicrocircuitParams, type MicrocircuitState } from '../src/model/microcircuit.js';
import { Rng } from '../src/util/rng.js';
import { runExperiment } from '../src/experiments/runner.js';
import { readMetrics } from '../src/report/metrics.js';

const G = { gl: 0.03, gb: 0.1, ga: 0.06, gsom: 0.06, gd: 0.1, gt: 0.06 };
const PAL: Partial<MicrocircuitParams> = { phi: 'sigmoid', dt: 0.01, tau0: 0.01, ...G, sigmaXi: 0.05, tauXi: 0.1, tauHp: 0.1, alpha: 1e-3, tauW: [100, 0.01, 0.01], etaUp: [50, 0.01], etaIp: 0.05, etaPi: 0.02, etaB: 5 };
const BUFS = ['W_up1', 'W_up2', 'B', 'W_ip', 'W_pi', 'd_up1', 'd_up2', 'd_ip', 'd_pi', 'uP', 'upP', 'rP', 'rHatP', 'vA', 'vB', 'xi', 'uI', 'rI', 'uO', 'upO', 'rO', 'hpO'] as const;

function build(over: Partial<MicrocircuitParams>, dims: [number, number, number], seeds: number | number[]): Microcircuit {
  const net = new Microcircuit({ ...PAL, ...over, dims }, seeds);
  const list = typeof seeds === 'number' ? [seeds] : seeds;
  initMicrocircuitWeights(net.s, list.map((s) => new Rng(500 + s)), [1, 1, 1, 1, 1]);
  selfPredict(net.p, net.s);
  if (net.p.feedback === 'transpose-scaled') matchFeedbackNorm(net.p, net.s);
  if (net.p.feedback === 'transpose' || net.p.feedback === 'transpose-scaled') transposeFeedback(net.p, net.s);
  return net;
}

/** Drive an ensemble and each of its networks alone with the same inputs (per network) and compare every buffer. */
function compareEnsemble(over: Partial<MicrocircuitParams>, dims: [number, number, number], exact: boolean, steps = 60): number {
  const seeds = [3, 11, 7];
  const ens = build(over, dims, seeds);
  const alone = seeds.map((s) => build(over, dims, s));
  const N = seeds.length, [nIn, , nO] = dims;
  const data = new Rng(99);
  const x = new Float64Array(N * nIn), t = new Float64Array(N * nO), acc = new Float64Array(N * nO), acc1 = new Float64Array(nO);
  let worst = 0;
  for (let pat = 0; pat < 8; pat++) {
    for (let i = 0; i < x.length; i++) x[i] = data.uniform();
    for (let i = 0; i < t.length; i++) t[i] = data.uniform();
    const learn = pat < 6, teach = pat % 3 !== 2;
    ens.present(x, teach ? t : null, steps, learn, steps >> 1, acc);
    alone.forEach((net, k) => {
      net.present(x.subarray(k * nIn, (k + 1) * nIn), teach ? t.subarray(k * nO, (k + 1) * nO) : null, steps, learn, steps >> 1, acc1);
      for (let c = 0; c < nO; c++) worst = Math.max(worst, check(acc[k * nO + c], acc1[c], exact, `acc[${k}]`));
      for (const b of BUFS) {
        const e = networkSlice(ens.s, ens.s[b], k), a = net.s[b];
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, check(e[i], a[i], exact, `${b}[${i}] of network ${k}`));
      }
      assert.deepEqual(Array.from(ens.s.noise.subarray(4 * k, 4 * k + 4)), Array.from(net.s.noise), `noise state of network ${k}`);
      assert.equal(ens.angle(k), net.angle());
    });
  }
  return worst;
}

function check(a: number, b: number, exact: boolean, what: string): number {
  if (exact) {
    if (!Object.is(a, b)) assert.fail(`${what}: ensemble ${a} vs alone ${b}`);
    return 0;
  }
  const d = Math.abs(a - b) / Math.max(1, Math.abs(b));
  return d;
}

test('ensemble: network k is bit for bit the same network run alone (PAL, FA, B = Wᵀ; float64 and float32)', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    compareEnsemble({ feedback: 'pal', dtype }, [4, 7, 3], true);
    compareEnsemble({ feedback: 'fixed', sigmaXi: 0, etaB: 0, etaPi: 0, dtype }, [4, 7, 3], true);
    compareEnsemble({ feedback: 'transpose', dtype }, [4, 7, 3], true);
    compareEnsemble({ feedback: 'transpose-scaled', dtype }, [4, 7, 3], true);
    // soft-ReLU, the original circuit, direct updates and clipping
    compareEnsemble({ feedback: 'pal', phi: 'softrelu', le: false, tauW: [0, 0, 0], clip: [0.5, 0.5], dt: 0.1, tau0: 0.1, dtype }, [3, 5, 2], true);
  }
});

test('ensemble: one seed per network, each seeded as if alone; a wrong number of generators is refused', () => {
  const ens = build({ feedback: 'pal', dtype: 'float64' }, [4, 5, 3], [1, 2]);
  const one = build({ feedback: 'pal', dtype: 'float64' }, [4, 5, 3], 2);
  assert.deepEqual(Array.from(networkSlice(ens.s, ens.s.B, 1)), Array.from(one.s.B));
  assert.notDeepEqual(Array.from(networkSlice(ens.s, ens.s.B, 0)), Array.from(one.s.B));
  assert.throws(() => initMicrocircuitWeights(ens.s, [new Rng(1)], [1, 1, 1, 1, 1]), /2 networks need 2 generators/);
  assert.throws(() => new Microcircuit({ dims: [1, 1, 1] }, []), /at least one seed/);
});

async function nativePresenter(): Promise<((p: MicrocircuitParams, s: MicrocircuitState) => (x: Float64Array, t: Float64Array | null, steps: number, learn: boolean, from: number, acc: Float64Array) => number) | null> {
  try {
    const m = await import('../src/kernels/native/microcircuit.js');
    const probe = build({ dtype: 'float64' }, [1, 1, 1], 0);
    m.nativeMicrocircuitPresenter(probe.p, probe.s);
    return m.nativeMicrocircuitPresenter;
  } catch {
    return null;
  }
}

test('native kernel: the same ensemble as the TypeScript step to rounding (every mode; refuses float32)', async (t) => {
  const native = await nativePresenter();
  if (!native) {
    t.skip('native addon not built');
    return;
  }
  const dims: [number, number, number] = [4, 9, 3];
  for (const over of [{ feedback: 'pal' }, { feedback: 'fixed', sigmaXi: 0 }, { feedback: 'transpose' }, { feedback: 'transpose-scaled' }, { feedback: 'pal', phi: 'softrelu', le: false, tauW: [0, 0, 0], clip: [0.5, 0.5] }] as Partial<MicrocircuitParams>[]) {
    const a = build({ ...over, dtype: 'float64' }, dims, [1, 2, 3]), b = build({ ...over, dtype: 'float64' }, dims, [1, 2, 3]);
    const nat = native(b.p, b.s);
    const data = new Rng(5);
    const x = new Float64Array(3 * 4), tg = new Float64Array(3 * 3), acc = new Float64Array(9), acc2 = new Float64Array(9);
    for (let pat = 0; pat < 20; pat++) {
      for (let i = 0; i < x.length; i++) x[i] = data.uniform();
      for (let i = 0; i < tg.length; i++) tg[i] = data.uniform();
      const teach = pat % 4 !== 3;
      assert.equal(a.present(x, teach ? tg : null, 100, pat < 16, 20, acc), nat(x, teach ? tg : null, 100, pat < 16, 20, acc2));
      for (let k = 0; k < 9; k++) assert.ok(Math.abs(acc[k] - acc2[k]) < 1e-10, `${over.feedback} pattern ${pat}: acc ${acc[k]} vs ${acc2[k]}`);
    }
    for (const name of BUFS) for (let i = 0; i < a.s[name].length; i++) assert.ok(Math.abs(a.s[name][i] - b.s[name][i]) <= 1e-10 * Math.max(1, Math.abs(a.s[name][i])), `${over.feedback} ${name}[${i}]: ${a.s[name][i]} vs ${b.s[name][i]}`);
    assert.deepEqual(Array.from(a.s.noise), Array.from(b.s.noise), 'the same noise draws');
  }
  const f32 = build({ dtype: 'float32' }, dims, 0);
  assert.throws(() => native(f32.p, f32.s), /needs dtype float64/);
});

const tmp = () => mkdtempSync(join(tmpdir(), 'gle-mcens-'));
const SMALL = ['seeds=2', 'nTrain=8', 'nVal=0', 'nTest=6', 'evalEvery=1', 'tPattern=0.2', 'dtype=float64'];

test('yinyang: a run killed after an epoch resumes exactly (metrics and summary as an uninterrupted run)', async () => {
  const whole = await runExperiment({ experiment: 'yinyang', out: tmp(), set: [...SMALL, 'epochs=3'], progress: 'off' });
  // the same run, stopped after its first epoch: a 1-epoch run's checkpoint with the 3-epoch config
  const cut = await runExperiment({ experiment: 'yinyang', out: tmp(), set: [...SMALL, 'epochs=1'], progress: 'off' });
  assert.ok(existsSync(join(cut.dir, 'checkpoint', 'state.f64')));
  const cfgPath = join(cut.dir, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { params: Record<string, unknown> };
  cfg.params.epochs = 3;
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const resumed = await runExperiment({ experiment: 'yinyang', resume: cut.dir, progress: 'off' });
  assert.deepEqual(resumed.final, whole.final);
  const strip = (d: string) => readMetrics(d).map((r) => JSON.stringify(r));
  assert.deepEqual(strip(cut.dir), strip(whole.dir));
  assert.equal(whole.final.epochs_done, 3);
  // it did resume from the checkpoint after epoch 1 (a restart from scratch would give the same records)
  const resumes = (JSON.parse(readFileSync(cfgPath, 'utf8')) as { resumes?: { epoch?: number }[] }).resumes;
  assert.equal(resumes?.length, 1);
  assert.equal(resumes?.[0].epoch, 1);
});

test('yinyang: the ensemble run equals one run per seed (the networks do not interact)', async () => {
  const both = await runExperiment({ experiment: 'yinyang', out: tmp(), seed: 4, set: [...SMALL, 'epochs=1', 'modes=["pal"]'], progress: 'off' });
  const second = await runExperiment({ experiment: 'yinyang', out: tmp(), seed: 5, set: [...SMALL.filter((s) => !s.startsWith('seeds=')), 'seeds=1', 'epochs=1', 'modes=["pal"]'], progress: 'off' });
  const pick = (d: string, seed: number) => readMetrics(d).filter((r) => r.seed === seed).map((r) => JSON.stringify(r));
  assert.deepEqual(pick(both.dir, 5), pick(second.dir, 5));
});

test('yinyang: engine native needs float64 (one clear line)', async () => {
  await assert.rejects(runExperiment({ experiment: 'yinyang', out: tmp(), set: ['epochs=1', 'engine=native', 'dtype=float32'], progress: 'off' }), /engine 'native' steps float64 state/);
  await assert.rejects(runExperiment({ experiment: 'yinyang', out: tmp(), set: ['epochs=1', 'engine=gpu'], progress: 'off' }), /engine must be 'js' or 'native'/);
});

test("'transpose-scaled' keeps B = c·W_up2ᵀ at the random B's Frobenius norm while W_up2 learns (every network)", () => {
  const dims: [number, number, number] = [4, 7, 3];
  const net = build({ feedback: 'transpose-scaled', dtype: 'float64' }, dims, [3, 11]);
  const fa = build({ feedback: 'fixed', dtype: 'float64' }, dims, [3, 11]);
  const norm = (a: ArrayLike<number>, k: number, m: number) => Math.sqrt(Array.from({ length: m }, (_, i) => a[k * m + i] ** 2).reduce((x, y) => x + y, 0));
  const m = dims[1] * dims[2];
  for (let k = 0; k < 2; k++) assert.ok(Math.abs(net.s.bNorm[k] - norm(fa.s.B, k, m)) < 1e-12, 'bNorm is the random B\'s norm');
  const data = new Rng(8);
  const x = new Float64Array(2 * 4), t = new Float64Array(2 * 3), acc = new Float64Array(6);
  const w0 = Float64Array.from(net.s.W_up2);
  for (let pat = 0; pat < 5; pat++) {
    for (let i = 0; i < x.length; i++) x[i] = data.uniform();
    for (let i = 0; i < t.length; i++) t[i] = data.uniform();
    net.present(x, t, 50, true, 10, acc);
  }
  assert.ok(net.s.W_up2.some((w, i) => w !== w0[i]), 'W_up2 learned');
  for (let k = 0; k < 2; k++) {
    assert.ok(Math.abs(norm(net.s.B, k, m) - net.s.bNorm[k]) < 1e-9 * net.s.bNorm[k], `‖B‖ of network ${k}`);
    assert.ok(net.angle(k) < 1e-5, `angle of network ${k}: ${net.angle(k)}`);
    for (let i = 0; i < m; i++) assert.equal(net.s.W_pi[k * m + i], -net.s.B[k * m + i]);
  }
});
