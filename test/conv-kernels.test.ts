/**
 * The conv stage's named kernels (im2col, col2im, permute.fbp with and without the fused bias, bias.grad) as each
 * backend registers them, against the generic versions (src/kernels/generic.ts) run in float64: odd sizes, kernels
 * that are not square, stride 2 and 3, zero padding, batch 1 and 3, and the LE layers' stride-1 no-padding fast path.
 * Copies must be exact; sums agree to float32 rounding. The conv.* kernels (a stage's products one batch row at a
 * time) are checked the same way, and their generic version against a direct convolution written out here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JsBackend, PHI, type Backend, type FBuf, type PhiCode } from '../src/kernels/index.js';
import type { LeNeuronArgs } from '../src/model/layers/le.js';
import { getKernel, listKernels } from '../src/kernels/registry.js';
import * as generic from '../src/kernels/generic.js';
import type { BiasGradArgs, ConvArgs, ConvGeom, Im2colArgs, PermuteArgs } from '../src/kernels/generic.js';
import { loadWasmBackend, wasmSimdSupported } from '../src/kernels/wasm/index.js';
import { createNodeBackend } from '../src/node.js';
import { geometry } from '../src/model/layers/conv.js';
import { Rng } from '../src/util/rng.js';

const nativeBuilt = existsSync(fileURLToPath(new URL('../native/build/Release/gle_native.node', import.meta.url)));

interface Case {
  name: string;
  make: () => Promise<Backend>;
  skip?: string | false;
  /** the backend registers its own version of each kernel (not the generic one) */
  own: boolean;
}
const CASES: Case[] = [
  { name: 'js float64', make: async () => new JsBackend('float64'), own: false },
  { name: 'js float32', make: async () => new JsBackend('float32'), own: false },
  { name: 'wasm', make: () => loadWasmBackend('float32'), skip: wasmSimdSupported() ? false : 'no WebAssembly SIMD', own: true },
  { name: 'native', make: () => createNodeBackend('native', 'float32', () => {}), skip: nativeBuilt ? false : 'native addon not built', own: true },
];

// C, H, W, kh, kw, stride, pad (H and W), batch
const GEOMS: [number, number, number, number, number, number, number, number][] = [
  [3, 11, 9, 5, 5, 1, 0, 3], // the LE fast path, odd sizes
  [2, 7, 13, 3, 2, 1, 0, 1], // not square, fast path
  [1, 1, 1, 1, 1, 1, 0, 2], // 1x1
  [3, 9, 10, 3, 3, 2, 1, 3], // stride 2, padding 1
  [2, 8, 7, 4, 3, 3, 2, 2], // stride 3, padding 2 (windows over the border)
  [4, 6, 5, 2, 5, 1, 1, 1], // stride 1 with padding (general path)
];

const KERNELS = ['im2col', 'col2im', 'permute.fbp', 'bias.grad', 'conv.forward', 'conv.backward', 'conv.grads'];

function buf(k: Backend, vals: Float64Array): FBuf {
  const b = k.alloc(vals.length);
  b.a.set(vals);
  return b;
}

/** values rounded to float32, so every backend starts from the same numbers */
function randn(n: number, rng: Rng): Float64Array {
  return Float64Array.from({ length: n }, () => Math.fround(rng.range(-1, 1)));
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, n: number, exact: boolean, what: string): void {
  for (let i = 0; i < n; i++) {
    const tol = exact ? 0 : 1e-6 + 2e-6 * Math.abs(want[i]);
    if (!(Math.abs(got[i] - want[i]) <= tol)) assert.fail(`${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

for (const c of CASES) {
  test(`conv kernels on ${c.name} agree with the generic ones`, { skip: c.skip ?? false }, async () => {
    const k = await c.make();
    const ref = new JsBackend('float64');
    if (c.own) {
      const reg = new Map(listKernels().map((e) => [e.name, e.backends]));
      for (const name of KERNELS) {
        assert.ok(reg.get(name)?.includes(k.name), `${k.name} registers its own ${name}`);
        assert.notEqual(getKernel(k, name), getKernel(ref, name), `${name} on ${k.name} is not the generic one`);
      }
    }
    const im2col = getKernel<Im2colArgs>(k, 'im2col'), col2im = getKernel<Im2colArgs>(k, 'col2im');
    const permute = getKernel<PermuteArgs>(k, 'permute.fbp'), biasGrad = getKernel<BiasGradArgs>(k, 'bias.grad');
    const rng = new Rng(17);
    for (const [C, H, W, kh, kw, stride, pad, B] of GEOMS) {
      const g: ConvGeom = geometry(C, H, W, kh, kw, stride, pad, pad);
      const tag = `${C}x${H}x${W} k${kh}x${kw} s${stride} p${pad} B${B}`;
      const nx = B * C * H * W, nc = C * kh * kw * B * g.Ho * g.Wo;
      // im2col: an exact copy (zeros in the padding); stale values in cols must be overwritten
      const x = randn(nx, rng);
      const cols = buf(k, randn(nc, rng)), cRef = buf(ref, new Float64Array(nc));
      im2col(k, { g, B, x: buf(k, x), cols });
      generic.im2col(ref, { g, B, x: buf(ref, x), cols: cRef });
      close(cols.a, cRef.a, nc, true, `im2col ${tag}`);
      // col2im: sums over overlapping windows; stale values in x must be overwritten
      const cv = randn(nc, rng);
      const xo = buf(k, randn(nx, rng)), xRef = buf(ref, new Float64Array(nx));
      col2im(k, { g, B, x: xo, cols: buf(k, cv) });
      generic.col2im(ref, { g, B, x: xRef, cols: buf(ref, cv) });
      close(xo.a, xRef.a, nx, false, `col2im ${tag}`);
      // the layout change both ways, with and without the bias, and the bias gradient, on (F, P) = (C, Ho·Wo)
      const F = C + 1, P = g.Ho * g.Wo, n = B * F * P;
      const src = randn(n, rng), bias = randn(F, rng);
      for (const toBatch of [true, false])
        for (const withBias of [false, true]) {
          const d = buf(k, randn(n, rng)), dRef = buf(ref, new Float64Array(n));
          permute(k, { B, F, P, toBatch, src: buf(k, src), dst: d, bias: withBias ? buf(k, bias) : null });
          generic.permuteFBP(ref, { B, F, P, toBatch, src: buf(ref, src), dst: dRef, bias: withBias ? buf(ref, bias) : null });
          // a float32 backend rounds src + bias once, as the float64 oracle's value rounded to float32
          const want = k.dtype === 'float32' ? Float64Array.from(dRef.a, Math.fround) : dRef.a;
          close(d.a, want, n, true, `permute toBatch=${toBatch} bias=${withBias} ${tag}`);
        }
      const gb = buf(k, randn(F, rng)), gRef = buf(ref, new Float64Array(F));
      biasGrad(k, { B, F, P, y: buf(k, src), g: gb, scale: -1 / B });
      generic.biasGrad(ref, { B, F, P, y: buf(ref, src), g: gRef, scale: -1 / B });
      const tolB = k.dtype === 'float64' ? 1e-12 : 1e-6 * Math.sqrt(B * P);
      for (let f = 0; f < F; f++) assert.ok(Math.abs(gb.a[f] - gRef.a[f]) <= tolB, `bias.grad ${tag} [${f}]: ${gb.a[f]} vs ${gRef.a[f]}`);
    }
  });
}

/** the direct convolution (cross-correlation, zero padding) and its two adjoints, float64, plain loops */
function direct(g: ConvGeom, B: number, F: number, W: Float64Array, bias: Float64Array, x: Float64Array, err: Float64Array) {
  const { C, H, W: Wd, kh, kw, stride, padH, padW, Ho, Wo } = g, P = Ho * Wo, CKK = C * kh * kw;
  const y = new Float64Array(B * F * P), dx = new Float64Array(B * C * H * Wd), gW = new Float64Array(F * CKK), gB = new Float64Array(F);
  for (let b = 0; b < B; b++)
    for (let f = 0; f < F; f++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          const o = (b * F + f) * P + i * Wo + j;
          let acc = bias[f];
          gB[f] += err[o];
          for (let c = 0; c < C; c++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const yy = i * stride + p - padH, xx = j * stride + q - padW;
                if (yy < 0 || yy >= H || xx < 0 || xx >= Wd) continue;
                const xi = ((b * C + c) * H + yy) * Wd + xx, wi = f * CKK + (c * kh + p) * kw + q;
                acc += W[wi] * x[xi];
                dx[xi] += W[wi] * err[o];
                gW[wi] += err[o] * x[xi];
              }
          y[o] = acc;
        }
  return { y, dx, gW, gB };
}

for (const c of CASES) {
  test(`conv.forward / conv.backward / conv.grads on ${c.name} agree with the generic ones (and those with a direct convolution)`, { skip: c.skip ?? false }, async () => {
    const k = await c.make();
    const ref = new JsBackend('float64');
    const run = (kk: Backend, which: 'forward' | 'backward' | 'grads', a: ConvArgs) => getKernel<ConvArgs>(kk, `conv.${which}`)(kk, a);
    const rng = new Rng(29);
    for (const [C, H, W, kh, kw, stride, pad, B] of GEOMS) {
      const g: ConvGeom = geometry(C, H, W, kh, kw, stride, pad, pad);
      const tag = `${C}x${H}x${W} k${kh}x${kw} s${stride} p${pad} B${B}`;
      const F = 3, P = g.Ho * g.Wo, CKK = C * kh * kw, nx = B * C * H * W, ny = B * F * P;
      const Wv = randn(F * CKK, rng), bias = randn(F, rng), x = randn(nx, rng), err = randn(ny, rng), scale = -1 / B;
      const want = direct(g, B, F, Wv, bias, x, err);
      const args = (kk: Backend): ConvArgs => ({
        g, B, F, W: buf(kk, Wv), x: buf(kk, x), y: buf(kk, err), bias: buf(kk, bias), gW: buf(kk, randn(F * CKK, rng)), gB: buf(kk, randn(F, rng)),
        scale, scratch: kk.alloc(CKK * P), scratchY: kk.alloc(F * P),
      });
      const out: Record<string, { y: ArrayLike<number>; dx: ArrayLike<number>; gW: ArrayLike<number>; gB: ArrayLike<number> }> = {};
      for (const [name, kk] of [['generic', ref], [k.name, k]] as const) {
        const a = args(kk);
        const fn = name === 'generic' ? { forward: generic.convForward, backward: generic.convBackward, grads: generic.convGrads } : null;
        const call = (w: 'forward' | 'backward' | 'grads', aa: ConvArgs) => (fn ? fn[w](kk, aa) : run(kk, w, aa));
        call('grads', a); // reads x (input) and y (the error)
        const y = kk.alloc(ny);
        y.a.set(randn(ny, rng)); // stale values are overwritten
        call('forward', { ...a, y });
        const dx = buf(kk, randn(nx, rng));
        call('backward', { ...a, x: dx });
        out[name] = { y: y.a, dx: dx.a, gW: a.gW.a, gB: a.gB!.a };
      }
      const gen = out.generic, got = out[k.name];
      const tol = (v: number) => 1e-12 + 1e-12 * Math.abs(v);
      for (const key of ['y', 'dx', 'gW', 'gB'] as const) {
        const w = key === 'gW' || key === 'gB' ? (key === 'gW' ? want.gW.map((v) => v * scale) : want.gB.map((v) => v * scale)) : want[key];
        for (let i = 0; i < w.length; i++) if (!(Math.abs(gen[key][i] - w[i]) <= tol(w[i]))) assert.fail(`generic conv ${key} ${tag} [${i}]: ${gen[key][i]} vs direct ${w[i]}`);
        // float32 backends: products of a few dozen terms in float32
        const n = key === 'y' || key === 'gW' ? CKK : key === 'dx' ? F * kh * kw : B * P;
        const t32 = k.dtype === 'float64' ? 1e-12 : 2e-6 * Math.sqrt(n * (key === 'gW' ? B * P : 1));
        for (let i = 0; i < w.length; i++) if (!(Math.abs(got[key][i] - gen[key][i]) <= t32 * (1 + Math.abs(gen[key][i])))) assert.fail(`conv ${key} on ${k.name} ${tag} [${i}]: ${got[key][i]} vs generic ${gen[key][i]}`);
      }
    }
  });
}

test('le.neurons on native agrees with the generic LE population step', { skip: nativeBuilt ? false : 'native addon not built' }, async () => {
  const k = await createNodeBackend('native', 'float32', () => {});
  const ref = new JsBackend('float64');
  assert.notEqual(getKernel(k, 'le.neurons'), getKernel(ref, 'le.neurons'));
  const rng = new Rng(41);
  const B = 3, n = 37; // odd, not a multiple of the vector width
  for (const phi of [PHI.hard_sigmoid, PHI.tanh, PHI.sigmoid, PHI.relu, PHI.linear, PHI.softplus, PHI.hard_tanh] as PhiCode[])
    for (const prospRateErrors of [false, true]) {
      const vals = {
        drive: randn(B * n, rng), e: randn(B * n, rng), u: randn(B * n, rng),
        tau: Float64Array.from({ length: n }, () => Math.fround(rng.range(0.5, 20))), tauM: Float64Array.from({ length: n }, () => Math.fround(rng.range(0.5, 20))),
      };
      const out: Record<string, FBuf>[] = [];
      for (const kk of [k, ref]) {
        const o = { uDot: kk.alloc(B * n), prospU: kk.alloc(B * n), prospUm: kk.alloc(B * n), diff: kk.alloc(B * n), rN: kk.alloc(B * n), rPrimeN: kk.alloc(B * n), u: buf(kk, vals.u) };
        const a: LeNeuronArgs = { B, n, drive: buf(kk, vals.drive), e: buf(kk, vals.e), tau: buf(kk, vals.tau), tauM: buf(kk, vals.tauM), ...o, phi, dt: 0.1, prospRateErrors };
        getKernel<LeNeuronArgs>(kk, 'le.neurons')(kk, a);
        out.push(o);
      }
      for (const key of Object.keys(out[0]))
        for (let i = 0; i < B * n; i++) {
          const got = out[0][key].a[i], want = out[1][key].a[i];
          if (!(Math.abs(got - want) <= 2e-6 * (1 + Math.abs(want)))) assert.fail(`le.neurons ${key} phi ${phi} pre ${prospRateErrors} [${i}]: ${got} vs ${want}`);
        }
    }
});
