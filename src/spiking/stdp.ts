/**
 * Pair-based STDP traces between two spiking populations (or one population onto itself), batched and
 * allocation-free. Browser-safe.
 *
 * For the synapse from pre j to post i, Δt = t_post(i) − t_pre(j), and every pair of a spike with one of the other
 * neuron's last N spikes contributes
 *
 *   k(Δt) = A_c · w(Δt)            Δt > 0   (pre before post, "causal")
 *   k(Δt) = A_a · w(−Δt)           Δt < 0   (post before pre, "anti-causal")
 *   k(0)  = ½ (A_c + A_a) · w(0)   simultaneous spikes (counted once)
 *
 * with the window w(Δ) = exp(−Δ/τ) ("exp", cut at 30 τ unless a shorter span is given) or max(0, 1 − Δ/τ) ("tri").
 * A span L keeps only the pairs with |Δt| < L (SAL §3.4's SALNet keeps a 20-step spike buffer: L = 20 there). The
 * trace D_ij = Σ_pairs k is accumulated per batch element; a learning rule applies η · D / (T/τ_ref).
 *
 *   SAL:  A_c = −A, A_a = +A, exponential window, τ = τ_ref — antisymmetric in time, so every pair adds +k to one
 *         direction and −k to the other: D_ij = −D_ji exactly and W_ij + W_ji is conserved.
 *   ws:   A_c = A_a = 1, triangular window, τ = τ_ref — symmetric; with refractoriness τ_ref the time integral of
 *         z_i z_j over a pair is τ (1 − |Δt|/τ), so D_ws / (T/τ_ref) estimates the coactivation ⟨z_i z_j⟩.
 *
 * Pairs are found at spike events: at a post spike of i (step t), with every remembered spike s ≤ t of each pre j
 * (Δt = t − s ≥ 0); at a pre spike of j, with every remembered spike s < t of each post i (Δt = s − t < 0). Both
 * directions of a pair are therefore seen at the same event with the same spike lists, which is what makes the
 * SAL conservation exact.
 *
 * With few remembered spikes (N = 1: nearest pairs only) the pair sets of the two directions differ when the rates
 * differ, and SAL drifts even at symmetric W; N covering the window (N · τ_ref ≳ the window) removes that bias.
 */
import type { SpikingParams, SpikingState } from './units.js';
import type { Rng } from '../util/rng.js';

export type StdpWindow = 'exp' | 'tri';

export interface StdpRule {
  readonly window: StdpWindow;
  readonly aCausal: number;
  readonly aAnti: number;
  readonly tau: number;
  /** kernel values for Δ = 0..len−1 (causal side includes k(0) at index 0) */
  readonly kc: Float64Array;
  readonly ka: Float64Array;
}

/** `span`: keep the pairs with |Δt| < span steps (default: the whole window, 30 τ for exp). */
export function stdpRule(window: StdpWindow, aCausal: number, aAnti: number, tau: number, span?: number): StdpRule {
  if (!(tau > 0)) throw new Error(`stdp: tau must be positive, got ${tau}`);
  if (span !== undefined && !(Number.isInteger(span) && span >= 1)) throw new Error(`stdp: span must be a positive integer number of steps, got ${span}`);
  const full = window === 'tri' ? Math.ceil(tau) + 1 : Math.ceil(30 * tau) + 1;
  const len = span === undefined ? full : Math.min(full, span);
  const kc = new Float64Array(len), ka = new Float64Array(len);
  for (let d = 0; d < len; d++) {
    const w = window === 'exp' ? Math.exp(-d / tau) : Math.max(0, 1 - d / tau);
    kc[d] = aCausal * w;
    ka[d] = aAnti * w;
  }
  kc[0] = 0.5 * (aCausal + aAnti);
  ka[0] = kc[0];
  return { window, aCausal, aAnti, tau, kc, ka };
}

/** The SAL rule: depress causal, potentiate anti-causal pairs, exponential window. */
export const salRule = (tau: number, A = 1, span?: number): StdpRule => stdpRule('exp', -A, A, tau, span);
/** The symmetric Hebbian ("ws") rule with a triangular window (estimates coactivations). */
export const wsRule = (tau: number, A = 1): StdpRule => stdpRule('tri', A, A, tau);

/** The rule's kernel at Δt (post − pre). */
export function stdpKernel(rule: StdpRule, dt: number): number {
  const d = Math.abs(dt);
  if (d >= rule.kc.length) return 0;
  return dt >= 0 ? rule.kc[d] : rule.ka[d];
}

/**
 * Add the pairs of step `post.t` to D (batch × nPost × nPre, row = post; with `sumChains` one nPost × nPre sum over
 * the chains). `recurrent`: post and pre are the same population (self-pairs skipped).
 */
export function stdpAccumulate(
  rule: StdpRule,
  D: Float64Array,
  pp: SpikingParams,
  post: SpikingState,
  qp: SpikingParams,
  pre: SpikingState,
  recurrent: boolean,
  sumChains = false,
): void {
  const nP = pp.n, nQ = qp.n, NP = pp.nLast, NQ = qp.nLast, t = post.t;
  const kc = rule.kc, ka = rule.ka, L = kc.length;
  const hP = post.hist, hQ = pre.hist, sP = post.spikes, sQ = pre.spikes;
  for (let bb = 0; bb < pp.batch; bb++) {
    const oP = bb * nP, oQ = bb * nQ, oD = sumChains ? 0 : bb * nP * nQ;
    // post events: pairs with the pre's remembered spikes s ≤ t; when the pre spiked at t too, its pre event
    // (pairs with the post's spikes s < t) is added in the same single update, so that D_ij and D_ji receive
    // exactly negated sums under an antisymmetric rule (float addition is commutative, rounding symmetric)
    for (let i = 0; i < nP; i++) {
      if (!sP[oP + i]) continue;
      const row = oD + i * nQ;
      const hi = (oP + i) * NP;
      for (let j = 0; j < nQ; j++) {
        if (recurrent && j === i) continue;
        const h = (oQ + j) * NQ;
        let acc = 0;
        for (let k = 0; k < NQ; k++) {
          const d = t - hQ[h + k];
          if (d >= L) break;
          acc += kc[d];
        }
        if (sQ[oQ + j]) {
          let a2 = 0;
          for (let k = 0; k < NP; k++) {
            const d = t - hP[hi + k];
            if (d === 0) continue;
            if (d >= L) break;
            a2 += ka[d];
          }
          acc += a2;
        }
        if (acc !== 0) D[row + j] += acc;
      }
    }
    // pre events of posts that did not spike: pairs with the post's remembered spikes s < t
    for (let j = 0; j < nQ; j++) {
      if (!sQ[oQ + j]) continue;
      for (let i = 0; i < nP; i++) {
        if ((recurrent && j === i) || sP[oP + i]) continue;
        const h = (oP + i) * NP;
        let acc = 0;
        for (let k = 0; k < NP; k++) {
          const d = t - hP[h + k];
          if (d === 0) continue;
          if (d >= L) break;
          acc += ka[d];
        }
        if (acc !== 0) D[oD + i * nQ + j] += acc;
      }
    }
  }
}

/** Sum D over the batch into out (nPost × nPre). */
export function sumBatch(D: Float64Array, batch: number, out: Float64Array): Float64Array {
  const m = out.length;
  out.fill(0);
  for (let bb = 0; bb < batch; bb++) for (let q = 0; q < m; q++) out[q] += D[bb * m + q];
  return out;
}

/**
 * Plasticity noise (SAL §3.2): a fixed amplitude per synapse, m_ij = 1 + TruncN(0, s², ±1.5 s) (rejection sampling),
 * drawn independently for every entry of an n × n matrix (so upper and lower triangle differ); a rule then applies
 * η · m_ij · (its trace), the same m_ij for both window sides. s = 0 gives all ones.
 */
export function plasticityNoise(n: number, s: number, rng: Rng): Float64Array {
  const m = new Float64Array(n * n).fill(1);
  if (s > 0)
    for (let q = 0; q < n * n; q++) {
      let x: number;
      do x = rng.normal();
      while (Math.abs(x) > 1.5);
      m[q] = 1 + s * x;
    }
  return m;
}
