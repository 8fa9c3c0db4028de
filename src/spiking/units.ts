/**
 * Stochastic spiking units ("neural sampling", Buesing et al. 2011) as a batched population — the spiking part of
 * SAL (Gierlich et al., arXiv 2503.02642). Browser-safe; no allocation per step.
 *
 * Discrete time, step 1. For neuron i of a population, with t̂_j^(k) the k-th most recent spike of presynaptic j:
 *
 *   κ_j(t)   = Σ_{k < N} [0 < t − t̂_j^(k) < τ_syn]          rectangular PSP (strict), summed over the last N spikes
 *   u_i(t)   = b_i + Σ_j W_ij κ_j(t)                         (computed by the caller: one or more projections)
 *   P(spike) = σ(u_i(t) − ln τ_ref)   if t − t̂_i ≥ τ_ref      logistic escape noise, absolute refractoriness
 *   z_i(t)   = [0 ≤ t − t̂_i < τ_ref]                         the sampled binary state
 *
 * With τ_syn = τ_ref and symmetric W the states z sample approximately from p(z) ∝ exp(½ zᵀWz + bᵀz).
 *
 * Norse-style layout: {@link SpikingParams} (declared once, immutable), {@link SpikingState} (typed arrays only),
 * pure step functions ({@link pspStep}, {@link spikeStep}, {@link recurrentDrive}) that read and write the state in
 * place, and a thin wrapper ({@link SpikingPopulation}). Every per-neuron array is listed in {@link SPIKING_FIELDS}
 * (one table), so a projections + populations core can allocate and checkpoint them generically.
 *
 * The uniform numbers come from a per-population xoshiro128** stream held in the state (a Uint32Array of 4), so a
 * run is reproducible from its seed and the step allocates nothing.
 */

export type SpikeDType = 'float32' | 'float64';
export type FArray = Float32Array | Float64Array;

/** "never spiked": far enough in the past for every window, small enough to stay an int32 after subtraction */
export const NEVER = -(1 << 29);

export interface SpikingParams {
  readonly n: number;
  /** independent copies of the population ("parallel networks") */
  readonly batch: number;
  /** refractory period in steps (also the sampling state's duration) */
  readonly tauRef: number;
  /** PSP duration: a spike contributes for 0 < Δ < tauSyn */
  readonly tauSyn: number;
  /** how many past spikes per neuron are remembered (PSP sum, STDP pairs) */
  readonly nLast: number;
  readonly dtype: SpikeDType;
  /** ln τ_ref, the escape-noise offset */
  readonly logTauRef: number;
}

export interface SpikingState {
  /** the step being computed */
  t: number;
  /** batch × n × nLast spike times, newest first (NEVER when none) */
  readonly hist: Int32Array;
  /** batch × n: 1 where the neuron spiked at step t */
  readonly spikes: Uint8Array;
  /** batch × n: PSP sum κ at step t */
  readonly kappa: FArray;
  /** batch × n: spikes counted since the last resetCounts */
  readonly counts: Float64Array;
  /** xoshiro128** state */
  readonly rng: Uint32Array;
}

/** One table of the population's per-neuron fields: name, element type, length per batch element, role. */
export const SPIKING_FIELDS = [
  { name: 'hist', type: 'i32', per: 'n*nLast', role: 'state', doc: 'last nLast spike times, newest first' },
  { name: 'spikes', type: 'u8', per: 'n', role: 'state', doc: 'spiked at the current step' },
  { name: 'kappa', type: 'float', per: 'n', role: 'state', doc: 'rectangular PSP sum' },
  { name: 'counts', type: 'f64', per: 'n', role: 'state', doc: 'spike counter (rates)' },
] as const;

export interface SpikingParamsInput {
  n: number;
  batch?: number;
  tauRef: number;
  tauSyn?: number;
  nLast?: number;
  dtype?: SpikeDType;
}

export function spikingParams(p: SpikingParamsInput): SpikingParams {
  const tauSyn = p.tauSyn ?? p.tauRef;
  const batch = p.batch ?? 1;
  const nLast = p.nLast ?? 1;
  for (const [k, v] of [['n', p.n], ['batch', batch], ['tauRef', p.tauRef], ['tauSyn', tauSyn], ['nLast', nLast]] as const)
    if (!Number.isInteger(v) || v < 1) throw new Error(`spiking population: ${k} must be a positive integer, got ${v}`);
  return { n: p.n, batch, tauRef: p.tauRef, tauSyn, nLast, dtype: p.dtype ?? 'float32', logTauRef: Math.log(p.tauRef) };
}

export function newFArray(dtype: SpikeDType, n: number): FArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** Seed a xoshiro128** state through splitmix32 (the same seeding as util/rng.ts). */
export function seedRng(state: Uint32Array, seed: number): void {
  let x = seed >>> 0;
  for (let k = 0; k < 4; k++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    state[k] = (z ^ (z >>> 16)) >>> 0;
  }
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
}

/** A uniform number in [0, 1) with 32 random bits, advancing the xoshiro128** state in place. */
export function rand01(s: Uint32Array): number {
  const s0 = s[0], s1 = s[1], s2 = s[2] ^ s0, s3 = s[3] ^ s1;
  const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
  s[1] = s1 ^ s2;
  s[0] = s0 ^ s3;
  s[2] = s2 ^ (s1 << 9);
  s[3] = rotl(s3, 11);
  return r * 2.3283064365386963e-10;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function newSpikingState(p: SpikingParams, seed: number): SpikingState {
  const s: SpikingState = {
    t: 0,
    hist: new Int32Array(p.batch * p.n * p.nLast).fill(NEVER),
    spikes: new Uint8Array(p.batch * p.n),
    kappa: newFArray(p.dtype, p.batch * p.n),
    counts: new Float64Array(p.batch * p.n),
    rng: new Uint32Array(4),
  };
  seedRng(s.rng, seed);
  return s;
}

/** Forget all spikes (time restarts at 0); the random stream continues. */
export function resetSpikingState(s: SpikingState): void {
  s.t = 0;
  s.hist.fill(NEVER);
  s.spikes.fill(0);
  s.kappa.fill(0);
  s.counts.fill(0);
}

/** κ(t) from the spike history (cost batch · n · nLast). */
export function pspStep(p: SpikingParams, s: SpikingState): void {
  const { hist, kappa } = s;
  const N = p.nLast, tauSyn = p.tauSyn, t = s.t;
  const m = p.batch * p.n;
  for (let q = 0; q < m; q++) {
    let c = 0;
    const o = q * N;
    for (let k = 0; k < N; k++) {
      const d = t - hist[o + k];
      if (d >= tauSyn) break; // newest first: older ones are further away
      if (d > 0) c++;
    }
    kappa[q] = c;
  }
}

/**
 * Draw the spikes of step t from the membrane potentials `u` (batch × n), record them in the history and counters.
 * Returns the number of spikes (all batch elements).
 */
export function spikeStep(p: SpikingParams, s: SpikingState, u: ArrayLike<number>): number {
  const { hist, spikes, counts, rng } = s;
  const N = p.nLast, tauRef = p.tauRef, lt = p.logTauRef, t = s.t;
  const m = p.batch * p.n;
  let total = 0;
  for (let q = 0; q < m; q++) {
    const o = q * N;
    spikes[q] = 0;
    if (t - hist[o] < tauRef) continue;
    const pr = 1 / (1 + Math.exp(lt - u[q]));
    if (rand01(rng) < pr) {
      for (let k = N - 1; k > 0; k--) hist[o + k] = hist[o + k - 1];
      hist[o] = t;
      spikes[q] = 1;
      counts[q]++;
      total++;
    }
  }
  return total;
}

/**
 * Dense recurrent drive u = b + W κ for a population that projects onto itself (W: n × n, row = post, shared over
 * the batch; b: n).
 */
export function recurrentDrive(p: SpikingParams, W: ArrayLike<number>, b: ArrayLike<number>, kappa: ArrayLike<number>, u: FArray): void {
  const n = p.n;
  for (let bb = 0; bb < p.batch; bb++) {
    const o = bb * n;
    for (let i = 0; i < n; i++) {
      let acc = b[i];
      const r = i * n;
      for (let j = 0; j < n; j++) acc += W[r + j] * kappa[o + j];
      u[o + i] = acc;
    }
  }
}

/**
 * Event-driven recurrent drive: keeps u_syn = W κ incrementally. Call after {@link pspStep}; `kPrev` holds the κ
 * of the previous step (updated here). Only neurons whose κ changed (a PSP began or ended) cost a column of W.
 * The accumulator is float64 and is rebuilt by {@link eventDriveSync} whenever W changes.
 */
export function eventDrive(p: SpikingParams, W: ArrayLike<number>, b: ArrayLike<number>, kappa: ArrayLike<number>, kPrev: FArray, uSyn: Float64Array, u: FArray): void {
  const n = p.n;
  for (let bb = 0; bb < p.batch; bb++) {
    const o = bb * n;
    for (let j = 0; j < n; j++) {
      const dk = kappa[o + j] - kPrev[o + j];
      if (dk !== 0) {
        kPrev[o + j] = kappa[o + j];
        for (let i = 0; i < n; i++) uSyn[o + i] += W[i * n + j] * dk;
      }
    }
    for (let i = 0; i < n; i++) u[o + i] = b[i] + uSyn[o + i];
  }
}

export function eventDriveSync(p: SpikingParams, W: ArrayLike<number>, kappa: ArrayLike<number>, kPrev: FArray, uSyn: Float64Array): void {
  const n = p.n;
  for (let bb = 0; bb < p.batch; bb++) {
    const o = bb * n;
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += W[i * n + j] * kappa[o + j];
      uSyn[o + i] = acc;
    }
    for (let j = 0; j < n; j++) kPrev[o + j] = kappa[o + j];
  }
}

/** The sampled state z_i(t) = [0 ≤ t − t̂_i < τ_ref] of batch element bb as a bit pattern (bit i = neuron i). */
export function stateIndex(p: SpikingParams, s: SpikingState, bb: number): number {
  const N = p.nLast, n = p.n, t = s.t, tr = p.tauRef;
  let idx = 0;
  for (let i = 0; i < n; i++) if (t - s.hist[(bb * n + i) * N] < tr) idx |= 1 << i;
  return idx;
}

/** Thin wrapper: a population with its parameters and state. */
export class SpikingPopulation {
  readonly p: SpikingParams;
  readonly s: SpikingState;
  constructor(p: SpikingParamsInput, seed: number) {
    this.p = spikingParams(p);
    this.s = newSpikingState(this.p, seed);
  }
  /** κ(t) for the current step */
  psp(): FArray {
    pspStep(this.p, this.s);
    return this.s.kappa;
  }
  /** draw the spikes of the current step from u */
  spike(u: ArrayLike<number>): number {
    return spikeStep(this.p, this.s, u);
  }
  /** move on to the next step */
  advance(): void {
    this.s.t++;
  }
  reset(): void {
    resetSpikingState(this.s);
  }
}
