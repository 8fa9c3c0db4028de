/**
 * A dense GLE network: a stack of layers stepped in Jacobi order (see dynamics.ts for the equations).
 *
 * One `step` = one dt for B independent copies of the network:
 *   1. the top layer's raw error is computed from the previous top rate y[t−1] and the target (mse / ce / nll, × β);
 *   2. every layer runs the fused GLE step reading only values committed at t−1;
 *   3. the network returns y[t−1] (the previous top rate) and commits all layers at once (a parity flip of
 *      double-buffered state — nothing is copied).
 * Gradients are written on every training step (not accumulated); an optimiser (src/learn) consumes them.
 * State is never reset between calls unless `resetState()` is called; a batch-size change tiles or truncates it.
 *
 * The hot path allocates nothing: all buffers are created at construction (per batch size, cached).
 */
import type { Backend, FBuf, LayerStepArgs } from '../kernels/types.js';
import { Rng } from '../util/rng.js';
import { type LayerGrads, type LayerHyper, type LayerParams, type LayerScratch, type LayerState, layerStepArgs, stepFlags } from './dynamics.js';
import { type NetworkSpecInput, type ResolvedLayer, type ResolvedSpec, parseSpec, SpecError, specToJson } from './spec.js';
import { type LossKind, lossValue, targetError } from './losses.js';
import { sizeProblems } from './memory.js';

export interface DenseLayer {
  readonly spec: ResolvedLayer;
  readonly index: number;
  readonly nIn: number;
  readonly nOut: number;
  readonly params: LayerParams;
  readonly grads: LayerGrads;
  hyper: LayerHyper;
  trainable: boolean;
}

/** Buffers that depend on the batch size. */
interface BatchSet {
  readonly B: number;
  readonly input: FBuf; // B × n_in of layer 0
  readonly target: FBuf; // B × n_out (mse targets, or one-hot)
  readonly labels: Int32Array; // B class labels (ce / nll)
  readonly targetErr: FBuf; // B × n_out raw error of the top layer
  readonly output: FBuf; // B × n_out returned output (previous top rate)
  readonly states: [LayerState[], LayerState[]]; // by parity
  readonly scratch: LayerScratch[];
  readonly args: [LayerStepArgs[], LayerStepArgs[]]; // by parity: prev = states[p], next = states[1-p]
}

/** A named learnable tensor and its gradient buffer (reference names: layer_0.weight, layer_0.bias, layer_0.tau_m). */
export interface ParamRef {
  readonly name: string;
  readonly kind: 'weight' | 'bias' | 'tau_m';
  readonly layer: number;
  readonly p: FBuf;
  readonly g: FBuf;
  readonly shape: number[];
}

export interface NetworkOptions {
  /** also compute the error layer 0 sends to the input (only needed for traces). */
  computeInputError?: boolean;
  batchSize?: number;
}

export type TargetKind = 'none' | 'values' | 'labels';

export class GLENetwork {
  readonly spec: ResolvedSpec;
  readonly k: Backend;
  readonly layers: DenseLayer[];
  readonly nIn: number;
  readonly nOut: number;
  dt: number;
  beta: number;
  loss: LossKind;
  /** training: gradients are written each step; eval: gradient work is skipped entirely. */
  training = true;
  computeInputError: boolean;
  /** steps taken since construction (or since the state was loaded) */
  steps = 0;

  private parity: 0 | 1 = 0;
  private sets = new Map<number, BatchSet>();
  private cur!: BatchSet;
  private lastTargetKind: TargetKind = 'none';

  constructor(spec: ResolvedSpec | NetworkSpecInput, backend: Backend, opts: NetworkOptions = {}) {
    this.spec = 'resolved' in spec ? (spec as ResolvedSpec) : parseSpec(spec);
    if (backend.dtype !== this.spec.dtype)
      throw new Error(`backend dtype ${backend.dtype} does not match the spec's dtype ${this.spec.dtype}`);
    this.k = backend;
    this.dt = this.spec.dt;
    this.beta = this.spec.beta;
    this.loss = this.spec.loss;
    this.computeInputError = opts.computeInputError ?? false;
    const rng = new Rng(this.spec.seed);
    this.layers = this.spec.resolved.map((l, i) => this.makeLayer(l, i, rng));
    this.nIn = this.spec.input_size;
    this.nOut = this.layers[this.layers.length - 1].nOut;
    this.setBatchSize(opts.batchSize ?? 1);
  }

  private makeLayer(l: ResolvedLayer, index: number, rng: Rng): DenseLayer {
    const k = this.k;
    const nIn = l.nIn, nOut = l.size;
    const W = k.alloc(nOut * nIn);
    const b = l.bias ? k.alloc(nOut) : null;
    // PyTorch nn.Linear default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)); drawn in this order from the seeded Rng.
    const bound = 1 / Math.sqrt(nIn);
    for (let i = 0; i < nOut * nIn; i++) W.a[i] = rng.range(-bound, bound);
    if (b) for (let i = 0; i < nOut; i++) b.a[i] = rng.range(-bound, bound);
    if (l.init?.weight) l.init.weight.forEach((row, o) => row.forEach((x, j) => (W.a[o * nIn + j] = x)));
    if (b && l.init?.bias) l.init.bias.forEach((x, o) => (b.a[o] = x));
    const tauM = k.alloc(nOut), tauR = k.alloc(nOut);
    tauM.a.set(l.tauM);
    tauR.a.set(l.tauR);
    return {
      spec: l,
      index,
      nIn,
      nOut,
      params: { W, b, tauM, tauR },
      grads: { W: k.alloc(nOut * nIn), b: l.bias ? k.alloc(nOut) : null, tauM: k.alloc(nOut) },
      hyper: { phi: l.phiCode, gamma: l.gamma, prospective: l.prospective, learnTau: l.learn_tau },
      trainable: l.trainable,
    };
  }

  private makeSet(B: number): BatchSet {
    const k = this.k;
    const state = (): LayerState[] =>
      this.layers.map((l) => ({ u: k.alloc(B * l.nOut), v: k.alloc(B * l.nOut), r: k.alloc(B * l.nOut), rPrime: k.alloc(B * l.nOut), eBottom: k.alloc(B * l.nIn) }));
    const states: [LayerState[], LayerState[]] = [state(), state()];
    const scratch = this.layers.map((l) => ({ instE: k.alloc(B * l.nOut), prospU: k.alloc(B * l.nOut), prospV: k.alloc(B * l.nOut), uDot: k.alloc(B * l.nOut) }));
    const input = k.alloc(B * this.nIn);
    const targetErr = k.alloc(B * this.nOut);
    const L = this.layers.length;
    const args = ([0, 1] as const).map((p) =>
      this.layers.map((l, i) =>
        layerStepArgs(
          l.params,
          i === 0 ? input : states[p][i - 1].r,
          i === L - 1 ? targetErr : states[p][i + 1].eBottom,
          states[p][i],
          states[1 - p][i],
          scratch[i],
          l.grads,
          B,
          l.nIn,
          l.nOut,
        ),
      ),
    ) as [LayerStepArgs[], LayerStepArgs[]];
    return { B, input, target: k.alloc(B * this.nOut), labels: new Int32Array(B), targetErr, output: k.alloc(B * this.nOut), states, scratch, args };
  }

  /** Current batch size. */
  get B(): number {
    return this.cur.B;
  }

  /** The input buffer of the current batch size (B × n_in); write it directly and call `step()` without x. */
  get input(): FBuf {
    return this.cur.input;
  }

  /** The last returned output (B × n_out): the top rate of the step before the last call. */
  get output(): FBuf {
    return this.cur.output;
  }

  /** The committed state of layer l (values after the last step). */
  state(l: number): LayerState {
    return this.cur.states[this.parity][l];
  }

  /** Values computed during the last step of layer l (prosp_u, prosp_v, inst_e, u_dot). */
  scratch(l: number): LayerScratch {
    return this.cur.scratch[l];
  }

  /**
   * Change the batch size. The state rows are tiled when it grows and truncated when it shrinks
   * (row i of the new state = row i mod B_old of the old one), as the reference does.
   */
  setBatchSize(B: number): void {
    if (!Number.isInteger(B) || B < 1) throw new Error(`batch size must be a positive integer, got ${B}`);
    if (this.cur && this.cur.B === B) return;
    let set = this.sets.get(B);
    if (!set) {
      const big = sizeProblems(this.nIn, this.layers.map((l) => l.nOut), this.k.dtype, B);
      if (big.length) throw new SpecError(big);
      set = this.makeSet(B);
      this.sets.set(B, set);
    }
    const old = this.cur;
    if (old) {
      const p = this.parity;
      for (let l = 0; l < this.layers.length; l++) {
        const from = old.states[p][l], to = set.states[p][l];
        for (const key of ['u', 'v', 'r', 'rPrime', 'eBottom'] as const) tileRows(from[key], to[key], old.B, B);
      }
      tileRows(old.output, set.output, old.B, B);
    }
    this.cur = set;
  }

  /** Zero every state variable (u, v, r, r', e_bottom) of every layer; r' = 0 again means no error at the next step. */
  resetState(): void {
    for (const set of this.sets.values()) {
      for (const ps of set.states) for (const s of ps) for (const key of ['u', 'v', 'r', 'rPrime', 'eBottom'] as const) s[key].a.fill(0);
      set.output.a.fill(0);
    }
  }

  /**
   * Advance one dt. `x`: B × n_in input (omit to use what is already in `input`). `target`:
   * - null/undefined: no target (the top error is zero; errors already in flight keep propagating);
   * - a float array of B × n_out values (mse; for ce/nll B × n_out is taken as class probabilities/one-hot);
   * - an Int32Array of B class labels (ce/nll; for mse it is one-hot encoded).
   * Returns the output buffer (the previous top rate). Allocates nothing.
   */
  step(x?: ArrayLike<number> | null, target?: ArrayLike<number> | null): FBuf {
    const set = this.cur;
    const B = set.B;
    if (x) {
      if (x.length !== B * this.nIn) throw new Error(`input has ${x.length} values, expected B*n_in = ${B}*${this.nIn}`);
      (set.input.a as Float64Array).set(x as ArrayLike<number>);
    }
    const p = this.parity;
    const L = this.layers.length;
    const top = set.states[p][L - 1];
    // 1. top-layer raw error from the previous top rate
    let kind: TargetKind = 'none';
    if (target) {
      if (target instanceof Int32Array && target.length === B) {
        set.labels.set(target);
        kind = 'labels';
      } else if (target.length === B * this.nOut) {
        (set.target.a as Float64Array).set(target as ArrayLike<number>);
        kind = 'values';
      } else if (target.length === B && this.loss !== 'mse') {
        for (let i = 0; i < B; i++) set.labels[i] = target[i];
        kind = 'labels';
      } else throw new Error(`target has ${target.length} values, expected B*n_out = ${B * this.nOut} (or B = ${B} labels as Int32Array)`);
    }
    this.lastTargetKind = kind;
    targetError(this.loss, this.beta, top.r.a, kind, set.target.a, set.labels, set.targetErr.a, B, this.nOut);
    // 2. all layers read t−1 values
    const args = set.args[p];
    for (let l = 0; l < L; l++) {
      const layer = this.layers[l];
      const grads = this.training && (layer.trainable || layer.hyper.learnTau);
      const flags = stepFlags(layer.hyper, grads, l > 0 || this.computeInputError);
      this.k.layerStep(args[l], layer.hyper.phi, this.dt, layer.hyper.gamma, flags);
    }
    // 3. output = previous top rate; commit by flipping parity
    set.output.a.set(top.r.a);
    this.parity = (1 - p) as 0 | 1;
    this.steps++;
    return set.output;
  }

  /** Loss of the last returned output against the last target (mse: mean over all elements; ce/nll: batch mean). */
  lastLoss(): number {
    const set = this.cur;
    return lossValue(this.loss, set.output.a, this.lastTargetKind, set.target.a, set.labels, set.B, this.nOut);
  }

  /** Learnable tensors in the reference's order: per layer weight, bias, tau_m (only those that learn). */
  parameters(): ParamRef[] {
    const out: ParamRef[] = [];
    for (const l of this.layers) {
      const n = `layer_${l.index}`;
      if (l.trainable) {
        out.push({ name: `${n}.weight`, kind: 'weight', layer: l.index, p: l.params.W, g: l.grads.W, shape: [l.nOut, l.nIn] });
        if (l.params.b && l.grads.b) out.push({ name: `${n}.bias`, kind: 'bias', layer: l.index, p: l.params.b, g: l.grads.b, shape: [l.nOut] });
      }
      if (l.hyper.learnTau) out.push({ name: `${n}.tau_m`, kind: 'tau_m', layer: l.index, p: l.params.tauM, g: l.grads.tauM, shape: [l.nOut] });
    }
    return out;
  }

  /** Every parameter tensor (learnable or not), named as in checkpoints and traces. */
  allTensors(): { name: string; buf: FBuf; shape: number[] }[] {
    const out: { name: string; buf: FBuf; shape: number[] }[] = [];
    for (const l of this.layers) {
      const n = `layer_${l.index}`;
      out.push({ name: `${n}.weight`, buf: l.params.W, shape: [l.nOut, l.nIn] });
      if (l.params.b) out.push({ name: `${n}.bias`, buf: l.params.b, shape: [l.nOut] });
      out.push({ name: `${n}.tau_m`, buf: l.params.tauM, shape: [l.nOut] });
      out.push({ name: `${n}.tau_r`, buf: l.params.tauR, shape: [l.nOut] });
    }
    return out;
  }

  /** Dynamic state tensors of the current batch size (what a checkpoint must keep to continue exactly). */
  stateTensors(): { name: string; buf: FBuf; shape: number[] }[] {
    const out: { name: string; buf: FBuf; shape: number[] }[] = [];
    const B = this.B;
    this.layers.forEach((l, i) => {
      const s = this.state(i);
      out.push({ name: `state.layer_${i}.u`, buf: s.u, shape: [B, l.nOut] });
      out.push({ name: `state.layer_${i}.v`, buf: s.v, shape: [B, l.nOut] });
      out.push({ name: `state.layer_${i}.r`, buf: s.r, shape: [B, l.nOut] });
      out.push({ name: `state.layer_${i}.r_prime`, buf: s.rPrime, shape: [B, l.nOut] });
      out.push({ name: `state.layer_${i}.e_bottom`, buf: s.eBottom, shape: [B, l.nIn] });
    });
    out.push({ name: 'state.output', buf: this.cur.output, shape: [B, this.nOut] });
    return out;
  }

  /** Clamp τ_m and τ_r of every layer to [min, max] (the reference clamps both after each optimiser step). */
  clampTaus(min: number | null, max: number | null = null): void {
    if (min === null && max === null) return;
    const lo = min ?? -Infinity, hi = max ?? Infinity;
    for (const l of this.layers) {
      for (const t of [l.params.tauM.a, l.params.tauR.a]) {
        for (let i = 0; i < t.length; i++) {
          const x = t[i];
          if (x < lo) t[i] = lo;
          else if (x > hi) t[i] = hi;
        }
      }
    }
  }

  /** The spec as JSON (for checkpoints), with the current parameters not embedded. */
  specJson(): NetworkSpecInput {
    return specToJson(this.spec);
  }
}

function tileRows(from: FBuf, to: FBuf, Bold: number, Bnew: number): void {
  const w = from.n / Bold;
  const src = from.a, dst = to.a;
  for (let i = 0; i < Bnew; i++) {
    const r = i % Bold;
    for (let j = 0; j < w; j++) dst[i * w + j] = src[r * w + j];
  }
}
