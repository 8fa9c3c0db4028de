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

/** y = x Wᵀ + b, W: out × in (as nn.Linear). */
export class Dense {
  readonly W: Param;
  readonly b: Param;
  readonly y: Arr;
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
      for (let i = 0; i < B; i++) {
        const xo = i * nIn;
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

/** nn.Conv1d(cIn, cOut, K, stride, padding): x is B × cIn × L, y is B × cOut × Lout. */
export class Conv1d {
  readonly W: Param;
  readonly b: Param;
  readonly y: Arr;
  readonly lOut: number;
  private x: Arr | null = null;
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
  ) {
    const k = 1 / Math.sqrt(cIn * K);
    this.W = param(`${name}.weight`, dtype, cOut * cIn * K, rng, k);
    this.b = param(`${name}.bias`, dtype, cOut, rng, k);
    this.lOut = Math.floor((lIn + 2 * pad - K) / stride) + 1;
    this.y = alloc(dtype, maxB * cOut * this.lOut);
  }
  params(): Param[] {
    return [this.W, this.b];
  }
  forward(x: Arr, B: number): Arr {
    this.x = x;
    const { cIn, cOut, K, stride, pad, lIn, lOut } = this;
    const W = this.W.value, bias = this.b.value, y = this.y;
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
