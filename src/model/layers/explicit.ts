/**
 * GLE written as two explicit populations per layer (the GLE paper's Fig. 4): a representation population and an
 * error population that run the SAME neuron model — a leaky membrane with a prospective read-out —
 *
 *   τ_leak ẋ = I − x,    x⁺ = x + dt ẋ,    x̆ = x + τ_ahead ẋ                         (kernel 'prospective.population')
 *
 * with the two time constants swapped:
 *   error population ℓ:           x = v, τ_leak = τ_r, τ_ahead = τ_m, input I = e = r'_ℓ ⊙ (error from above),
 *                                 output ĕ = v̆ (instantaneous errors: ĕ = v⁺ = e, the population is a relay)
 *   representation population ℓ:  x = u, τ_leak = τ_m, τ_ahead = τ_r, input I = W r_{ℓ−1} + b + γ ĕ_ℓ,
 *                                 output ŭ, rate r = φ(ŭ) and r' = φ'(ŭ)
 * and connections between them: the projection W (representation ℓ−1 → representation ℓ), the one-to-one nudging
 * γ (error ℓ → representation ℓ), the feedback (error ℓ+1 → error ℓ through Wᵀ or B, gated by r'_ℓ) and the target
 * error (output → top error population). Within a step the error population of a layer runs before its
 * representation population (the nudge uses this step's ĕ), as in the fused step; across layers everything reads
 * t−1 values. The network steps it with `path: 'populations'` (network.ts); it equals the fused dense step up to
 * float rounding (test/explicit-populations.test.ts replays every GLE golden through it).
 */
import type { Backend, FBuf, PhiCode } from '../../kernels/types.js';
import { STEP } from '../../kernels/types.js';

/** One population of leaky prospective neurons: n = B·nOut values, per-neuron time constants (nOut each). */
export interface ProspectivePopArgs {
  B: number;
  nOut: number;
  /** the summed input I (B × nOut) */
  input: FBuf;
  /** membrane at t−1 and its next value */
  x: FBuf;
  xN: FBuf;
  /** the prospective read-out x̆ */
  out: FBuf;
  /** ẋ (kept: the representation population's u̇ feeds the τ_m gradient) */
  xDot: FBuf;
  tauLeak: FBuf;
  tauAhead: FBuf;
  dt: number;
  /** a relay: x⁺ = x̆ = I (GLE's instantaneous errors) */
  instantaneous: boolean;
}

/** The population step (see the header). Allocates nothing; generic over backends (touches only `buf.a`). */
export function prospectivePopulation(_k: Backend, a: ProspectivePopArgs): void {
  const { B, nOut, dt } = a;
  const I = a.input.a, x = a.x.a, xN = a.xN.a, out = a.out.a, xd = a.xDot.a, tl = a.tauLeak.a, ta = a.tauAhead.a;
  if (a.instantaneous) {
    for (let i = 0; i < B * nOut; i++) {
      xN[i] = I[i];
      out[i] = I[i];
      xd[i] = 0;
    }
    return;
  }
  for (let b = 0; b < B; b++) {
    const ro = b * nOut;
    for (let j = 0; j < nOut; j++) {
      const i = ro + j;
      const d = (I[i] - x[i]) / tl[j];
      xd[i] = d;
      xN[i] = x[i] + dt * d;
      out[i] = x[i] + ta[j] * d;
    }
  }
}

/** Everything one explicit GLE layer needs for one parity (previous state → next state). */
export interface ExplicitGleArgs {
  B: number;
  nOut: number;
  /** the error from above (e_bottom of layer ℓ+1 at t−1, or the target error) and this layer's r' at t−1 */
  rawErr: FBuf;
  rPrime: FBuf;
  /** the feed-forward drive W r + b, ready; the nudge is added into it in place */
  drive: FBuf;
  err: ProspectivePopArgs;
  rep: ProspectivePopArgs;
  /** rate read-out of the representation population */
  rN: FBuf;
  rPrimeN: FBuf;
  gTau: FBuf;
  gamma: number;
  phi: PhiCode;
}

/**
 * One explicit GLE layer step: error population (input gated by r'), nudging connection, representation population,
 * rate read-out, and with flags GRADS|LEARN_TAU the τ_m gradient ⟨ĕ u̇⟩_batch. The caller has written the drive
 * and afterwards applies the projection's plasticity (ĕ r_{ℓ−1}ᵀ) and sends ĕ down.
 */
export function explicitGleStep(k: Backend, a: ExplicitGleArgs, flags: number): void {
  const n = a.B * a.nOut;
  const raw = a.rawErr.a, rP = a.rPrime.a, e = a.err.input.a;
  // feedback connection (error from above) gated by the local derivative: the error population's input
  for (let i = 0; i < n; i++) e[i] = raw[i] * rP[i];
  a.err.instantaneous = (flags & STEP.PROSPECTIVE) === 0;
  prospectivePopulation(k, a.err);
  // nudging connection, one-to-one: error population → representation population
  const g = a.gamma;
  if (g !== 0) {
    const d = a.drive.a, ev = a.err.out.a;
    for (let i = 0; i < n; i++) d[i] = d[i] + g * ev[i];
  }
  prospectivePopulation(k, a.rep);
  k.activate(a.phi, a.rep.out, a.rN, a.rPrimeN, n);
  if ((flags & STEP.GRADS) !== 0 && (flags & STEP.LEARN_TAU) !== 0) {
    const pv = a.err.out.a, ud = a.rep.xDot.a, gT = a.gTau.a, B = a.B, m = a.nOut;
    for (let j = 0; j < m; j++) {
      let acc = 0;
      for (let b = 0; b < B; b++) acc += pv[b * m + j] * ud[b * m + j];
      gT[j] = acc / B;
    }
  }
}
