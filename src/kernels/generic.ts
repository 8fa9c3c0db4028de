/**
 * Generic implementations of the named kernels (see registry.ts): plain loops over the buffers' current views, so
 * they run on every backend (a WebAssembly or native buffer exposes its memory as a typed array). They allocate
 * nothing. Shapes: B batch rows; a map of one batch row is C × H × W, row-major (index c·H·W + h·W + w).
 */
import type { Backend, FBuf, FloatArray, PhiCode } from './types.js';
import { STEP } from './layout.js';
import { PHI_X, phiEval, phiRecord } from './phi.js';

const rec = phiRecord();

/**
 * The elementwise GLE population step of n = B·nOut neurons whose drive s = W r_bottom + b is ready in `drive`
 * (the equations of src/model/dynamics.ts; the fused dense step computes the same with its own products):
 *   inst_e = rawErr r';  prospective: v̇ = (inst_e − v)/τ_r, v⁺ = v + dt v̇, ĕ = v + τ_m v̇;  else v⁺ = ĕ = inst_e
 *   u̇ = (s + γ ĕ − u)/τ_m,  u⁺ = u + dt u̇,  ŭ = u + τ_r u̇,  r⁺ = φ(ŭ),  r'⁺ = φ'(ŭ)
 *   flags GRADS|LEARN_TAU: gTau = mean_b(ĕ u̇)
 */
export interface GleNeuronArgs {
  B: number;
  n: number;
  drive: FBuf;
  rawErr: FBuf;
  u: FBuf;
  v: FBuf;
  rPrime: FBuf;
  uN: FBuf;
  vN: FBuf;
  rN: FBuf;
  rPrimeN: FBuf;
  instE: FBuf;
  prospU: FBuf;
  prospV: FBuf;
  uDot: FBuf;
  tauM: FBuf;
  tauR: FBuf;
  gTau: FBuf;
  /** per call */
  phi: PhiCode;
  dt: number;
  gamma: number;
  flags: number;
}

export function gleNeurons(_k: Backend, a: GleNeuronArgs): void {
  const { B, n, phi, dt, gamma, flags } = a;
  const s = a.drive.a, raw = a.rawErr.a, u = a.u.a, v = a.v.a, rP = a.rPrime.a;
  const uN = a.uN.a, vN = a.vN.a, rN = a.rN.a, rPN = a.rPrimeN.a;
  const instE = a.instE.a, pU = a.prospU.a, pV = a.prospV.a, uDot = a.uDot.a, tauM = a.tauM.a, tauR = a.tauR.a;
  const prospective = (flags & STEP.PROSPECTIVE) !== 0;
  const d = rec;
  for (let b = 0; b < B; b++) {
    const ro = b * n;
    for (let j = 0; j < n; j++) {
      const i = ro + j;
      const ie = raw[i] * rP[i];
      instE[i] = ie;
      let pv: number;
      if (prospective) {
        const vd = (ie - v[i]) / tauR[j];
        vN[i] = v[i] + dt * vd;
        pv = v[i] + tauM[j] * vd;
      } else {
        vN[i] = ie;
        pv = ie;
      }
      pV[i] = pv;
      const ud = (s[i] + gamma * pv - u[i]) / tauM[j];
      uDot[i] = ud;
      uN[i] = u[i] + dt * ud;
      const pu = u[i] + tauR[j] * ud;
      pU[i] = pu;
      d[PHI_X] = pu;
      phiEval(phi, d);
      rN[i] = d[0];
      rPN[i] = d[1];
    }
  }
  if ((flags & STEP.GRADS) !== 0 && (flags & STEP.LEARN_TAU) !== 0) {
    const pVs = a.prospV.a, uD = a.uDot.a, gT = a.gTau.a;
    const invB = 1 / B;
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let b = 0; b < B; b++) acc += pVs[b * n + j] * uD[b * n + j];
      gT[j] = acc * invB;
    }
  }
}

/**
 * A relay population (no neurons of its own: pooling stages): r⁺ = drive, r'⁺ = 1, and the error passes through
 * unchanged, ĕ = inst_e = rawErr (the stage below multiplies by its own r'). Adds one dt of delay like every stage.
 */
export interface RelayArgs {
  n: number;
  drive: FBuf;
  rawErr: FBuf;
  rN: FBuf;
  rPrimeN: FBuf;
  instE: FBuf;
  prospV: FBuf;
}

export function relayNeurons(_k: Backend, a: RelayArgs): void {
  const n = a.n, s = a.drive.a, raw = a.rawErr.a, rN = a.rN.a, rPN = a.rPrimeN.a, ie = a.instE.a, pV = a.prospV.a;
  for (let i = 0; i < n; i++) {
    rN[i] = s[i];
    rPN[i] = 1;
    ie[i] = raw[i];
    pV[i] = raw[i];
  }
}

/** Geometry of a convolution or pooling window over maps of one batch row. */
export interface ConvGeom {
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  stride: number;
  /** zero padding above/below and left/right */
  padH: number;
  padW: number;
  Ho: number;
  Wo: number;
}

/**
 * cols (C·kh·kw) × (B·Ho·Wo): column (b, p) holds the input patch of output position p of batch row b (zeros in the
 * padding), so the drive of all rows is one product W (F × C·kh·kw) · cols.
 */
export interface Im2colArgs {
  g: ConvGeom;
  B: number;
  x: FBuf; // B × C·H·W
  cols: FBuf; // C·kh·kw × B·Ho·Wo
}

export function im2col(_k: Backend, a: Im2colArgs): void {
  patches(a, true);
}

/** The adjoint of im2col: x (B × C·H·W) = Σ of the cols entries over every patch that covers each input position. */
export function col2im(_k: Backend, a: Im2colArgs): void {
  a.x.a.fill(0, 0, a.B * a.g.C * a.g.H * a.g.W);
  patches(a, false);
}

/** Walk every (patch entry, output position) pair once: toCols copies x into cols, otherwise cols are added into x. */
function patches(a: Im2colArgs, toCols: boolean): void {
  const { C, H, W, kh, kw, stride, padH, padW, Ho, Wo } = a.g;
  const B = a.B, x = a.x.a, cols = a.cols.a;
  const P = Ho * Wo, NP = B * P, CHW = C * H * W;
  if (stride === 1 && padH === 0 && padW === 0) {
    // the LE layers' case (stride 1, no padding): every patch entry is inside, rows are contiguous runs
    for (let c = 0; c < C; c++)
      for (let p = 0; p < kh; p++)
        for (let q = 0; q < kw; q++) {
          const row = ((c * kh + p) * kw + q) * NP;
          for (let b = 0; b < B; b++) {
            const xo = b * CHW + c * H * W + p * W + q;
            const co = row + b * P;
            for (let i = 0; i < Ho; i++) {
              const s = xo + i * W, d = co + i * Wo;
              if (toCols) for (let j = 0; j < Wo; j++) cols[d + j] = x[s + j];
              else for (let j = 0; j < Wo; j++) x[s + j] += cols[d + j];
            }
          }
        }
    return;
  }
  // batch row b's patches are columns b·P … b·P + P − 1 of the C·kh·kw × B·P matrix
  for (let b = 0; b < B; b++) rowPatches(a.g, x, b, cols, toCols, NP, b * P);
}

/**
 * Max pooling of each channel plane over kh × kw windows with the given stride (no padding): y = the maximum, and
 * argmax = the flat index y·W + x of the winner within its plane. Ties go to the first element in row-major order
 * (a later one wins only when strictly larger).
 */
export interface MaxPoolArgs {
  g: ConvGeom;
  B: number;
  x: FBuf; // B × C·H·W
  y: FBuf; // B × C·Ho·Wo
  argmax: Int32Array; // B × C·Ho·Wo
}

export function maxpoolForward(_k: Backend, a: MaxPoolArgs): void {
  const { C, H, W, kh, kw, stride, Ho, Wo } = a.g;
  const B = a.B, x = a.x.a, y = a.y.a, am = a.argmax;
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++) {
      const xo = (b * C + c) * H * W, yo = (b * C + c) * Ho * Wo;
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let best = -Infinity, at = -1;
          for (let p = 0; p < kh; p++)
            for (let q = 0; q < kw; q++) {
              const idx = (i * stride + p) * W + j * stride + q;
              const val = x[xo + idx];
              if (at < 0 || val > best) {
                best = val;
                at = idx;
              }
            }
          y[yo + i * Wo + j] = best;
          am[yo + i * Wo + j] = at;
        }
    }
}

/** The adjoint of max pooling: dx (B × C·H·W) = dy scattered to the argmax positions, zero elsewhere. */
export interface MaxPoolBackArgs {
  g: ConvGeom;
  B: number;
  dy: FBuf;
  dx: FBuf;
  argmax: Int32Array;
}

export function maxpoolBackward(_k: Backend, a: MaxPoolBackArgs): void {
  const { C, H, W, Ho, Wo } = a.g;
  const B = a.B, dy = a.dy.a, dx = a.dx.a, am = a.argmax;
  dx.fill(0, 0, B * C * H * W);
  for (let bc = 0; bc < B * C; bc++) {
    const xo = bc * H * W, yo = bc * Ho * Wo;
    for (let o = 0; o < Ho * Wo; o++) dx[xo + am[yo + o]] += dy[yo + o];
  }
}

/** y (B × F·P) += bias[f] broadcast over batch rows and the P positions of each channel (P = 1: dense). */
export interface BiasArgs {
  B: number;
  F: number;
  P: number;
  y: FBuf;
  bias: FBuf;
}

export function biasAdd(_k: Backend, a: BiasArgs): void {
  const { B, F, P } = a, y = a.y.a, bias = a.bias.a;
  for (let b = 0; b < B; b++)
    for (let f = 0; f < F; f++) {
      const o = (b * F + f) * P, bf = bias[f];
      for (let p = 0; p < P; p++) y[o + p] += bf;
    }
}

/** bias gradient: g[f] = scale · Σ_{b,p} y[b, f, p] (y is B × F·P). */
export interface BiasGradArgs {
  B: number;
  F: number;
  P: number;
  y: FBuf;
  g: FBuf;
  scale: number;
}

export function biasGrad(_k: Backend, a: BiasGradArgs): void {
  const { B, F, P, scale } = a, y = a.y.a, g = a.g.a;
  for (let f = 0; f < F; f++) {
    let acc = 0;
    for (let b = 0; b < B; b++) {
      const o = (b * F + f) * P;
      for (let p = 0; p < P; p++) acc += y[o + p];
    }
    g[f] = scale * acc;
  }
}

/**
 * Layout change between F × (B·P) (a product's output) and B × (F·P) (a batch of channel-major maps). Towards the
 * batch layout a bias (one per channel f) may be added on the way, so a conv drive is product → (permute + bias) in
 * one pass over memory.
 */
export interface PermuteArgs {
  B: number;
  F: number;
  P: number;
  /** true: from F × B·P into B × F·P; false: the reverse */
  toBatch: boolean;
  src: FBuf;
  dst: FBuf;
  /** toBatch only: dst[b, f, p] = src[f, b, p] + bias[f] (F entries); null: a plain copy */
  bias: FBuf | null;
}

export function permuteFBP(_k: Backend, a: PermuteArgs): void {
  const { B, F, P, toBatch } = a, s = a.src.a, d = a.dst.a;
  const bias = toBatch && a.bias ? a.bias.a : null;
  for (let f = 0; f < F; f++) {
    const bf = bias ? bias[f] : 0;
    for (let b = 0; b < B; b++) {
      const fbp = (f * B + b) * P, bfp = (b * F + f) * P;
      if (!toBatch) for (let p = 0; p < P; p++) d[fbp + p] = s[bfp + p];
      else if (bias) for (let p = 0; p < P; p++) d[bfp + p] = s[fbp + p] + bf;
      else for (let p = 0; p < P; p++) d[bfp + p] = s[fbp + p];
    }
  }
}

/**
 * A whole conv stage's product in the layout of its maps, one batch row at a time, so no layout change is needed:
 * the products of row b read and write the B × F·P maps in place (row b's F × P block), and row b's patches (C·kh·kw ×
 * P) live only in a small scratch buffer, in cache, instead of a C·kh·kw × B·P matrix in memory.
 *   'conv.forward'   y_b = W · patches(x_b) + bias (per channel)                      x: B × C·H·W in, y: B × F·P out
 *   'conv.backward'  x_b = col2im(Wᵀ · y_b) (the transposed convolution)             y: the error in, x: written
 *   'conv.grads'     gW = scale Σ_b y_b · patches(x_b)ᵀ,  gB = scale Σ_{b,p} y_b       y: the error, x: the input
 * W is F × C·kh·kw. The generic version goes through the backend's gemm with two per-row scratch buffers (patches
 * and one F × P block); a backend's own version may use only the first.
 */
export interface ConvArgs {
  g: ConvGeom;
  B: number;
  /** output channels */
  F: number;
  W: FBuf;
  /** the input maps (forward, grads) or the error sent down (backward, written) */
  x: FBuf;
  /** the drive (forward, written) or the error (backward, grads) */
  y: FBuf;
  /** forward: the bias added (null: none) */
  bias: FBuf | null;
  /** grads: the weight gradient (written) */
  gW: FBuf;
  /** grads: the bias gradient (written; null: none) */
  gB: FBuf | null;
  /** grads: gW = scale Σ …, gB = scale Σ … */
  scale: number;
  /** C·kh·kw × P */
  scratch: FBuf;
  /** F × P (the generic version's) */
  scratchY: FBuf;
}

/**
 * im2col (toCols) or col2im (adding; the caller zeroes x's row first) of batch row b: the patch entries are the
 * C·kh·kw rows of cols (row r's P output positions at r·rowStride + col0 …; default: a C·kh·kw × P matrix at 0)
 */
function rowPatches(g: ConvGeom, x: FloatArray, b: number, cols: FloatArray, toCols: boolean, rowStride = g.Ho * g.Wo, col0 = 0): void {
  const { C, H, W, kh, kw, stride, padH, padW, Ho, Wo } = g;
  const xb = b * C * H * W;
  for (let c = 0; c < C; c++)
    for (let p = 0; p < kh; p++)
      for (let q = 0; q < kw; q++) {
        const co = ((c * kh + p) * kw + q) * rowStride + col0, xo = xb + c * H * W;
        for (let i = 0; i < Ho; i++) {
          const y = i * stride + p - padH;
          const rowIn = y >= 0 && y < H;
          for (let j = 0; j < Wo; j++) {
            const xx = j * stride + q - padW;
            const inside = rowIn && xx >= 0 && xx < W;
            if (toCols) cols[co + i * Wo + j] = inside ? x[xo + y * W + xx] : 0;
            else if (inside) x[xo + y * W + xx] += cols[co + i * Wo + j];
          }
        }
      }
}

export function convForward(k: Backend, a: ConvArgs): void {
  const { g, B, F } = a, P = g.Ho * g.Wo, CKK = g.C * g.kh * g.kw;
  const bias = a.bias ? a.bias.a : null;
  for (let b = 0; b < B; b++) {
    rowPatches(g, a.x.a, b, a.scratch.a, true);
    k.gemm(false, false, F, P, CKK, 1, a.W, a.scratch, 0, a.scratchY);
    const s = a.scratchY.a, y = a.y.a, o = b * F * P;
    for (let f = 0; f < F; f++) {
      const bf = bias ? bias[f] : 0;
      for (let p = 0; p < P; p++) y[o + f * P + p] = s[f * P + p] + bf;
    }
  }
}

export function convBackward(k: Backend, a: ConvArgs): void {
  const { g, B, F } = a, P = g.Ho * g.Wo, CKK = g.C * g.kh * g.kw, CHW = g.C * g.H * g.W;
  a.x.a.fill(0, 0, B * CHW);
  for (let b = 0; b < B; b++) {
    copyRow(a.y.a, b * F * P, a.scratchY.a, F * P);
    k.gemm(true, false, CKK, P, F, 1, a.W, a.scratchY, 0, a.scratch);
    rowPatches(g, a.x.a, b, a.scratch.a, false);
  }
}

export function convGrads(k: Backend, a: ConvArgs): void {
  const { g, B, F, scale } = a, P = g.Ho * g.Wo, CKK = g.C * g.kh * g.kw;
  for (let b = 0; b < B; b++) {
    rowPatches(g, a.x.a, b, a.scratch.a, true);
    copyRow(a.y.a, b * F * P, a.scratchY.a, F * P);
    k.gemm(false, true, F, CKK, P, scale, a.scratchY, a.scratch, b === 0 ? 0 : 1, a.gW);
  }
  if (!a.gB) return;
  // inline: a double argument to a call V8 does not inline is boxed (16 bytes per step; test/le-alloc.test.ts)
  const y = a.y.a, gB = a.gB.a;
  for (let f = 0; f < F; f++) {
    let acc = 0;
    for (let b = 0; b < B; b++) {
      const o = (b * F + f) * P;
      for (let p = 0; p < P; p++) acc += y[o + p];
    }
    gB[f] = scale * acc;
  }
}

/** d[0..n) = s[o..o+n) (no subarray view: a step allocates nothing) */
function copyRow(s: FloatArray, o: number, d: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) d[i] = s[o + i];
}
