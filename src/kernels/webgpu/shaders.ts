/**
 * WGSL compute shaders of the webgpu backend (float32). Every kernel binds the same three things, so one pipeline
 * layout and one bind group per operation serve all of them:
 *   binding 0  H    the heap: every tensor of a program (parameters, gradients, optimiser moments, state by parity,
 *                   per-step values, the chunk's inputs and targets, the logs), addressed by element offsets
 *   binding 1  P    the operation's parameters (32 words: u32, or f32 through bitcast), fixed when the program is planned
 *   binding 2  CTL  step counters written only on the device: CTL[0] = step within the submitted chunk,
 *                   CTL[1] = optimiser steps taken so far (Adam's t − 1)
 * The equations are those of src/kernels/generic.ts (gleNeurons), js/index.ts (layerStep, gemm, adam) and
 * model/losses.ts; the js backend is their test oracle. Browser-safe, no imports.
 */

export const HEADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> H: array<f32>;
@group(0) @binding(1) var<uniform> P: array<vec4<u32>, 8>;
@group(0) @binding(2) var<storage, read_write> CTL: array<u32>;
fn pu(i: u32) -> u32 { return P[i / 4u][i % 4u]; }
fn pf(i: u32) -> f32 { return bitcast<f32>(pu(i)); }
const NONE: u32 = 0xffffffffu;
// a runtime value (a constant NaN is a shader-creation error)
fn nan() -> f32 { return bitcast<f32>(0x7fc00000u | (pu(31u) & 0u)); }
`;

/** φ and φ' (the r' the kernels store) of phi.ts, codes as layout.ts PHI. */
export const PHI_WGSL = /* wgsl */ `
fn phi2(code: u32, x: f32) -> vec2<f32> {
  switch code {
    case 1u: { // tanh, written so that large |x| cannot overflow
      let e = exp(-2.0 * abs(x));
      let t = sign(x) * (1.0 - e) / (1.0 + e);
      return vec2<f32>(t, 1.0 - t * t);
    }
    case 2u: { let s = 1.0 / (1.0 + exp(-x)); return vec2<f32>(s, s * (1.0 - s)); }
    case 3u: { // softplus with torch's threshold 20; r' is the logistic sigmoid everywhere
      let s = 1.0 / (1.0 + exp(-x));
      var r = x;
      if (x <= 20.0) { r = max(x, 0.0) + log(1.0 + exp(-abs(x))); }
      return vec2<f32>(r, s);
    }
    case 4u: { if (x > 0.0) { return vec2<f32>(x, 1.0); } return vec2<f32>(0.0, 0.0); }
    case 5u: { let on = select(0.0, 1.0, x >= 0.0 && x <= 1.0); return vec2<f32>(clamp(x, 0.0, 1.0), on); }
    case 6u: { let on = select(0.0, 1.0, x >= -1.0 && x <= 1.0); return vec2<f32>(clamp(x, -1.0, 1.0), on); }
    default: { return vec2<f32>(x, 1.0); }
  }
}
`;

/**
 * C = alpha op(A) op(B) + beta C, row-major; op(A) M×K, op(B) K×N. Words: 0 M, 1 N, 2 K, 3 flags (1 tA, 2 tB),
 * 4 alpha, 5 beta, 6 A, 7 B, 8 C (offsets). 64×64 tiles, 16×16 threads of 4×4 outputs, K in slices of 16.
 * Dispatch (⌈N/64⌉, ⌈M/64⌉).
 */
export const GEMM = /* wgsl */ `
var<workgroup> As: array<array<f32, 64>, 16>;
var<workgroup> Bs: array<array<f32, 64>, 16>;
fn ldA(m: u32, k: u32) -> f32 {
  if (m >= pu(0u) || k >= pu(2u)) { return 0.0; }
  if ((pu(3u) & 1u) != 0u) { return H[pu(6u) + k * pu(0u) + m]; }
  return H[pu(6u) + m * pu(2u) + k];
}
fn ldB(k: u32, n: u32) -> f32 {
  if (k >= pu(2u) || n >= pu(1u)) { return 0.0; }
  if ((pu(3u) & 2u) != 0u) { return H[pu(7u) + n * pu(2u) + k]; }
  return H[pu(7u) + k * pu(1u) + n];
}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x; let ty = lid.y; let tid = ty * 16u + tx;
  let m0 = wg.y * 64u; let n0 = wg.x * 64u;
  let M = pu(0u); let N = pu(1u); let K = pu(2u);
  let tA = (pu(3u) & 1u) != 0u; let tB = (pu(3u) & 2u) != 0u;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < K; k0 = k0 + 16u) {
    for (var i = 0u; i < 4u; i = i + 1u) {
      let e = tid + i * 256u;
      // the index that runs fastest in memory runs fastest over the threads
      var ka = e / 64u; var ma = e % 64u;
      if (!tA) { ka = e % 16u; ma = e / 16u; }
      As[ka][ma] = ldA(m0 + ma, k0 + ka);
      var kb = e / 64u; var nb = e % 64u;
      if (tB) { kb = e % 16u; nb = e / 16u; }
      Bs[kb][nb] = ldB(k0 + kb, n0 + nb);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
      var a: array<f32, 4>; var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i = i + 1u) { a[i] = As[kk][ty * 4u + i]; b[i] = Bs[kk][tx * 4u + i]; }
      for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  let alpha = pf(4u); let beta = pf(5u); let c0 = pu(8u);
  for (var i = 0u; i < 4u; i = i + 1u) {
    let m = m0 + ty * 4u + i;
    if (m >= M) { continue; }
    for (var j = 0u; j < 4u; j = j + 1u) {
      let n = n0 + tx * 4u + j;
      if (n >= N) { continue; }
      let o = c0 + m * N + n;
      var c = alpha * acc[i][j];
      if (beta != 0.0) { c = c + beta * H[o]; }
      H[o] = c;
    }
  }
}
`;

/**
 * The GLE population step of generic.ts gleNeurons over B·n neurons, the drive (W r_bottom, without bias) ready.
 * Words: 0 B, 1 n, 2 flags (STEP), 3 phi, 4 dt, 5 gamma, 6 drive, 7 rawErr, 8 u, 9 v, 10 r', 11 u⁺, 12 v⁺, 13 r⁺,
 * 14 r'⁺, 15 inst_e, 16 prosp_u, 17 prosp_v, 18 u_dot, 19 b (NONE: no bias), 20 τ_m, 21 τ_r. One thread a neuron.
 */
export const GLE_NEURONS = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = pu(1u);
  let i = gid.x;
  if (i >= pu(0u) * n) { return; }
  let j = i % n;
  let dt = pf(4u); let gamma = pf(5u);
  let tm = H[pu(20u) + j]; let tr = H[pu(21u) + j];
  var s = H[pu(6u) + i];
  if (pu(19u) != NONE) { s = H[pu(19u) + j] + s; }
  let ie = H[pu(7u) + i] * H[pu(10u) + i];
  H[pu(15u) + i] = ie;
  let v = H[pu(9u) + i];
  var pv = ie;
  if ((pu(2u) & 1u) != 0u) {
    let vd = (ie - v) / tr;
    H[pu(12u) + i] = v + dt * vd;
    pv = v + tm * vd;
  } else {
    H[pu(12u) + i] = ie;
  }
  H[pu(17u) + i] = pv;
  let u = H[pu(8u) + i];
  let ud = (s + gamma * pv - u) / tm;
  H[pu(18u) + i] = ud;
  H[pu(11u) + i] = u + dt * ud;
  let pu_ = u + tr * ud;
  H[pu(16u) + i] = pu_;
  let rr = phi2(pu(3u), pu_);
  H[pu(13u) + i] = rr.x;
  H[pu(14u) + i] = rr.y;
}
`;

/**
 * Column reductions over the batch: gB[j] = −mean_b ĕ[b, j] (word 4 ≠ NONE), gTau[j] = mean_b ĕ u̇ (word 5 ≠ NONE).
 * Words: 0 B, 1 n, 2 prosp_v, 3 u_dot, 4 gB, 5 gTau. One thread a column.
 */
export const COL_GRADS = /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let B = pu(0u); let n = pu(1u); let j = gid.x;
  if (j >= n) { return; }
  var sb = 0.0; var st = 0.0;
  for (var b = 0u; b < B; b = b + 1u) {
    let p = H[pu(2u) + b * n + j];
    sb = sb + p;
    st = st + p * H[pu(3u) + b * n + j];
  }
  let inv = 1.0 / f32(B);
  if (pu(4u) != NONE) { H[pu(4u) + j] = -sb * inv; }
  if (pu(5u) != NONE) { H[pu(5u) + j] = st * inv; }
}
`;

/** dst[i] = src[CTL[0]·stride + i], i < count. Words: 0 count, 1 src, 2 stride, 3 dst. */
export const LOAD_STEP = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= pu(0u)) { return; }
  H[pu(3u) + i] = H[pu(1u) + CTL[0] * pu(2u) + i];
}
`;

/**
 * The top layer's raw error and each row's loss term (model/losses.ts) at the chunk's step CTL[0].
 * Words: 0 B, 1 n, 2 loss (0 mse, 1 ce, 2 nll), 3 beta, 4 y, 5 targets (a slot of B·n per step: values, or the B
 * labels first), 6 kinds (one per step: 0 none, 1 values, 2 labels), 7 rawErr out, 8 row losses out. One thread a row.
 */
export const TARGET = /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let B = pu(0u); let n = pu(1u); let b = gid.x;
  if (b >= B) { return; }
  let t = CTL[0];
  let kind = u32(H[pu(6u) + t]);
  let loss = pu(2u); let beta = pf(3u);
  let y = pu(4u) + b * n; let out = pu(7u) + b * n; let tv = pu(5u) + t * B * n;
  var lab = 0u;
  if (kind == 2u) { lab = u32(H[tv + b]); }
  var m = H[y];
  for (var j = 1u; j < n; j = j + 1u) { m = max(m, H[y + j]); }
  var z = 0.0;
  for (var j = 0u; j < n; j = j + 1u) { z = z + exp(H[y + j] - m); }
  let lse = m + log(z);
  var acc = 0.0;
  for (var j = 0u; j < n; j = j + 1u) {
    var tg = H[tv + b * n + j];
    if (kind == 2u) { tg = select(0.0, 1.0, j == lab); }
    let yj = H[y + j];
    var e = tg - yj;
    var a = (yj - tg) * (yj - tg);
    if (loss == 1u) { e = tg - exp(yj - m) / z; a = tg * (lse - yj); }
    if (loss == 2u) { e = tg - exp(yj); a = -tg * yj; }
    if (kind == 0u) { e = 0.0; a = 0.0; }
    H[out + j] = beta * e;
    acc = acc + a;
  }
  H[pu(8u) + b] = acc;
}
`;

/**
 * The logged loss of the chunk's step: sum of the B row terms / divisor (mse B·n, ce/nll B), NaN without a target.
 * Words: 0 B, 1 row losses, 2 divisor (f32), 3 kinds, 4 loss log (one value per step of the chunk). One workgroup.
 */
export const LOSS_REDUCE = /* wgsl */ `
var<workgroup> part: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  let B = pu(0u);
  var s = 0.0;
  for (var b = lid.x; b < B; b = b + 256u) { s = s + H[pu(1u) + b]; }
  part[lid.x] = s;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid.x < w) { part[lid.x] = part[lid.x] + part[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let t = CTL[0];
    var l = part[0] / pf(2u);
    if (u32(H[pu(3u) + t]) == 0u) { l = nan(); }
    H[pu(4u) + t] = l;
  }
}
`;

/**
 * PyTorch Adam over n contiguous entries, t = CTL[1] + 1 (bias corrections computed here, so many steps need no
 * host). Words: 0 n, 1 p, 2 g, 3 m, 4 v, 5 the heap slots of the lr (one per step of the chunk: step CTL[0] reads
 * slot + CTL[0], so a schedule changes it every step), 6 beta1, 7 beta2, 8 eps, 9 weight decay.
 */
export const ADAM = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * 65535u * 256u + gid.x;
  if (i >= pu(0u)) { return; }
  let lr = H[pu(5u) + CTL[0]]; let b1 = pf(6u); let b2 = pf(7u); let eps = pf(8u); let wd = pf(9u);
  let t = f32(CTL[1] + 1u);
  let bc1 = 1.0 - pow(b1, t);
  let bc2 = 1.0 - pow(b2, t);
  let p = pu(1u) + i;
  var g = H[pu(2u) + i];
  if (wd != 0.0) { g = g + wd * H[p]; }
  let m = b1 * H[pu(3u) + i] + (1.0 - b1) * g;
  let v = b2 * H[pu(4u) + i] + (1.0 - b2) * g * g;
  H[pu(3u) + i] = m;
  H[pu(4u) + i] = v;
  H[p] = H[p] - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps);
}
`;

/**
 * PyTorch SGD over n contiguous entries. Words: 0 n, 1 p, 2 g, 3 momentum buffer, 4 lr, 5 momentum, 6 dampening,
 * 7 nesterov (0/1), 8 weight decay; word 4 is the heap slot of the lr of the chunk's first step (step CTL[0] reads
 * slot + CTL[0]). The first optimiser step (CTL[1] = 0) sets the buffer to g.
 */
export const SGD = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * 65535u * 256u + gid.x;
  if (i >= pu(0u)) { return; }
  let lr = H[pu(4u) + CTL[0]]; let mu = pf(5u); let damp = pf(6u); let wd = pf(8u);
  let p = pu(1u) + i;
  var g = H[pu(2u) + i];
  if (wd != 0.0) { g = g + wd * H[p]; }
  if (mu != 0.0) {
    let bi = pu(3u) + i;
    var bv = g;
    if (CTL[1] != 0u) { bv = mu * H[bi] + (1.0 - damp) * g; }
    H[bi] = bv;
    if (pu(7u) != 0u) { g = g + mu * bv; } else { g = bv; }
  }
  H[p] = H[p] - lr * g;
}
`;

/** Clamp the entries listed at word 1 (count word 0; indices stored as floats) to [word 2, word 3]. */
export const CLAMP = /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= pu(0u)) { return; }
  let k = u32(H[pu(1u) + gid.x]);
  H[k] = clamp(H[k], pf(2u), pf(3u));
}
`;

/**
 * The weight average (optim.ts WeightAverage.update) over n contiguous entries: a ← a + (1 − d)(p − a), d read from
 * the heap slot word 3 + CTL[0] (one per step of the chunk). Words: 0 n, 1 p, 2 a, 3 decay slots.
 */
export const EMA = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * 65535u * 256u + gid.x;
  if (i >= pu(0u)) { return; }
  let c = 1.0 - H[pu(3u) + CTL[0]];
  let a = H[pu(2u) + i];
  H[pu(2u) + i] = a + c * (H[pu(1u) + i] - a);
}
`;

/** Exchange n contiguous entries at word 1 and word 2 (the parameters and their averages). Words: 0 n, 1 a, 2 b. */
export const SWAP = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * 65535u * 256u + gid.x;
  if (i >= pu(0u)) { return; }
  let x = H[pu(1u) + i];
  H[pu(1u) + i] = H[pu(2u) + i];
  H[pu(2u) + i] = x;
}
`;

/** End of a step: CTL[0] += 1, CTL[1] += word 0 (1 when an optimiser stepped). */
export const TICK = /* wgsl */ `
@compute @workgroup_size(1)
fn main() {
  CTL[0] = CTL[0] + 1u;
  CTL[1] = CTL[1] + pu(0u);
}
`;

/** r = φ(x), r' = φ'(x) over n entries. Words: 0 n, 1 phi, 2 x, 3 r, 4 r'. */
export const ACTIVATE = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * 65535u * 256u + gid.x;
  if (i >= pu(0u)) { return; }
  let rr = phi2(pu(1u), H[pu(2u) + i]);
  H[pu(3u) + i] = rr.x;
  H[pu(4u) + i] = rr.y;
}
`;

/**
 * im2col of generic.ts: cols (C·kh·kw) × (B·Ho·Wo), column (b, p) the input patch of output position p of batch row
 * b (zeros in the padding); x is B × C·H·W. Words: 0 B, 1 C, 2 H, 3 W, 4 kh, 5 kw, 6 stride, 7 padH, 8 padW, 9 Ho,
 * 10 Wo, 11 x, 12 cols. One thread an entry of cols.
 */
export const IM2COL = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let C = pu(1u); let Hh = pu(2u); let W = pu(3u); let kh = pu(4u); let kw = pu(5u);
  let st = pu(6u); let Ho = pu(9u); let Wo = pu(10u);
  let P = Ho * Wo; let NP = pu(0u) * P;
  let idx = gid.y * 65535u * 256u + gid.x;
  if (idx >= C * kh * kw * NP) { return; }
  let q = idx / NP; let r = idx % NP; let b = r / P; let p = r % P;
  let jj = q % kw; let ii = (q / kw) % kh; let c = q / (kw * kh);
  let y = i32((p / Wo) * st + ii) - i32(pu(7u)); let x = i32((p % Wo) * st + jj) - i32(pu(8u));
  var v = 0.0;
  if (y >= 0 && y < i32(Hh) && x >= 0 && x < i32(W)) { v = H[pu(11u) + ((b * C + c) * Hh + u32(y)) * W + u32(x)]; }
  H[pu(12u) + idx] = v;
}
`;

export const KERNELS = {
  gemm: GEMM,
  gleNeurons: PHI_WGSL + GLE_NEURONS,
  colGrads: COL_GRADS,
  loadStep: LOAD_STEP,
  target: TARGET,
  lossReduce: LOSS_REDUCE,
  adam: ADAM,
  sgd: SGD,
  clamp: CLAMP,
  ema: EMA,
  swap: SWAP,
  tick: TICK,
  activate: PHI_WGSL + ACTIVATE,
  im2col: IM2COL,
} as const;
export type KernelName = keyof typeof KERNELS;
