/**
 * `dense` layers (the default type): a fully connected projection W (out × in, torch layout) + bias, with the error
 * sent down through
 *   feedback 'transpose'  ĕ W            (backprop-like: B = Wᵀ by construction; today's GLE)
 *            'fixed'      ĕ B            (feedback alignment: B a fixed random out × in matrix, drawn at init)
 *            'learned'    ĕ B            (B a parameter `layer_<i>.feedback` with its own gradient; the default rule
 *                                         gives B the gradient of W, so with weight decay B → W (Kolen–Pollack);
 *                                         learned-feedback rules such as PAL replace `feedbackGrad`)
 * With GLE neurons and 'transpose' the whole layer runs as the fused dense step (one kernel call); with 'fixed' or
 * 'learned' the fused step runs without its error product and this projection's `backward` adds it.
 */
import { z } from 'zod';
import type { Backend, FBuf } from '../../kernels/types.js';
import { getKernel } from '../../kernels/registry.js';
import type { BiasArgs, BiasGradArgs } from '../../kernels/generic.js';
import type { Rng } from '../../util/rng.js';
import { finite, neuronFields, resolveNeurons, type NeuronSpecOut } from './neuron.js';
import { keepBoxed, type Feedback, type Projection, type ProjTensor, type ResolvedLayer, type Workspace } from './types.js';

export const schema = z
  .object({
    type: z.literal('dense'),
    name: z.string().optional(),
    size: z.number().int().positive(),
    bias: z.boolean().default(true),
    /** learn W / b (default true); frozen layers still run and pass errors down */
    trainable: z.boolean().default(true),
    feedback: z.enum(['transpose', 'fixed', 'learned']).default('transpose'),
    init: z
      .object({
        weight: z.array(z.array(finite)).optional(),
        bias: z.array(finite).optional(),
        /** the feedback matrix B (out × in, like the weight) for feedback 'fixed' or 'learned' */
        feedback: z.array(z.array(finite)).optional(),
      })
      .strict()
      .optional(),
    ...neuronFields,
  })
  .strict();
export type DenseSpec = z.output<typeof schema>;

export function resolve(l: DenseSpec, inShape: number[], where: string, ctx: { dt: number; prospective: boolean }, issues: string[]): ResolvedLayer {
  const nIn = inShape.reduce((a, b) => a * b, 1);
  if (l.init?.weight) {
    const w = l.init.weight;
    if (w.length !== l.size || w.some((row) => row.length !== nIn))
      issues.push(`${where}.init.weight: shape is ${w.length} x ${w[0]?.length ?? 0}, expected ${l.size} x ${nIn} (out x in)`);
  }
  if (l.init?.bias) {
    if (!l.bias) issues.push(`${where}.init.bias: given but the layer has bias: false`);
    else if (l.init.bias.length !== l.size) issues.push(`${where}.init.bias: has ${l.init.bias.length} entries, expected ${l.size}`);
  }
  if (l.init?.feedback) {
    const f = l.init.feedback;
    if (l.feedback === 'transpose') issues.push(`${where}.init.feedback: given but the layer has feedback: 'transpose' (no B matrix)`);
    else if (f.length !== l.size || f.some((row) => row.length !== nIn))
      issues.push(`${where}.init.feedback: shape is ${f.length} x ${f[0]?.length ?? 0}, expected ${l.size} x ${nIn} (out x in)`);
  }
  return {
    ...(l as DenseSpec & NeuronSpecOut),
    ...resolveNeurons(l, l.size, 1, where, ctx, issues),
    type: 'dense',
    name: l.name ?? '',
    nIn,
    size: l.size,
    inShape: [nIn],
    outShape: [l.size],
    feedback: l.feedback,
  };
}

interface DenseWs extends Workspace {
  /** −1/B, kept in a field: a double computed at the call would be boxed (allocated) when passed to the backend */
  gradScale: number;
  bias: BiasArgs;
  biasGrad: BiasGradArgs;
}

export class DenseProjection implements Projection {
  readonly type = 'dense' as const;
  readonly nIn: number;
  readonly nOut: number;
  readonly W: FBuf;
  readonly b: FBuf | null;
  readonly gW: FBuf;
  readonly gB: FBuf | null;
  /** the feedback matrix (out × in) for 'fixed' / 'learned'; null for 'transpose' */
  readonly FB: FBuf | null;
  readonly gFB: FBuf | null;
  readonly feedback: Feedback;
  readonly tensors: ProjTensor[];
  private readonly biasAdd;
  private readonly biasGrad;

  constructor(k: Backend, l: ResolvedLayer, rng: Rng, feedbackRng: Rng) {
    const nIn = l.nIn, nOut = l.size;
    this.nIn = nIn;
    this.nOut = nOut;
    this.feedback = l.feedback;
    this.W = k.alloc(nOut * nIn);
    this.b = l.bias ? k.alloc(nOut) : null;
    // PyTorch nn.Linear default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)); drawn in this order from the seeded Rng.
    const bound = 1 / Math.sqrt(nIn);
    for (let i = 0; i < nOut * nIn; i++) this.W.a[i] = rng.range(-bound, bound);
    if (this.b) for (let i = 0; i < nOut; i++) this.b.a[i] = rng.range(-bound, bound);
    const init = l.init;
    if (Array.isArray(init?.weight)) (init.weight as number[][]).forEach((row, o) => row.forEach((x, j) => (this.W.a[o * nIn + j] = x)));
    if (this.b && init?.bias) init.bias.forEach((x, o) => (this.b!.a[o] = x));
    this.gW = k.alloc(nOut * nIn);
    this.gB = l.bias ? k.alloc(nOut) : null;
    this.tensors = [{ suffix: 'weight', buf: this.W, grad: this.gW, shape: [nOut, nIn] }];
    if (this.b) this.tensors.push({ suffix: 'bias', buf: this.b, grad: this.gB, shape: [nOut] });
    if (l.feedback === 'transpose') {
      this.FB = null;
      this.gFB = null;
    } else {
      // B drawn like W from its own stream (so W and b are the same as without feedback alignment)
      this.FB = k.alloc(nOut * nIn);
      for (let i = 0; i < nOut * nIn; i++) this.FB.a[i] = feedbackRng.range(-bound, bound);
      if (init?.feedback) init.feedback.forEach((row, o) => row.forEach((x, j) => (this.FB!.a[o * nIn + j] = x)));
      this.gFB = l.feedback === 'learned' ? k.alloc(nOut * nIn) : null;
      this.tensors.push({ suffix: 'feedback', buf: this.FB, grad: this.gFB, shape: [nOut, nIn] });
    }
    this.biasAdd = getKernel<BiasArgs>(k, 'bias.add');
    this.biasGrad = getKernel<BiasGradArgs>(k, 'bias.grad');
  }

  workspace(_k: Backend, B: number): DenseWs {
    const F = this.nOut;
    const ws: DenseWs = {
      B,
      gradScale: 0,
      bias: { B, F, P: 1, y: this.W, bias: this.W },
      biasGrad: { B, F, P: 1, y: this.W, g: this.W, scale: -1 / B },
    };
    return keepBoxed(ws, 'gradScale', -1 / B);
  }

  forward(k: Backend, ws: Workspace, rIn: FBuf, drive: FBuf): void {
    const w = ws as DenseWs;
    k.gemm(false, true, w.B, this.nOut, this.nIn, 1, rIn, this.W, 0, drive);
    if (this.b) {
      w.bias.y = drive;
      w.bias.bias = this.b;
      this.biasAdd(k, w.bias);
    }
  }

  grads(k: Backend, ws: Workspace, err: FBuf, rIn: FBuf): void {
    const w = ws as DenseWs;
    k.gemm(true, false, this.nOut, this.nIn, w.B, w.gradScale, err, rIn, 0, this.gW);
    if (this.gB) {
      w.biasGrad.y = err;
      w.biasGrad.g = this.gB;
      this.biasGrad(k, w.biasGrad);
    }
    if (this.gFB) this.feedbackGrad();
  }

  /** The learned-feedback rule (default: B receives W's gradient). Reads gW; writes gFB. */
  feedbackGrad(): void {
    this.gFB!.a.set(this.gW.a);
  }

  backward(k: Backend, ws: Workspace, err: FBuf, errDown: FBuf): void {
    k.gemm(false, false, ws.B, this.nIn, this.nOut, 1, err, this.FB ?? this.W, 0, errDown);
  }

  vjpForward(k: Backend, B: number, gDrive: FBuf, rIn: FBuf, gW: FBuf | null, gB: FBuf | null, gIn: FBuf | null): void {
    if (gW) k.gemm(true, false, this.nOut, this.nIn, B, 1, gDrive, rIn, 1, gW);
    if (gB && this.b) {
      const g = gB.a, d = gDrive.a, n = this.nOut;
      for (let b = 0; b < B; b++) for (let j = 0; j < n; j++) g[j] += d[b * n + j];
    }
    if (gIn) k.gemm(false, false, B, this.nIn, this.nOut, 1, gDrive, this.W, 1, gIn);
  }

  vjpBackward(k: Backend, B: number, err: FBuf, gErrDown: FBuf, gErr: FBuf, gW: FBuf): void {
    k.gemm(false, true, B, this.nOut, this.nIn, 1, gErrDown, this.FB ?? this.W, 1, gErr);
    // B (fixed or learned) is not W: the error path then adds nothing to W's gradient
    if (!this.FB) k.gemm(true, false, this.nOut, this.nIn, B, 1, err, gErrDown, 1, gW);
  }
}

export function build(k: Backend, l: ResolvedLayer, rng: Rng, feedbackRng: Rng): DenseProjection {
  return new DenseProjection(k, l, rng, feedbackRng);
}
