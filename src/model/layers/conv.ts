/**
 * `conv1d` and `conv2d` layers: a convolution projection (cross-correlation, no kernel flip; stride and zero padding)
 * feeding neurons of any model, one time constant per output channel. Maps of one batch row are channel-major
 * (C × H × W, index c·H·W + h·W + w; conv1d: C × L). The weight is F × C × kh × kw (LE's layout), stored flat.
 *
 * Through the backend's kernels 'conv.forward' / 'conv.backward' / 'conv.grads' (kernels/generic.ts): per batch row,
 * im2col of its map into a small scratch (C·kh·kw × P, P = Ho·Wo positions) and one matrix product that writes (or
 * reads) that row's F × P block of the B × F·P maps directly, so no layout change is needed; the error sent down is
 * the transposed convolution (Wᵀ · err, then col2im); the gradients are gW = −(1/B) Σ_{b,p} err ⊗ patch (a sum over positions, a mean over the batch) and
 * gb = −(1/B) Σ_{b,p} err. (LE's reference averages the bias gradient over positions too: the LE layer type sets it.)
 */
import { countProblem } from '../memory.js';
import { flattenNested } from '../../util/nested.js';
import { z } from 'zod';
import type { Backend, FBuf } from '../../kernels/types.js';
import { getKernel, type KernelImpl } from '../../kernels/registry.js';
import type { ConvArgs, ConvGeom, Im2colArgs, PermuteArgs } from '../../kernels/generic.js';
import type { Rng } from '../../util/rng.js';
import { finite, neuronFields, resolveNeurons, type NeuronSpecOut } from './neuron.js';
import { keepBoxed } from './types.js';
import type { Projection, ProjTensor, ResolvedLayer, Workspace } from './types.js';

const common = {
  name: z.string().optional(),
  /** output channels (filters) */
  channels: z.number().int().positive(),
  stride: z.number().int().positive().default(1),
  padding: z.number().int().min(0).default(0),
  bias: z.boolean().default(true),
  trainable: z.boolean().default(true),
  init: z
    .object({
      /** F × C × k (conv1d) or F × C × kh × kw (conv2d), nested or flat */
      weight: z.array(z.unknown()).optional(),
      bias: z.array(finite).optional(),
    })
    .strict()
    .optional(),
  ...neuronFields,
};

export const schema1d = z.object({ type: z.literal('conv1d'), kernel: z.number().int().positive(), ...common }).strict();
export const schema2d = z
  .object({ type: z.literal('conv2d'), kernel: z.union([z.number().int().positive(), z.tuple([z.number().int().positive(), z.number().int().positive()])]), ...common })
  .strict();
export type Conv1dSpec = z.output<typeof schema1d>;
export type Conv2dSpec = z.output<typeof schema2d>;

/** C × H × W of an input shape for a 2-d (or, with h = 1, 1-d) window; null when it does not fit. */
export function mapShape(inShape: number[], dims: 1 | 2): [number, number, number] | null {
  if (dims === 1) {
    if (inShape.length === 1) return [1, 1, inShape[0]];
    if (inShape.length === 2) return [inShape[0], 1, inShape[1]];
    return null;
  }
  return inShape.length === 3 ? [inShape[0], inShape[1], inShape[2]] : null;
}

export function geometry(C: number, H: number, W: number, kh: number, kw: number, stride: number, padH: number, padW: number): ConvGeom {
  const Ho = Math.floor((H + 2 * padH - kh) / stride) + 1;
  const Wo = Math.floor((W + 2 * padW - kw) / stride) + 1;
  return { C, H, W, kh, kw, stride, padH, padW, Ho, Wo };
}

export function resolve(l: Conv1dSpec | Conv2dSpec, inShape: number[], where: string, ctx: { dt: number; prospective: boolean }, issues: string[]): ResolvedLayer {
  const dims = l.type === 'conv1d' ? 1 : 2;
  const m = mapShape(inShape, dims);
  const [kh, kw] = typeof l.kernel === 'number' ? (dims === 1 ? [1, l.kernel] : [l.kernel, l.kernel]) : l.kernel;
  let g: ConvGeom = geometry(1, 1, 1, 1, 1, 1, 0, 0);
  if (!m) issues.push(`${where}: ${l.type} needs an input of shape ${dims === 1 ? '[C, L]' : '[C, H, W]'}, got [${inShape.join(', ')}] (set input_shape on the network)`);
  else {
    g = geometry(m[0], m[1], m[2], kh, kw, l.stride, dims === 1 ? 0 : l.padding, l.padding);
    if (g.Ho < 1 || g.Wo < 1) issues.push(`${where}: kernel ${kh}x${kw} does not fit the ${m[1]}x${m[2]} input`);
  }
  const F = l.channels, P = g.Ho >= 1 && g.Wo >= 1 ? g.Ho * g.Wo : 1;
  if (l.init?.bias && l.init.bias.length !== F) issues.push(`${where}.init.bias: has ${l.init.bias.length} entries, expected ${F}`);
  const wantW = F * g.C * kh * kw;
  const bigW = countProblem(`${where}.weight`, 'weights', wantW, 16); // value, gradient, two optimiser moments
  if (bigW) issues.push(bigW);
  if (l.init?.weight && flattenNested(l.init.weight).length !== wantW) issues.push(`${where}.init.weight: has ${flattenNested(l.init.weight).length} values, expected ${wantW} (F x C x kh x kw)`);
  const outShape = dims === 1 ? [F, g.Wo] : [F, g.Ho, g.Wo];
  return {
    ...(l as (Conv1dSpec | Conv2dSpec) & NeuronSpecOut),
    ...resolveNeurons(l, F, P, where, ctx, issues),
    type: l.type,
    name: l.name ?? '',
    nIn: inShape.reduce((a, b) => a * b, 1),
    size: F * P,
    inShape,
    outShape,
    feedback: 'transpose',
    geom: g,
    channels: F,
    init: l.init ? { bias: l.init.bias, weight: l.init.weight } : undefined,
  };
}

interface ConvWs extends Workspace {
  /** the three kernels' arguments, sharing one batch row's scratch buffers */
  fwd: ConvArgs;
  back: ConvArgs;
  grad: ConvArgs;
}

/** the VJP's buffers (the whole batch's patches as one matrix; products through the rule's float64 backend) */
interface VjpWs {
  B: number;
  cols: FBuf; // CKK × B·P
  dcols: FBuf; // CKK × B·P
  out: FBuf; // F × B·P
  errT: FBuf; // F × B·P
  im: Im2colArgs;
  ci: Im2colArgs;
  toFeature: PermuteArgs;
}

export class ConvProjection implements Projection {
  readonly type: 'conv1d' | 'conv2d';
  readonly nIn: number;
  readonly nOut: number;
  readonly W: FBuf;
  readonly b: FBuf | null;
  readonly gW: FBuf;
  readonly gB: FBuf | null;
  readonly feedback = 'transpose' as const;
  readonly tensors: ProjTensor[];
  readonly g: ConvGeom;
  readonly F: number;
  readonly P: number;
  readonly CKK: number;
  private readonly k_;

  constructor(k: Backend, l: ResolvedLayer, rng: Rng) {
    this.type = l.type as 'conv1d' | 'conv2d';
    const g = l.geom!;
    this.g = g;
    this.F = l.channels!;
    this.P = g.Ho * g.Wo;
    this.CKK = g.C * g.kh * g.kw;
    this.nIn = l.nIn;
    this.nOut = l.size;
    this.W = k.alloc(this.F * this.CKK);
    this.b = l.bias ? k.alloc(this.F) : null;
    // PyTorch Conv default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C·kh·kw
    const bound = 1 / Math.sqrt(this.CKK);
    for (let i = 0; i < this.W.n; i++) this.W.a[i] = rng.range(-bound, bound);
    if (this.b) for (let i = 0; i < this.F; i++) this.b.a[i] = rng.range(-bound, bound);
    if (l.init?.weight) this.W.a.set(flattenNested(l.init.weight));
    if (this.b && l.init?.bias) this.b.a.set(l.init.bias);
    this.gW = k.alloc(this.W.n);
    this.gB = this.b ? k.alloc(this.F) : null;
    const wShape = this.type === 'conv1d' ? [this.F, g.C, g.kw] : [this.F, g.C, g.kh, g.kw];
    this.tensors = [{ suffix: 'weight', buf: this.W, grad: this.gW, shape: wShape }];
    if (this.b) this.tensors.push({ suffix: 'bias', buf: this.b, grad: this.gB, shape: [this.F] });
    this.k_ = {
      forward: getKernel<ConvArgs>(k, 'conv.forward'),
      backward: getKernel<ConvArgs>(k, 'conv.backward'),
      grads: getKernel<ConvArgs>(k, 'conv.grads'),
    };
  }

  workspace(k: Backend, B: number): ConvWs {
    const scratch = k.alloc(this.CKK * this.P), scratchY = k.alloc(this.F * this.P);
    const W = this.W;
    const base = { g: this.g, B, F: this.F, W, x: W, y: W, bias: null, gW: this.gW, gB: null, scale: 0, scratch, scratchY };
    const grad: ConvArgs = { ...base, gB: this.gB };
    return { B, fwd: { ...base, bias: this.b }, back: { ...base }, grad: keepBoxed(grad, 'scale', -1 / B) };
  }

  forward(k: Backend, ws: Workspace, rIn: FBuf, drive: FBuf): void {
    const a = (ws as ConvWs).fwd;
    a.x = rIn;
    a.y = drive;
    this.k_.forward(k, a);
  }

  grads(k: Backend, ws: Workspace, err: FBuf, rIn: FBuf): void {
    const a = (ws as ConvWs).grad;
    a.x = rIn;
    a.y = err;
    this.k_.grads(k, a);
  }

  backward(k: Backend, ws: Workspace, err: FBuf, errDown: FBuf): void {
    const a = (ws as ConvWs).back;
    a.x = errDown;
    a.y = err;
    this.k_.backward(k, a);
  }

  /** the VJP's buffers and kernels for the rule's backend (kept while backend and batch size stay) */
  private vjp: (VjpWs & { k: Backend; gIn: FBuf; kern: { im2col: KernelImpl<Im2colArgs>; col2im: KernelImpl<Im2colArgs>; permute: KernelImpl<PermuteArgs> } }) | null = null;

  private vjpWs(k: Backend, B: number) {
    if (this.vjp && this.vjp.k === k && this.vjp.B === B) return this.vjp;
    const NP = B * this.P, F = this.F, P = this.P, W = this.W;
    const cols = k.alloc(this.CKK * NP), dcols = k.alloc(this.CKK * NP), out = k.alloc(F * NP), errT = k.alloc(F * NP);
    this.vjp = {
      B, cols, dcols, out, errT,
      im: { g: this.g, B, x: W, cols },
      ci: { g: this.g, B, x: W, cols: dcols },
      toFeature: { B, F, P, toBatch: false, src: W, dst: errT, bias: null },
      k,
      gIn: k.alloc(B * this.nIn),
      kern: {
        im2col: getKernel<Im2colArgs>(k, 'im2col'),
        col2im: getKernel<Im2colArgs>(k, 'col2im'),
        permute: getKernel<PermuteArgs>(k, 'permute.fbp'),
      },
    };
    return this.vjp;
  }

  /**
   * Of `forward` (drive = conv(W, rIn) + b), through backend k, accumulating: gW += Σ_{b,p} gDrive ⊗ patch,
   * gB += Σ_{b,p} gDrive, gIn += the transposed convolution of gDrive (col2im(Wᵀ gDrive)).
   */
  vjpForward(k: Backend, B: number, gDrive: FBuf, rIn: FBuf, gW: FBuf | null, gB: FBuf | null, gIn: FBuf | null): void {
    const w = this.vjpWs(k, B), F = this.F, NP = B * this.P;
    w.toFeature.src = gDrive;
    w.kern.permute(k, w.toFeature);
    if (gW) {
      w.im.x = rIn;
      w.kern.im2col(k, w.im);
      k.gemm(false, true, F, this.CKK, NP, 1, w.errT, w.cols, 1, gW);
    }
    if (gB && this.b) {
      const g = gB.a, e = w.errT.a;
      for (let f = 0; f < F; f++) {
        let acc = 0;
        for (let i = f * NP; i < (f + 1) * NP; i++) acc += e[i];
        g[f] += acc;
      }
    }
    if (gIn) this.addTransposed(k, w, gIn);
  }

  /** gIn += col2im(Wᵀ errT) (col2im overwrites, so through a scratch map) */
  private addTransposed(k: Backend, w: NonNullable<ConvProjection['vjp']>, gIn: FBuf): void {
    k.gemm(true, false, this.CKK, w.B * this.P, this.F, 1, this.W, w.errT, 0, w.dcols);
    w.ci.x = w.gIn;
    w.kern.col2im(k, w.ci);
    const d = gIn.a, s = w.gIn.a, n = w.B * this.nIn;
    for (let i = 0; i < n; i++) d[i] += s[i];
  }

  /**
   * Of `backward` (errDown = col2im(Wᵀ err)): gErr += conv(W, gErrDown) (no bias), gW += Σ_{b,p} err ⊗ patch of
   * gErrDown.
   */
  vjpBackward(k: Backend, B: number, err: FBuf, gErrDown: FBuf, gErr: FBuf, gW: FBuf): void {
    const w = this.vjpWs(k, B), F = this.F, NP = B * this.P;
    w.im.x = gErrDown;
    w.kern.im2col(k, w.im);
    k.gemm(false, false, F, NP, this.CKK, 1, this.W, w.cols, 0, w.out);
    // out (F × B·P) → batch-major, added into gErr
    const o = w.out.a, g = gErr.a, P = this.P;
    for (let f = 0; f < F; f++)
      for (let b = 0; b < B; b++) {
        const src = f * NP + b * P, dst = (b * F + f) * P;
        for (let p = 0; p < P; p++) g[dst + p] += o[src + p];
      }
    w.toFeature.src = err;
    w.kern.permute(k, w.toFeature);
    k.gemm(false, true, F, this.CKK, NP, 1, w.errT, w.cols, 1, gW);
  }
}

export function build(k: Backend, l: ResolvedLayer, rng: Rng): ConvProjection {
  return new ConvProjection(k, l, rng);
}
