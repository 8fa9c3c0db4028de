/**
 * Small layers for the backprop baselines (MNIST-1D MLP, ConvBase/TCN, bidirectional GRU), each with a
 * hand-written backward pass. Self-contained: no dependence on the GLE core. Browser-safe (no node: imports).
 *
 * Conventions: activations are batch-major row-major typed arrays (float32 by default, float64 for the
 * finite-difference tests); buffers are allocated once for the largest batch (`maxB`) and reused, so a training
 * step allocates nothing. `forward(x, B)` keeps what `backward` needs; `backward(dy, dx, B)` *sets* the parameter
 * gradients of this batch (one optimiser step per batch) and writes dL/dx into `dx` unless it is null.
 * Initialisation is PyTorch's default: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (nn.Linear,
 * nn.Conv1d with fan_in = in_channels · kernel) and U(-1/sqrt(H), 1/sqrt(H)) for every GRU tensor.
 */
import type { Rng } from '../util/rng.js';

export type Arr = Float32Array | Float64Array;
export type DType = 'float32' | 'float64';

export function alloc(dtype: DType, n: number): Arr {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** A trainable tensor and its gradient. */
export interface Param {
  name: string;
  value: Arr;
  grad: Arr;
}

function param(name: string, dtype: DType, n: number, rng: Rng, bound: number): Param {
  const value = alloc(dtype, n);
  for (let i = 0; i < n; i++) value[i] = rng.range(-bound, bound);
  return { name, value, grad: alloc(dtype, n) };
}

/**
 * y = x Wᵀ + b, W: out × in (as nn.Linear). With `feedback` set (nIn × nOut, the layout of src/learn/alignment.ts:
 * B = Wᵀ is backprop) the error sent down is dx = dy Bᵀ instead of dy W: feedback alignment (a fixed random B) or
 * a learned B. The parameter gradients are unchanged.
 */
export class Dense {
  readonly W: Param;
  readonly b: Param;
  readonly y: Arr;
  /** nIn × nOut feedback weights used for dx instead of Wᵀ; null: backprop */
  feedback: Arr | null = null;
  /** compute the three products with this matrix product instead of the plain loops below (e.g. OpenBLAS) */
  gemm: Gemm | null = null;
  private x: Arr | null = null;
  constructor(name: string, readonly nIn: number, readonly nOut: number, readonly maxB: number, dtype: DType, rng: Rng) {
    const k = 1 / Math.sqrt(nIn);
    this.W = param(`${name}.weight`, dtype, nOut * nIn, rng, k);
    this.b = param(`${name}.bias`, dtype, nOut, rng, k);
    this.y = alloc(dtype, maxB * nOut);
  }
  params(): Param[] {
    return [this.W, this.b];
  }
  forward(x: Arr, B: number): Arr {
    this.x = x;
    const { nIn, nOut } = this;
    const W = this.W.value, bias = this.b.value, y = this.y;
    if (this.gemm) {
      this.gemm(false, true, B, nOut, nIn, x, W, 0, y);
      for (let i = 0; i < B; i++) for (let o = 0; o < nOut; o++) y[i * nOut + o] += bias[o];
      return y;
    }
    for (let i = 0; i < B; i++) {
      const xo = i * nIn;
      for (let o = 0; o < nOut; o++) {
        let s = bias[o];
        const wo = o * nIn;
        for (let j = 0; j < nIn; j++) s += W[wo + j] * x[xo + j];
        y[i * nOut + o] = s;
      }
    }
    return y;
  }
  backward(dy: Arr, dx: Arr | null, B: number): void {
    const { nIn, nOut } = this;
    const x = this.x!;
    const W = this.W.value, gW = this.W.grad, gb = this.b.grad;
    gW.fill(0);
    gb.fill(0);
    if (this.gemm) {
      for (let i = 0; i < B; i++) for (let o = 0; o < nOut; o++) gb[o] += dy[i * nOut + o];
      this.gemm(true, false, nOut, nIn, B, dy, x, 0, gW);
      if (dx) {
        if (this.feedback) this.gemm(false, true, B, nIn, nOut, dy, this.feedback, 0, dx);
        else this.gemm(false, false, B, nIn, nOut, dy, W, 0, dx);
      }
      return;
    }
    for (let i = 0; i < B; i++) {
      const xo = i * nIn;
      for (let o = 0; o < nOut; o++) {
        const g = dy[i * nOut + o];
        if (g === 0) continue;
        gb[o] += g;
        const wo = o * nIn;
        for (let j = 0; j < nIn; j++) gW[wo + j] += g * x[xo + j];
      }
    }
    if (dx) {
      dx.fill(0, 0, B * nIn);
      const F = this.feedback;
      for (let i = 0; i < B; i++) {
        const xo = i * nIn;
        if (F) {
          const yo = i * nOut;
          for (let j = 0; j < nIn; j++) {
            let s = 0;
            const fo = j * nOut;
            for (let o = 0; o < nOut; o++) s += F[fo + o] * dy[yo + o];
            dx[xo + j] = s;
          }
          continue;
        }
        for (let o = 0; o < nOut; o++) {
          const g = dy[i * nOut + o];
          if (g === 0) continue;
          const wo = o * nIn;
          for (let j = 0; j < nIn; j++) dx[xo + j] += g * W[wo + j];
        }
      }
    }
  }
}

/** In-place ReLU forward keeps a copy of its output; backward masks dy where the output was 0. */
export function relu(a: Arr, n: number): void {
  for (let i = 0; i < n; i++) if (a[i] < 0) a[i] = 0;
}
export function reluBackward(dy: Arr, y: Arr, n: number): void {
  for (let i = 0; i < n; i++) if (y[i] <= 0) dy[i] = 0;
}

/**
 * The im2col product's channel-major layout (cOut × B·P) back to batch-major (B × cOut × P), adding the bias (null:
 * none): y[b, o, p] = Yt[o, b·P + p] + bias[o].
 */
function fromChannelMajor(Yt: Arr, y: Arr, bias: Arr | null, cOut: number, B: number, P: number): void {
  const BP = B * P;
  for (let o = 0; o < cOut; o++) {
    const bo = bias ? bias[o] : 0;
    for (let b = 0; b < B; b++) {
      const src = o * BP + b * P, dst = (b * cOut + o) * P;
      for (let p = 0; p < P; p++) y[dst + p] = Yt[src + p] + bo;
    }
  }
}

/** The reverse for the error, dY[o, b·P + p] = dy[b, o, p], and the bias gradient gb[o] = Σ_b,p dY (gb null: none). */
function toChannelMajor(dy: Arr, dY: Arr, gb: Arr | null, cOut: number, B: number, P: number): void {
  const BP = B * P;
  for (let o = 0; o < cOut; o++) {
    let s = 0;
    for (let b = 0; b < B; b++) {
      const dst = o * BP + b * P, src = (b * cOut + o) * P;
      for (let p = 0; p < P; p++) s += dY[dst + p] = dy[src + p];
    }
    if (gb) gb[o] = s;
  }
}

/**
 * nn.Conv1d(cIn, cOut, K, stride, padding) with bias: x is B × cIn × lIn, y is B × cOut × lOut. Without `gemm` the
 * plain loops below; with one (e.g. the native backend's OpenBLAS sgemm) im2col and one product per pass, as
 * {@link Conv2d}: col (cIn·K × B·lOut, zeros where a tap falls in the padding) is kept from the forward pass for the
 * weight gradient. The two paths compute the same sums in different orders (float32 results differ in the last bits).
 */
export class Conv1d {
  readonly W: Param;
  readonly b: Param;
  readonly y: Arr;
  readonly lOut: number;
  private x: Arr | null = null;
  /** im2col buffers, allocated once at construction when `gemm` is given */
  private readonly col: Arr | null;
  private readonly dcol: Arr | null;
  private readonly dY: Arr | null;
  constructor(
    name: string,
    readonly cIn: number,
    readonly cOut: number,
    readonly K: number,
    readonly stride: number,
    readonly pad: number,
    readonly lIn: number,
    readonly maxB: number,
    dtype: DType,
    rng: Rng,
    readonly gemm: Gemm | null = null,
  ) {
    const k = 1 / Math.sqrt(cIn * K);
    this.W = param(`${name}.weight`, dtype, cOut * cIn * K, rng, k);
    this.b = param(`${name}.bias`, dtype, cOut, rng, k);
    this.lOut = Math.floor((lIn + 2 * pad - K) / stride) + 1;
    this.y = alloc(dtype, maxB * cOut * this.lOut);
    const BL = maxB * this.lOut;
    this.col = gemm ? alloc(dtype, cIn * K * BL) : null;
    this.dcol = gemm ? alloc(dtype, cIn * K * BL) : null;
    this.dY = gemm ? alloc(dtype, cOut * BL) : null;
  }
  params(): Param[] {
    return [this.W, this.b];
  }
  forward(x: Arr, B: number): Arr {
    this.x = x;
    const { cIn, cOut, K, stride, pad, lIn, lOut } = this;
    const W = this.W.value, bias = this.b.value, y = this.y;
    if (this.gemm) {
      // Yt (cOut × B·lOut) = W (cOut × cIn·K) · col, then y[b, o, t] = Yt[o, b·lOut + t] + bias[o]
      const Yt = this.dY!;
      this.patches(x, this.col!, B, true);
      this.gemm(false, false, cOut, B * lOut, cIn * K, W, this.col!, 0, Yt);
      fromChannelMajor(Yt, y, bias, cOut, B, lOut);
      return y;
    }
    for (let i = 0; i < B; i++) {
      const xb = i * cIn * lIn;
      for (let o = 0; o < cOut; o++) {
        const yo = (i * cOut + o) * lOut;
        for (let t = 0; t < lOut; t++) {
          let s = bias[o];
          const p0 = t * stride - pad;
          for (let c = 0; c < cIn; c++) {
            const wb = (o * cIn + c) * K, xc = xb + c * lIn;
            for (let k = 0; k < K; k++) {
              const p = p0 + k;
              if (p >= 0 && p < lIn) s += W[wb + k] * x[xc + p];
            }
          }
          y[yo + t] = s;
        }
      }
    }
    return y;
  }
  backward(dy: Arr, dx: Arr | null, B: number): void {
    const { cIn, cOut, K, stride, pad, lIn, lOut } = this;
    const x = this.x!;
    const W = this.W.value, gW = this.W.grad, gb = this.b.grad;
    if (this.gemm) {
      const BL = B * lOut, dY = this.dY!;
      toChannelMajor(dy, dY, gb, cOut, B, lOut);
      // gW (cOut × cIn·K) = dY · colᵀ; dcol (cIn·K × B·lOut) = Wᵀ dY, then col2im
      this.gemm(false, true, cOut, cIn * K, BL, dY, this.col!, 0, gW);
      if (!dx) return;
      this.gemm(true, false, cIn * K, BL, cOut, W, dY, 0, this.dcol!);
      dx.fill(0, 0, B * cIn * lIn);
      this.patches(dx, this.dcol!, B, false);
      return;
    }
    gW.fill(0);
    gb.fill(0);
    if (dx) dx.fill(0, 0, B * cIn * lIn);
    for (let i = 0; i < B; i++) {
      const xb = i * cIn * lIn;
      for (let o = 0; o < cOut; o++) {
        const yo = (i * cOut + o) * lOut;
        for (let t = 0; t < lOut; t++) {
          const g = dy[yo + t];
          if (g === 0) continue;
          gb[o] += g;
          const p0 = t * stride - pad;
          for (let c = 0; c < cIn; c++) {
            const wb = (o * cIn + c) * K, xc = xb + c * lIn;
            for (let k = 0; k < K; k++) {
              const p = p0 + k;
              if (p < 0 || p >= lIn) continue;
              gW[wb + k] += g * x[xc + p];
              if (dx) dx[xc + p] += g * W[wb + k];
            }
          }
        }
      }
    }
  }
  /**
   * im2col (toCols: col[(c·K + k), b·lOut + t] = x[b, c, t·stride − pad + k], 0 in the padding) or col2im (col added
   * into x, padding taps dropped) over the first B batch rows.
   */
  private patches(x: Arr, col: Arr, B: number, toCols: boolean): void {
    const { cIn, K, stride, pad, lIn, lOut } = this;
    const BL = B * lOut;
    for (let c = 0; c < cIn; c++)
      for (let k = 0; k < K; k++) {
        const ro = (c * K + k) * BL;
        for (let b = 0; b < B; b++) {
          const xo = (b * cIn + c) * lIn, co = ro + b * lOut;
          for (let t = 0; t < lOut; t++) {
            const p = t * stride - pad + k;
            const inside = p >= 0 && p < lIn;
            if (toCols) col[co + t] = inside ? x[xo + p] : 0;
            else if (inside) x[xo + p] += col[co + t];
          }
        }
      }
  }
}

function sigmoid(a: number): number {
  return a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a));
}

/**
 * One direction of nn.GRU (input size 1 per step here: `nIn` general), gate order r, z, n as PyTorch:
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz),
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h,   h₀ = 0.
 * Input x is B × T × nIn; the states go to `out` (B × T × outStride at column offset `outOff`), so two directions
 * fill one B × T × 2H array as nn.GRU(bidirectional=True) does. `reverse` runs t = T−1 … 0.
 */
export class GRUDir {
  readonly Wih: Param;
  readonly Whh: Param;
  readonly bih: Param;
  readonly bhh: Param;
  // per (t, b): gates r, z, n, the hidden-side n pre-activation (W_hn h + b_hn), and the previous state
  private r: Arr;
  private z: Arr;
  private n: Arr;
  private hn: Arr;
  private hPrev: Arr;
  private h: Arr;
  private dh: Arr;
  private dhNext: Arr;
  private gi: Arr;
  private gh: Arr;
  private x: Arr | null = null;
  constructor(
    name: string,
    readonly nIn: number,
    readonly H: number,
    readonly T: number,
    readonly maxB: number,
    readonly reverse: boolean,
    dtype: DType,
    rng: Rng,
  ) {
    const k = 1 / Math.sqrt(H);
    const sfx = reverse ? '_reverse' : '';
    this.Wih = param(`${name}.weight_ih_l0${sfx}`, dtype, 3 * H * nIn, rng, k);
    this.Whh = param(`${name}.weight_hh_l0${sfx}`, dtype, 3 * H * H, rng, k);
    this.bih = param(`${name}.bias_ih_l0${sfx}`, dtype, 3 * H, rng, k);
    this.bhh = param(`${name}.bias_hh_l0${sfx}`, dtype, 3 * H, rng, k);
    const n = T * maxB * H;
    this.r = alloc(dtype, n);
    this.z = alloc(dtype, n);
    this.n = alloc(dtype, n);
    this.hn = alloc(dtype, n);
    this.hPrev = alloc(dtype, n);
    this.h = alloc(dtype, maxB * H);
    this.dh = alloc(dtype, maxB * H);
    this.dhNext = alloc(dtype, maxB * H);
    this.gi = alloc(dtype, 3 * H);
    this.gh = alloc(dtype, 3 * H);
  }
  params(): Param[] {
    return [this.Wih, this.Whh, this.bih, this.bhh];
  }
  forward(x: Arr, B: number, out: Arr, outStride: number, outOff: number): void {
    this.x = x;
    const { nIn, H, T } = this;
    const Wih = this.Wih.value, Whh = this.Whh.value, bih = this.bih.value, bhh = this.bhh.value;
    const h = this.h;
    h.fill(0, 0, B * H);
    for (let s = 0; s < T; s++) {
      const t = this.reverse ? T - 1 - s : s;
      for (let i = 0; i < B; i++) {
        const xo = (i * T + t) * nIn, ho = i * H, so = (t * this.maxB + i) * H;
        for (let j = 0; j < H; j++) this.hPrev[so + j] = h[ho + j];
        for (let j = 0; j < H; j++) {
          let ar = bih[j] + bhh[j], az = bih[H + j] + bhh[H + j], ain = bih[2 * H + j], ahn = bhh[2 * H + j];
          for (let c = 0; c < nIn; c++) {
            const xv = x[xo + c];
            ar += Wih[j * nIn + c] * xv;
            az += Wih[(H + j) * nIn + c] * xv;
            ain += Wih[(2 * H + j) * nIn + c] * xv;
          }
          for (let k = 0; k < H; k++) {
            const hv = this.hPrev[so + k];
            ar += Whh[j * H + k] * hv;
            az += Whh[(H + j) * H + k] * hv;
            ahn += Whh[(2 * H + j) * H + k] * hv;
          }
          const r = sigmoid(ar), z = sigmoid(az);
          const n = Math.tanh(ain + r * ahn);
          this.r[so + j] = r;
          this.z[so + j] = z;
          this.n[so + j] = n;
          this.hn[so + j] = ahn;
          h[ho + j] = (1 - z) * n + z * this.hPrev[so + j];
        }
        const oo = (i * T + t) * outStride + outOff;
        for (let j = 0; j < H; j++) out[oo + j] = h[ho + j];
      }
    }
  }
  /** dOut: dL/d(out) in the same layout as forward's `out`; sets the gradients; dx unused (input is data). */
  backward(dOut: Arr, B: number, outStride: number, outOff: number): void {
    const { nIn, H, T } = this;
    const x = this.x!;
    const Whh = this.Whh.value;
    const gWih = this.Wih.grad, gWhh = this.Whh.grad, gbih = this.bih.grad, gbhh = this.bhh.grad;
    gWih.fill(0);
    gWhh.fill(0);
    gbih.fill(0);
    gbhh.fill(0);
    const dh = this.dh, dhNext = this.dhNext, gi = this.gi, gh = this.gh;
    dhNext.fill(0, 0, B * H);
    for (let s = T - 1; s >= 0; s--) {
      const t = this.reverse ? T - 1 - s : s;
      for (let i = 0; i < B; i++) {
        const ho = i * H, so = (t * this.maxB + i) * H, oo = (i * T + t) * outStride + outOff, xo = (i * T + t) * nIn;
        for (let j = 0; j < H; j++) dh[ho + j] = dOut[oo + j] + dhNext[ho + j];
        for (let j = 0; j < H; j++) {
          const g = dh[ho + j];
          const r = this.r[so + j], z = this.z[so + j], n = this.n[so + j], hp = this.hPrev[so + j];
          const dn = g * (1 - z);
          const dz = g * (hp - n);
          const dan = dn * (1 - n * n);
          const dr = dan * this.hn[so + j];
          gi[j] = dr * r * (1 - r);
          gi[H + j] = dz * z * (1 - z);
          gi[2 * H + j] = dan;
          gh[j] = gi[j];
          gh[H + j] = gi[H + j];
          gh[2 * H + j] = dan * r;
          dhNext[ho + j] = g * z; // the direct path h' = ... + z ⊙ h
        }
        for (let q = 0; q < 3 * H; q++) {
          const a = gi[q], b = gh[q];
          gbih[q] += a;
          gbhh[q] += b;
          for (let c = 0; c < nIn; c++) gWih[q * nIn + c] += a * x[xo + c];
          for (let k = 0; k < H; k++) {
            gWhh[q * H + k] += b * this.hPrev[so + k];
            dhNext[ho + k] += b * Whh[q * H + k];
          }
        }
      }
    }
  }
}

/**
 * C = op(A) op(B) + beta · C (row-major; op(A) is M × K, op(B) is K × N; tA: A is stored K × M, tB: B is stored
 * N × K; beta 0 or 1), over the first M·N entries of C. {@link jsGemm} is the plain-loop version; a caller may pass
 * a faster one (e.g. the native backend's OpenBLAS sgemm, float32 only) to the layers that take one.
 */
export type Gemm = (tA: boolean, tB: boolean, M: number, N: number, K: number, A: Arr, B: Arr, beta: 0 | 1, C: Arr) => void;

export const jsGemm: Gemm = (tA, tB, M, N, K, A, Bm, beta, C) => {
  if (beta === 0) C.fill(0, 0, M * N);
  if (!tB) {
    // C[i, :] += a_ik B[k, :]
    for (let i = 0; i < M; i++) {
      const co = i * N;
      for (let k = 0; k < K; k++) {
        const a = tA ? A[k * M + i] : A[i * K + k];
        if (a === 0) continue;
        const bo = k * N;
        for (let j = 0; j < N; j++) C[co + j] += a * Bm[bo + j];
      }
    }
    return;
  }
  // B stored N × K: C[i, j] += Σ_k a_ik B[j, k]
  for (let i = 0; i < M; i++) {
    const co = i * N;
    for (let j = 0; j < N; j++) {
      const bo = j * K;
      let s = 0;
      if (tA) for (let k = 0; k < K; k++) s += A[k * M + i] * Bm[bo + k];
      else {
        const ao = i * K;
        for (let k = 0; k < K; k++) s += A[ao + k] * Bm[bo + k];
      }
      C[co + j] += s;
    }
  }
};

/**
 * nn.Conv2d(cIn, cOut, K) with stride 1 and no padding ("valid"), bias optional: x is B × cIn × H × W, y is
 * B × cOut × (H−K+1) × (W−K+1). Computed by im2col and one product per pass: col (cIn·K·K × B·P, P = output
 * pixels) is kept from the forward pass for the weight gradient. With `feedback` (cOut × cIn·K·K, W's layout) the
 * error sent down uses it instead of W (feedback alignment in a conv layer). Init as PyTorch (fan_in = cIn·K·K).
 */
export class Conv2d {
  readonly W: Param;
  readonly b: Param | null;
  readonly y: Arr;
  readonly hOut: number;
  readonly wOut: number;
  feedback: Arr | null = null;
  private readonly col: Arr;
  private readonly dY: Arr;
  private readonly dcol: Arr;
  constructor(
    name: string,
    readonly cIn: number,
    readonly cOut: number,
    readonly K: number,
    readonly hIn: number,
    readonly wIn: number,
    readonly maxB: number,
    dtype: DType,
    rng: Rng,
    bias = true,
    public gemm: Gemm = jsGemm,
  ) {
    if (K > hIn || K > wIn) throw new Error(`Conv2d ${name}: kernel ${K} larger than the input ${hIn} × ${wIn}`);
    const k = 1 / Math.sqrt(cIn * K * K);
    this.W = param(`${name}.weight`, dtype, cOut * cIn * K * K, rng, k);
    this.b = bias ? param(`${name}.bias`, dtype, cOut, rng, k) : null;
    this.hOut = hIn - K + 1;
    this.wOut = wIn - K + 1;
    const P = this.hOut * this.wOut, CKK = cIn * K * K;
    this.y = alloc(dtype, maxB * cOut * P);
    this.col = alloc(dtype, CKK * maxB * P);
    this.dcol = alloc(dtype, CKK * maxB * P);
    this.dY = alloc(dtype, cOut * maxB * P);
  }
  get kernelArea(): number {
    return this.K * this.K;
  }
  params(): Param[] {
    return this.b ? [this.W, this.b] : [this.W];
  }
  forward(x: Arr, B: number): Arr {
    const { cIn, cOut, K, hOut, wOut, col, dY: Yt, y } = this;
    const P = hOut * wOut, BP = B * P, CKK = cIn * K * K;
    this.patches(x, col, B, true);
    // Yt (cOut × B·P) = W · col, then y[b, o, p] = Yt[o, b·P + p] (+ bias)
    this.gemm(false, false, cOut, BP, CKK, this.W.value, col, 0, Yt);
    fromChannelMajor(Yt, y, this.b?.value ?? null, cOut, B, P);
    return y;
  }
  backward(dy: Arr, dx: Arr | null, B: number): void {
    const { cIn, cOut, K, hIn, wIn, hOut, wOut, col, dY, dcol } = this;
    const P = hOut * wOut, BP = B * P, CKK = cIn * K * K;
    toChannelMajor(dy, dY, this.b?.grad ?? null, cOut, B, P);
    // gW (cOut × CKK) = dY · colᵀ
    this.gemm(false, true, cOut, CKK, BP, dY, col, 0, this.W.grad);
    if (!dx) return;
    // dcol (CKK × B·P) = Fᵀ dY, then col2im
    this.gemm(true, false, CKK, BP, cOut, this.feedback ?? this.W.value, dY, 0, dcol);
    dx.fill(0, 0, B * cIn * hIn * wIn);
    this.patches(dx, dcol, B, false);
  }
  /** im2col (toCols: col = the patches of x) or col2im (col added into x) over the first B batch rows */
  private patches(x: Arr, col: Arr, B: number, toCols: boolean): void {
    const { cIn, K, hIn, wIn, hOut, wOut } = this;
    const P = hOut * wOut, BP = B * P;
    for (let c = 0; c < cIn; c++)
      for (let ki = 0; ki < K; ki++)
        for (let kj = 0; kj < K; kj++) {
          const ro = ((c * K + ki) * K + kj) * BP;
          for (let b = 0; b < B; b++) {
            const xo = (b * cIn + c) * hIn * wIn;
            for (let oh = 0; oh < hOut; oh++) {
              const xr = xo + (oh + ki) * wIn + kj, co = ro + b * P + oh * wOut;
              if (toCols) for (let ow = 0; ow < wOut; ow++) col[co + ow] = x[xr + ow];
              else for (let ow = 0; ow < wOut; ow++) x[xr + ow] += col[co + ow];
            }
          }
        }
  }
}

/**
 * nn.BatchNorm1d(C) (inner = 1, x is B × C) or nn.BatchNorm2d(C) (inner = H·W, x is B × C × H × W): in training
 * mode normalised by the batch's mean and (biased) variance per channel, running statistics updated with momentum
 * 0.1 (unbiased variance, as PyTorch); in eval mode by the running statistics. γ = 1, β = 0 at init, eps 1e-5.
 */
export class BatchNorm {
  readonly gamma: Param;
  readonly beta: Param;
  readonly runMean: Float64Array;
  readonly runVar: Float64Array;
  readonly y: Arr;
  training = true;
  private readonly xhat: Arr;
  private readonly invStd: Float64Array;
  constructor(name: string, readonly C: number, readonly inner: number, readonly maxB: number, dtype: DType, readonly eps = 1e-5, readonly momentum = 0.1) {
    this.gamma = { name: `${name}.weight`, value: alloc(dtype, C).fill(1), grad: alloc(dtype, C) };
    this.beta = { name: `${name}.bias`, value: alloc(dtype, C), grad: alloc(dtype, C) };
    this.runMean = new Float64Array(C);
    this.runVar = new Float64Array(C).fill(1);
    this.y = alloc(dtype, maxB * C * inner);
    this.xhat = alloc(dtype, maxB * C * inner);
    this.invStd = new Float64Array(C);
  }
  params(): Param[] {
    return [this.gamma, this.beta];
  }
  forward(x: Arr, B: number): Arr {
    const { C, inner, y, xhat, invStd } = this;
    const g = this.gamma.value, be = this.beta.value, N = B * inner;
    for (let c = 0; c < C; c++) {
      let mean: number, istd: number;
      if (this.training) {
        let s = 0;
        for (let b = 0; b < B; b++) {
          const o = (b * C + c) * inner;
          for (let k = 0; k < inner; k++) s += x[o + k];
        }
        mean = s / N;
        let v = 0;
        for (let b = 0; b < B; b++) {
          const o = (b * C + c) * inner;
          for (let k = 0; k < inner; k++) v += (x[o + k] - mean) ** 2;
        }
        v /= N;
        istd = 1 / Math.sqrt(v + this.eps);
        const m = this.momentum;
        this.runMean[c] = (1 - m) * this.runMean[c] + m * mean;
        this.runVar[c] = (1 - m) * this.runVar[c] + m * (N > 1 ? (v * N) / (N - 1) : v);
      } else {
        mean = this.runMean[c];
        istd = 1 / Math.sqrt(this.runVar[c] + this.eps);
      }
      invStd[c] = istd;
      for (let b = 0; b < B; b++) {
        const o = (b * C + c) * inner;
        for (let k = 0; k < inner; k++) {
          const h = (x[o + k] - mean) * istd;
          xhat[o + k] = h;
          y[o + k] = g[c] * h + be[c];
        }
      }
    }
    return y;
  }
  /** training-mode backward (through the batch statistics); sets dγ, dβ and writes dx */
  backward(dy: Arr, dx: Arr, B: number): void {
    const { C, inner, xhat, invStd } = this;
    const g = this.gamma.value, gg = this.gamma.grad, gbe = this.beta.grad, N = B * inner;
    for (let c = 0; c < C; c++) {
      let sdy = 0, sdyx = 0;
      for (let b = 0; b < B; b++) {
        const o = (b * C + c) * inner;
        for (let k = 0; k < inner; k++) {
          sdy += dy[o + k];
          sdyx += dy[o + k] * xhat[o + k];
        }
      }
      gg[c] = sdyx;
      gbe[c] = sdy;
      const f = (g[c] * invStd[c]) / N;
      for (let b = 0; b < B; b++) {
        const o = (b * C + c) * inner;
        for (let k = 0; k < inner; k++) dx[o + k] = f * (N * dy[o + k] - sdy - xhat[o + k] * sdyx);
      }
    }
  }
}

/** nn.MaxPool2d(2): x is B × C × H × W (H, W even or the last row/column dropped), y is B × C × ⌊H/2⌋ × ⌊W/2⌋. */
export class MaxPool2d {
  readonly y: Arr;
  readonly hOut: number;
  readonly wOut: number;
  private readonly arg: Int32Array;
  constructor(readonly C: number, readonly hIn: number, readonly wIn: number, readonly maxB: number, dtype: DType) {
    this.hOut = Math.floor(hIn / 2);
    this.wOut = Math.floor(wIn / 2);
    this.y = alloc(dtype, maxB * C * this.hOut * this.wOut);
    this.arg = new Int32Array(maxB * C * this.hOut * this.wOut);
  }
  forward(x: Arr, B: number): Arr {
    const { C, hIn, wIn, hOut, wOut, y, arg } = this;
    for (let bc = 0; bc < B * C; bc++) {
      const xo = bc * hIn * wIn, yo = bc * hOut * wOut;
      for (let i = 0; i < hOut; i++)
        for (let j = 0; j < wOut; j++) {
          const q0 = xo + 2 * i * wIn + 2 * j;
          let best = q0, m = x[q0];
          if (x[q0 + 1] > m) (m = x[q0 + 1]), (best = q0 + 1);
          if (x[q0 + wIn] > m) (m = x[q0 + wIn]), (best = q0 + wIn);
          if (x[q0 + wIn + 1] > m) (m = x[q0 + wIn + 1]), (best = q0 + wIn + 1);
          y[yo + i * wOut + j] = m;
          arg[yo + i * wOut + j] = best;
        }
    }
    return y;
  }
  backward(dy: Arr, dx: Arr, B: number): void {
    const { C, hIn, wIn, hOut, wOut, arg } = this;
    dx.fill(0, 0, B * C * hIn * wIn);
    const n = B * C * hOut * wOut;
    for (let q = 0; q < n; q++) dx[arg[q]] += dy[q];
  }
}
