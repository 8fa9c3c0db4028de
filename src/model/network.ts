/**
 * A GLE network: a stack of layers stepped in Jacobi order (see dynamics.ts for the equations). Each layer is a
 * projection (layers/dense.ts, conv.ts, pool.ts: rates below → drive, error above → error sent down) feeding a
 * population of neurons (layers/populations.ts: GLE, or a relay for pooling stages).
 *
 * One `step` = one dt for B independent copies of the network:
 *   1. the top layer's raw error is computed from the previous top rate y[t−1] and the target (mse / ce / nll, × β);
 *   2. every layer steps reading only values committed at t−1: a dense GLE layer as the backend's fused kernel
 *      (`Backend.layerStep`; with a feedback matrix, without its error product, which the projection then adds),
 *      any other layer — or every layer with `path: 'composed'` — composed from the projection's forward, the
 *      population's named elementwise kernel, the projection's gradients and its backward (the fused kernel's
 *      test oracle);
 *   3. the network returns y[t−1] (the previous top rate) and commits all layers at once (a parity flip of
 *      double-buffered state — nothing is copied).
 * Gradients are written on every training step (not accumulated); an optimiser (src/learn) consumes them.
 * State is never reset between calls unless `resetState()` is called; a batch-size change tiles or truncates it.
 *
 * The hot path allocates nothing: all buffers are created at construction (per batch size, cached).
 */
import type { Backend, FBuf, FloatArray, LayerStepArgs } from '../kernels/types.js';
import { getKernel, type KernelImpl } from '../kernels/registry.js';
import type { GleNeuronArgs, RelayArgs } from '../kernels/generic.js';
import { Rng } from '../util/rng.js';
import { type LayerGrads, type LayerHyper, type LayerParams, type LayerScratch, type LayerState, layerStepArgs, stepFlags } from './dynamics.js';
import { type NetworkSpecInput, type ResolvedLayer, type ResolvedSpec, parseSpec, SpecError, specToJson } from './spec.js';
import { type LossKind, type TargetKind, decodeTarget, lossValue, targetError } from './losses.js';
import type { PopulationDecl, Projection, Workspace } from './layers/types.js';
import { E_BOTTOM, POPULATIONS } from './layers/populations.js';
import { DenseProjection } from './layers/dense.js';
import { ConvProjection } from './layers/conv.js';
import { MaxPoolProjection } from './layers/pool.js';
import { sizeProblems } from './memory.js';
import { type ExplicitGleArgs, explicitGleStep } from './layers/explicit.js';

export interface Layer {
  readonly spec: ResolvedLayer;
  readonly index: number;
  readonly nIn: number;
  readonly nOut: number;
  /** connectivity: drive from the rates below, error sent down, weight gradients */
  readonly projection: Projection;
  /** the neuron model's declaration (state and per-step fields, kernel) */
  readonly population: PopulationDecl;
  /** W and b are the projection's (empty for pooling), τ_m and τ_r the neurons' */
  readonly params: LayerParams;
  readonly grads: LayerGrads;
  hyper: LayerHyper;
  trainable: boolean;
  /** stepped by the backend's fused dense GLE kernel (false: composed) */
  readonly fused: boolean;
}
/** @deprecated the layer record of every type; kept as the name earlier code used */
export type DenseLayer = Layer;

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
  /** per layer: the drive W r_bottom + b of the composed path */
  readonly drive: FBuf[];
  /** per layer: the projection's workspace */
  readonly ws: Workspace[];
  readonly args: [(LayerStepArgs | null)[], (LayerStepArgs | null)[]]; // fused layers, by parity: prev = states[p], next = states[1-p]
  readonly pop: [(GleNeuronArgs | RelayArgs | null)[], (GleNeuronArgs | RelayArgs | null)[]]; // composed layers, by parity
  /** path 'populations': the explicit representation + error populations of each GLE layer, by parity */
  readonly explicit: [(ExplicitGleArgs | null)[], (ExplicitGleArgs | null)[]];
}

/** A named learnable tensor and its gradient buffer (reference names: layer_0.weight, layer_0.bias, layer_0.tau_m). */
export interface ParamRef {
  readonly name: string;
  readonly kind: 'weight' | 'bias' | 'tau_m' | 'feedback';
  readonly layer: number;
  readonly p: FBuf;
  readonly g: FBuf;
  readonly shape: number[];
}

export interface NetworkOptions {
  /** also compute the error layer 0 sends to the input (only needed for traces). */
  computeInputError?: boolean;
  batchSize?: number;
  /**
   * 'auto' (default): dense GLE layers run the backend's fused kernel; 'composed': every layer is composed from
   * projection + population kernels (the fused kernel's test oracle; slower); 'populations': composed, with every
   * GLE layer stepped as two explicit populations, representation and error neurons (layers/explicit.ts).
   */
  path?: 'auto' | 'composed' | 'populations';
}

export type { TargetKind };

export class GLENetwork {
  readonly spec: ResolvedSpec;
  readonly k: Backend;
  readonly layers: Layer[];
  /** 'auto', 'composed' or 'populations' (see NetworkOptions.path) */
  readonly path: 'auto' | 'composed' | 'populations';
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
    this.path = opts.path ?? 'auto';
    const rng = new Rng(this.spec.seed);
    // feedback matrices come from their own stream, so W and b do not depend on the feedback mode
    const feedbackRng = new Rng(this.spec.seed ^ 0x5eedfb);
    this.layers = this.spec.resolved.map((l, i) => this.makeLayer(l, i, rng, feedbackRng));
    this.nIn = this.spec.input_size;
    this.nOut = this.layers[this.layers.length - 1].nOut;
    this.setBatchSize(opts.batchSize ?? 1);
  }

  private makeLayer(l: ResolvedLayer, index: number, rng: Rng, feedbackRng: Rng): Layer {
    const k = this.k;
    const nIn = l.nIn, nOut = l.size;
    let proj: Projection;
    if (l.type === 'dense') proj = new DenseProjection(k, l, rng, feedbackRng);
    else if (l.type === 'conv1d' || l.type === 'conv2d') proj = new ConvProjection(k, l, rng);
    else proj = new MaxPoolProjection(k, l);
    const population = POPULATIONS[l.neuron];
    const nT = l.neuron === 'relay' ? 0 : nOut;
    const tauM = k.alloc(nT), tauR = k.alloc(nT);
    tauM.a.set(l.tauM);
    tauR.a.set(l.tauR);
    const empty = proj.W ? null : k.alloc(0);
    return {
      spec: l,
      index,
      nIn,
      nOut,
      projection: proj,
      population,
      params: { W: proj.W ?? empty!, b: proj.b, tauM, tauR },
      grads: { W: proj.gW ?? empty!, b: proj.gB, tauM: k.alloc(nT) },
      hyper: { phi: l.phiCode, gamma: l.gamma, prospective: l.prospective, learnTau: l.learn_tau },
      trainable: l.trainable,
      fused: this.path === 'auto' && l.type === 'dense' && l.neuron === 'gle',
    };
  }

  private makeSet(B: number): BatchSet {
    const k = this.k;
    const L = this.layers.length;
    const state = (): LayerState[] =>
      this.layers.map((l) => {
        const s: Record<string, FBuf> = {};
        for (const f of l.population.state) s[f.key] = k.alloc(B * l.nOut);
        s[E_BOTTOM.key] = k.alloc(B * l.nIn);
        return s as unknown as LayerState;
      });
    const states: [LayerState[], LayerState[]] = [state(), state()];
    const scratch = this.layers.map((l) => {
      const s: Record<string, FBuf> = {};
      for (const f of l.population.scratch) s[f.key] = k.alloc(B * l.nOut);
      return s as unknown as LayerScratch;
    });
    const drive = this.layers.map((l) => (l.fused ? k.alloc(0) : k.alloc(B * l.nOut)));
    const ws = this.layers.map((l) => l.projection.workspace(k, B));
    const input = k.alloc(B * this.nIn);
    const targetErr = k.alloc(B * this.nOut);
    const rIn = (p: 0 | 1, i: number): FBuf => (i === 0 ? input : states[p][i - 1].r);
    const rawErr = (p: 0 | 1, i: number): FBuf => (i === L - 1 ? targetErr : states[p][i + 1].eBottom);
    const args = ([0, 1] as const).map((p) =>
      this.layers.map((l, i) =>
        l.fused ? layerStepArgs(l.params, rIn(p, i), rawErr(p, i), states[p][i], states[1 - p][i], scratch[i], l.grads, B, l.nIn, l.nOut) : null,
      ),
    ) as BatchSet['args'];
    const pop = ([0, 1] as const).map((p) =>
      this.layers.map((l, i): GleNeuronArgs | RelayArgs | null => {
        if (l.fused) return null;
        const prev = states[p][i], next = states[1 - p][i], sc = scratch[i];
        if (l.population.model === 'relay')
          return { n: B * l.nOut, drive: drive[i], rawErr: rawErr(p, i), rN: next.r, rPrimeN: next.rPrime, instE: sc.instE, prospV: sc.prospV };
        return {
          B, n: l.nOut, drive: drive[i], rawErr: rawErr(p, i), u: prev.u, v: prev.v, rPrime: prev.rPrime, uN: next.u, vN: next.v, rN: next.r,
          rPrimeN: next.rPrime, instE: sc.instE, prospU: sc.prospU, prospV: sc.prospV, uDot: sc.uDot, tauM: l.params.tauM,
          tauR: l.params.tauR, gTau: l.grads.tauM, phi: l.hyper.phi, dt: this.dt, gamma: l.hyper.gamma, flags: 0,
        };
      }),
    ) as BatchSet['pop'];
    const errIn = this.layers.map((l) => (this.path === 'populations' && l.population.model === 'gle' ? k.alloc(B * l.nOut) : null));
    const vDot = this.layers.map((l) => (errIn[l.index] ? k.alloc(B * l.nOut) : null));
    const explicit = ([0, 1] as const).map((p) =>
      this.layers.map((l, i): ExplicitGleArgs | null => {
        if (!errIn[i]) return null;
        const prev = states[p][i], next = states[1 - p][i], sc = scratch[i], n = l.nOut, tm = l.params.tauM, tr = l.params.tauR;
        return {
          B, nOut: n, rawErr: rawErr(p, i), rPrime: prev.rPrime, drive: drive[i], rN: next.r, rPrimeN: next.rPrime, gTau: l.grads.tauM, gamma: l.hyper.gamma, phi: l.hyper.phi,
          // error neurons: v leaks with τ_r and looks ahead with τ_m; representation neurons: u with τ_m, ahead τ_r
          err: { B, nOut: n, input: sc.instE, x: prev.v, xN: next.v, out: sc.prospV, xDot: vDot[i]!, tauLeak: tr, tauAhead: tm, dt: this.dt, instantaneous: false },
          rep: { B, nOut: n, input: drive[i], x: prev.u, xN: next.u, out: sc.prospU, xDot: sc.uDot, tauLeak: tm, tauAhead: tr, dt: this.dt, instantaneous: false },
        };
      }),
    ) as BatchSet['explicit'];
    return { B, input, target: k.alloc(B * this.nOut), labels: new Int32Array(B), targetErr, output: k.alloc(B * this.nOut), states, scratch, drive, ws, args, pop, explicit };
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
        const from = old.states[p][l] as unknown as Record<string, FBuf>, to = set.states[p][l] as unknown as Record<string, FBuf>;
        for (const key of Object.keys(from)) tileRows(from[key], to[key], old.B, B);
      }
      tileRows(old.output, set.output, old.B, B);
    }
    this.cur = set;
  }

  /** Zero every state variable (as each neuron model declares it, and e_bottom) of every layer; r' = 0 again means no error at the next step. */
  resetState(): void {
    for (const set of this.sets.values()) {
      for (const ps of set.states) for (const s of ps) for (const b of Object.values(s as unknown as Record<string, FBuf>)) b.a.fill(0);
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
    const kind: TargetKind = decodeTarget(target, set.target.a, set.labels, B, this.nOut, this.loss);
    this.lastTargetKind = kind;
    targetError(this.loss, this.beta, top.r.a, kind, set.target.a, set.labels, set.targetErr.a, B, this.nOut);
    // 2. all layers read t−1 values
    const args = set.args[p];
    for (let l = 0; l < L; l++) {
      const layer = this.layers[l];
      const grads = this.training && (layer.trainable || layer.hyper.learnTau);
      const errDown = l > 0 || this.computeInputError;
      const a = args[l];
      if (a !== null) {
        const proj = layer.projection;
        const viaW = proj.feedback === 'transpose';
        this.k.layerStep(a, layer.hyper.phi, this.dt, layer.hyper.gamma, stepFlags(layer.hyper, grads, errDown && viaW));
        if (!viaW) {
          if (errDown) proj.backward(this.k, set.ws[l], a.prospV, a.eBottomN);
          if (grads && layer.trainable && proj.feedback === 'learned') (proj as DenseProjection).feedbackPlasticity(a.rBottom, a.u, a.uDot, a.prospU, a.tauM);
        }
      } else this.composedStep(set, p, l, grads, errDown);
    }
    // 3. output = previous top rate; commit by flipping parity
    set.output.a.set(top.r.a);
    this.parity = (1 - p) as 0 | 1;
    this.steps++;
    return set.output;
  }

  /** One layer composed from its projection and population kernels (see the header). */
  private composedStep(set: BatchSet, p: 0 | 1, l: number, grads: boolean, errDown: boolean): void {
    const layer = this.layers[l], proj = layer.projection, k = this.k, ws = set.ws[l];
    const rIn = l === 0 ? set.input : set.states[p][l - 1].r;
    const sc = set.scratch[l];
    proj.forward(k, ws, rIn, set.drive[l]);
    const pa = set.pop[p][l]!;
    if (layer.population.model === 'gle') {
      const g = pa as GleNeuronArgs;
      // doubles are written only when they change: a write into a record can allocate a number box
      if (g.dt !== this.dt) g.dt = this.dt;
      if (g.gamma !== layer.hyper.gamma) g.gamma = layer.hyper.gamma;
      g.phi = layer.hyper.phi;
      g.flags = stepFlags(layer.hyper, grads, false);
    }
    const ex = set.explicit[p][l];
    if (ex !== null) {
      if (ex.err.dt !== this.dt) ex.err.dt = ex.rep.dt = this.dt;
      if (ex.gamma !== layer.hyper.gamma) ex.gamma = layer.hyper.gamma;
      ex.phi = layer.hyper.phi;
      explicitGleStep(k, ex, stepFlags(layer.hyper, grads, false));
    } else this.popKernel(layer)(k, pa as never);
    if (grads && layer.trainable) proj.grads(k, ws, sc.prospV, rIn);
    if (errDown) proj.backward(k, ws, sc.prospV, set.states[1 - p][l].eBottom);
    // after the error went down through this step's B (as the fused path)
    if (grads && layer.trainable && proj.feedback === 'learned') (proj as DenseProjection).feedbackPlasticity(rIn, set.states[p][l].u, sc.uDot, sc.prospU, layer.params.tauM);
  }

  private readonly kernels = new Map<string, KernelImpl<never>>();
  private popKernel(layer: Layer): KernelImpl<never> {
    let f = this.kernels.get(layer.population.kernel);
    if (!f) this.kernels.set(layer.population.kernel, (f = getKernel<never>(this.k, layer.population.kernel)));
    return f;
  }

  /** The buffer of a traced field of layer l by its name (u, v, r, r_prime, e_bottom, prosp_u, ...), or null. */
  field(l: number, name: string): FBuf | null {
    const layer = this.layers[l];
    if (name === E_BOTTOM.name) return this.state(l).eBottom;
    const st = layer.population.state.find((f) => f.name === name);
    if (st) return (this.state(l) as unknown as Record<string, FBuf>)[st.key];
    const sc = layer.population.scratch.find((f) => f.name === name);
    return sc ? (this.scratch(l) as unknown as Record<string, FBuf>)[sc.key] : null;
  }

  /** Loss of the last returned output against the last target (mse: mean over all elements; ce/nll: batch mean). */
  lastLoss(): number {
    const set = this.cur;
    return lossValue(this.loss, set.output.a, this.lastTargetKind, set.target.a, set.labels, set.B, this.nOut);
  }

  /** Learnable tensors in the reference's order: per layer weight, bias, feedback, tau_m (only those that learn). */
  parameters(): ParamRef[] {
    const out: ParamRef[] = [];
    for (const l of this.layers) {
      const n = `layer_${l.index}`;
      for (const t of l.projection.tensors) {
        if (!t.grad) continue;
        if (t.suffix === 'feedback' ? l.projection.feedback === 'learned' : l.trainable)
          out.push({ name: `${n}.${t.suffix}`, kind: t.suffix as ParamRef["kind"], layer: l.index, p: t.buf, g: t.grad, shape: t.shape });
      }
      if (l.hyper.learnTau && l.population.model === 'gle') out.push({ name: `${n}.tau_m`, kind: 'tau_m', layer: l.index, p: l.params.tauM, g: l.grads.tauM, shape: [l.nOut] });
    }
    return out;
  }

  /** Every parameter tensor (learnable or not), named as in checkpoints and traces. */
  allTensors(): { name: string; buf: FBuf; shape: number[] }[] {
    const out: { name: string; buf: FBuf; shape: number[] }[] = [];
    for (const l of this.layers) {
      const n = `layer_${l.index}`;
      for (const t of l.projection.tensors) out.push({ name: `${n}.${t.suffix}`, buf: t.buf, shape: t.shape });
      if (l.population.model === 'gle') {
        out.push({ name: `${n}.tau_m`, buf: l.params.tauM, shape: [l.nOut] });
        out.push({ name: `${n}.tau_r`, buf: l.params.tauR, shape: [l.nOut] });
      }
    }
    return out;
  }

  /** Dynamic state tensors of the current batch size (what a checkpoint must keep to continue exactly). */
  stateTensors(): { name: string; buf: FBuf; shape: number[] }[] {
    const out: { name: string; buf: FBuf; shape: number[] }[] = [];
    const B = this.B;
    this.layers.forEach((l, i) => {
      const s = this.state(i) as unknown as Record<string, FBuf>;
      for (const f of l.population.state) out.push({ name: `state.layer_${i}.${f.name}`, buf: s[f.key], shape: [B, l.nOut] });
      out.push({ name: `state.layer_${i}.${E_BOTTOM.name}`, buf: s[E_BOTTOM.key], shape: [B, l.nIn] });
    });
    out.push({ name: 'state.output', buf: this.cur.output, shape: [B, this.nOut] });
    return out;
  }

  /** Clamp τ_m and τ_r of every layer to [min, max] (the reference clamps both after each optimiser step). */
  clampTaus(min: number | null, max: number | null = null): void {
    if (min === null && max === null) return;
    const lo = min ?? -Infinity, hi = max ?? Infinity;
    for (let i = 0; i < this.layers.length; i++) {
      const p = this.layers[i].params;
      clampArray(p.tauM.a, lo, hi);
      clampArray(p.tauR.a, lo, hi);
    }
  }

  /** The spec as JSON (for checkpoints), with the current parameters not embedded. */
  specJson(): NetworkSpecInput {
    return specToJson(this.spec);
  }
}

function clampArray(t: FloatArray, lo: number, hi: number): void {
  for (let i = 0; i < t.length; i++) {
    const x = t[i];
    if (x < lo) t[i] = lo;
    else if (x > hi) t[i] = hi;
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
