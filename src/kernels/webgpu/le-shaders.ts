/**
 * WGSL kernels of Latent Equilibrium on the webgpu backend (float32): the LE population step, the target error, conv's
 * transposed convolution (col2im with the r' product), max pooling with the reference's tie and argmax rules and its
 * scatter, the layout change of conv errors, the bias update, and the per-pattern loading and output logging of a
 * chunk. Same bindings and conventions as ./shaders.ts (heap H, parameter words P, step counters CTL; the engine
 * prepends its HEADER). The equations are those of model/layers/le.ts and model/le-network.ts (the js backend is the
 * oracle; the golden rules are test/fixtures/golden/le/README.md). Browser-safe, no imports but the φ code.
 *
 * Element-wise kernels take one thread per element and fold a y spill of the workgroup count back (groups1d).
 */
import { PHI_WGSL } from './shaders.js';

const IDX = /* wgsl */ `fn flat(gid: vec3<u32>) -> u32 { return gid.y * 65535u * 256u + gid.x; }
`;

/**
 * dst[i] = src[(CTL[0] / hold) · stride + i], i < count: the input (or any per-pattern slot) of the chunk's step, a
 * pattern held for `hold` steps. Words: 0 count, 1 src, 2 stride, 3 dst, 4 hold.
 */
export const LE_LOAD = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = flat(gid);
  if (i >= pu(0u)) { return; }
  H[pu(3u) + i] = H[pu(1u) + (CTL[0] / pu(4u)) * pu(2u) + i];
}
`;

/**
 * The target error ê = β · r'_top(previous) ⊙ (y − r_top(previous)), y the pattern (CTL[0] / hold) of the chunk's
 * targets; zero when word 8 is 0 (no nudging). Words: 0 count (B·n_out), 1 β, 2 targets, 3 stride, 4 hold, 5 r, 6 r',
 * 7 ê out, 8 has target.
 */
export const LE_TARGET = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = flat(gid);
  if (i >= pu(0u)) { return; }
  var e = 0.0;
  if (pu(8u) != 0u) {
    let y = H[pu(2u) + (CTL[0] / pu(4u)) * pu(3u) + i];
    e = pf(1u) * H[pu(6u) + i] * (y - H[pu(5u) + i]);
  }
  H[pu(7u) + i] = e;
}
`;

/**
 * The LE population step of layers/le.ts over B rows of n neurons, n = F·P (P positions per unit: conv; P = 1: dense):
 *   a = drive + b[unit];  u̇ = (1/τ_m)·((a − u) + e);  ŭ = u + τ u̇;  ŭᵐ = u + τ_m u̇;  u ← u + dt u̇;
 *   r = φ(ŭ), r' = φ'(ŭ);  diff = ŭᵐ − a (ŭ − a with prosp_rate_errors).
 * With word 3 set (conv) the drive is read, and diff written, feature-major (F × B·P, the layout of the products);
 * everything else is batch-major (B × n). Words: 0 B, 1 n, 2 P, 3 feature-major, 4 phi, 5 dt, 6 prosp_rate_errors,
 * 7 drive, 8 b (NONE: none), 9 basal out, 10 e, 11 u, 12 u̇, 13 ŭ, 14 ŭᵐ, 15 diff, 16 r out, 17 r' out, 18 τ, 19 τ_m.
 */
export const LE_NEURONS = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let B = pu(0u); let n = pu(1u); let P = pu(2u);
  let i = flat(gid);
  if (i >= B * n) { return; }
  let b = i / n; let j = i % n; let f = j / P; let p = j % P;
  var at = i;
  if (pu(3u) != 0u) { at = f * B * P + b * P + p; }
  var a = H[pu(7u) + at];
  if (pu(8u) != NONE) { a = a + H[pu(8u) + f]; }
  H[pu(9u) + i] = a;
  let tr = H[pu(18u) + j]; let tm = H[pu(19u) + j];
  let u = H[pu(11u) + i];
  let ud = (1.0 / tm) * ((a - u) + H[pu(10u) + i]);
  let pu_ = u + tr * ud;
  let pum = u + tm * ud;
  H[pu(12u) + i] = ud;
  H[pu(13u) + i] = pu_;
  H[pu(14u) + i] = pum;
  H[pu(11u) + i] = u + pf(5u) * ud;
  var d = pum - a;
  if (pu(6u) != 0u) { d = pu_ - a; }
  H[pu(15u) + at] = d;
  let rr = phi2(pu(4u), pu_);
  H[pu(16u) + i] = rr.x;
  H[pu(17u) + i] = rr.y;
}
`;

/** dst[i] = dst[i] · src[i], i < n (the r'_in product of a dense error sent down). Words: 0 n, 1 dst, 2 src. */
export const LE_MUL = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = flat(gid);
  if (i >= pu(0u)) { return; }
  H[pu(1u) + i] = H[pu(1u) + i] * H[pu(2u) + i];
}
`;

/**
 * col2im for stride 1, no padding, times r'_in: dst[b][c][y][x] = r'[b][c][y][x] · Σ_{p,q} dcols[(c·kh + p)·kw + q][b·P
 * + (y−p)·Wo + (x−q)] over the valid output positions (the transposed convolution; gathered, no atomics). Words: 0 B,
 * 1 C, 2 H, 3 W, 4 kh, 5 kw, 6 Ho, 7 Wo, 8 dcols, 9 dst, 10 r' (NONE: no product). One thread an input element.
 */
export const LE_COL2IM = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let B = pu(0u); let C = pu(1u); let Hh = pu(2u); let W = pu(3u); let kh = pu(4u); let kw = pu(5u);
  let Ho = pu(6u); let Wo = pu(7u);
  let idx = flat(gid);
  if (idx >= B * C * Hh * W) { return; }
  let x = idx % W; let y = (idx / W) % Hh; let c = (idx / (W * Hh)) % C; let b = idx / (W * Hh * C);
  let P = Ho * Wo; let NP = B * P;
  var s = 0.0;
  for (var p = 0u; p < kh; p = p + 1u) {
    if (p > y || y - p >= Ho) { continue; }
    for (var q = 0u; q < kw; q = q + 1u) {
      if (q > x || x - q >= Wo) { continue; }
      s = s + H[pu(8u) + ((c * kh + p) * kw + q) * NP + b * P + (y - p) * Wo + (x - q)];
    }
  }
  if (pu(10u) != NONE) { s = s * H[pu(10u) + idx]; }
  H[pu(9u) + idx] = s;
}
`;

/**
 * Max pooling of each channel plane: r = the window's maximum scanned in row-major order, a later element winning
 * only when strictly larger (ties to the first); argmax = y·W + x within the plane (stored as a float, exact);
 * r' = r'_in at the argmax. Words: 0 B·C, 1 H, 2 W, 3 kh, 4 kw, 5 stride, 6 Ho, 7 Wo, 8 r_in, 9 r'_in, 10 r out,
 * 11 r' out, 12 argmax out. One thread an output.
 */
export const LE_POOL = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let Hh = pu(1u); let W = pu(2u); let kh = pu(3u); let kw = pu(4u); let st = pu(5u); let Ho = pu(6u); let Wo = pu(7u);
  let o = flat(gid);
  if (o >= pu(0u) * Ho * Wo) { return; }
  let bc = o / (Ho * Wo); let oy = (o / Wo) % Ho; let ox = o % Wo;
  let base = bc * Hh * W;
  var at = (oy * st) * W + ox * st;
  var best = H[pu(8u) + base + at];
  for (var p = 0u; p < kh; p = p + 1u) {
    for (var q = 0u; q < kw; q = q + 1u) {
      let k = (oy * st + p) * W + ox * st + q;
      let v = H[pu(8u) + base + k];
      if (v > best) { best = v; at = k; }
    }
  }
  H[pu(10u) + o] = best;
  H[pu(12u) + o] = f32(at);
  var rp = 0.0;
  if (pu(9u) != NONE) { rp = H[pu(9u) + base + at]; }
  H[pu(11u) + o] = rp;
}
`;

/**
 * The pooling stage's error sent down: dx = dy scattered to this step's argmax positions (summed where windows
 * overlap), zero elsewhere; gathered per input element. Words: 0 B·C, 1 H, 2 W, 3 kh, 4 kw, 5 stride, 6 Ho, 7 Wo,
 * 8 dy, 9 argmax, 10 dx. One thread an input element.
 */
export const LE_UNPOOL = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let Hh = pu(1u); let W = pu(2u); let kh = pu(3u); let kw = pu(4u); let st = pu(5u); let Ho = pu(6u); let Wo = pu(7u);
  let idx = flat(gid);
  if (idx >= pu(0u) * Hh * W) { return; }
  let bc = idx / (Hh * W); let k = idx % (Hh * W); let y = k / W; let x = k % W;
  // the windows holding (y, x): oy·st ≤ y < oy·st + kh
  var oy0 = 0u; if (y + 1u > kh) { oy0 = (y + 1u - kh + st - 1u) / st; }
  var ox0 = 0u; if (x + 1u > kw) { ox0 = (x + 1u - kw + st - 1u) / st; }
  let oy1 = min(y / st + 1u, Ho); let ox1 = min(x / st + 1u, Wo);
  var s = 0.0;
  for (var oy = oy0; oy < oy1; oy = oy + 1u) {
    for (var ox = ox0; ox < ox1; ox = ox + 1u) {
      let o = bc * Ho * Wo + oy * Wo + ox;
      if (u32(H[pu(9u) + o]) == k) { s = s + H[pu(8u) + o]; }
    }
  }
  H[pu(10u) + idx] = s;
}
`;

/** B × F·P (batch-major) → F × B·P (feature-major). Words: 0 B, 1 F, 2 P, 3 src, 4 dst. One thread an element. */
export const LE_PERMUTE = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let B = pu(0u); let F = pu(1u); let P = pu(2u);
  let i = flat(gid);
  if (i >= B * F * P) { return; }
  let f = i / (B * P); let r = i % (B * P); let b = r / P; let p = r % P;
  H[pu(4u) + i] = H[pu(3u) + (b * F + f) * P + p];
}
`;

/**
 * The LE bias update b[f] ← b[f] + dt · (mean_m e[f, m]) · η (the reference's b − ((−dt)·G_b)·η with G_b = −mean):
 * e[f, m] = H[src + f·strideF + m·strideM], m over the batch (dense) or batch and positions (conv: the mean over
 * positions, the reference's asymmetry). Words: 0 F, 1 M, 2 strideF, 3 strideM, 4 src, 5 b, 6 dt, 7 η. One workgroup
 * a bias (a tree reduction over its 256 threads). Dispatch (F, 1, 1).
 */
export const LE_BIAS = /* wgsl */ `
var<workgroup> part: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let f = wg.x;
  let M = pu(1u);
  var s = 0.0;
  for (var m = lid.x; m < M; m = m + 256u) { s = s + H[pu(4u) + f * pu(2u) + m * pu(3u)]; }
  part[lid.x] = s;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid.x < w) { part[lid.x] = part[lid.x] + part[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u && f < pu(0u)) {
    let o = pu(5u) + f;
    H[o] = H[o] + (pf(6u) * (part[0] / f32(M))) * pf(7u);
  }
}
`;

/**
 * Log the top rates at the last step of each held pattern: when (CTL[0] + 1) % hold = 0,
 * dst[(CTL[0] / hold) · count + i] = src[i]. Words: 0 count, 1 src, 2 dst, 3 hold.
 */
export const LE_STORE = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = flat(gid);
  let hold = pu(3u);
  if (i >= pu(0u) || (CTL[0] + 1u) % hold != 0u) { return; }
  H[pu(2u) + (CTL[0] / hold) * pu(0u) + i] = H[pu(1u) + i];
}
`;

export const LE_KERNELS = {
  leLoad: IDX + LE_LOAD,
  leTarget: IDX + LE_TARGET,
  leNeurons: IDX + PHI_WGSL + LE_NEURONS,
  leMul: IDX + LE_MUL,
  leCol2im: IDX + LE_COL2IM,
  lePool: IDX + LE_POOL,
  leUnpool: IDX + LE_UNPOOL,
  lePermute: IDX + LE_PERMUTE,
  leBias: LE_BIAS,
  leStore: IDX + LE_STORE,
} as const;
export type LeKernelName = keyof typeof LE_KERNELS;
