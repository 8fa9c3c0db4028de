/**
 * Dendritic microcircuits and PAL (src/model/microcircuit.ts): the LE/PAL reference's unit tests §1.8 (9, 10) and
 * §2.5 (1–5), the Yin-Yang generator against the reference's fingerprints (§5), and no allocation per step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Microcircuit, initMicrocircuitWeights, selfPredict, transposeFeedback, type MicrocircuitParams } from '../src/model/microcircuit.js';
import { yinYang, MT19937, BARS_PATTERNS, BARS_LABELS } from '../src/data/yinyang.js';
import { Rng } from '../src/util/rng.js';
import { medianBytesPerStep } from './helpers/heap.js';

const G = { gl: 0.03, gb: 0.1, ga: 0.06, gsom: 0.06, gd: 0.1, gt: 0.06 };

function make(over: Partial<MicrocircuitParams> & { dims: [number, number, number] }, seed = 1, ranges: [number, number, number, number, number] = [1, 1, 1, 1, 1]): Microcircuit {
  const net = new Microcircuit({ ...G, dt: 0.1, tau0: 0.1, dtype: 'float64', ...over }, seed);
  initMicrocircuitWeights(net.s, new Rng(seed + 100), ranges);
  return net;
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('Yin-Yang: the reference fingerprints (class counts, first sample, sums), NumPy seeds', () => {
  const fp: [number, number, number[], [number, number, number], number?, number?][] = [
    [6000, 9876543, [1983, 2007, 2010], [0.196653, 0.764561, 1], 3009.753378, 3008.951585],
    [900, 9876544, [311, 300, 289], [0.668561, 0.471161, 2]],
    [900, 9876545, [300, 307, 293], [0.136937, 0.253691, 0]],
    [1000, 42, [333, 321, 346], [0.680308, 0.450499, 2]],
  ];
  for (const [n, seed, counts, first, sx, sy] of fp) {
    const d = yinYang(n, seed);
    const c = [0, 0, 0];
    let X = 0, Y = 0;
    for (let i = 0; i < n; i++) {
      c[d.labels[i]]++;
      X += d.x[4 * i];
      Y += d.x[4 * i + 1];
      assert.ok(Math.abs(d.x[4 * i + 2] - (1 - d.x[4 * i])) < 1e-15 && Math.abs(d.x[4 * i + 3] - (1 - d.x[4 * i + 1])) < 1e-15);
    }
    assert.deepEqual(c, counts, `class counts of (${n}, ${seed})`);
    assert.ok(Math.abs(d.x[0] - first[0]) < 5e-7 && Math.abs(d.x[1] - first[1]) < 5e-7, `first sample of (${n}, ${seed}): ${d.x[0]}, ${d.x[1]}`);
    assert.equal(d.labels[0], first[2]);
    if (sx !== undefined) assert.ok(Math.abs(X - sx) < 5e-6 && Math.abs(Y - sy!) < 5e-6, `sums ${X} ${Y}`);
  }
});

test('MT19937: the standard first outputs for seed 5489', () => {
  const m = new MT19937(5489);
  assert.deepEqual([m.nextU32(), m.nextU32(), m.nextU32()], [3499211612, 581869302, 3890346734]);
});

test('bars: eight 3x3 patterns, 3 horizontal, 3 vertical, 2 diagonal', () => {
  assert.equal(BARS_PATTERNS.length, 8);
  assert.deepEqual(BARS_LABELS, [0, 0, 0, 1, 1, 1, 2, 2]);
  for (const p of BARS_PATTERNS) assert.equal(p.reduce((a, b) => a + b, 0), 3);
  assert.deepEqual(BARS_PATTERNS[6], [1, 0, 0, 0, 1, 0, 0, 0, 1]);
});

test('§1.8-9 LE identity: ŭ = u + u̇/g_tot equals u^ss for pyramids, interneurons and outputs', () => {
  const net = make({ dims: [3, 5, 2], le: true, phi: 'softrelu', etaUp: [0.1, 0.1], etaIp: 0.1, etaPi: 0.1 });
  const s = net.s, p = net.p;
  const rng = new Rng(3);
  const x = [0, 0, 0], t = [0.5, 0.2];
  for (let n = 0; n < 50; n++) {
    for (let j = 0; j < 3; j++) x[j] = rng.uniform();
    // the inputs each population reads this step (the previous step's values)
    const rIn = Array.from(s.rIn), rP = Array.from(s.rP), rI = Array.from(s.rI), rO = Array.from(s.rO), upO = Array.from(s.upO), tg = Array.from(s.tgt);
    const Wup1 = Array.from(s.W_up1), Wup2 = Array.from(s.W_up2), B = Array.from(s.B), Wip = Array.from(s.W_ip), Wpi = Array.from(s.W_pi);
    net.step(x, n % 2 ? t : null, true);
    for (let i = 0; i < 5; i++) {
      let vB = 0, vA = 0;
      for (let j = 0; j < 3; j++) vB += Wup1[i * 3 + j] * rIn[j];
      for (let k = 0; k < 2; k++) vA += B[i * 2 + k] * rO[k] + Wpi[i * 2 + k] * rI[k];
      const uss = (p.gb * vB + p.ga * vA) / (p.gl + p.gb + p.ga);
      assert.ok(Math.abs(s.upP[i] - uss) < 1e-12, `pyramid ${i}: ${s.upP[i]} vs ${uss}`);
    }
    for (let k = 0; k < 2; k++) {
      let vD = 0, vB = 0;
      for (let i = 0; i < 5; i++) {
        vD += Wip[k * 5 + i] * rP[i];
        vB += Wup2[k * 5 + i] * rP[i];
      }
      const ussI = (p.gd * vD + p.gsom * upO[k]) / (p.gl + p.gd + p.gsom);
      assert.ok(Math.abs(s.upI[k] - ussI) < 1e-12, `interneuron ${k}`);
      const ussO = n % 2 ? (p.gb * vB + p.gt * tg[k]) / (p.gl + p.gb + p.gt) : (p.gb * vB) / (p.gl + p.gb);
      assert.ok(Math.abs(s.upO[k] - ussO) < 1e-12, `output ${k}`);
    }
  }
});

function selfPredictionCheck(le: boolean, steps: number, tol: number) {
  const net = make({ dims: [4, 8, 3], le, phi: 'softrelu' });
  selfPredict(net.p, net.s);
  const x = [0.2, 0.9, 0.4, 0.6];
  for (let n = 0; n < steps; n++) net.step(x, null, false);
  const s = net.s;
  assert.ok(maxDiff(s.upI, s.upO) < tol, `${le ? 'LE' : 'orig'}: ŭ_I − ŭ_O = ${maxDiff(s.upI, s.upO)}`);
  assert.ok(maxAbs(s.vA) < tol, `${le ? 'LE' : 'orig'}: v_A = ${maxAbs(s.vA)}`);
  // hence no plasticity: every weight stays where it is
  Object.assign(net.p, { etaUp: [1, 1], etaIp: 1, etaPi: 1 });
  const before = [s.W_up1, s.W_up2, s.W_ip, s.W_pi].map((w) => Array.from(w));
  for (let n = 0; n < 20; n++) net.step(x, null, true);
  [s.W_up1, s.W_up2, s.W_ip, s.W_pi].forEach((w, i) => assert.ok(maxDiff(w, before[i]) < tol * 20, `weights ${i} moved by ${maxDiff(w, before[i])}`));
  return net;
}

test('§1.8-10 self-prediction: after the self-predicting start, no target: ŭ_I = ŭ_O, v_A = 0, no weight changes (LE: within steps)', () => {
  selfPredictionCheck(true, 60, 1e-12);
});

test('§1.8-10 self-prediction, original circuit: the same at steady state', () => {
  selfPredictionCheck(false, 4000, 1e-9);
});

test('§2.5-4 self-predicting invariant holds when B changes, as long as W_pi tracks −B', () => {
  const net = selfPredictionCheck(true, 60, 1e-12);
  const r = new Rng(11);
  for (let i = 0; i < net.s.B.length; i++) net.s.B[i] = r.range(-2, 2);
  selfPredict(net.p, net.s);
  for (let n = 0; n < 60; n++) net.step([0.2, 0.9, 0.4, 0.6], null, false);
  assert.ok(maxAbs(net.s.vA) < 1e-12);
});

test('§2.5-1 OU noise: stationary sd σ√(dt/τ_ξ)/√(1−(1−dt/τ_ξ)²) ≈ 0.00725 and autocorrelation (1−dt/τ_ξ)^lag', () => {
  const nH = 400;
  const net = make({ dims: [1, nH, 1], le: true, phi: 'sigmoid', dt: 0.01, tau0: 0.01, sigmaXi: 0.01, tauXi: 0.1 });
  for (let n = 0; n < 200; n++) net.step([0], null, false);
  let s2 = 0, c5 = 0, c10 = 0, cnt = 0;
  const hist: Float64Array[] = [];
  for (let n = 0; n < 1000; n++) {
    net.step([0], null, false);
    hist.push(Float64Array.from(net.s.xi));
    if (n >= 10) {
      const now = hist[n], l5 = hist[n - 5], l10 = hist[n - 10];
      for (let i = 0; i < nH; i++) {
        s2 += now[i] * now[i];
        c5 += now[i] * l5[i];
        c10 += now[i] * l10[i];
      }
      cnt += nH;
    }
  }
  const sd = Math.sqrt(s2 / cnt), expected = (0.01 * Math.sqrt(0.01 / 0.1)) / Math.sqrt(1 - 0.9 ** 2);
  assert.ok(Math.abs(expected - 0.00725) < 1e-5);
  assert.ok(Math.abs(sd / expected - 1) < 0.03, `sd ${sd} vs ${expected}`);
  assert.ok(Math.abs(c5 / s2 - 0.9 ** 5) < 0.03, `lag-5 autocorrelation ${c5 / s2}`);
  assert.ok(Math.abs(c10 / s2 - 0.9 ** 10) < 0.03, `lag-10 autocorrelation ${c10 / s2}`);
});

test('§2.5-2 high-pass of the output rate: a step Δ adds Δ, otherwise it decays by (1 − dt/τ_hp) per step', () => {
  const net = make({ dims: [1, 2, 1], le: true, phi: 'sigmoid', dt: 0.01, tau0: 0.01, tauHp: 0.1 });
  net.s.B.fill(0);
  net.s.W_pi.fill(0); // v_A = 0: the pyramids follow the input alone, so the output rate is a clean step
  const k = 1 - 0.01 / 0.1;
  let prevHp = 0, prevR = 0;
  for (let n = 0; n < 120; n++) {
    net.step([n < 50 ? 0.3 : 0.8], null, false);
    const hp = net.s.hpO[0], r = net.s.rO[0];
    assert.ok(Math.abs(hp - (k * prevHp + (r - prevR))) < 1e-14, `step ${n}`);
    if (n > 5 && n !== 52) assert.ok(Math.abs(r - prevR) < 1e-12, `rate constant except at the switch (step ${n})`);
    if (n === 52) assert.ok(Math.abs(r - prevR) > 1e-3, 'the rate jumps two steps after the input (two one-step delays)');
    prevHp = hp;
    prevR = r;
  }
  assert.ok(Math.abs(net.s.hpO[0]) < 0.05 * Math.abs(net.s.rO[0] - 0), 'decayed');
});

test('§2.5-5 FA ≡ PAL with η_B = 0 (same noise, same data: identical weights step for step)', () => {
  const over = { dims: [4, 6, 3] as [number, number, number], le: true, phi: 'sigmoid' as const, dt: 0.01, tau0: 0.01, sigmaXi: 0.05, etaUp: [5, 1] as [number, number], etaIp: 0.5, etaPi: 0.5, etaB: 0, tauW: [0.5, 0.01, 0.01] as [number, number, number], alpha: 1e-3 };
  const fa = make({ ...over, feedback: 'fixed' }, 4);
  const pal = make({ ...over, feedback: 'pal' }, 4);
  selfPredict(fa.p, fa.s);
  selfPredict(pal.p, pal.s);
  const data = yinYang(20, 7);
  for (let i = 0; i < 20; i++) {
    const x = data.x.subarray(4 * i, 4 * i + 4), t = [0.1, 0.1, 0.1];
    t[data.labels[i]] = 1;
    for (let n = 0; n < 50; n++) {
      fa.step(x, t, true);
      pal.step(x, t, true);
    }
  }
  for (const k of ['W_up1', 'W_up2', 'B', 'W_ip', 'W_pi', 'uP', 'uO'] as const) assert.deepEqual(Array.from(pal.s[k]), Array.from(fa.s[k]), k);
  // and with η_B > 0 the feedback weights do move
  const moving = make({ ...over, feedback: 'pal', etaB: 10 }, 4);
  selfPredict(moving.p, moving.s);
  const B0 = Array.from(moving.s.B);
  for (let n = 0; n < 500; n++) moving.step([0.2, 0.5, 0.8, 0.5], [1, 0.1, 0.1], true);
  assert.ok(maxDiff(moving.s.B, B0) > 1e-6);
});

test('§2.5-5 "BP" control: with B = Wᵀ the hidden apical voltage is the backpropagated LE output error', () => {
  // weak nudging (g_t small) of a settled circuit with a target; LE, no noise, frozen weights
  const run = (transpose: boolean) => {
    const net = make({ dims: [4, 10, 3], le: true, phi: 'sigmoid', dt: 0.01, tau0: 0.01, gt: 0.005 }, 2);
    if (transpose) transposeFeedback(net.p, net.s);
    selfPredict(net.p, net.s);
    const x = [0.3, 0.7, 0.7, 0.3], t = [1, 0.1, 0.1];
    for (let n = 0; n < 300; n++) net.step(x, t, false);
    const s = net.s, p = net.p;
    // LE error of the output: φ'(ŭ_free) ⊙ (ŭ_nudged − ŭ_free), sent back through Wᵀ
    const nH = 10, nO = 3;
    const want = new Float64Array(nH);
    for (let k = 0; k < nO; k++) {
      let vB = 0;
      for (let i = 0; i < nH; i++) vB += s.W_up2[k * nH + i] * s.rP[i];
      const free = (p.gb / (p.gl + p.gb)) * vB, f = 1 / (1 + Math.exp(-free));
      const e = f * (1 - f) * (s.upO[k] - free) * ((p.gl + p.gd) / (p.gl + p.gd + p.gsom));
      for (let i = 0; i < nH; i++) want[i] += s.W_up2[k * nH + i] * e;
    }
    let dot = 0, aa = 0, ww = 0;
    for (let i = 0; i < nH; i++) {
      dot += s.vA[i] * want[i];
      aa += s.vA[i] ** 2;
      ww += want[i] ** 2;
    }
    return { cos: dot / Math.sqrt(aa * ww), ratio: Math.sqrt(aa / ww), scale: Math.sqrt(ww) };
  };
  const bp = run(true);
  assert.ok(bp.scale > 1e-4, 'a nonzero error');
  assert.ok(bp.cos > 0.9999, `B = Wᵀ: cos ${bp.cos}`);
  assert.ok(Math.abs(bp.ratio - 1) < 0.02, `B = Wᵀ: |v_A| / |Wᵀ e| = ${bp.ratio}`);
  const fa = run(false);
  assert.ok(fa.cos < 0.9, `random B: cos ${fa.cos}`);
});

test('§2.5-3 PAL aligns B with Wᵀ (amplified σ = 0.1, η_B = 50): the angle falls block by block, below 45° within 3e5 steps', () => {
  const nIn = 4, nH = 30, nO = 3;
  const net = new Microcircuit({ ...G, dims: [nIn, nH, nO], le: true, phi: 'sigmoid', dt: 0.01, tau0: 0.01, sigmaXi: 0.1, tauXi: 0.1, tauHp: 0.1, alpha: 1e-6, etaB: 50, etaPi: 0, feedback: 'pal' }, 5);
  const r = new Rng(21);
  for (let i = 0; i < net.s.W_up1.length; i++) net.s.W_up1[i] = 3 * r.range(-1, 1);
  for (let i = 0; i < net.s.W_up2.length; i++) net.s.W_up2[i] = r.range(-1, 1);
  for (let i = 0; i < net.s.B.length; i++) net.s.B[i] = r.range(-1, 1);
  // the interneurons cancel the top-down input (W_pi tracks −B), so the apical compartment holds the noise
  const x = new Float64Array(nIn);
  const angles = [net.angle()];
  for (let block = 0; block < 5; block++) {
    for (let n = 0; n < 60000; n++) {
      if (n % 100 === 0) for (let j = 0; j < nIn; j++) x[j] = r.uniform();
      net.step(x, null, true);
      selfPredict(net.p, net.s);
    }
    angles.push(net.angle());
  }
  for (let b = 1; b < angles.length; b++) assert.ok(angles[b] < angles[b - 1], `angle ${angles.map((a) => a.toFixed(1)).join(' → ')}`);
  assert.ok(angles[0] > 60 && angles[5] < 45, `angle ${angles.map((a) => a.toFixed(1)).join(' → ')}`);
  // with σ = 0 nothing aligns
  const still = new Microcircuit({ ...net.p, sigmaXi: 0 }, 5);
  still.s.W_up1.set(net.s.W_up1);
  still.s.W_up2.set(net.s.W_up2);
  for (let i = 0; i < still.s.B.length; i++) still.s.B[i] = r.range(-1, 1);
  const a0 = still.angle();
  for (let n = 0; n < 20000; n++) {
    if (n % 100 === 0) for (let j = 0; j < nIn; j++) x[j] = r.uniform();
    still.step(x, null, true);
  }
  assert.ok(Math.abs(still.angle() - a0) < 1e-3, `σ = 0: ${a0} → ${still.angle()}`);
});

test('microcircuit step allocates nothing (float32 and float64)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const net = make({ dims: [4, 30, 3], le: true, phi: 'sigmoid', dt: 0.01, tau0: 0.01, sigmaXi: 0.01, etaUp: [1, 1], etaIp: 1, etaPi: 1, etaB: 1, feedback: 'pal', tauW: [1, 0, 0], dtype });
    const x = new Float64Array([0.1, 0.2, 0.9, 0.8]), t = new Float64Array([1, 0.1, 0.1]);
    for (let n = 0; n < 20000; n++) net.step(x, t, true);
    const median = medianBytesPerStep(() => net.step(x, t, true), 2000, 31);
    assert.ok(median < 8, `${dtype}: ${median} bytes per step`);
  }
});
