// GLE numeric kernels for the `wasm` backend: AssemblyScript compiled with SIMD128 (see wasm/build.mjs).
//
// Memory is imported and owned by the JS loader (src/kernels/wasm/index.ts), which bump-allocates every buffer
// above heapBase(). All pointers are byte offsets of float32 arrays; all matrices are row-major.
// Semantics follow the reference backend src/kernels/js/index.ts (see the Backend doc comments in
// src/kernels/types.ts); arithmetic here is float32 throughout.

import {
  PHI_TANH, PHI_SIGMOID, PHI_SOFTPLUS, PHI_RELU, PHI_HARD_SIGMOID, PHI_HARD_TANH,
  STEP_PROSPECTIVE, STEP_GRADS, STEP_LEARN_TAU, STEP_ERR_DOWN, S_B, S_NIN, S_NOUT, S_SCRATCH_WT, S_SCRATCH_INV,
  F_W, F_b, F_tauM, F_tauR, F_rB, F_raw, F_u, F_v, F_rP, F_uN, F_vN, F_rN, F_rPN, F_eB, F_instE, F_pU, F_pV, F_uDot,
  F_gW, F_gB, F_gTau,
} from './layout';

// ---------------------------------------------------------------------------------------------------------
// Matrix product core: C[M x N] = alpha * sum_k a(i,k) * Bm[k, j]  (+ beta * C when mode == 1)
// a(i,k) = A[i*saI + k*saK] (any strides, so A may be transposed), Bm rows contiguous with leading dim ldb.
// Blocked over K (KB) and N (NB) so a panel of Bm stays in cache; 4 x 8 register-blocked micro kernel.
// ---------------------------------------------------------------------------------------------------------

const KB: i32 = 128;
const NB: i32 = 256;

export function heapBase(): usize {
  return __heap_base;
}

/**
 * a * b + c. The relaxed build (--enable relaxed-simd, chosen by the loader when the engine validates it) uses
 * f32x4.relaxed_madd: a fused multiply-add where the hardware has one (rounding may then differ by an ulp).
 */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

@inline function storeC(p: usize, acc: v128, va: v128, vb: v128, mode: i32): void {
  let r = f32x4.mul(acc, va);
  if (mode != 0) r = f32x4.add(r, f32x4.mul(vb, v128.load(p)));
  v128.store(p, r);
}

@inline function storeC1(p: usize, acc: f32, alpha: f32, beta: f32, mode: i32): void {
  let r = acc * alpha;
  if (mode != 0) r = r + beta * load<f32>(p);
  store<f32>(p, r);
}

/** Rows i..i+3, columns jS..jE, k in kS..kE. */
function panel4(
  i: i32, jS: i32, jE: i32, kS: i32, kE: i32, alpha: f32,
  A: usize, saI: i32, saK: i32, Bm: usize, ldb: i32, beta: f32, C: usize, ldc: i32, mode: i32,
): void {
  const va = f32x4.splat(alpha);
  const vb = f32x4.splat(beta);
  const sI: usize = <usize>saI << 2;
  const sK: usize = <usize>saK << 2;
  const ldb4: usize = <usize>ldb << 2;
  const ldc4: usize = <usize>ldc << 2;
  const aBase: usize = A + ((<usize>i * <usize>saI + <usize>kS * <usize>saK) << 2);
  let j = jS;
  for (; j + 8 <= jE; j += 8) {
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
    let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let pa = aBase;
    let pb: usize = Bm + ((<usize>kS * <usize>ldb + <usize>j) << 2);
    for (let k = kS; k < kE; k++) {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      let a = v128.load32_splat(pa);
      c00 = madd(a, b0, c00);
      c01 = madd(a, b1, c01);
      a = v128.load32_splat(pa + sI);
      c10 = madd(a, b0, c10);
      c11 = madd(a, b1, c11);
      a = v128.load32_splat(pa + 2 * sI);
      c20 = madd(a, b0, c20);
      c21 = madd(a, b1, c21);
      a = v128.load32_splat(pa + 3 * sI);
      c30 = madd(a, b0, c30);
      c31 = madd(a, b1, c31);
      pa += sK;
      pb += ldb4;
    }
    const pc: usize = C + ((<usize>i * <usize>ldc + <usize>j) << 2);
    storeC(pc, c00, va, vb, mode);
    storeC(pc + 16, c01, va, vb, mode);
    storeC(pc + ldc4, c10, va, vb, mode);
    storeC(pc + ldc4 + 16, c11, va, vb, mode);
    storeC(pc + 2 * ldc4, c20, va, vb, mode);
    storeC(pc + 2 * ldc4 + 16, c21, va, vb, mode);
    storeC(pc + 3 * ldc4, c30, va, vb, mode);
    storeC(pc + 3 * ldc4 + 16, c31, va, vb, mode);
  }
  for (; j < jE; j += 4) {
    // a last partial group of columns is recomputed overlapping (same values) when C is only written
    if (j + 4 > jE) {
      if (mode != 0 || jE - jS < 4) break;
      j = jE - 4;
    }
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let pa = aBase;
    let pb: usize = Bm + ((<usize>kS * <usize>ldb + <usize>j) << 2);
    for (let k = kS; k < kE; k++) {
      const b0 = v128.load(pb);
      c0 = madd(v128.load32_splat(pa), b0, c0);
      c1 = madd(v128.load32_splat(pa + sI), b0, c1);
      c2 = madd(v128.load32_splat(pa + 2 * sI), b0, c2);
      c3 = madd(v128.load32_splat(pa + 3 * sI), b0, c3);
      pa += sK;
      pb += ldb4;
    }
    const pc: usize = C + ((<usize>i * <usize>ldc + <usize>j) << 2);
    storeC(pc, c0, va, vb, mode);
    storeC(pc + ldc4, c1, va, vb, mode);
    storeC(pc + 2 * ldc4, c2, va, vb, mode);
    storeC(pc + 3 * ldc4, c3, va, vb, mode);
  }
  for (; j < jE; j++) {
    // one column, four rows: vectorise over the rows when A is column-contiguous (saI == 1)
    let c0: f32 = 0, c1: f32 = 0, c2: f32 = 0, c3: f32 = 0;
    let pa = aBase;
    let pb: usize = Bm + ((<usize>kS * <usize>ldb + <usize>j) << 2);
    for (let k = kS; k < kE; k++) {
      const bv = load<f32>(pb);
      c0 += load<f32>(pa) * bv;
      c1 += load<f32>(pa + sI) * bv;
      c2 += load<f32>(pa + 2 * sI) * bv;
      c3 += load<f32>(pa + 3 * sI) * bv;
      pa += sK;
      pb += ldb4;
    }
    const pc: usize = C + ((<usize>i * <usize>ldc + <usize>j) << 2);
    storeC1(pc, c0, alpha, beta, mode);
    storeC1(pc + ldc4, c1, alpha, beta, mode);
    storeC1(pc + 2 * ldc4, c2, alpha, beta, mode);
    storeC1(pc + 3 * ldc4, c3, alpha, beta, mode);
  }
}

/** One row i, columns jS..jE. */
function panel1(
  i: i32, jS: i32, jE: i32, kS: i32, kE: i32, alpha: f32,
  A: usize, saI: i32, saK: i32, Bm: usize, ldb: i32, beta: f32, C: usize, ldc: i32, mode: i32,
): void {
  const va = f32x4.splat(alpha);
  const vb = f32x4.splat(beta);
  const sK: usize = <usize>saK << 2;
  const ldb4: usize = <usize>ldb << 2;
  const aBase: usize = A + ((<usize>i * <usize>saI + <usize>kS * <usize>saK) << 2);
  const cRow: usize = C + ((<usize>i * <usize>ldc) << 2);
  let j = jS;
  for (; j + 16 <= jE; j += 16) {
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let pa = aBase;
    let pb: usize = Bm + ((<usize>kS * <usize>ldb + <usize>j) << 2);
    for (let k = kS; k < kE; k++) {
      const a = v128.load32_splat(pa);
      c0 = madd(a, v128.load(pb), c0);
      c1 = madd(a, v128.load(pb, 16), c1);
      c2 = madd(a, v128.load(pb, 32), c2);
      c3 = madd(a, v128.load(pb, 48), c3);
      pa += sK;
      pb += ldb4;
    }
    const pc: usize = cRow + (<usize>j << 2);
    storeC(pc, c0, va, vb, mode);
    storeC(pc + 16, c1, va, vb, mode);
    storeC(pc + 32, c2, va, vb, mode);
    storeC(pc + 48, c3, va, vb, mode);
  }
  for (; j < jE; j += 4) {
    if (j + 4 > jE) {
      if (mode != 0 || jE - jS < 4) break;
      j = jE - 4;
    }
    let c0 = f32x4.splat(0);
    let pa = aBase;
    let pb: usize = Bm + ((<usize>kS * <usize>ldb + <usize>j) << 2);
    for (let k = kS; k < kE; k++) {
      c0 = madd(v128.load32_splat(pa), v128.load(pb), c0);
      pa += sK;
      pb += ldb4;
    }
    storeC(cRow + (<usize>j << 2), c0, va, vb, mode);
  }
  for (; j < jE; j++) {
    let c0: f32 = 0;
    let pa = aBase;
    let pb: usize = Bm + ((<usize>kS * <usize>ldb + <usize>j) << 2);
    for (let k = kS; k < kE; k++) {
      c0 += load<f32>(pa) * load<f32>(pb);
      pa += sK;
      pb += ldb4;
    }
    storeC1(cRow + (<usize>j << 2), c0, alpha, beta, mode);
  }
}

/** C = alpha * a(.,.) Bm + beta * C (beta == 0: C is not read). */
function mm(M: i32, N: i32, K: i32, alpha: f32, A: usize, saI: i32, saK: i32, Bm: usize, ldb: i32, beta: f32, C: usize, ldc: i32): void {
  let k0 = 0;
  do {
    const k1 = min(K, k0 + KB);
    const first = k0 == 0;
    const mode = first ? (beta == 0 ? 0 : 1) : 1;
    const bt: f32 = first ? beta : 1;
    for (let j0 = 0; j0 < N; j0 += NB) {
      const j1 = min(N, j0 + NB);
      let i = 0;
      for (; i + 4 <= M; i += 4) panel4(i, j0, j1, k0, k1, alpha, A, saI, saK, Bm, ldb, bt, C, ldc, mode);
      for (; i < M; i++) panel1(i, j0, j1, k0, k1, alpha, A, saI, saK, Bm, ldb, bt, C, ldc, mode);
    }
    k0 = k1;
  } while (k0 < K);
}

/** dst (cols x rows) = transpose of src (rows x cols), tiled. */
function transpose(src: usize, rows: i32, cols: i32, dst: usize): void {
  const T = 16;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const sp: usize = src + ((<usize>r * <usize>cols) << 2);
        for (let c = c0; c < c1; c++) {
          store<f32>(dst + ((<usize>c * <usize>rows + <usize>r) << 2), load<f32>(sp + (<usize>c << 2)));
        }
      }
    }
  }
}

/**
 * Backend.gemm: C = alpha op(A) op(B) + beta C; op(A) M x K, op(B) K x N. tB needs `scratch` of K*N floats
 * (op(B) is materialised there so the kernel streams contiguous rows).
 */
export function gemm(tA: i32, tB: i32, M: i32, N: i32, K: i32, alpha: f32, A: usize, B: usize, beta: f32, C: usize, scratch: usize): void {
  if (M <= 0 || N <= 0) return;
  let Bm = B;
  if (tB != 0) {
    transpose(B, N, K, scratch);
    Bm = scratch;
  }
  if (tA != 0) mm(M, N, K, alpha, A, 1, M, Bm, N, beta, C, N);
  else mm(M, N, K, alpha, A, K, 1, Bm, N, beta, C, N);
}

// ---------------------------------------------------------------------------------------------------------
// Vector maths (f32x4). The exponentials only ever receive arguments <= 0 here; relative error ~1e-7.
// Each activation is an inlined "load x, store phi(x) and phi'(x)" body; `activate` runs one specialised loop
// per code (the switch is outside the loop).
// ---------------------------------------------------------------------------------------------------------

const LOG2E: f32 = 1.44269504;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const LN2: f32 = 0.693147181;
const SQRT2: f32 = 1.41421356;
// clamps use pmax (one instruction; NaN passes through as NaN) rather than max (NaN/-0 emulation)
const EXP_MIN: f32 = -87;

@inline function ldv(p: usize, full: bool): v128 {
  return full ? v128.load(p) : v128.load32_splat(p);
}
@inline function stv(p: usize, x: v128, full: bool): void {
  if (full) v128.store(p, x);
  else store<f32>(p, f32x4.extract_lane(x, 0));
}

// Round-to-nearest by adding 1.5 * 2^23: the sum's low mantissa bits then hold the integer n itself.
const MAGIC: f32 = 12582912.0;

/** Range reduction x = n ln2 + r, step 1: z = x log2(e) + MAGIC (n = z - MAGIC; the bits of z encode n). */
@inline function expZ(x: v128): v128 {
  return f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(MAGIC));
}
@inline function expN(z: v128): v128 {
  return f32x4.sub(z, f32x4.splat(MAGIC));
}
/** r = x - n ln2 (Cody-Waite, two-part ln2), |r| <= 0.35. */
@inline function expR(x: v128, n: v128): v128 {
  return f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
}
/** expm1(r) for |r| <= 0.35: Taylor series to r^7 (truncation < 2e-8 relative). */
@inline function expm1Poly(r: v128): v128 {
  // Estrin-style evaluation (short dependency chains) of r + r^2 (1/2 + r/6 + ... + r^5/5040)
  const r2 = f32x4.mul(r, r);
  const a = f32x4.add(f32x4.splat(0.5), f32x4.mul(r, f32x4.splat(1.0 / 6.0)));
  const b = f32x4.add(f32x4.splat(1.0 / 24.0), f32x4.mul(r, f32x4.splat(1.0 / 120.0)));
  const c = f32x4.add(f32x4.splat(1.0 / 720.0), f32x4.mul(r, f32x4.splat(1.0 / 5040.0)));
  const p = f32x4.add(a, f32x4.mul(r2, f32x4.add(b, f32x4.mul(r2, c))));
  return f32x4.add(r, f32x4.mul(r2, p));
}
/** 2^n for integral n in [-126, 127] from z = n + MAGIC: (bits(z) + 127) << 23 (MAGIC's own bits shift out). */
@inline function pow2(z: v128): v128 {
  return i32x4.shl(i32x4.add(z, i32x4.splat(127)), 23);
}
/** exp(x) for x <= 0; 0 below EXP_MIN (float32 denormal range). */
@inline function expNeg(x0: v128): v128 {
  const x = f32x4.pmax(x0, f32x4.splat(EXP_MIN));
  const z = expZ(x);
  const e = f32x4.mul(pow2(z), f32x4.add(expm1Poly(expR(x, expN(z))), f32x4.splat(1)));
  return v128.andnot(e, f32x4.lt(x0, f32x4.splat(EXP_MIN)));
}

/** log1p(e) for 0 <= e <= 1. */
@inline function log1pV(e: v128): v128 {
  const one = f32x4.splat(1);
  const u = f32x4.add(one, e);
  const c = f32x4.sub(e, f32x4.sub(u, one)); // rounding error of 1 + e
  const big = f32x4.gt(u, f32x4.splat(SQRT2));
  const m = v128.bitselect(f32x4.mul(u, f32x4.splat(0.5)), u, big);
  const k = v128.and(f32x4.splat(LN2), big);
  const f = f32x4.div(f32x4.sub(m, one), f32x4.add(m, one));
  const f2 = f32x4.mul(f, f);
  let p = f32x4.splat(1.0 / 11.0);
  p = f32x4.add(f32x4.mul(p, f2), f32x4.splat(1.0 / 9.0));
  p = f32x4.add(f32x4.mul(p, f2), f32x4.splat(1.0 / 7.0));
  p = f32x4.add(f32x4.mul(p, f2), f32x4.splat(1.0 / 5.0));
  p = f32x4.add(f32x4.mul(p, f2), f32x4.splat(1.0 / 3.0));
  const lg = f32x4.mul(f32x4.add(f, f), f32x4.add(one, f32x4.mul(f2, p)));
  return f32x4.add(k, f32x4.add(lg, f32x4.div(c, u)));
}

@inline function actLinear(px: usize, pr: usize, prp: usize, full: bool): void {
  stv(pr, ldv(px, full), full);
  stv(prp, f32x4.splat(1), full);
}

/** tanh(|x|) = -e/(e+2) with e = expm1(-2|x|); tanh' = 4E/(e+2)^2 with E = exp(-2|x|): no cancellation. */
@inline function actTanh(px: usize, pr: usize, prp: usize, full: bool): void {
  const x = ldv(px, full);
  const one = f32x4.splat(1);
  const y0 = f32x4.mul(f32x4.abs(x), f32x4.splat(-2));
  const y = f32x4.pmax(y0, f32x4.splat(EXP_MIN));
  const z = expZ(y);
  const q = expm1Poly(expR(y, expN(z)));
  const s = pow2(z);
  const e = f32x4.add(f32x4.mul(s, q), f32x4.sub(s, one));
  const E = v128.andnot(f32x4.mul(s, f32x4.add(q, one)), f32x4.lt(y0, f32x4.splat(EXP_MIN)));
  const inv = f32x4.div(one, f32x4.add(e, f32x4.splat(2)));
  const t = f32x4.mul(f32x4.neg(e), inv);
  stv(pr, v128.or(t, v128.and(x, i32x4.splat(0x80000000))), full);
  stv(prp, f32x4.mul(f32x4.mul(f32x4.mul(f32x4.splat(4), E), inv), inv), full);
}

/** sigmoid via E = exp(-|x|): 1/(1+E) or E/(1+E); sigmoid' = E/(1+E)^2. */
@inline function actSigmoid(px: usize, pr: usize, prp: usize, full: bool): void {
  const x = ldv(px, full);
  const E = expNeg(f32x4.neg(f32x4.abs(x)));
  const d = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), E));
  const Ed = f32x4.mul(E, d);
  stv(pr, v128.bitselect(d, Ed, f32x4.ge(x, f32x4.splat(0))), full);
  stv(prp, f32x4.mul(Ed, d), full);
}

/** softplus = max(x,0) + log1p(exp(-|x|)), = x above 20 (torch threshold); derivative sigmoid(x). */
@inline function actSoftplus(px: usize, pr: usize, prp: usize, full: bool): void {
  const x = ldv(px, full);
  const zero = f32x4.splat(0);
  const E = expNeg(f32x4.neg(f32x4.abs(x)));
  const d = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), E));
  const sp = f32x4.add(f32x4.pmax(x, zero), log1pV(E));
  stv(pr, v128.bitselect(x, sp, f32x4.gt(x, f32x4.splat(20))), full);
  stv(prp, v128.bitselect(d, f32x4.mul(E, d), f32x4.ge(x, zero)), full);
}

@inline function actRelu(px: usize, pr: usize, prp: usize, full: bool): void {
  const x = ldv(px, full);
  const m = f32x4.gt(x, f32x4.splat(0));
  stv(pr, v128.and(x, m), full);
  stv(prp, v128.and(f32x4.splat(1), m), full);
}

/** clamp(x, lo, 1); derivative 1 on [lo, 1]. */
@inline function actClamp(px: usize, pr: usize, prp: usize, full: bool, lo: f32): void {
  const x = ldv(px, full);
  const one = f32x4.splat(1);
  const vlo = f32x4.splat(lo);
  stv(pr, v128.bitselect(vlo, v128.bitselect(one, x, f32x4.gt(x, one)), f32x4.lt(x, vlo)), full);
  stv(prp, v128.and(one, v128.and(f32x4.ge(x, vlo), f32x4.le(x, one))), full);
}

/** r = phi(x), rp = phi'(x) over n contiguous entries. Codes PHI_* from ./layout (src/kernels/layout.ts). */
function actArr(phi: i32, x: usize, r: usize, rp: usize, n: i32): void {
  const nv = n & ~3;
  switch (phi) {
    case PHI_TANH: {
      for (let o: usize = 0, e: usize = <usize>nv << 2; o < e; o += 16) actTanh(x + o, r + o, rp + o, true);
      for (let o: usize = <usize>nv << 2, e: usize = <usize>n << 2; o < e; o += 4) actTanh(x + o, r + o, rp + o, false);
      break;
    }
    case PHI_SIGMOID: {
      for (let o: usize = 0, e: usize = <usize>nv << 2; o < e; o += 16) actSigmoid(x + o, r + o, rp + o, true);
      for (let o: usize = <usize>nv << 2, e: usize = <usize>n << 2; o < e; o += 4) actSigmoid(x + o, r + o, rp + o, false);
      break;
    }
    case PHI_SOFTPLUS: {
      for (let o: usize = 0, e: usize = <usize>nv << 2; o < e; o += 16) actSoftplus(x + o, r + o, rp + o, true);
      for (let o: usize = <usize>nv << 2, e: usize = <usize>n << 2; o < e; o += 4) actSoftplus(x + o, r + o, rp + o, false);
      break;
    }
    case PHI_RELU: {
      for (let o: usize = 0, e: usize = <usize>nv << 2; o < e; o += 16) actRelu(x + o, r + o, rp + o, true);
      for (let o: usize = <usize>nv << 2, e: usize = <usize>n << 2; o < e; o += 4) actRelu(x + o, r + o, rp + o, false);
      break;
    }
    case PHI_HARD_SIGMOID: {
      for (let o: usize = 0, e: usize = <usize>nv << 2; o < e; o += 16) actClamp(x + o, r + o, rp + o, true, 0);
      for (let o: usize = <usize>nv << 2, e: usize = <usize>n << 2; o < e; o += 4) actClamp(x + o, r + o, rp + o, false, 0);
      break;
    }
    case PHI_HARD_TANH: {
      for (let o: usize = 0, e: usize = <usize>nv << 2; o < e; o += 16) actClamp(x + o, r + o, rp + o, true, -1);
      for (let o: usize = <usize>nv << 2, e: usize = <usize>n << 2; o < e; o += 4) actClamp(x + o, r + o, rp + o, false, -1);
      break;
    }
    default: {
      for (let o: usize = 0, e: usize = <usize>nv << 2; o < e; o += 16) actLinear(x + o, r + o, rp + o, true);
      for (let o: usize = <usize>nv << 2, e: usize = <usize>n << 2; o < e; o += 4) actLinear(x + o, r + o, rp + o, false);
    }
  }
}

/** Backend.activate over n entries. */
export function activate(phi: i32, x: usize, r: usize, rp: usize, n: i32): void {
  actArr(phi, x, r, rp, n);
}

/**
 * Backend.adam (PyTorch semantics); stepSize = lr / bc1, isqrtBc2 = 1 / sqrt(bc2), b1c = 1 - beta1, b2c = 1 - beta2
 * (the complements are computed in double by the caller: 1 - f32(0.999) would be off by 5e-5 relative).
 */
export function adam(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  stepSize: f32, beta1: f32, beta2: f32, b1c: f32, b2c: f32, eps: f32, isqrtBc2: f32, wd: f32,
): void {
  const vb1 = f32x4.splat(beta1), vb1c = f32x4.splat(b1c);
  const vb2 = f32x4.splat(beta2), vb2c = f32x4.splat(b2c);
  const veps = f32x4.splat(eps), vss = f32x4.splat(stepSize), vbc = f32x4.splat(isqrtBc2), vwd = f32x4.splat(wd);
  const hasWd = wd != 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o: usize = <usize>i << 2;
    const pv = v128.load(p + o);
    let gi = v128.load(g + o);
    if (hasWd) gi = f32x4.add(gi, f32x4.mul(vwd, pv));
    const mi = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(vb1c, gi));
    const vi = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(f32x4.mul(vb2c, gi), gi));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const den = f32x4.add(f32x4.mul(f32x4.sqrt(vi), vbc), veps);
    v128.store(p + o, f32x4.sub(pv, f32x4.div(f32x4.mul(vss, mi), den)));
  }
  for (; i < n; i++) {
    const o: usize = <usize>i << 2;
    const pv = load<f32>(p + o);
    let gi = load<f32>(g + o);
    if (hasWd) gi += wd * pv;
    const mi = beta1 * load<f32>(m + o) + b1c * gi;
    const vi = beta2 * load<f32>(v + o) + b2c * gi * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const den = sqrt<f32>(vi) * isqrtBc2 + eps;
    store<f32>(p + o, pv - (stepSize * mi) / den);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The fused GLE layer step. `sp` points at an i32 struct written once by the loader: B, nIn, nOut, one pointer per
// buffer (0 = none for the optional b and gB), then the transient scratch for W^T (nIn*nOut floats) and for
// 1/tauM, 1/tauR (2*nOut). Word indices (S_*, F_*) and flags (STEP_*) come from ./layout (generated from
// src/kernels/layout.ts).
// ---------------------------------------------------------------------------------------------------------

@inline function fld(sp: usize, i: i32): usize {
  return <usize>load<i32>(sp + (<usize>i << 2));
}
@inline function fld32(sp: usize, i: i32): i32 {
  return load<i32>(sp + (<usize>i << 2));
}

@inline function elem(
  full: bool, ro: usize, jo: usize, prospective: bool, vdt: v128, vgamma: v128,
  bias: usize, itauM: usize, itauR: usize, tauM: usize, tauR: usize, rawErr: usize, u: usize, v: usize, rP: usize,
  uN: usize, vN: usize, instE: usize, pU: usize, pV: usize, uDot: usize,
): void {
  const i = ro + jo;
  const ie = f32x4.mul(ldv(rawErr + i, full), ldv(rP + i, full));
  stv(instE + i, ie, full);
  const tm = ldv(tauM + jo, full);
  const tr = ldv(tauR + jo, full);
  let pv: v128;
  if (prospective) {
    const vv = ldv(v + i, full);
    const vd = f32x4.mul(f32x4.sub(ie, vv), ldv(itauR + jo, full));
    stv(vN + i, f32x4.add(vv, f32x4.mul(vdt, vd)), full);
    pv = f32x4.add(vv, f32x4.mul(tm, vd));
  } else {
    stv(vN + i, ie, full);
    pv = ie;
  }
  stv(pV + i, pv, full);
  let s = ldv(uDot + i, full); // holds W r_bottom
  if (bias != 0) s = f32x4.add(s, ldv(bias + jo, full));
  const uu = ldv(u + i, full);
  const ud = f32x4.mul(f32x4.sub(f32x4.add(s, f32x4.mul(vgamma, pv)), uu), ldv(itauM + jo, full));
  stv(uDot + i, ud, full);
  stv(uN + i, f32x4.add(uu, f32x4.mul(vdt, ud)), full);
  const pu = f32x4.add(uu, f32x4.mul(tr, ud));
  stv(pU + i, pu, full);
}

/** Column sums over the batch: out[j] = scale * sum_b x[b,j] (* y[b,j] when y != 0). */
@inline function colSum(full: bool, jo: usize, B: i32, rowBytes: usize, x: usize, y: usize, scale: v128, out: usize): void {
  let acc = f32x4.splat(0);
  let px = x + jo;
  let py = y + jo;
  for (let b = 0; b < B; b++) {
    if (y != 0) acc = f32x4.add(acc, f32x4.mul(ldv(px, full), ldv(py, full)));
    else acc = f32x4.add(acc, ldv(px, full));
    px += rowBytes;
    py += rowBytes;
  }
  stv(out + jo, f32x4.mul(acc, scale), full);
}

export function layerStep(sp: usize, phi: i32, dt: f32, gamma: f32, flags: i32): void {
  const B = fld32(sp, S_B);
  const nIn = fld32(sp, S_NIN);
  const nOut = fld32(sp, S_NOUT);
  const W = fld(sp, F_W), bias = fld(sp, F_b), tauM = fld(sp, F_tauM), tauR = fld(sp, F_tauR);
  const rBottom = fld(sp, F_rB), rawErr = fld(sp, F_raw), u = fld(sp, F_u), v = fld(sp, F_v), rP = fld(sp, F_rP);
  const uN = fld(sp, F_uN), vN = fld(sp, F_vN), rN = fld(sp, F_rN), rPN = fld(sp, F_rPN), eB = fld(sp, F_eB);
  const instE = fld(sp, F_instE), pU = fld(sp, F_pU), pV = fld(sp, F_pV), uDot = fld(sp, F_uDot);
  const gW = fld(sp, F_gW), gB = fld(sp, F_gB), gTau = fld(sp, F_gTau), WT = fld(sp, S_SCRATCH_WT);
  const itauM = fld(sp, S_SCRATCH_INV);
  const itauR = itauM + (<usize>nOut << 2);
  const prospective = (flags & STEP_PROSPECTIVE) != 0;

  // s = r_bottom W^T (B x nOut) into uDot; W^T materialised so the kernel streams rows
  transpose(W, nOut, nIn, WT);
  mm(B, nOut, nIn, 1, rBottom, nIn, 1, WT, nOut, 0, uDot, nOut);

  // reciprocals of the time constants, once per step (multiplications in the B x nOut loop)
  for (let j = 0; j < nOut; j++) {
    const jo: usize = <usize>j << 2;
    store<f32>(itauM + jo, 1 / load<f32>(tauM + jo));
    store<f32>(itauR + jo, 1 / load<f32>(tauR + jo));
  }
  const vdt = f32x4.splat(dt);
  const vgamma = f32x4.splat(gamma);
  const rowBytes: usize = <usize>nOut << 2;
  for (let b = 0; b < B; b++) {
    const ro: usize = <usize>b * rowBytes;
    let j = 0;
    for (; j + 4 <= nOut; j += 4)
      elem(true, ro, <usize>j << 2, prospective, vdt, vgamma, bias, itauM, itauR, tauM, tauR, rawErr, u, v, rP, uN, vN, instE, pU, pV, uDot);
    for (; j < nOut; j++)
      elem(false, ro, <usize>j << 2, prospective, vdt, vgamma, bias, itauM, itauR, tauM, tauR, rawErr, u, v, rP, uN, vN, instE, pU, pV, uDot);
  }
  // r_new = phi(prosp_u), r'_new = phi'(prosp_u): one specialised pass over the contiguous B x nOut block
  actArr(phi, pU, rN, rPN, B * nOut);

  if ((flags & STEP_GRADS) != 0) {
    const invB: f32 = 1 / <f32>B;
    // gW = -(prosp_v^T r_bottom) / B  (nOut x nIn; a(j,b) = pV[b*nOut + j])
    mm(nOut, nIn, B, -invB, pV, 1, nOut, rBottom, nIn, 0, gW, nIn);
    const vneg = f32x4.splat(-invB);
    const vpos = f32x4.splat(invB);
    const doB = gB != 0;
    const doT = (flags & STEP_LEARN_TAU) != 0;
    let j = 0;
    for (; j + 4 <= nOut; j += 4) {
      const jo: usize = <usize>j << 2;
      if (doB) colSum(true, jo, B, rowBytes, pV, 0, vneg, gB);
      if (doT) colSum(true, jo, B, rowBytes, pV, uDot, vpos, gTau);
    }
    for (; j < nOut; j++) {
      const jo: usize = <usize>j << 2;
      if (doB) colSum(false, jo, B, rowBytes, pV, 0, vneg, gB);
      if (doT) colSum(false, jo, B, rowBytes, pV, uDot, vpos, gTau);
    }
  }

  if ((flags & STEP_ERR_DOWN) != 0) {
    // e_bottom = prosp_v W  (B x nIn)
    mm(B, nIn, nOut, 1, pV, nOut, 1, W, nIn, 0, eB, nIn);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Convolution helpers: the named kernels 'im2col', 'col2im', 'permute.fbp' and 'bias.grad' for this backend
// (contracts in src/kernels/generic.ts, their test oracle). Maps of one batch row are C x H x W, row-major; cols are
// (C*kh*kw) x (B*Ho*Wo): row (c, p, q), column (b, i, j). Loops run over (batch row, channel) so one input plane
// stays in cache while its kh*kw shifted copies are written (or summed back); the stride-1, no-padding case (every
// LE layer) moves contiguous runs four floats at a time, without bounds tests.
// ---------------------------------------------------------------------------------------------------------

/** dst[0..n) = src[0..n) (toCols) or dst[0..n) += src[0..n) */
@inline function runCopy(dst: usize, src: usize, n: i32, add: bool): void {
  let j = 0;
  if (add) {
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    for (; j < n; j++) {
      const o = <usize>j << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  } else {
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j << 2;
      v128.store(dst + o, v128.load(src + o));
    }
    for (; j < n; j++) {
      const o = <usize>j << 2;
      store<f32>(dst + o, load<f32>(src + o));
    }
  }
}

/** im2col (toCols = 1: cols from x) or col2im (toCols = 0: x overwritten by the sums of the cols entries) */
export function patches(toCols: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, padH: i32, padW: i32, B: i32, x: usize, cols: usize): void {
  const Ho = (H + 2 * padH - kh) / stride + 1;
  const Wo = (W + 2 * padW - kw) / stride + 1;
  const P = Ho * Wo, NP = <usize>B * <usize>P, HW = H * W;
  const fast = stride == 1 && padH == 0 && padW == 0;
  const add = toCols == 0;
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++) {
      const plane = x + ((<usize>b * <usize>C + <usize>c) * <usize>HW << 2);
      if (add) memory.fill(plane, 0, <usize>HW << 2);
      for (let p = 0; p < kh; p++)
        for (let q = 0; q < kw; q++) {
          const d = cols + (((<usize>((c * kh + p) * kw + q)) * NP + <usize>b * <usize>P) << 2);
          if (fast) {
            for (let i = 0; i < Ho; i++) {
              const xs = plane + (<usize>((i + p) * W + q) << 2), cs = d + (<usize>(i * Wo) << 2);
              if (add) runCopy(xs, cs, Wo, true);
              else runCopy(cs, xs, Wo, false);
            }
            continue;
          }
          for (let i = 0; i < Ho; i++) {
            const y = i * stride + p - padH;
            const row = d + (<usize>(i * Wo) << 2);
            if (y < 0 || y >= H) {
              if (!add) memory.fill(row, 0, <usize>Wo << 2);
              continue;
            }
            const xr = plane + (<usize>(y * W) << 2);
            for (let j = 0; j < Wo; j++) {
              const xx = j * stride + q - padW;
              const cp = row + (<usize>j << 2);
              if (xx >= 0 && xx < W) {
                const xp = xr + (<usize>xx << 2);
                if (add) store<f32>(xp, load<f32>(xp) + load<f32>(cp));
                else store<f32>(cp, load<f32>(xp));
              } else if (!add) store<f32>(cp, 0);
            }
          }
        }
    }
}

/** F x (B*P) <-> B x (F*P); towards the batch layout a bias (F entries, 0 = none) is added on the way */
export function permuteFBP(B: i32, F: i32, P: i32, toBatch: i32, src: usize, dst: usize, bias: usize): void {
  for (let b = 0; b < B; b++)
    for (let f = 0; f < F; f++) {
      const fbp = ((<usize>f * <usize>B + <usize>b) * <usize>P) << 2, bfp = ((<usize>b * <usize>F + <usize>f) * <usize>P) << 2;
      if (toBatch == 0) {
        runCopy(dst + fbp, src + bfp, P, false);
        continue;
      }
      if (bias == 0) {
        runCopy(dst + bfp, src + fbp, P, false);
        continue;
      }
      const bf = load<f32>(bias + (<usize>f << 2)), vb = f32x4.splat(bf);
      const s = src + fbp, d = dst + bfp;
      let j = 0;
      for (; j + 4 <= P; j += 4) {
        const o = <usize>j << 2;
        v128.store(d + o, f32x4.add(v128.load(s + o), vb));
      }
      for (; j < P; j++) {
        const o = <usize>j << 2;
        store<f32>(d + o, load<f32>(s + o) + bf);
      }
    }
}

/** g[f] = scale * sum over b, p of y[b, f, p] (y is B x F*P); rows summed in float32, the rows' sums in float64 */
export function biasGrad(B: i32, F: i32, P: i32, scale: f64, y: usize, g: usize): void {
  for (let f = 0; f < F; f++) {
    let acc: f64 = 0;
    for (let b = 0; b < B; b++) {
      const r = y + (((<usize>b * <usize>F + <usize>f) * <usize>P) << 2);
      let v = f32x4.splat(0);
      let j = 0;
      for (; j + 4 <= P; j += 4) v = f32x4.add(v, v128.load(r + (<usize>j << 2)));
      let part: f32 = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
      for (; j < P; j++) part += load<f32>(r + (<usize>j << 2));
      acc += <f64>part;
    }
    store<f32>(g + (<usize>f << 2), <f32>(scale * acc));
  }
}

/**
 * A conv stage's products one batch row at a time (the kernels 'conv.forward' / 'conv.backward' / 'conv.grads'):
 * row b's patches (C*kh*kw x P) live in `scratch`, and the products read and write row b's F x P block of the
 * B x F*P maps directly (no layout change). mode 0: y_b = W patches(x_b) + bias (bias 0 = none); mode 1: x_b =
 * col2im(W^T y_b); mode 2: gW = scale sum_b y_b patches(x_b)^T, gB = scale sum_{b,p} y_b (gB 0 = none).
 * `tscratch` (C*kh*kw x P floats) is the matrix product's transpose buffer.
 */
export function conv(
  mode: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, padH: i32, padW: i32, B: i32, F: i32,
  Wt: usize, x: usize, y: usize, bias: usize, gW: usize, gB: usize, scale: f64, scratch: usize, tscratch: usize,
): void {
  const Ho = (H + 2 * padH - kh) / stride + 1;
  const Wo = (W + 2 * padW - kw) / stride + 1;
  const P = Ho * Wo, CKK = C * kh * kw;
  const CHW = <usize>C * <usize>H * <usize>W, FP = <usize>F * <usize>P;
  for (let b = 0; b < B; b++) {
    const xb = x + ((<usize>b * CHW) << 2), yb = y + ((<usize>b * FP) << 2);
    if (mode == 0) {
      patches(1, C, H, W, kh, kw, stride, padH, padW, 1, xb, scratch);
      gemm(0, 0, F, P, CKK, 1, Wt, scratch, 0, yb, tscratch);
      if (bias != 0)
        for (let f = 0; f < F; f++) {
          const bf = load<f32>(bias + (<usize>f << 2)), vb = f32x4.splat(bf);
          const r = yb + ((<usize>f * <usize>P) << 2);
          let j = 0;
          for (; j + 4 <= P; j += 4) {
            const o = r + (<usize>j << 2);
            v128.store(o, f32x4.add(v128.load(o), vb));
          }
          for (; j < P; j++) {
            const o = r + (<usize>j << 2);
            store<f32>(o, load<f32>(o) + bf);
          }
        }
    } else if (mode == 1) {
      gemm(1, 0, CKK, P, F, 1, Wt, yb, 0, scratch, tscratch);
      patches(0, C, H, W, kh, kw, stride, padH, padW, 1, xb, scratch);
    } else {
      patches(1, C, H, W, kh, kw, stride, padH, padW, 1, xb, scratch);
      gemm(0, 1, F, CKK, P, <f32>scale, yb, scratch, b == 0 ? 0 : 1, gW, tscratch);
    }
  }
  if (mode == 2 && gB != 0) biasGrad(B, F, P, scale, y, gB);
}
