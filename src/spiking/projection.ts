/**
 * A dense projection between spiking populations: post potentials receive W κ_pre (W: nPost × nPre, row = post,
 * shared over the batch). Two ways to compute it, same result:
 *
 *   dense:  acc = W κ_pre every step                              (nPost · nPre per chain and step)
 *   event:  acc += W[:, j] (κ_j(t) − κ_j(t−1)) for the j whose PSP began or ended   (nPost per PSP edge)
 *
 * The event accumulator is float64 and must be rebuilt ({@link Projection.sync}) after W changes. Browser-safe, no
 * allocation per step.
 */
import { newFArray, type FArray, type SpikeDType } from './units.js';

export class Projection {
  readonly W: FArray;
  /** batch × nPost: the current W κ_pre */
  readonly acc: Float64Array;
  /** κ_pre of the last update (event mode) */
  readonly kPrev: Float64Array;
  /** W changed since acc was built: the next update rebuilds it */
  dirty = true;
  /** `bufs`: arrays to use instead of new ones (e.g. views on a wasm engine's memory; sizes as allocated here) */
  constructor(
    readonly nPost: number,
    readonly nPre: number,
    readonly batch: number,
    dtype: SpikeDType,
    readonly mode: 'dense' | 'event' = 'event',
    bufs?: { W: FArray; acc: Float64Array; kPrev: Float64Array },
  ) {
    this.W = bufs?.W ?? newFArray(dtype, nPost * nPre);
    this.acc = bufs?.acc ?? new Float64Array(batch * nPost);
    this.kPrev = bufs?.kPrev ?? new Float64Array(batch * nPre);
  }

  /** W was changed in place */
  changed(): void {
    this.dirty = true;
  }

  /** bring acc to W κ for the current κ of the presynaptic population */
  update(kappa: ArrayLike<number>): void {
    if (this.mode === 'dense' || this.dirty) return this.sync(kappa);
    const { W, acc, kPrev, nPost, nPre } = this;
    for (let bb = 0; bb < this.batch; bb++) {
      const oq = bb * nPre, op = bb * nPost;
      for (let j = 0; j < nPre; j++) {
        const dk = kappa[oq + j] - kPrev[oq + j];
        if (dk === 0) continue;
        kPrev[oq + j] = kappa[oq + j];
        for (let i = 0; i < nPost; i++) acc[op + i] += W[i * nPre + j] * dk;
      }
    }
  }

  sync(kappa: ArrayLike<number>): void {
    const { W, acc, kPrev, nPost, nPre } = this;
    for (let bb = 0; bb < this.batch; bb++) {
      const oq = bb * nPre, op = bb * nPost;
      for (let i = 0; i < nPost; i++) {
        let a = 0;
        const r = i * nPre;
        for (let j = 0; j < nPre; j++) a += W[r + j] * kappa[oq + j];
        acc[op + i] = a;
      }
      for (let j = 0; j < nPre; j++) kPrev[oq + j] = kappa[oq + j];
    }
    this.dirty = false;
  }
}
