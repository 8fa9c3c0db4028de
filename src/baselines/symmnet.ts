/**
 * SymmNet (SAL §3.4): Conv(C→64, k5, no bias)–ReLU–BN–MaxPool2 ×2 → FC (64·s·s)→384–ReLU–BN → 384→192–ReLU–BN →
 * 192→10 (softmax cross-entropy), trained by backprop with a feedback mode per layer group:
 *
 *   bp        every layer sends its error down through Wᵀ
 *   fa        fixed random feedback B in the conv and the FC layers (feedback alignment)
 *   bp_w_fa   Wᵀ in the FC layers, fixed random B in the conv layers (the bound for FC-only symmetrisers)
 *   sal       as bp_w_fa but the FC feedback starts random and is learned (by the spiking SALNet phase, see
 *             src/experiments/sal-symmnet.ts): the model only holds the B the caller sets
 *
 * FC feedback is stored nIn × nOut (src/learn/alignment.ts's layout), conv feedback in W's layout. Random B are drawn
 * like the weights (U(±1/√fan_in)). Browser-safe.
 */
import type { Rng } from '../util/rng.js';
import { alloc, BatchNorm, Conv2d, Dense, jsGemm, MaxPool2d, relu, reluBackward, type Arr, type DType, type Gemm, type Param } from './layers.js';

export type FeedbackMode = 'bp' | 'fa' | 'bp_w_fa' | 'sal';
export const FEEDBACK_MODES: readonly FeedbackMode[] = ['bp', 'fa', 'bp_w_fa', 'sal'];

export interface SymmNetShape {
  channels: number;
  /** input height = width (28 for MNIST, 32 for CIFAR/SVHN) */
  size: number;
  /** conv channels (64) */
  convChannels: number;
  /** FC widths after the flatten (384, 192) and the classes (10) */
  fc: [number, number, number];
  kernel: number;
  maxB: number;
  dtype: DType;
}

export const SYMMNET_MNIST: Omit<SymmNetShape, 'maxB' | 'dtype'> = { channels: 1, size: 28, convChannels: 64, fc: [384, 192, 10], kernel: 5 };

export class SymmNet {
  readonly conv: [Conv2d, Conv2d];
  readonly bnc: [BatchNorm, BatchNorm];
  readonly pool: [MaxPool2d, MaxPool2d];
  /** the three FC layers */
  readonly fc: [Dense, Dense, Dense];
  readonly bnf: [BatchNorm, BatchNorm];
  /** the flattened conv output size (1024 for MNIST) */
  readonly flat: number;
  private readonly g: Arr[];
  constructor(readonly s: SymmNetShape, readonly mode: FeedbackMode, rng: Rng, gemm: Gemm = jsGemm) {
    const { channels: C, size, convChannels: K64, kernel: k, maxB, dtype } = s;
    const c1 = new Conv2d('conv1', C, K64, k, size, size, maxB, dtype, rng, false, gemm);
    const p1 = new MaxPool2d(K64, c1.hOut, c1.wOut, maxB, dtype);
    const c2 = new Conv2d('conv2', K64, K64, k, p1.hOut, p1.wOut, maxB, dtype, rng, false, gemm);
    const p2 = new MaxPool2d(K64, c2.hOut, c2.wOut, maxB, dtype);
    this.conv = [c1, c2];
    this.pool = [p1, p2];
    this.bnc = [new BatchNorm('bn1', K64, c1.hOut * c1.wOut, maxB, dtype), new BatchNorm('bn2', K64, c2.hOut * c2.wOut, maxB, dtype)];
    this.flat = K64 * p2.hOut * p2.wOut;
    const [h1, h2, nc] = s.fc;
    this.fc = [new Dense('fc1', this.flat, h1, maxB, dtype, rng), new Dense('fc2', h1, h2, maxB, dtype, rng), new Dense('fc3', h2, nc, maxB, dtype, rng)];
    if (gemm !== jsGemm) for (const d of this.fc) d.gemm = gemm;
    this.bnf = [new BatchNorm('bn3', h1, 1, maxB, dtype), new BatchNorm('bn4', h2, 1, maxB, dtype)];
    // random feedback: conv in fa / bp_w_fa / sal, FC in fa and sal (sal's start)
    const randB = (n: number, fanIn: number) => {
      const a = alloc(dtype, n), b = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) a[i] = rng.range(-b, b);
      return a;
    };
    if (mode !== 'bp') for (const c of this.conv) c.feedback = randB(c.W.value.length, c.cIn * c.kernelArea);
    if (mode === 'fa' || mode === 'sal') for (const d of this.fc) d.feedback = randB(d.nIn * d.nOut, d.nIn);
    // gradient buffers: largest activation of each stage
    const n = (x: number) => alloc(dtype, maxB * x);
    this.g = [n(K64 * c1.hOut * c1.wOut), n(K64 * c1.hOut * c1.wOut), n(K64 * p1.hOut * p1.wOut), n(K64 * c2.hOut * c2.wOut), n(K64 * c2.hOut * c2.wOut), n(this.flat), n(h1), n(h1), n(h2), n(h2)];
  }
  params(): Param[] {
    return [...this.conv[0].params(), ...this.bnc[0].params(), ...this.conv[1].params(), ...this.bnc[1].params(), ...this.fc[0].params(), ...this.bnf[0].params(), ...this.fc[1].params(), ...this.bnf[1].params(), ...this.fc[2].params()];
  }
  /** BN layers in training (batch statistics) or eval (running statistics) mode */
  train(on: boolean): void {
    for (const b of [...this.bnc, ...this.bnf]) b.training = on;
  }
  forward(x: Arr, B: number): Arr {
    let h: Arr = x;
    for (let l = 0; l < 2; l++) {
      const c = this.conv[l];
      h = c.forward(h, B);
      relu(h, B * c.cOut * c.hOut * c.wOut);
      h = this.bnc[l].forward(h, B);
      h = this.pool[l].forward(h, B);
    }
    for (let l = 0; l < 2; l++) {
      h = this.fc[l].forward(h, B);
      relu(h, B * this.fc[l].nOut);
      h = this.bnf[l].forward(h, B);
    }
    return this.fc[2].forward(h, B);
  }
  /** sets every parameter's gradient from dL/dlogits (BN in training mode) */
  backward(d: Arr, B: number): void {
    const [gc1, gb1, gp1, gc2, gb2, gflat, gf1, gn1, gf2, gn2] = this.g;
    const [f1, f2, f3] = this.fc;
    f3.backward(d, gn2, B);
    this.bnf[1].backward(gn2, gf2, B);
    reluBackward(gf2, f2.y, B * f2.nOut);
    f2.backward(gf2, gn1, B);
    this.bnf[0].backward(gn1, gf1, B);
    reluBackward(gf1, f1.y, B * f1.nOut);
    f1.backward(gf1, gflat, B);
    const [c1, c2] = this.conv;
    this.pool[1].backward(gflat, gb2, B);
    this.bnc[1].backward(gb2, gc2, B);
    reluBackward(gc2, c2.y, B * c2.cOut * c2.hOut * c2.wOut);
    c2.backward(gc2, gp1, B);
    this.pool[0].backward(gp1, gb1, B);
    this.bnc[0].backward(gb1, gc1, B);
    reluBackward(gc1, c1.y, B * c1.cOut * c1.hOut * c1.wOut);
    c1.backward(gc1, null, B);
  }
}
