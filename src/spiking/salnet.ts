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
 */
import { Projection } from './projection.js';
import { newFArray, newSpikingState, pspStep, spikeStep, spikingParams, type FArray, type SpikeDType, type SpikingParams, type SpikingState } from './units.js';
import { salRule, stdpAccumulate, sumBatch, type StdpRule } from './stdp.js';

export interface SalNetOptions {
  sizes: number[];
  batch?: number;
  tauRef: number;
  tauSyn?: number;
  nLast?: number;
  dtype?: SpikeDType;
  mode?: 'dense' | 'event';
  seed?: number;
}

export class SalNet {
  readonly sizes: number[];
  readonly pops: { p: SpikingParams; s: SpikingState }[];
  /** fw[ℓ − 1] = W_ℓ (layer ℓ − 1 → ℓ) */
  readonly fw: Projection[];
  /** fb[ℓ − 1] = B_ℓ (layer ℓ → ℓ − 1) */
  readonly fb: Projection[];
  readonly bias: FArray[];
  /** SAL traces of B_ℓ (batch × n_{ℓ−1} × n_ℓ) */
  readonly D: Float64Array[];
  readonly rule: StdpRule;
  private readonly u: FArray[];
  private readonly dsum: Float64Array[];

  constructor(o: SalNetOptions) {
    if (o.sizes.length < 2) throw new Error('SalNet: needs at least two layers');
    const batch = o.batch ?? 1, dtype = o.dtype ?? 'float32', mode = o.mode ?? 'event';
    this.sizes = o.sizes.slice();
    this.pops = o.sizes.map((n, l) => {
      const p = spikingParams({ n, batch, tauRef: o.tauRef, tauSyn: o.tauSyn, nLast: o.nLast, dtype });
      return { p, s: newSpikingState(p, (o.seed ?? 0) * 7919 + l) };
    });
    this.fw = [];
    this.fb = [];
    this.D = [];
    this.dsum = [];
    for (let l = 1; l < o.sizes.length; l++) {
      this.fw.push(new Projection(o.sizes[l], o.sizes[l - 1], batch, dtype, mode));
      this.fb.push(new Projection(o.sizes[l - 1], o.sizes[l], batch, dtype, mode));
      this.D.push(new Float64Array(batch * o.sizes[l - 1] * o.sizes[l]));
      this.dsum.push(new Float64Array(o.sizes[l - 1] * o.sizes[l]));
    }
    this.bias = o.sizes.map((n) => newFArray(dtype, n));
    this.u = o.sizes.map((n) => newFArray(dtype, n * batch));
    this.rule = salRule(o.tauRef);
  }

  get batch(): number {
    return this.pops[0].p.batch;
  }

  /** Run `steps` steps; with `trace` the SAL pairs are added to D. */
  run(steps: number, trace = true): void {
    const L = this.sizes.length;
    const { pops, fw, fb, bias, u, D, rule } = this;
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
      if (trace) for (let l = 1; l < L; l++) stdpAccumulate(rule, D[l - 1], pops[l - 1].p, pops[l - 1].s, pops[l].p, pops[l].s, false);
      for (let l = 0; l < L; l++) pops[l].s.t++;
    }
  }

  /** B_ℓ += lr · mean_batch(D_ℓ) / (T/τ_ref) for a run of T steps; clears the traces. */
  applySal(lr: number, steps: number): void {
    const tauRef = this.pops[0].p.tauRef, B = this.batch;
    for (let l = 0; l < this.fb.length; l++) {
      const s = sumBatch(this.D[l], B, this.dsum[l]);
      const W = this.fb[l].W, f = lr / B / (steps / tauRef);
      for (let q = 0; q < W.length; q++) W[q] += f * s[q];
      this.fb[l].changed();
      this.D[l].fill(0);
    }
  }
}
