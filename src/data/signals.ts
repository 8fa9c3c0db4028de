/**
 * Input signals for teacher–student experiments (browser-safe).
 *
 * LagLine's input (reference §2.1): channel value −1 everywhere, +1 on blocks of 200 steps starting at
 * int(i) for i in linspace(0, n, floor(n/400)+1) (a ≈ 4-time-unit square wave at dt = 0.01), each batch row rolled
 * by its own random shift in [0, 200), then smoothed by a Gaussian of σ = 5 steps along time. We smooth the base
 * signal once with periodic extension and read row b at offset −shift_b (mod n): identical to rolling first and
 * smoothing second except within 20 steps of the two ends of the whole run, where the reference reflects.
 */
import type { Rng } from '../util/rng.js';

export class SquareWaveInput {
  readonly n: number;
  readonly base: Float64Array;
  readonly shifts: Int32Array;

  constructor(n: number, batch: number, rng: Rng, opts: { width?: number; period?: number; sigma?: number; maxShift?: number } = {}) {
    const width = opts.width ?? 200;
    const period = opts.period ?? 400;
    const sigma = opts.sigma ?? 5;
    const maxShift = opts.maxShift ?? 200;
    this.n = n;
    const raw = new Float64Array(n).fill(-1);
    const count = Math.floor(n / period) + 1;
    for (let i = 0; i < count; i++) {
      const start = Math.floor(count > 1 ? (i * n) / (count - 1) : 0);
      for (let t = start; t < Math.min(n, start + width); t++) raw[t] = 1;
    }
    // Gaussian smoothing (truncate 4σ) with periodic extension
    const r = Math.floor(4 * sigma + 0.5);
    const w = new Float64Array(2 * r + 1);
    let sum = 0;
    for (let k = -r; k <= r; k++) sum += w[k + r] = Math.exp((-0.5 * k * k) / (sigma * sigma));
    this.base = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      let acc = 0;
      for (let k = -r; k <= r; k++) acc += w[k + r] * raw[(((t + k) % n) + n) % n];
      this.base[t] = acc / sum;
    }
    this.shifts = new Int32Array(batch);
    for (let b = 0; b < batch; b++) this.shifts[b] = rng.int(maxShift);
  }

  /** Write the B inputs of step t into out (one channel). */
  fill(t: number, out: Float32Array | Float64Array): void {
    const n = this.n;
    for (let b = 0; b < this.shifts.length; b++) out[b] = this.base[(((t - this.shifts[b]) % n) + n) % n];
  }
}

/** x(t) = Σ_k a_k sin(ω_k t + φ_k) + c, the same for every batch row (LagNet uses sin(.49t)+sin(1.07t)+sin(1.98t)). */
export class SinesInput {
  constructor(
    readonly dt: number,
    readonly batch: number,
    readonly omegas: number[] = [0.49, 1.07, 1.98],
    readonly amps: number[] = [1, 1, 1],
    readonly phases: number[] = [0, 0, 0],
    readonly offset = 0,
  ) {}

  fill(t: number, out: Float32Array | Float64Array): void {
    const time = t * this.dt;
    let x = this.offset;
    for (let k = 0; k < this.omegas.length; k++) x += (this.amps[k] ?? 1) * Math.sin(this.omegas[k] * time + (this.phases[k] ?? 0));
    for (let b = 0; b < this.batch; b++) out[b] = x;
  }
}
