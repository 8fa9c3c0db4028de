/**
 * What every layer type shares: the resolved layer record, the projection contract and the population (neuron model)
 * declaration. A layer = a projection (connectivity: rates below → drive, errors above → error sent down, and its
 * weight gradients) + a population (the elementwise ODE step of a neuron model, fed a ready drive), so any projection
 * works with any neuron model.
 */
import type { Backend, FBuf, PhiCode } from '../../kernels/types.js';
import type { ConvGeom } from '../../kernels/generic.js';

export type LayerType = 'dense' | 'conv1d' | 'conv2d' | 'maxpool' | 'flatten';
export type Feedback = 'transpose' | 'fixed' | 'learned';
export type NeuronModel = 'gle' | 'relay';

/** A fully resolved layer (flat sizes per batch row, shapes, per-neuron time constants). */
export interface ResolvedLayer {
  type: LayerType;
  name: string;
  /** inputs per batch row (the flat size of inShape) */
  nIn: number;
  /** neurons per batch row (the flat size of outShape) */
  size: number;
  inShape: number[];
  outShape: number[];
  neuron: NeuronModel;
  phi: string;
  phiCode: PhiCode;
  /** one entry per neuron (per channel for conv layers, expanded over positions) */
  tauM: number[];
  tauR: number[];
  tau_m?: unknown;
  tau_r?: unknown;
  gamma: number;
  learn_tau: boolean;
  prospective: boolean;
  prospective_errors?: boolean;
  bias: boolean;
  trainable: boolean;
  feedback: Feedback;
  /** dense, feedback 'learned': the local rule of B and the time constant of its gain estimate (dense.ts) */
  feedback_rule?: 'vle' | 'kp';
  feedback_tau?: number;
  feedback_gain?: boolean;
  /** the network's dt (set by layer types that need it) */
  dt?: number;
  init?: { weight?: unknown; bias?: number[]; feedback?: number[][] };
  /** conv and pooling geometry (per batch row: C × H × W in, F × Ho × Wo out) */
  geom?: ConvGeom;
  /** conv: output channels */
  channels?: number;
}

/** A named tensor of a projection (checkpoint name `layer_<i>.<suffix>`). */
export interface ProjTensor {
  suffix: 'weight' | 'bias' | 'feedback' | 'feedback_power';
  buf: FBuf;
  /** its gradient buffer (null: not learned) */
  grad: FBuf | null;
  shape: number[];
}

/** Per-batch-size buffers and preallocated kernel argument records of one projection. */
export interface Workspace {
  readonly B: number;
}

/**
 * Connectivity between the rates of the layer below (B × nIn) and the drive of this layer's neurons (B × nOut).
 * Gradient sign convention as the fused step: descent gradients, gW = −⟨err ⊗ input⟩.
 */
export interface Projection {
  readonly type: LayerType;
  readonly nIn: number;
  readonly nOut: number;
  /** weight (or null for pooling), bias, and their gradients: the fields the fused dense step and BPTT read */
  readonly W: FBuf | null;
  readonly b: FBuf | null;
  readonly gW: FBuf | null;
  readonly gB: FBuf | null;
  readonly feedback: Feedback;
  /** the tensors it owns, in checkpoint order */
  readonly tensors: ProjTensor[];
  workspace(k: Backend, B: number): Workspace;
  /** drive = W rIn + b (B × nOut) */
  forward(k: Backend, ws: Workspace, rIn: FBuf, drive: FBuf): void;
  /** descent gradients of the weights from the error of this layer's neurons and the input read this step */
  grads(k: Backend, ws: Workspace, err: FBuf, rIn: FBuf): void;
  /** the error sent down (B × nIn): through Wᵀ, or the feedback matrix B */
  backward(k: Backend, ws: Workspace, err: FBuf, errDown: FBuf): void;
  /**
   * Vector-Jacobian products for exact gradients through time (truncated BPTT), accumulating (+=), through backend k:
   * of `forward` (drive = W rIn + b): gW += gDriveᵀ-weighted inputs, gB += Σ gDrive, gIn += ∂drive/∂rIn ᵀ gDrive;
   * of `backward` (errDown = f(err)): gErr += its transpose applied to gErrDown, and gW += its weight part when the
   * error path uses W itself. `rIn` (the input the layer read at that step) is needed where the error path depends
   * on it (max pooling's argmax). Every type has both (dense, conv1d, conv2d, maxpool; flatten is no stage); they are
   * checked against central finite differences through BPTT (test/bptt.test.ts).
   */
  vjpForward(k: Backend, B: number, gDrive: FBuf, rIn: FBuf, gW: FBuf | null, gB: FBuf | null, gIn: FBuf | null): void;
  vjpBackward(k: Backend, B: number, err: FBuf, gErrDown: FBuf, gErr: FBuf, gW: FBuf, rIn?: FBuf): void;
}

/** One state or per-step field of a neuron model: its key, its name in traces and checkpoints, its size. */
export interface FieldDecl {
  readonly key: string;
  readonly name: string;
}

/** A neuron model declares its fields once; batch resizing, reset, traces and checkpoints loop over this. */
export interface PopulationDecl {
  readonly model: NeuronModel;
  /** double-buffered state (B × n each), read at t−1 and written at t */
  readonly state: readonly FieldDecl[];
  /** values computed during a step (B × n each) */
  readonly scratch: readonly FieldDecl[];
  /** the named kernel of its step (see kernels/registry.ts) */
  readonly kernel: string;
}


/**
 * Set a number field of a kernel argument record so that it stays a tagged field holding one immutable heap number:
 * the field first holds null (V8 then never gives it the unboxed double representation), so passing it on to a
 * backend call that is not inlined allocates nothing (a double field is boxed anew at every such call).
 */
export function keepBoxed<T extends object, K extends keyof T>(rec: T, key: K, x: number): T {
  (rec as Record<K, unknown>)[key] = null;
  (rec as Record<K, unknown>)[key] = x;
  return rec;
}
