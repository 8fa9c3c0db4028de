/**
 * The MNIST-1D stock baselines (Greydanus 2020), as the GLE paper compares against them
 * (the reference GLE paper code's MNIST-1D baselines, §3.1 of the project's reference notes), trained by ordinary backprop on the 40-point inputs:
 *
 *  - mlp: 40-100-100-10, h1 = relu(W1 x), h2 = h1 + relu(W2 h1) (the residual), logits = W3 h2;
 *  - tcn (ConvBase): conv1d(1→25, k5, s2, p1) → relu → conv1d(25→25, k3, s2, p1) → relu → conv1d(25→25, k3, s2, p1)
 *    → relu → flatten (channel-major, 25·5 = 125) → linear 125→10;
 *  - gru: bidirectional GRU (input 1 per step, hidden 6, h₀ = 0) over the 40 points; the outputs of all steps of both
 *    directions (B × 40 × 12, flattened) → linear 480→10.
 *
 * Widths are parameters (hidden, channels) so "super" variants can be searched with a sweep. The shape's `gemm`
 * (chosen once, at construction) computes the dense and conv products; the GRU's recurrences stay plain loops.
 * Browser-safe.
 */
import type { Rng } from '../util/rng.js';
import { alloc, Conv1d, Dense, GRUDir, relu, reluBackward, type Arr, type DType, type Gemm, type Param } from './layers.js';

export type BaselineKind = 'mlp' | 'tcn' | 'gru';

export interface BaselineModel {
  readonly kind: BaselineKind;
  readonly nClasses: number;
  params(): Param[];
  /** logits, B × nClasses (a view of an internal buffer) */
  forward(x: Arr, B: number): Arr;
  /** sets every parameter's grad from dL/dlogits */
  backward(dLogits: Arr, B: number): void;
}

export interface BaselineShape {
  /** points per sample */
  L: number;
  nClasses: number;
  /** mlp: hidden width (100); gru: hidden size per direction (6) */
  hidden: number;
  /** tcn: channels per conv layer (25) */
  channels: number;
  maxB: number;
  dtype: DType;
  /**
   * the matrix product of the dense and conv layers (e.g. the native backend's OpenBLAS sgemm, float32 only);
   * absent/null: the layers' plain loops
   */
  gemm?: Gemm | null;
}

class Mlp implements BaselineModel {
  readonly kind = 'mlp' as const;
  readonly nClasses: number;
  private l1: Dense;
  private l2: Dense;
  private l3: Dense;
  private h2: Arr;
  private dh2: Arr;
  private dz2: Arr;
  private dh1: Arr;
  constructor(readonly s: BaselineShape, rng: Rng) {
    this.nClasses = s.nClasses;
    const H = s.hidden;
    this.l1 = new Dense('linear1', s.L, H, s.maxB, s.dtype, rng);
    this.l2 = new Dense('linear2', H, H, s.maxB, s.dtype, rng);
    this.l3 = new Dense('linear3', H, s.nClasses, s.maxB, s.dtype, rng);
    for (const l of [this.l1, this.l2, this.l3]) l.gemm = s.gemm ?? null;
    this.h2 = alloc(s.dtype, s.maxB * H);
    this.dh2 = alloc(s.dtype, s.maxB * H);
    this.dz2 = alloc(s.dtype, s.maxB * H);
    this.dh1 = alloc(s.dtype, s.maxB * H);
  }
  params(): Param[] {
    return [...this.l1.params(), ...this.l2.params(), ...this.l3.params()];
  }
  forward(x: Arr, B: number): Arr {
    const n = B * this.s.hidden;
    const h1 = this.l1.forward(x, B);
    relu(h1, n);
    const a2 = this.l2.forward(h1, B);
    relu(a2, n);
    for (let i = 0; i < n; i++) this.h2[i] = h1[i] + a2[i];
    return this.l3.forward(this.h2, B);
  }
  backward(d: Arr, B: number): void {
    const n = B * this.s.hidden;
    this.l3.backward(d, this.dh2, B);
    for (let i = 0; i < n; i++) this.dz2[i] = this.dh2[i];
    reluBackward(this.dz2, this.l2.y, n);
    this.l2.backward(this.dz2, this.dh1, B);
    for (let i = 0; i < n; i++) this.dh1[i] += this.dh2[i];
    reluBackward(this.dh1, this.l1.y, n);
    this.l1.backward(this.dh1, null, B);
  }
}

class ConvBase implements BaselineModel {
  readonly kind = 'tcn' as const;
  readonly nClasses: number;
  private c1: Conv1d;
  private c2: Conv1d;
  private c3: Conv1d;
  private lin: Dense;
  private d3: Arr;
  private d2: Arr;
  private d1: Arr;
  constructor(readonly s: BaselineShape, rng: Rng) {
    this.nClasses = s.nClasses;
    const C = s.channels;
    const g = s.gemm ?? null;
    this.c1 = new Conv1d('conv1', 1, C, 5, 2, 1, s.L, s.maxB, s.dtype, rng, g);
    this.c2 = new Conv1d('conv2', C, C, 3, 2, 1, this.c1.lOut, s.maxB, s.dtype, rng, g);
    this.c3 = new Conv1d('conv3', C, C, 3, 2, 1, this.c2.lOut, s.maxB, s.dtype, rng, g);
    this.lin = new Dense('linear', C * this.c3.lOut, s.nClasses, s.maxB, s.dtype, rng);
    this.lin.gemm = g;
    this.d3 = alloc(s.dtype, s.maxB * C * this.c3.lOut);
    this.d2 = alloc(s.dtype, s.maxB * C * this.c2.lOut);
    this.d1 = alloc(s.dtype, s.maxB * C * this.c1.lOut);
  }
  params(): Param[] {
    return [...this.c1.params(), ...this.c2.params(), ...this.c3.params(), ...this.lin.params()];
  }
  forward(x: Arr, B: number): Arr {
    const C = this.s.channels;
    const h1 = this.c1.forward(x, B);
    relu(h1, B * C * this.c1.lOut);
    const h2 = this.c2.forward(h1, B);
    relu(h2, B * C * this.c2.lOut);
    const h3 = this.c3.forward(h2, B);
    relu(h3, B * C * this.c3.lOut);
    return this.lin.forward(h3, B);
  }
  backward(d: Arr, B: number): void {
    const C = this.s.channels;
    this.lin.backward(d, this.d3, B);
    reluBackward(this.d3, this.c3.y, B * C * this.c3.lOut);
    this.c3.backward(this.d3, this.d2, B);
    reluBackward(this.d2, this.c2.y, B * C * this.c2.lOut);
    this.c2.backward(this.d2, this.d1, B);
    reluBackward(this.d1, this.c1.y, B * C * this.c1.lOut);
    this.c1.backward(this.d1, null, B);
  }
}

class BiGru implements BaselineModel {
  readonly kind = 'gru' as const;
  readonly nClasses: number;
  private fwd: GRUDir;
  private bwd: GRUDir;
  private lin: Dense;
  private out: Arr;
  private dOut: Arr;
  constructor(readonly s: BaselineShape, rng: Rng) {
    this.nClasses = s.nClasses;
    const H = s.hidden;
    this.fwd = new GRUDir('rnn', 1, H, s.L, s.maxB, false, s.dtype, rng);
    this.bwd = new GRUDir('rnn', 1, H, s.L, s.maxB, true, s.dtype, rng);
    this.lin = new Dense('linear', 2 * H * s.L, s.nClasses, s.maxB, s.dtype, rng);
    this.lin.gemm = s.gemm ?? null;
    this.out = alloc(s.dtype, s.maxB * s.L * 2 * H);
    this.dOut = alloc(s.dtype, s.maxB * s.L * 2 * H);
  }
  params(): Param[] {
    return [...this.fwd.params(), ...this.bwd.params(), ...this.lin.params()];
  }
  forward(x: Arr, B: number): Arr {
    const H = this.s.hidden;
    this.fwd.forward(x, B, this.out, 2 * H, 0);
    this.bwd.forward(x, B, this.out, 2 * H, H);
    return this.lin.forward(this.out, B);
  }
  backward(d: Arr, B: number): void {
    const H = this.s.hidden;
    this.lin.backward(d, this.dOut, B);
    this.fwd.backward(this.dOut, B, 2 * H, 0);
    this.bwd.backward(this.dOut, B, 2 * H, H);
  }
}

export function createBaseline(kind: BaselineKind, shape: BaselineShape, rng: Rng): BaselineModel {
  if (kind === 'mlp') return new Mlp(shape, rng);
  if (kind === 'tcn') return new ConvBase(shape, rng);
  return new BiGru(shape, rng);
}

/** What {@link crossEntropy} returns: the batch's mean loss and its count of argmax hits. */
export interface CrossEntropyResult {
  loss: number;
  correct: number;
}

/**
 * Mean cross-entropy over the batch (nn.CrossEntropyLoss) and its gradient dL/dlogits into `d` (may be null);
 * `correct` counts argmax hits. The result goes into `out` (pass a preallocated record in a training loop, so a step
 * allocates nothing) and is returned.
 */
export function crossEntropy(logits: Arr, labels: ArrayLike<number>, off: number, B: number, C: number, d: Arr | null, out: CrossEntropyResult = { loss: 0, correct: 0 }): CrossEntropyResult {
  let loss = 0, correct = 0;
  for (let i = 0; i < B; i++) {
    const o = i * C;
    let m = -Infinity, arg = 0;
    for (let j = 0; j < C; j++) if (logits[o + j] > m) (m = logits[o + j]), (arg = j);
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(logits[o + j] - m);
    const y = labels[off + i];
    loss += Math.log(s) + m - logits[o + y];
    if (arg === y) correct++;
    if (d) for (let j = 0; j < C; j++) d[o + j] = (Math.exp(logits[o + j] - m) / s - (j === y ? 1 : 0)) / B;
  }
  out.loss = loss / B;
  out.correct = correct;
  return out;
}

/** torch.optim.Adam (betas 0.9/0.999, eps 1e-8, L2 weight decay added to the gradient). */
export class Adam {
  readonly m: Arr[];
  readonly v: Arr[];
  t = 0;
  constructor(readonly params: Param[], public lr: number, readonly weightDecay = 0, readonly b1 = 0.9, readonly b2 = 0.999, readonly eps = 1e-8) {
    this.m = params.map((p) => alloc(p.value instanceof Float64Array ? 'float64' : 'float32', p.value.length));
    this.v = params.map((p) => alloc(p.value instanceof Float64Array ? 'float64' : 'float32', p.value.length));
  }
  step(): void {
    this.t++;
    const { b1, b2, eps, lr, weightDecay } = this;
    const c1 = 1 - Math.pow(b1, this.t), c2 = 1 - Math.pow(b2, this.t);
    const stepSize = lr / c1, sc2 = Math.sqrt(c2);
    for (let q = 0; q < this.params.length; q++) {
      const p = this.params[q].value, g = this.params[q].grad, m = this.m[q], v = this.v[q];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i] + weightDecay * p[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / sc2 + eps);
      }
    }
  }
}

/** torch.optim.SGD with momentum (dampening 0, no Nesterov): buf = μ·buf + g (buf = g at the first step), p −= lr·buf. */
export class Sgd {
  readonly buf: Arr[];
  t = 0;
  constructor(readonly params: Param[], public lr: number, readonly momentum = 0, readonly weightDecay = 0) {
    this.buf = params.map((p) => alloc(p.value instanceof Float64Array ? 'float64' : 'float32', p.value.length));
  }
  step(): void {
    const { lr, momentum: mu, weightDecay: wd } = this;
    const first = this.t === 0;
    this.t++;
    for (let q = 0; q < this.params.length; q++) {
      const p = this.params[q].value, g = this.params[q].grad, b = this.buf[q];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i] + wd * p[i];
        const v = mu === 0 ? gi : first ? gi : mu * b[i] + gi;
        b[i] = v;
        p[i] -= lr * v;
      }
    }
  }
}
