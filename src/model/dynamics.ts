/**
 * GLE neuron and error-neuron dynamics — the equations of this library.
 *
 * Generalized Latent Equilibrium (Ellenberger et al., "Backpropagation through space, time and the brain").
 * Each layer ℓ has n neurons with per-neuron membrane time constant τ_m and prospective time constant τ_r,
 * weights W (n × n_in), bias b, nudging strength γ and rate function φ. With r_{ℓ-1} the rate of the layer below
 * (the input x for ℓ = 0):
 *
 *   Representation neurons (retrospective membrane, prospective output):
 *     τ_m u̇ = W r_{ℓ-1} + b + γ ĕ − u                  (membrane low-passes its drive: the operator I⁻_{τ_m})
 *     ŭ     = u + τ_r u̇                                  (prospective voltage: the operator D⁺_{τ_r})
 *     r     = φ(ŭ),   r' = φ'(ŭ)
 *
 *   Error neurons (the same dynamics with τ_m and τ_r swapped):
 *     e     = r' ⊙ ε,   ε = W_{ℓ+1}ᵀ ĕ_{ℓ+1}  (hidden)   or   ε = β (target − y) / β (onehot − softmax y)  (top)
 *     τ_r v̇ = e − v                                      (error membrane low-passes with τ_r)
 *     ĕ     = v + τ_m v̇                                  (prospective error looks ahead with τ_m)
 *   Without prospective errors (instantaneous / "BP" errors): ĕ = v = e.
 *
 *   Local plasticity, written as gradients for a descent optimiser (signs as the reference):
 *     ∂W = −⟨ĕ r_{ℓ-1}ᵀ⟩_batch,   ∂b = −⟨ĕ⟩_batch,   ∂τ_m = +⟨ĕ ⊙ u̇⟩_batch
 *   and the error sent to the layer below is ĕ W (before this step's weight update).
 *
 * Discretisation (explicit Euler, step dt), exactly as the reference code:
 *     u̇ = (W r_{ℓ-1} + b + γ ĕ − u)/τ_m,   u ← u + dt u̇,   ŭ = u_old + τ_r u̇
 *     v̇ = (e − v)/τ_r,                     v ← v + dt v̇,   ĕ = v_old + τ_m v̇
 * and a Jacobi update across layers: during step t every layer reads only values committed at t−1 (the rate below,
 * the error above, its own r'), then all layers commit together. So each layer adds one dt of delay, the network
 * returns the top rate of step t−1, and r' starts at 0 (all errors are zero at t = 0).
 *
 * Records here are plain data: parameters (W, b, τ_m, τ_r), state (u, v, r, r', e_bottom) and hyper-parameters
 * (dt, γ, φ, flags) are kept apart; a step reads the previous state and writes the next one into
 * preallocated buffers through the kernel backend (see `Backend.layerStep`, whose js implementation in
 * src/kernels/js reads line by line like the equations above).
 */
import type { FBuf, LayerStepArgs, PhiCode } from '../kernels/types.js';
import { STEP } from '../kernels/types.js';

/** Learnable and fixed parameters of one dense GLE layer. */
export interface LayerParams {
  /** n_out × n_in, row-major */
  W: FBuf;
  b: FBuf | null;
  tauM: FBuf;
  tauR: FBuf;
}

/** Dynamic state of one layer for a batch of B independent copies (all B × n, e_bottom B × n_in). */
export interface LayerState {
  u: FBuf;
  v: FBuf;
  r: FBuf;
  rPrime: FBuf;
  eBottom: FBuf;
}

/** Values computed during a step (recorded in traces, consumed by the gradients). */
export interface LayerScratch {
  instE: FBuf;
  prospU: FBuf;
  prospV: FBuf;
  uDot: FBuf;
}

export interface LayerGrads {
  W: FBuf;
  b: FBuf | null;
  tauM: FBuf;
}

/** Hyper-parameters of one layer. */
export interface LayerHyper {
  phi: PhiCode;
  gamma: number;
  prospective: boolean;
  learnTau: boolean;
}

/** Flags for one call of the fused step. */
export function stepFlags(h: LayerHyper, grads: boolean, errDown: boolean): number {
  let f = 0;
  if (h.prospective) f |= STEP.PROSPECTIVE;
  if (grads) f |= STEP.GRADS;
  if (grads && h.learnTau) f |= STEP.LEARN_TAU;
  if (errDown) f |= STEP.ERR_DOWN;
  return f;
}

/** Wire the buffers of one step (previous state → next state) into the kernel's argument record. */
export function layerStepArgs(
  p: LayerParams,
  rBottom: FBuf,
  rawErr: FBuf,
  prev: LayerState,
  next: LayerState,
  sc: LayerScratch,
  g: LayerGrads,
  B: number,
  nIn: number,
  nOut: number,
): LayerStepArgs {
  return {
    B,
    nIn,
    nOut,
    W: p.W,
    b: p.b,
    tauM: p.tauM,
    tauR: p.tauR,
    rBottom,
    rawErr,
    u: prev.u,
    v: prev.v,
    rPrime: prev.rPrime,
    uN: next.u,
    vN: next.v,
    rN: next.r,
    rPrimeN: next.rPrime,
    eBottomN: next.eBottom,
    instE: sc.instE,
    prospU: sc.prospU,
    prospV: sc.prospV,
    uDot: sc.uDot,
    gW: g.W,
    gB: g.b,
    gTau: g.tauM,
  };
}
