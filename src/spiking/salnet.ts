/**
 * SALNet: a layered spiking network whose feedback weights learn by SAL (SAL §3.4). Layers ℓ = 0..L of stochastic
 * units (./units.ts), batched over independent copies; forward weights W_ℓ (n_ℓ × n_{ℓ−1}) and feedback weights
 * B_ℓ (n_{ℓ−1} × n_ℓ, from layer ℓ down to ℓ − 1). Every neuron sums its bottom-up and top-down PSPs:
 *
 *   u_ℓ = b_ℓ + W_ℓ κ_{ℓ−1} + B_{ℓ+1} κ_{ℓ+1}
 *
 * During a run the SAL traces of every B_ℓ are accumulated (post = layer ℓ − 1, pre = layer ℓ). Forward-caused
 * pairs (i in ℓ−1 then j in ℓ) are anti-causal for B_ℓ[i, j] (potentiation), pairs B caused itself are causal
 * (depression), so B_ℓ → W_ℓᵀ: see {@link SalNet.applySal}. Browser-safe, no allocation per step.
 *
 * Engines: 'js' (this file's loop) and 'wasm' (wasm/assembly/spiking.ts `salRun`, float32 only): the same random
 * streams and operation order, and every array of the net a view on the wasm memory, so weights, biases and traces
 * are read and written the same way with either.
 */
import { Projection } from './projection.js';
import { newFArray, newSpikingState, pspStep, spikeStep, spikingParams, type FArray, type SpikeDType, type SpikingParams, type SpikingState } from './units.js';
import { salRule, stdpAccumulate, type StdpRule } from './stdp.js';
import { createWasmSalNet, type WasmSalNet } from './wasm.js';

export const SALNET_ENGINES = ['js', 'wasm'] as const;
export type SalNetEngine = (typeof SALNET_ENGINES)[number];

export interface SalNetOptions {
  sizes: number[];
  batch?: number;
  tauRef: number;
  tauSyn?: number;
  nLast?: number;
  /** SAL pairs kept: |Δt| < span steps (default: the whole exp window, 30 τ_ref); the reference's buffer is 20 */
  span?: number;
  dtype?: SpikeDType;
  mode?: 'dense' | 'event';
  seed?: number;
  /** 'js' (default) or 'wasm' (float32 only) */
  engine?: SalNetEngine;
}

export class SalNet {
  readonly sizes: number[];
  readonly pops: { p: SpikingParams; s: SpikingState }[];
  /** fw[ℓ − 1] = W_ℓ (layer ℓ − 1 → ℓ) */
  readonly fw: Projection[];
  /** fb[ℓ − 1] = B_ℓ (layer ℓ → ℓ − 1) */
  readonly fb: Projection[];
  readonly bias: FArray[];
  /** SAL traces of B_ℓ (n_{ℓ−1} × n_ℓ, summed over the chains) */
  readonly D: Float64Array[];
  readonly rule: StdpRule;
  readonly engine: SalNetEngine;
  private readonly u: FArray[];
  private readonly wasm: WasmSalNet | null;
  /** per projection (forward, feedback per gap): its dirty flag handed to the wasm run */
  private readonly dirtyFlags: boolean[];

  constructor(o: SalNetOptions) {
    if (o.sizes.length < 2) throw new Error('SalNet: needs at least two layers');
    const batch = o.batch ?? 1, dtype = o.dtype ?? 'float32', mode = o.mode ?? 'event';
    this.engine = o.engine ?? 'js';
    if (!SALNET_ENGINES.includes(this.engine)) throw new Error(`SalNet: engine must be one of ${SALNET_ENGINES.join(', ')}, got ${JSON.stringify(o.engine)}`);
    this.sizes = o.sizes.slice();
    this.rule = salRule(o.tauRef, 1, o.span);
    const params = o.sizes.map((n) => spikingParams({ n, batch, tauRef: o.tauRef, tauSyn: o.tauSyn, nLast: o.nLast, dtype }));
    const seeds = o.sizes.map((_, l) => (o.seed ?? 0) * 7919 + l);
    const w = (this.wasm = this.engine === 'wasm' ? createWasmSalNet(o.sizes, params[0], seeds, this.rule) : null);
    this.pops = params.map((p, l) => ({ p, s: w ? w.states[l] : newSpikingState(p, seeds[l]) }));
    this.fw = [];
    this.fb = [];
    this.D = [];
    for (let l = 1; l < o.sizes.length; l++) {
      this.fw.push(new Projection(o.sizes[l], o.sizes[l - 1], batch, dtype, mode, w?.fw[l - 1]));
      this.fb.push(new Projection(o.sizes[l - 1], o.sizes[l], batch, dtype, mode, w?.fb[l - 1]));
      this.D.push(w ? w.D[l - 1] : new Float64Array(o.sizes[l - 1] * o.sizes[l]));
    }
    this.bias = w ? w.bias : o.sizes.map((n) => newFArray(dtype, n));
    this.u = w ? w.u : o.sizes.map((n) => newFArray(dtype, n * batch));
    this.dirtyFlags = new Array<boolean>(2 * (o.sizes.length - 1)).fill(true);
  }

  get batch(): number {
    return this.pops[0].p.batch;
  }

  /** Run `steps` steps; with `trace` the SAL pairs are added to D. */
  run(steps: number, trace = true): void {
    const L = this.sizes.length;
    const { pops, fw, fb, bias, u, D, rule } = this;
    if (this.wasm) {
      if (steps <= 0) return;
      const f = this.dirtyFlags;
      for (let g = 0; g < L - 1; g++) (f[2 * g] = fw[g].dirty), (f[2 * g + 1] = fb[g].dirty);
      const t = this.wasm.run(steps, pops[0].s.t, trace, f, fw[0].mode === 'event');
      for (let g = 0; g < L - 1; g++) fw[g].dirty = fb[g].dirty = false;
      for (let l = 0; l < L; l++) pops[l].s.t = t;
      return;
    }
    for (let k = 0; k < steps; k++) {
      for (let l = 0; l < L; l++) pspStep(pops[l].p, pops[l].s);
      for (let l = 0; l < L - 1; l++) {
        fw[l].update(pops[l].s.kappa);
        fb[l].update(pops[l + 1].s.kappa);
      }
      for (let l = 0; l < L; l++) {
        const n = this.sizes[l], ul = u[l], bl = bias[l];
        const up = l > 0 ? fw[l - 1].acc : null, down = l < L - 1 ? fb[l].acc : null;
        for (let bb = 0; bb < pops[l].p.batch; bb++)
          for (let i = 0; i < n; i++) {
            const q = bb * n + i;
            ul[q] = bl[i] + (up ? up[q] : 0) + (down ? down[q] : 0);
          }
        spikeStep(pops[l].p, pops[l].s, ul);
      }
      if (trace) for (let l = 1; l < L; l++) stdpAccumulate(rule, D[l - 1], pops[l - 1].p, pops[l - 1].s, pops[l].p, pops[l].s, false, true);
      for (let l = 0; l < L; l++) pops[l].s.t++;
    }
  }

  /** B_ℓ += lr · mean_batch(D_ℓ) / (T/τ_ref) for a run of T steps; clears the traces. */
  applySal(lr: number, steps: number): void {
    const tauRef = this.pops[0].p.tauRef, B = this.batch;
    for (let l = 0; l < this.fb.length; l++) {
      const s = this.D[l];
      const W = this.fb[l].W, f = lr / B / (steps / tauRef);
      for (let q = 0; q < W.length; q++) W[q] += f * s[q];
      this.fb[l].changed();
      this.D[l].fill(0);
    }
  }
}
