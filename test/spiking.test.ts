import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SamplingNetwork, boltzmann, dklFromCounts, asymmetry } from '../src/spiking/ssn.js';
import { salRule, wsRule, stdpRule, stdpKernel } from '../src/spiking/stdp.js';
import { stddc, expectedStdp } from '../src/spiking/stddc.js';
import { SalNet } from '../src/spiking/salnet.js';
import { alignmentAngle, alignmentStats } from '../src/learn/alignment.js';
import { Rng } from '../src/util/rng.js';
import { filledSalNet } from './helpers/salnet-case.js';
import { medianBytesPerStep, runAllocCase } from './helpers/heap.js';

function randomAsym(n: number, seed: number, scale: number): number[] {
  const r = new Rng(seed);
  const W: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) W.push(i === j ? 0 : scale * r.normal());
  return W;
}

test('STDP windows: SAL is antisymmetric in time, ws symmetric and triangular', () => {
  const sal = salRule(10), ws = wsRule(10), ex = stdpRule('exp', 0.5, 2, 5);
  assert.equal(stdpKernel(sal, 0), 0);
  assert.ok(Math.abs(stdpKernel(sal, 3) + Math.exp(-0.3)) < 1e-15);
  assert.equal(stdpKernel(sal, -3), -stdpKernel(sal, 3));
  assert.equal(stdpKernel(ws, 0), 1);
  assert.ok(Math.abs(stdpKernel(ws, 4) - 0.6) < 1e-15 && stdpKernel(ws, -4) === stdpKernel(ws, 4));
  assert.equal(stdpKernel(ws, 10), 0);
  assert.ok(Math.abs(stdpKernel(ex, 5) - 0.5 * Math.exp(-1)) < 1e-15 && Math.abs(stdpKernel(ex, -5) - 2 * Math.exp(-1)) < 1e-15);
  assert.equal(stdpKernel(ex, 0), 1.25);
});

test('SAL conserves W_ij + W_ji exactly: antisymmetric traces, sums unchanged (float64 and float32)', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const n = 7, tau = 10;
    const net = new SamplingNetwork({ n, tauRef: tau, nLast: 4, batch: 3, dtype, seed: 5 });
    net.W.set(randomAsym(n, 11, 1));
    for (let i = 0; i < n; i++) net.b[i] = -0.3;
    const sums0 = Array.from({ length: n * n }, (_, q) => net.W[q] + net.W[(q % n) * n + Math.floor(q / n)]);
    const tr = net.trace(salRule(tau));
    let pairs = 0;
    for (let ep = 0; ep < 20; ep++) {
      tr.D.fill(0);
      net.run(2000, [tr]);
      for (let bb = 0; bb < 3; bb++)
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            const o = bb * n * n;
            assert.ok(tr.D[o + i * n + j] === -tr.D[o + j * n + i], `D antisymmetric ${i},${j}`);
            if (tr.D[o + i * n + j] !== 0) pairs++;
          }
      for (let q = 0; q < n * n; q++) net.W[q] += (0.05 * tr.D[q]) / (2000 / tau);
      net.weightsChanged();
    }
    assert.ok(pairs > 100, 'the traces saw spike pairs');
    const tol = dtype === 'float64' ? 1e-12 : 1e-5;
    let moved = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const s = net.W[i * n + j] + net.W[j * n + i];
        assert.ok(Math.abs(s - sums0[i * n + j]) < tol, `${dtype} W${i}${j} + W${j}${i} drifted by ${s - sums0[i * n + j]}`);
      }
    const W0 = randomAsym(n, 11, 1);
    for (let q = 0; q < n * n; q++) moved = Math.max(moved, Math.abs(net.W[q] - W0[q]));
    assert.ok(moved > 0.05, `weights moved (${moved})`);
  }
});

function twoNeuron(learn01: boolean, epochs: number, seed: number): { W01: number; W10: number; at: Map<number, [number, number]> } {
  const tau = 25, T = 1500, eta = 0.03;
  // a batch of 4 chains shares the weights and averages its traces (same expected update, less noise)
  const B = 4;
  const net = new SamplingNetwork({ n: 2, tauRef: tau, nLast: 10, batch: B, seed, dtype: 'float64' });
  net.W.set([0, 1.5, 0.5, 0]);
  net.b.set([-0.5, -0.2]);
  const tr = net.trace(salRule(tau));
  const at = new Map<number, [number, number]>();
  for (let ep = 1; ep <= epochs; ep++) {
    tr.D.fill(0);
    net.run(T, [tr]);
    let d01 = 0, d10 = 0;
    for (let b = 0; b < B; b++) {
      d01 += tr.D[b * 4 + 1] / B;
      d10 += tr.D[b * 4 + 2] / B;
    }
    if (learn01) net.W[1] += (eta * d01) / (T / tau);
    net.W[2] += (eta * d10) / (T / tau);
    at.set(ep, [net.W[1], net.W[2]]);
  }
  return { W01: net.W[1], W10: net.W[2], at };
}

test('two-neuron SAL (§3.6 test 2 settings): both weights -> 1.0, |W01 - W10| < 0.1 by 500 epochs', () => {
  const r = twoNeuron(true, 500, 1);
  const [a100, b100] = r.at.get(100)!;
  assert.ok(Math.abs(a100 - b100) > 0.3, `after 100 epochs still clearly asymmetric (${a100}, ${b100})`);
  assert.ok(Math.abs(r.W01 - r.W10) < 0.1, `|W01 - W10| = ${Math.abs(r.W01 - r.W10)}`);
  assert.ok(Math.abs(r.W01 - 1) < 0.1 && Math.abs(r.W10 - 1) < 0.1, `W = ${r.W01}, ${r.W10}`);
});

test('feedback b -> w in a frozen-forward pair: with W01 fixed at 1.5, W10 > 1.4 by 800 epochs', () => {
  const r = twoNeuron(false, 800, 2);
  assert.equal(r.W01, 1.5);
  assert.ok(r.W10 > 1.4 && r.W10 < 1.6, `W10 = ${r.W10}`);
  assert.ok(r.at.get(100)![1] < 0.9, 'it started far away');
});

/** mean and standard error over the batch of D[q] / T */
function perChain(D: Float64Array, B: number, m: number, q: number, T: number): [number, number] {
  const v: number[] = [];
  for (let b = 0; b < B; b++) v.push(D[b * m + q] / T);
  const mu = v.reduce((a, x) => a + x, 0) / B;
  const sd = Math.sqrt(v.reduce((a, x) => a + (x - mu) ** 2, 0) / (B - 1));
  return [mu, sd / Math.sqrt(B)];
}

test('stddc oracle: simulated SAL and ws traces and rates within sampling error of the exact expectation', () => {
  const tau = 8, B = 32, T = 40000;
  for (const [w01, w10, b0, b1] of [[1.5, 0.5, -0.5, -0.2], [-1, 2, 0.3, -0.4]]) {
    const ex = stddc({ W01: w01, W10: w10, b0, b1, tauRef: tau, maxLag: 30 * tau });
    const net = new SamplingNetwork({ n: 2, tauRef: tau, nLast: 40, batch: B, seed: 9, dtype: 'float64' });
    net.W.set([0, w01, w10, 0]);
    net.b.set([b0, b1]);
    const ts = net.trace(salRule(tau)), tw = net.trace(wsRule(tau));
    net.run(T, [ts, tw]);
    const es = expectedStdp(ex, salRule(tau)), ew = expectedStdp(ex, wsRule(tau));
    for (const [name, D, q, want] of [['sal01', ts.D, 1, es.dD01], ['sal10', ts.D, 2, es.dD10], ['ws01', tw.D, 1, ew.dD01], ['ws10', tw.D, 2, ew.dD10]] as const) {
      const [mu, se] = perChain(D, B, 4, q, T);
      assert.ok(Math.abs(mu - want) < 4 * se + 1e-6, `${name} (${w01},${w10}): simulated ${mu} ± ${se}, exact ${want}`);
      assert.ok(Math.abs(want) > 10 * se, `${name}: the expectation is resolved (${want} vs se ${se})`);
    }
    const rates = net.rates(T, new Float64Array(2));
    for (const k of [0, 1]) assert.ok(Math.abs(rates[k] - ex.rates[k]) / ex.rates[k] < 0.02, `rate ${k}: ${rates[k]} vs ${ex.rates[k]}`);
  }
});

test('symmetric W is a fixed point of SAL in expectation (exact and simulated), an asymmetric one is not', () => {
  const tau = 8;
  const sym = expectedStdp(stddc({ W01: 1.2, W10: 1.2, b0: -0.6, b1: 0.1, tauRef: tau, maxLag: 30 * tau }), salRule(tau));
  const asym = expectedStdp(stddc({ W01: 1.6, W10: 0.8, b0: -0.6, b1: 0.1, tauRef: tau, maxLag: 30 * tau }), salRule(tau));
  assert.ok(Math.abs(sym.dD01) < 1e-12 && Math.abs(sym.dD10) < 1e-12, `exact: ${sym.dD01}`);
  assert.ok(asym.dD01 < -1e-3 && asym.dD10 > 1e-3, `the stronger weight is depressed: ${asym.dD01}`);
  // simulated, 3 neurons, symmetric W: every mean trace within sampling noise of 0
  const n = 3, B = 32, T = 30000;
  const net = new SamplingNetwork({ n, tauRef: tau, nLast: 40, batch: B, seed: 4, dtype: 'float64' });
  net.W.set([0, 1.2, -0.7, 1.2, 0, 0.5, -0.7, 0.5, 0]);
  net.b.set([-0.6, 0.1, -0.2]);
  const tr = net.trace(salRule(tau));
  net.run(T, [tr]);
  for (const q of [1, 2, 5]) {
    const [mu, se] = perChain(tr.D, B, n * n, q, T);
    assert.ok(Math.abs(mu) < 4 * se, `synapse ${q}: mean ${mu} ± ${se}`);
  }
});

test('sampler: for symmetric W the state distribution approaches exp(½zᵀWz + bᵀz)/Z, D_KL falls with run length', () => {
  const n = 4, tau = 10;
  const W = [0, 0.8, -0.5, 0.3, 0.8, 0, 0.6, -0.4, -0.5, 0.6, 0, 0.9, 0.3, -0.4, 0.9, 0];
  const b = [-0.2, 0.4, -0.6, 0.1];
  const target = boltzmann(W, b, n).p;
  const d: number[] = [];
  for (const T of [3000, 30000, 300000]) {
    const net = new SamplingNetwork({ n, tauRef: tau, batch: 4, seed: 21 });
    net.W.set(W);
    net.b.set(b);
    const hist = new Float64Array(1 << n);
    net.run(T / 4, [], hist);
    d.push(dklFromCounts(target, hist));
  }
  assert.ok(d[0] > d[1] && d[1] > d[2], `D_KL ${d.join(' > ')}`);
  assert.ok(d[2] < 0.01, `long-run D_KL ${d[2]}`);
});

test('dense and event-driven drive give identical spike trains (exactly representable weights)', () => {
  const n = 5, W = randomAsym(n, 3, 1).map((w) => Math.round(w * 8) / 8);
  const runs = (['dense', 'event'] as const).map((mode) => {
    const net = new SamplingNetwork({ n, tauRef: 6, tauSyn: 6, nLast: 2, batch: 2, mode, seed: 8, dtype: 'float64' });
    net.W.set(W);
    net.b.fill(-0.25);
    const tr = net.trace(salRule(6));
    net.run(20000, [tr]);
    return { counts: Array.from(net.s.counts), D: Array.from(tr.D) };
  });
  assert.deepEqual(runs[0].counts, runs[1].counts);
  assert.deepEqual(runs[0].D, runs[1].D);
});

test('asymmetry and alignment metrics', () => {
  assert.equal(asymmetry([0, 1, 1, 0], 2), 0);
  assert.ok(asymmetry([0, 1, 0.2, 0, 0.5, 0, 0, 0, 0], 3) > 0);
  const W = [1, 2, 3, 4, 5, 6]; // 2 x 3
  const Bt = [1, 4, 2, 5, 3, 6]; // 3 x 2 = W^T
  assert.ok(alignmentAngle(W, Bt, 2, 3) < 1e-6);
  assert.ok(Math.abs(alignmentAngle(W, Bt.map((x) => -x), 2, 3) - 180) < 1e-6);
  const s = alignmentStats(W, Bt, 2, 3);
  assert.ok(Math.abs(s.corr - 1) < 1e-12 && s.varDiff === 0 && s.signAgree === 1);
  assert.ok(Math.abs(s.normRatio - 1) < 1e-12);
  // a feedback at twice the scale: same direction, |B| / |W| = 2
  const s2 = alignmentStats(W, Bt.map((x) => 2 * x), 2, 3);
  assert.ok(s2.angle < 1e-6 && Math.abs(s2.normRatio - 2) < 1e-12);
  assert.ok(Math.abs(alignmentAngle([1, 0], [0, 1], 1, 2) - 90) < 1e-9);
});

test('layered SALNet: SAL turns the feedback B toward Wᵀ (angle falls)', () => {
  const rng = new Rng(1);
  const net = new SalNet({ sizes: [6, 4], batch: 16, tauRef: 8, seed: 2 });
  for (let q = 0; q < 24; q++) {
    net.fw[0].W[q] = rng.range(-2, 2);
    net.fb[0].W[q] = rng.range(-2, 2);
  }
  net.bias[0].fill(-0.5);
  net.bias[1].fill(-0.5);
  net.fw[0].changed();
  net.fb[0].changed();
  const a0 = alignmentAngle(net.fw[0].W, net.fb[0].W, 4, 6);
  for (let ep = 0; ep < 60; ep++) {
    net.run(1000);
    net.applySal(0.2, 1000);
  }
  const a1 = alignmentAngle(net.fw[0].W, net.fb[0].W, 4, 6);
  assert.ok(a1 < a0 - 15, `angle ${a0.toFixed(1)} -> ${a1.toFixed(1)}`);
});

for (const [mode, span] of [['event', undefined], ['dense', undefined], ['event', 9]] as const)
  test(`the wasm SALNet engine reproduces the js run exactly (float32, ${mode} drive${span ? `, SAL span ${span}` : ''})`, () => {
    const runs = (['js', 'wasm'] as const).map((engine) => {
      const net = filledSalNet(engine, mode, 2, span);
      net.run(3000);
      const D0 = net.D.map((d) => Array.from(d));
      net.applySal(0.3, 3000); // B changed between runs: the accumulators are rebuilt
      net.run(500, false); // no traces
      net.fw[1].W[3] += 0.5;
      net.fw[1].changed();
      net.run(2500);
      return {
        t: net.pops.map((q) => q.s.t),
        counts: net.pops.map((q) => Array.from(q.s.counts)),
        hist: net.pops.map((q) => Array.from(q.s.hist)),
        rng: net.pops.map((q) => Array.from(q.s.rng)),
        D0,
        D: net.D.map((d) => Array.from(d)),
        B: net.fb.map((f) => Array.from(f.W)),
        acc: [...net.fw, ...net.fb].map((f) => Array.from(f.acc)),
      };
    });
    const spikes = runs[0].counts.flat().reduce((a, x) => a + x, 0);
    assert.ok(spikes > 2000, `${spikes} spikes`);
    assert.ok(runs[0].D0.every((d) => d.some((x) => x !== 0)));
    assert.deepEqual(runs[1], runs[0]);
    if (span) {
      // the same spikes as without a span (B is unchanged until the first applySal), fewer pairs in the traces
      const [whole, spanned] = [undefined, span].map((sp) => {
        const net = filledSalNet('js', mode, 2, sp);
        net.run(3000);
        return { counts: net.pops.map((q) => Array.from(q.s.counts)), D: net.D.map((d) => Array.from(d)) };
      });
      assert.deepEqual(spanned.counts, whole.counts);
      assert.notDeepEqual(spanned.D, whole.D);
    }
  });

test('SalNet: the engine is validated; wasm runs float32 only', () => {
  assert.throws(() => new SalNet({ sizes: [3, 2], tauRef: 4, engine: 'gpu' as 'js' }), /engine must be one of js, wasm, got "gpu"/);
  assert.throws(() => new SalNet({ sizes: [3, 2], tauRef: 4, engine: 'wasm', dtype: 'float64' }), /float32 only/);
});

for (const engine of ['js', 'wasm'] as const)
  test(`the SALNet (${engine}) steps without allocating`, () => {
    // a fresh process, optimisation on the main thread (test/helpers/salnet-alloc-case.ts says why)
    const m = runAllocCase(new URL('./helpers/salnet-alloc-case.ts', import.meta.url), [engine], { timeout: 120_000 });
    assert.ok(m.ctl > 32, `the measurement must see the control's allocation (saw ${m.ctl.toFixed(1)} B/step)`);
    assert.ok(m.real < 1, `${m.real.toFixed(2)} bytes allocated per step`);
  });

test('the sampling network steps without allocating', () => {
  const net = new SamplingNetwork({ n: 7, tauRef: 10, batch: 4, mode: 'event', seed: 1 });
  net.W.set(randomAsym(7, 2, 0.5));
  const tr = [net.trace(salRule(10)), net.trace(wsRule(10))];
  const hist = new Float64Array(128);
  net.run(5000, tr, hist);
  // chunks of one run of 2000 steps each
  const median = medianBytesPerStep(() => net.run(2000, tr, hist), 1, 31) / 2000;
  assert.ok(median < 1, `median ${median} bytes per step`);
});

test('the wasm engine of the sampling network reproduces the js run exactly (float32, dense drive)', () => {
  const runs = (['js', 'wasm'] as const).map((engine) => {
    const net = new SamplingNetwork({ n: 7, tauRef: 10, nLast: 3, batch: 3, engine, seed: 12 });
    net.W.set(randomAsym(7, 4, 0.8));
    for (let i = 0; i < 7; i++) net.b[i] = -0.5 + 0.15 * i;
    const tr = [net.trace(wsRule(10)), net.trace(salRule(10))];
    const hist = new Float64Array(128);
    net.run(15000, tr, hist);
    net.W[1] += 0.25; // weights changed between runs
    net.run(5000, tr, hist);
    return { counts: Array.from(net.s.counts), ws: Array.from(tr[0].D), sal: Array.from(tr[1].D), hist: Array.from(hist), t: net.s.t };
  });
  assert.ok(runs[0].counts.reduce((a, x) => a + x, 0) > 1000);
  assert.deepEqual(runs[1], runs[0]);
});

test('a SAL span keeps only the pairs with |Δt| < span steps', () => {
  const r = salRule(10, 1, 20), full = salRule(10);
  assert.equal(r.kc.length, 20);
  assert.equal(full.kc.length, 301);
  assert.equal(stdpKernel(r, 19), stdpKernel(full, 19));
  assert.equal(stdpKernel(r, -19), stdpKernel(full, -19));
  assert.ok(stdpKernel(full, 20) < 0 && stdpKernel(r, 20) === 0 && stdpKernel(r, -20) === 0);
  assert.equal(salRule(10, 1, 5000).kc.length, 301); // never longer than the window
  for (const bad of [0, 2.5, -3]) assert.throws(() => salRule(10, 1, bad), /span must be a positive integer/);
});

test('nearest-pair SAL (one remembered spike) drifts at symmetric W when rates differ; all pairs in the window do not', () => {
  const tau = 8, B = 16, T = 40000;
  const z = (nLast: number, span?: number) => {
    const net = new SamplingNetwork({ n: 3, tauRef: tau, nLast, batch: B, seed: 3, dtype: 'float64' });
    net.W.set([0, 0.8, -0.5, 0.8, 0, 0.6, -0.5, 0.6, 0]);
    net.b.set([-2, 1, 0]);
    const tr = net.trace(salRule(tau, 1, span));
    net.run(T, [tr]);
    return [1, 2, 5].map((q) => {
      const [mu, se] = perChain(tr.D, B, 9, q, T);
      return Math.abs(mu / se);
    });
  };
  const near = z(1), all = z(30);
  assert.ok(Math.max(...near) > 10, `nearest pairs: |z| ${near.map((x) => x.toFixed(1)).join(', ')}`);
  assert.ok(Math.max(...all) < 4, `all pairs: |z| ${all.map((x) => x.toFixed(1)).join(', ')}`);
  // a span the remembered spikes cover (refractoriness τ allows at most k spikes in k·τ steps) pairs every spike
  // within it, and the bias is gone again: SAL §3.4's 20-step buffer with nLast 2 at τ 10 is such a case
  const spanned = [z(1, tau), z(2, 2 * tau)];
  for (const zs of spanned) assert.ok(Math.max(...zs) < 4, `spanned: |z| ${zs.map((x) => x.toFixed(1)).join(', ')}`);
});

test('plasticity noise: 1 + TruncN(0, s², ±1.5 s) per synapse, independent for W_ij and W_ji', async () => {
  const { plasticityNoise } = await import('../src/spiking/stdp.js');
  const m = plasticityNoise(40, 0.05, new Rng(3));
  let mu = 0, lo = Infinity, hi = -Infinity, diff = 0;
  for (const x of m) (mu += x / m.length), (lo = Math.min(lo, x)), (hi = Math.max(hi, x));
  for (let i = 0; i < 40; i++) for (let j = i + 1; j < 40; j++) if (m[i * 40 + j] !== m[j * 40 + i]) diff++;
  assert.ok(lo >= 1 - 0.075 && hi <= 1 + 0.075 && hi > 1.06 && lo < 0.94, `range ${lo}..${hi}`);
  assert.ok(Math.abs(mu - 1) < 0.005, `mean ${mu}`);
  assert.equal(diff, (40 * 39) / 2);
  assert.ok(plasticityNoise(3, 0, new Rng(1)).every((x) => x === 1));
});

test('microcircuit SAL phase: B moves toward W2 (either sign), FA keeps B, BP copies W2; forward weights frozen', async () => {
  const { Microcircuit } = await import('../src/spiking/microcircuit.js');
  const mc = new Microcircuit({ variants: ['sal', 'sal', 'fa', 'bp'], tauRef: 10, lambdaApi: 0.02, lambdaNudge: 0.6, lrUp: [0.2, 0.003], lrDown: 0.001, bias: -1, avgSteps: 2000, seed: 3 });
  mc.W1.fill(2);
  mc.W2.set([2, -2, 2, 2]);
  mc.Bfb.set([-1, 1, -1, -1]);
  for (let k = 0; k < 30; k++) mc.present(k % 2 ? 2.5 : -2, 0, 2000, 0, 'sal');
  assert.ok(mc.Bfb[0] > -0.6, `B toward +2: ${mc.Bfb[0]}`);
  assert.ok(mc.Bfb[1] < 0.8, `B toward -2: ${mc.Bfb[1]}`);
  assert.equal(mc.Bfb[2], -1);
  assert.equal(mc.Bfb[3], 2);
  assert.deepEqual(Array.from(mc.W1), [2, 2, 2, 2]);
  assert.deepEqual(Array.from(mc.W2), [2, -2, 2, 2]);
});
