import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend, JsBackend, PHI, STEP } from '../src/kernels/index.js';
import type { Backend, FBuf, LayerStepArgs, PhiCode } from '../src/kernels/index.js';
import { loadWasmBackend, wasmRelaxedSimdSupported, wasmSimdSupported } from '../src/kernels/wasm/index.js';
import { Rng } from '../src/util/rng.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Set when this file re-runs itself with relaxed SIMD enabled (see the last test). */
const RELAXED_CHILD = process.env.GLE_WASM_RELAXED_CHILD === '1';

const js = new JsBackend('float32');

function fill(buf: FBuf, rng: Rng, lo: number, hi: number): void {
  const a = buf.a;
  for (let i = 0; i < a.length; i++) a[i] = lo + (hi - lo) * rng.uniform();
}

/**
 * |got - want| <= rtol * (|want| + scale), scale = max(frac * max|want|, floor): relative to the entry and to the
 * array's magnitude (float32 sums and differences of O(max) terms carry errors of that size).
 */
function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, what: string, floor = 1e-6, frac = 1): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  const scale = Math.max(maxAbs * frac, floor);
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w)) {
      assert.ok(Number.isNaN(g), `${what}[${i}]: got ${g}, want NaN`);
      continue;
    }
    if (!(Math.abs(g - w) <= rtol * (Math.abs(w) + scale))) {
      assert.fail(`${what}[${i}]: got ${g}, want ${w} (diff ${Math.abs(g - w)}, max |want| ${maxAbs})`);
    }
  }
}

const FIELDS = ['W', 'b', 'tauM', 'tauR', 'rBottom', 'rawErr', 'u', 'v', 'rPrime', 'uN', 'vN', 'rN', 'rPrimeN',
  'eBottomN', 'instE', 'prospU', 'prospV', 'uDot', 'gW', 'gB', 'gTau'] as const;
type Field = (typeof FIELDS)[number];

function makeArgs(be: Backend, B: number, nIn: number, nOut: number, bias: boolean): LayerStepArgs {
  const bo = B * nOut, bi = B * nIn, w = nIn * nOut;
  const size: Record<Field, number> = {
    W: w, b: nOut, tauM: nOut, tauR: nOut, rBottom: bi, rawErr: bo, u: bo, v: bo, rPrime: bo, uN: bo, vN: bo,
    rN: bo, rPrimeN: bo, eBottomN: bi, instE: bo, prospU: bo, prospV: bo, uDot: bo, gW: w, gB: nOut, gTau: nOut,
  };
  const o: Record<string, unknown> = { B, nIn, nOut };
  for (const f of FIELDS) o[f] = !bias && (f === 'b' || f === 'gB') ? null : be.alloc(size[f]);
  return o as unknown as LayerStepArgs;
}

function randomizeArgs(L: LayerStepArgs, rng: Rng, uScale: number): void {
  const wScale = uScale / Math.sqrt(L.nIn);
  fill(L.W, rng, -wScale, wScale);
  if (L.b) fill(L.b, rng, -uScale / 2, uScale / 2);
  fill(L.tauM, rng, 0.5, 2);
  fill(L.tauR, rng, 0.2, 1);
  fill(L.rBottom, rng, -1, 1);
  fill(L.rawErr, rng, -1, 1);
  fill(L.u, rng, -uScale, uScale);
  fill(L.v, rng, -1, 1);
  fill(L.rPrime, rng, 0, 1);
  for (const f of ['uN', 'vN', 'rN', 'rPrimeN', 'eBottomN', 'instE', 'prospU', 'prospV', 'uDot', 'gW', 'gB', 'gTau'] as const) {
    const x = L[f];
    if (x) fill(x, rng, -3, 3); // garbage that must be overwritten (or left alone) identically
  }
}

function copyArgs(src: LayerStepArgs, dst: LayerStepArgs): void {
  for (const f of FIELDS) {
    const s = src[f], d = dst[f];
    if (s && d) d.a.set(s.a);
  }
}

function compareArgs(got: LayerStepArgs, want: LayerStepArgs, rtol: number, tag: string): void {
  for (const f of FIELDS) {
    const g = got[f], w = want[f];
    // floor 1e-2: the signals here are O(1), and sums over the batch / inputs cancel (float32 vs double accumulation)
    if (g && w) assertClose(g.a, w.a, rtol, `${tag} ${f}`, 1e-2);
  }
}

test('SIMD probe and backend info', async () => {
  assert.equal(wasmSimdSupported(), true);
  const be = await createBackend({ backend: 'wasm' });
  const relaxed = wasmRelaxedSimdSupported();
  if (RELAXED_CHILD) assert.equal(relaxed, true);
  assert.deepEqual(be.info, { backend: 'wasm', simd: true, relaxedSimd: relaxed, dtype: 'float32' });
  const plain = await loadWasmBackend('float32', { relaxedSimd: false });
  assert.equal(plain.info.relaxedSimd, false);
  assert.equal(be.name, 'wasm');
  await assert.rejects(loadWasmBackend('float64'), /wasm backend supports float32 only/);
  const auto64 = await createBackend({ backend: 'auto', dtype: 'float64', onNotice: () => {} });
  assert.notEqual(auto64.name, 'wasm');
  assert.equal(auto64.dtype, 'float64');
});

test('layerStep matches the js backend: shapes x activations x flags', async () => {
  const wb = await loadWasmBackend('float32');
  const rng = new Rng(1234);
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 5, 3], [3, 1, 53], [2, 13, 1], [7, 53, 53], [5, 90, 7], [4, 90, 90], [9, 10, 10], [100, 1, 1],
  ];
  const phis = Object.values(PHI) as PhiCode[];
  let n = 0;
  for (const [B, nIn, nOut] of shapes) {
    for (const bias of [true, false]) {
      const Lj = makeArgs(js, B, nIn, nOut, bias);
      const Lw = makeArgs(wb, B, nIn, nOut, bias);
      for (const phi of phis) {
        for (let flags = 0; flags < 16; flags++) {
          // softplus / tanh / sigmoid: include saturated and > 20 regions
          const uScale = phi === PHI.softplus ? 30 : 4;
          randomizeArgs(Lj, rng, uScale);
          copyArgs(Lj, Lw);
          const dt = 0.01 + 0.2 * rng.uniform();
          const gamma = rng.uniform();
          js.layerStep(Lj, phi, dt, gamma, flags);
          wb.layerStep(Lw, phi, dt, gamma, flags);
          compareArgs(Lw, Lj, 1e-5, `B=${B} nIn=${nIn} nOut=${nOut} bias=${bias} phi=${phi} flags=${flags}`);
          n++;
        }
      }
    }
  }
  assert.equal(n, shapes.length * 2 * 7 * 16);
});

test('layerStep stays close to js over 300 recurrent steps', async () => {
  const wb = await loadWasmBackend('float32');
  const rng = new Rng(7);
  const B = 6, nIn = 17, nOut = 11;
  for (const phi of [PHI.tanh, PHI.sigmoid, PHI.softplus] as PhiCode[]) {
    const Lj = makeArgs(js, B, nIn, nOut, true);
    const Lw = makeArgs(wb, B, nIn, nOut, true);
    randomizeArgs(Lj, rng, 2);
    copyArgs(Lj, Lw);
    const flags = STEP.PROSPECTIVE | STEP.GRADS | STEP.LEARN_TAU | STEP.ERR_DOWN;
    for (let t = 0; t < 300; t++) {
      const drive = Math.sin(t * 0.05);
      for (const L of [Lj, Lw]) {
        for (let i = 0; i < L.rBottom.a.length; i++) L.rBottom.a[i] = Math.sin(0.1 * t + i) * drive;
        L.u.a.set(L.uN.a);
        L.v.a.set(L.vN.a);
        L.rPrime.a.set(L.rPrimeN.a);
        for (let i = 0; i < L.rawErr.a.length; i++) L.rawErr.a[i] = 0.1 * Math.cos(0.07 * t + i) - 0.05 * L.rN.a[i];
      }
      js.layerStep(Lj, phi, 0.05, 1, flags);
      wb.layerStep(Lw, phi, 0.05, 1, flags);
    }
    for (const f of ['uN', 'vN', 'rN', 'rPrimeN', 'gW', 'gTau', 'eBottomN'] as const) {
      assertClose(Lw[f].a, Lj[f].a, 1e-4, `recurrent phi=${phi} ${f}`, 5e-5);
    }
  }
});

test('activate: accuracy vs Math over a wide range, and match with js', async () => {
  const wb = await loadWasmBackend('float32');
  const xs: number[] = [0, -0, 1e-30, -1e-30, 20, 20.0001, -20, 87, -87, 88, -88, 100, -100, 1e4, -1e4];
  for (let e = -12; e <= 2; e += 0.01) xs.push(10 ** e, -(10 ** e));
  for (let x = -30; x <= 30; x += 0.013) xs.push(x);
  const n = xs.length;
  const x = wb.alloc(n), r = wb.alloc(n), rp = wb.alloc(n);
  x.a.set(xs);
  const xf = Float32Array.from(xs);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const exact: Record<string, [(v: number) => number, (v: number) => number]> = {
    tanh: [Math.tanh, (v) => (4 * Math.exp(-2 * Math.abs(v))) / (1 + Math.exp(-2 * Math.abs(v))) ** 2],
    sigmoid: [sig, (v) => Math.exp(-Math.abs(v)) / (1 + Math.exp(-Math.abs(v))) ** 2],
    softplus: [(v) => (v > 20 ? v : Math.log1p(Math.exp(v))), sig],
  };
  for (const [name, [f, df]] of Object.entries(exact)) {
    wb.activate(PHI[name as keyof typeof PHI], x, r, rp, n);
    let maxRel = 0, maxRelD = 0;
    for (let i = 0; i < n; i++) {
      const v = xf[i];
      const want = f(v), wantD = df(v);
      // relative error, with a floor far below float32 resolution of the values that matter
      maxRel = Math.max(maxRel, Math.abs(r.a[i] - want) / Math.max(Math.abs(want), 1e-30));
      if (Math.abs(wantD) > 1e-37) maxRelD = Math.max(maxRelD, Math.abs(rp.a[i] - wantD) / Math.abs(wantD));
    }
    assert.ok(maxRel < 1e-6, `${name}: max relative error ${maxRel}`);
    assert.ok(maxRelD < 1e-6, `${name}': max relative error ${maxRelD}`);
  }
  // every code against the js backend (n not a multiple of 4 covers the scalar tail)
  const xj = js.alloc(n), rj = js.alloc(n), rpj = js.alloc(n);
  xj.a.set(xs);
  for (const phi of Object.values(PHI) as PhiCode[]) {
    wb.activate(phi, x, r, rp, n - 3);
    js.activate(phi, xj, rj, rpj, n - 3);
    assertClose(r.a.subarray(0, n - 3), rj.a.subarray(0, n - 3), 1e-6, `activate ${phi} r`, 1e-31, 0); // float32 denormals (|x| > 87) flush to 0
    assertClose(rp.a.subarray(0, n - 3), rpj.a.subarray(0, n - 3), 1e-6, `activate ${phi} rp`, 1e-9, 0);
  }
  // hard clamps: derivative 1 on the closed interval
  const edge = wb.alloc(6), er = wb.alloc(6), ep = wb.alloc(6);
  edge.a.set([-1, 0, 1, -1.0001, 1.0001, 0.5]);
  wb.activate(PHI.hard_sigmoid, edge, er, ep, 6);
  assert.deepEqual([...er.a], [0, 0, 1, 0, 1, 0.5]);
  assert.deepEqual([...ep.a], [0, 1, 1, 0, 0, 1]);
  wb.activate(PHI.hard_tanh, edge, er, ep, 6);
  assert.deepEqual([...er.a], [-1, 0, 1, -1, 1, 0.5]);
  assert.deepEqual([...ep.a], [1, 1, 1, 0, 0, 1]);
});

test('gemm matches js: all transposes, beta 0 and 1, blocking edges', async () => {
  const wb = await loadWasmBackend('float32');
  const rng = new Rng(99);
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [4, 8, 1], [1, 9, 130], [6, 300, 5], [13, 17, 260], [5, 260, 131]];
  for (const [M, N, K] of shapes) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        for (const beta of [0, 1, 0.5]) {
          const alpha = beta === 0.5 ? -0.7 : 1;
          const Aj = js.alloc(M * K), Bj = js.alloc(K * N), Cj = js.alloc(M * N);
          fill(Aj, rng, -1, 1);
          fill(Bj, rng, -1, 1);
          fill(Cj, rng, -1, 1);
          const Aw = wb.alloc(M * K), Bw = wb.alloc(K * N), Cw = wb.alloc(M * N);
          Aw.a.set(Aj.a);
          Bw.a.set(Bj.a);
          Cw.a.set(Cj.a);
          js.gemm(tA, tB, M, N, K, alpha, Aj, Bj, beta, Cj);
          wb.gemm(tA, tB, M, N, K, alpha, Aw, Bw, beta, Cw);
          assertClose(Cw.a, Cj.a, 1e-5, `gemm tA=${tA} tB=${tB} M=${M} N=${N} K=${K} beta=${beta}`);
        }
      }
    }
  }
  // beta = 0 must not read C (NaN there is overwritten)
  const A = wb.alloc(4), Bm = wb.alloc(4), C = wb.alloc(4);
  A.a.set([1, 2, 3, 4]);
  Bm.a.set([1, 0, 0, 1]);
  C.a.fill(NaN);
  wb.gemm(false, false, 2, 2, 2, 1, A, Bm, 0, C);
  assert.deepEqual([...C.a], [1, 2, 3, 4]);
});

test('adam matches js', async () => {
  const wb = await loadWasmBackend('float32');
  const rng = new Rng(5);
  for (const wd of [0, 0.01]) {
    const n = 37;
    const bufs = [0, 1, 2, 3].map(() => js.alloc(n));
    const [pj, gj, mj, vj] = bufs;
    fill(pj, rng, -1, 1);
    fill(mj, rng, -0.1, 0.1);
    fill(vj, rng, 0, 0.01);
    const [pw, gw, mw, vw] = bufs.map((b) => {
      const w = wb.alloc(n);
      w.a.set(b.a);
      return w;
    });
    for (let t = 1; t <= 20; t++) {
      fill(gj, rng, -1, 1);
      gw.a.set(gj.a);
      const s = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc1: 1 - 0.9 ** t, bc2: 1 - 0.999 ** t, weightDecay: wd };
      js.adam(pj, gj, mj, vj, n, s);
      wb.adam(pw, gw, mw, vw, n, s);
    }
    assertClose(pw.a, pj.a, 1e-5, `adam p wd=${wd}`);
    assertClose(mw.a, mj.a, 1e-5, `adam m wd=${wd}`);
    assertClose(vw.a, vj.a, 1e-5, `adam v wd=${wd}`);
  }
});

test('memory growth keeps old buffers valid with their contents', async () => {
  const wb = await loadWasmBackend('float32');
  const small = wb.alloc(10);
  for (let i = 0; i < 10; i++) small.a[i] = i + 0.5;
  const oldView = small.a;
  const fresh = wb.alloc(5);
  assert.deepEqual([...fresh.a], [0, 0, 0, 0, 0]);
  assert.equal(fresh.ptr % 16, 0);
  const big = wb.alloc(4_000_000); // 16 MB: forces a grow
  assert.equal(oldView.length, 0, 'the old view is detached by the grow');
  assert.equal(small.a.length, 10);
  assert.deepEqual([...small.a], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]);
  assert.equal(big.a.length, 4_000_000);
  assert.equal(big.a[3_999_999], 0);
  // wasm writes into the old buffer are visible through the refreshed view
  const r = wb.alloc(10);
  wb.activate(PHI.relu, small, r, fresh.n === 5 ? wb.alloc(10) : r, 10);
  assert.equal(r.a[9], 9.5);
  // a layer step set up before a grow still works after it
  const L = makeArgs(wb, 2, 3, 4, true);
  const Lj = makeArgs(js, 2, 3, 4, true);
  randomizeArgs(Lj, new Rng(3), 1);
  copyArgs(Lj, L);
  wb.layerStep(L, PHI.tanh, 0.1, 1, 15);
  wb.alloc(8_000_000);
  // a bigger layer needs a bigger transient scratch region; the first layer keeps working with its own
  const big2 = makeArgs(wb, 3, 40, 60, true);
  randomizeArgs(big2, new Rng(4), 1);
  wb.layerStep(big2, PHI.sigmoid, 0.1, 1, 15);
  copyArgs(Lj, L);
  wb.layerStep(L, PHI.tanh, 0.1, 1, 15);
  js.layerStep(Lj, PHI.tanh, 0.1, 1, 15);
  compareArgs(L, Lj, 1e-5, 'after grow');
  // foreign buffers are refused
  assert.throws(() => wb.activate(PHI.tanh, js.alloc(4), r, r, 4), /not allocated by this backend/);
});

test('the relaxed-SIMD build passes this whole file too (child process with relaxed SIMD enabled)', (t) => {
  if (RELAXED_CHILD) return t.skip('already the child');
  const env: NodeJS.ProcessEnv = { ...process.env, GLE_WASM_RELAXED_CHILD: '1' };
  delete env.NODE_TEST_CONTEXT;
  const flags = wasmRelaxedSimdSupported() ? [] : ['--experimental-wasm-relaxed-simd'];
  const file = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', file], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `relaxed-SIMD run failed:\n${r.stdout.split('\n').filter((l) => /not ok|error/.test(l)).join('\n')}\n${r.stderr}`);
  assert.match(r.stdout, /# fail 0/);
});
