/**
 * `maxpool` layers: non-overlapping (by default) max pooling of each channel plane, no neurons of their own (a relay
 * population: the pooled rate is the stage's rate, the error above passes down to the argmax positions of this
 * step's forward pass, zeros elsewhere). Like every stage it adds one dt of delay (LE's vanilla network does too).
 * conv1d maps (C × L) pool over L with a 1 × k window.
 */
import { z } from 'zod';
import type { Backend, FBuf } from '../../kernels/types.js';
import { getKernel } from '../../kernels/registry.js';
import type { ConvGeom, MaxPoolArgs, MaxPoolBackArgs } from '../../kernels/generic.js';
import { RELAY_NEURONS } from './neuron.js';
import { geometry, mapShape } from './conv.js';
import type { Projection, ResolvedLayer, Workspace } from './types.js';

const K = z.number().int().positive();
export const schema = z
  .object({
    type: z.literal('maxpool'),
    name: z.string().optional(),
    kernel: z.union([K, z.tuple([K, K])]),
    /** default: the kernel size (windows do not overlap) */
    stride: K.optional(),
  })
  .strict();
export type MaxPoolSpec = z.output<typeof schema>;

export function resolve(l: MaxPoolSpec, inShape: number[], where: string, issues: string[]): ResolvedLayer {
  const dims = inShape.length === 3 ? 2 : 1;
  const m = mapShape(inShape, dims);
  const [kh, kw] = typeof l.kernel === 'number' ? (dims === 1 ? [1, l.kernel] : [l.kernel, l.kernel]) : l.kernel;
  let g: ConvGeom = geometry(1, 1, 1, 1, 1, 1, 0, 0);
  if (!m || inShape.length < 2) issues.push(`${where}: maxpool needs a map input ([C, L] or [C, H, W]), got [${inShape.join(', ')}]`);
  else {
    g = geometry(m[0], m[1], m[2], kh, kw, l.stride ?? kw, 0, 0);
    if (dims === 2 && l.stride === undefined && kh !== kw) issues.push(`${where}.stride: give the stride for a non-square window`);
    if (g.Ho < 1 || g.Wo < 1) issues.push(`${where}: window ${kh}x${kw} does not fit the ${m[1]}x${m[2]} input`);
  }
  const outShape = dims === 1 ? [g.C, g.Wo] : [g.C, g.Ho, g.Wo];
  return {
    ...RELAY_NEURONS,
    type: 'maxpool',
    name: l.name ?? '',
    nIn: inShape.reduce((a, b) => a * b, 1),
    size: g.C * g.Ho * g.Wo,
    inShape,
    outShape,
    bias: false,
    trainable: false,
    feedback: 'transpose',
    geom: g,
  };
}

interface PoolWs extends Workspace {
  argmax: Int32Array;
  fwd: MaxPoolArgs;
  back: MaxPoolBackArgs;
}

export class MaxPoolProjection implements Projection {
  readonly type = 'maxpool' as const;
  readonly nIn: number;
  readonly nOut: number;
  readonly W = null;
  readonly b = null;
  readonly gW = null;
  readonly gB = null;
  readonly feedback = 'transpose' as const;
  readonly tensors = [];
  readonly g: ConvGeom;
  private readonly kf;
  private readonly kb;

  constructor(k: Backend, l: ResolvedLayer) {
    this.g = l.geom!;
    this.nIn = l.nIn;
    this.nOut = l.size;
    this.kf = getKernel<MaxPoolArgs>(k, 'maxpool.forward');
    this.kb = getKernel<MaxPoolBackArgs>(k, 'maxpool.backward');
  }

  workspace(_k: Backend, B: number): PoolWs {
    const argmax = new Int32Array(B * this.nOut);
    const none = null as unknown as FBuf;
    return { B, argmax, fwd: { g: this.g, B, x: none, y: none, argmax }, back: { g: this.g, B, dy: none, dx: none, argmax } };
  }

  forward(k: Backend, ws: Workspace, rIn: FBuf, drive: FBuf): void {
    const w = ws as PoolWs;
    w.fwd.x = rIn;
    w.fwd.y = drive;
    this.kf(k, w.fwd);
  }

  grads(): void {}

  backward(k: Backend, ws: Workspace, err: FBuf, errDown: FBuf): void {
    const w = ws as PoolWs;
    w.back.dy = err;
    w.back.dx = errDown;
    this.kb(k, w.back);
  }

  /** the VJP's argmax and scratch for the rule's backend (kept while backend and batch size stay) */
  private vjp: { k: Backend; B: number; y: FBuf; dx: FBuf; fwd: MaxPoolArgs; back: MaxPoolBackArgs; kf: (k: Backend, a: MaxPoolArgs) => void; kb: (k: Backend, a: MaxPoolBackArgs) => void } | null = null;

  /** the argmax of this input (the pooling `forward` of the step whose VJP is taken) */
  private vjpArgmax(k: Backend, B: number, rIn: FBuf) {
    if (!this.vjp || this.vjp.k !== k || this.vjp.B !== B) {
      const argmax = new Int32Array(B * this.nOut);
      const y = k.alloc(B * this.nOut), dx = k.alloc(B * this.nIn);
      this.vjp = { k, B, y, dx, fwd: { g: this.g, B, x: y, y, argmax }, back: { g: this.g, B, dy: y, dx, argmax }, kf: getKernel<MaxPoolArgs>(k, 'maxpool.forward'), kb: getKernel<MaxPoolBackArgs>(k, 'maxpool.backward') };
    }
    const v = this.vjp;
    v.fwd.x = rIn;
    v.kf(k, v.fwd);
    return v;
  }

  /** Of `forward` (drive = max over each window of rIn): gIn += gDrive scattered to the argmax positions. No weights. */
  vjpForward(k: Backend, B: number, gDrive: FBuf, rIn: FBuf, _gW: FBuf | null, _gB: FBuf | null, gIn: FBuf | null): void {
    if (!gIn) return;
    const v = this.vjpArgmax(k, B, rIn);
    v.back.dy = gDrive;
    v.kb(k, v.back);
    const d = gIn.a, s = v.dx.a, n = B * this.nIn;
    for (let i = 0; i < n; i++) d[i] += s[i];
  }

  /**
   * Of `backward` (errDown = err scattered to the argmax positions of the step's input `rIn`): gErr += gErrDown
   * gathered from those positions. No weights.
   */
  vjpBackward(k: Backend, B: number, _err: FBuf, gErrDown: FBuf, gErr: FBuf, _gW: FBuf, rIn?: FBuf): void {
    if (!rIn) throw new Error('maxpool: the error path\'s VJP needs the input of its step (rIn)');
    const v = this.vjpArgmax(k, B, rIn);
    const { C, H, W, Ho, Wo } = this.g;
    const am = v.fwd.argmax, g = gErr.a, d = gErrDown.a;
    for (let bc = 0; bc < B * C; bc++) {
      const xo = bc * H * W, yo = bc * Ho * Wo;
      for (let o = 0; o < Ho * Wo; o++) g[yo + o] += d[xo + am[yo + o]];
    }
  }
}

export function build(k: Backend, l: ResolvedLayer): MaxPoolProjection {
  return new MaxPoolProjection(k, l);
}
