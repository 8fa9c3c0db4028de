/**
 * A recurrent spiking sampling network (SSN): one population of stochastic units (./units.ts) projecting onto itself
 * with weights W (n × n, row = post, zero diagonal) and biases b, batched over independent chains that share W and
 * b. Optional STDP traces (./stdp.ts) and a histogram of the sampled states z are accumulated while it runs.
 * Plus the exact Boltzmann target by enumeration, D_KL and the asymmetry measure of SAL §3.2. Browser-safe.
 *
 * Drive modes: 'dense' recomputes u = b + Wκ every step (n² per chain); 'event' keeps Wκ incrementally and touches a
 * column of W only when a PSP starts or ends (docs/RESULTS.md "SAL" has the speeds of both). Engine 'wasm' runs the
 * same loop (dense drive, float32) in WebAssembly (./wasm.ts).
 */
import { eventDrive, eventDriveSync, newFArray, pspStep, recurrentDrive, spikeStep, spikingParams, newSpikingState, resetSpikingState, stateIndex, type FArray, type SpikeDType, type SpikingParams, type SpikingState } from './units.js';
import { stdpAccumulate, type StdpRule } from './stdp.js';
import { createWasmSsn, type WasmSsn } from './wasm.js';

export interface SsnOptions {
  n: number;
  tauRef: number;
  tauSyn?: number;
  nLast?: number;
  batch?: number;
  dtype?: SpikeDType;
  mode?: 'dense' | 'event';
  /** 'wasm': the run loop in WebAssembly (float32, dense drive); 'js' (default) */
  engine?: 'js' | 'wasm';
  /** wasm only: the longest STDP window table its traces may use (default 64 τ_ref) */
  maxLag?: number;
  seed?: number;
}

export interface Trace {
  rule: StdpRule;
  /** batch × n × n */
  D: Float64Array;
}

export class SamplingNetwork {
  readonly p: SpikingParams;
  readonly s: SpikingState;
  readonly W: FArray;
  readonly b: FArray;
  readonly mode: 'dense' | 'event';
  readonly engine: 'js' | 'wasm';
  private readonly wasm: WasmSsn | null;
  private readonly u: FArray;
  private readonly kPrev: FArray;
  private readonly uSyn: Float64Array;
  /** set when W changed since the event accumulator was built */
  private dirty = true;

  constructor(o: SsnOptions) {
    this.p = spikingParams({ n: o.n, batch: o.batch, tauRef: o.tauRef, tauSyn: o.tauSyn, nLast: o.nLast, dtype: o.dtype });
    this.engine = o.engine ?? 'js';
    this.mode = o.mode ?? 'dense';
    const m = this.p.batch * o.n;
    if (this.engine === 'wasm') {
      if (this.mode !== 'dense') throw new Error("the wasm sampling network has the dense drive only (mode 'dense')");
      this.wasm = createWasmSsn(this.p, o.seed ?? 0, o.maxLag ?? 64 * o.tauRef + 1);
      this.s = this.wasm.s;
      this.W = this.wasm.W;
      this.b = this.wasm.b;
      this.u = this.wasm.u;
    } else {
      this.wasm = null;
      this.s = newSpikingState(this.p, o.seed ?? 0);
      this.W = newFArray(this.p.dtype, o.n * o.n);
      this.b = newFArray(this.p.dtype, o.n);
      this.u = newFArray(this.p.dtype, m);
    }
    this.kPrev = newFArray(this.p.dtype, m);
    this.uSyn = new Float64Array(m);
  }

  /** a new trace buffer for a rule */
  trace(rule: StdpRule): Trace {
    if (this.wasm) return { rule, D: this.wasm.trace(rule) };
    return { rule, D: new Float64Array(this.p.batch * this.p.n * this.p.n) };
  }

  /** call after changing W in place (the event mode rebuilds its accumulator) */
  weightsChanged(): void {
    this.dirty = true;
  }

  /** forget all spikes and counters (a fresh run); the random stream continues */
  reset(): void {
    resetSpikingState(this.s);
    this.dirty = true;
  }

  /**
   * Run `steps` steps, adding STDP pairs to `traces` and, when given, the number of steps spent in each state z to
   * `stateHist` (length 2^n, summed over the batch).
   */
  run(steps: number, traces: readonly Trace[] = [], stateHist: Float64Array | null = null): void {
    if (this.wasm) return this.runWasm(steps, traces, stateHist);
    const p = this.p, s = this.s, W = this.W, b = this.b, u = this.u;
    const event = this.mode === 'event';
    const nt = traces.length;
    for (let k = 0; k < steps; k++) {
      pspStep(p, s);
      if (event) {
        if (this.dirty) {
          eventDriveSync(p, W, s.kappa, this.kPrev, this.uSyn);
          this.dirty = false;
        }
        eventDrive(p, W, b, s.kappa, this.kPrev, this.uSyn, u);
      } else recurrentDrive(p, W, b, s.kappa, u);
      const nsp = spikeStep(p, s, u);
      if (nsp > 0) for (let r = 0; r < nt; r++) stdpAccumulate(traces[r].rule, traces[r].D, p, s, p, s, true);
      if (stateHist) for (let bb = 0; bb < p.batch; bb++) stateHist[stateIndex(p, s, bb)]++;
      s.t++;
    }
  }

  private runWasm(steps: number, traces: readonly Trace[], stateHist: Float64Array | null): void {
    const w = this.wasm!;
    if (stateHist) w.stateHist.fill(0);
    w.run(steps, traces, stateHist !== null);
    if (stateHist) for (let z = 0; z < stateHist.length; z++) stateHist[z] += w.stateHist[z];
  }

  /** mean firing probability per step of each neuron since the last reset (over the batch) */
  rates(steps: number, out: Float64Array): Float64Array {
    const n = this.p.n, B = this.p.batch;
    out.fill(0);
    for (let bb = 0; bb < B; bb++) for (let i = 0; i < n; i++) out[i] += this.s.counts[bb * n + i];
    for (let i = 0; i < n; i++) out[i] /= steps * B;
    return out;
  }
}

/** The exact distribution p(z) ∝ exp(½ zᵀWz + bᵀz) over the 2^n states (bit i = z_i), its marginals and coactivations. */
export function boltzmann(W: ArrayLike<number>, b: ArrayLike<number>, n: number): { p: Float64Array; m: Float64Array; C: Float64Array } {
  const S = 1 << n;
  const p = new Float64Array(S);
  let maxE = -Infinity;
  for (let z = 0; z < S; z++) {
    let e = 0;
    for (let i = 0; i < n; i++) {
      if (!((z >> i) & 1)) continue;
      e += b[i];
      for (let j = 0; j < i; j++) if ((z >> j) & 1) e += 0.5 * (W[i * n + j] + W[j * n + i]);
    }
    p[z] = e;
    if (e > maxE) maxE = e;
  }
  let Z = 0;
  for (let z = 0; z < S; z++) Z += p[z] = Math.exp(p[z] - maxE);
  const m = new Float64Array(n), C = new Float64Array(n * n);
  for (let z = 0; z < S; z++) {
    p[z] /= Z;
    for (let i = 0; i < n; i++) {
      if (!((z >> i) & 1)) continue;
      m[i] += p[z];
      for (let j = 0; j < n; j++) if (j !== i && (z >> j) & 1) C[i * n + j] += p[z];
    }
  }
  return { p, m, C };
}

/** D_KL(p ‖ q) with q normalised from counts (zero-count states floored at 1e-10 of the mass). */
export function dklFromCounts(p: ArrayLike<number>, counts: ArrayLike<number>): number {
  let tot = 0;
  for (let z = 0; z < counts.length; z++) tot += counts[z];
  let d = 0;
  for (let z = 0; z < p.length; z++) {
    if (p[z] <= 0) continue;
    const q = Math.max(counts[z] / tot, 1e-10);
    d += p[z] * Math.log(p[z] / q);
  }
  return d;
}

/** var over the upper triangle (i < j) of W − Wᵀ: 0 for a symmetric W. */
export function asymmetry(W: ArrayLike<number>, n: number): number {
  let s = 0, s2 = 0, c = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const d = W[i * n + j] - W[j * n + i];
      s += d;
      s2 += d * d;
      c++;
    }
  if (c === 0) return 0;
  const mu = s / c;
  return s2 / c - mu * mu;
}
