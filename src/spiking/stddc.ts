/**
 * `stddc`: the exact spike-timing-difference distribution of two coupled stochastic spiking units (./units.ts), and
 * from it the expected STDP/SAL update — an analytic oracle for the simulated traces and the source of the
 * phase-plane figure of the two-neuron experiment. Browser-safe.
 *
 * The pair is a Markov chain over (d_0, d_1), d_k = steps since neuron k last spiked, capped at
 * M = max(τ_ref, τ_syn) − 1 (beyond which nothing depends on it). From (d_0, d_1), with Δ_k = d_k + 1:
 *
 *   κ_k = [Δ_k < τ_syn],   u_0 = b_0 + W_01 κ_1,   u_1 = b_1 + W_10 κ_0
 *   p_k = σ(u_k − ln τ_ref) if Δ_k ≥ τ_ref, else 0     (the two draws are independent given the state)
 *   d_k' = 0 if k spikes, else min(Δ_k, M)
 *
 * (rectangular PSPs; with τ_syn ≤ τ_ref + 1 at most one spike's PSP is active, so the last spike is all the state
 * needs). π = the stationary distribution (power iteration). The cross-correlation
 *
 *   X_{a→c}(Δ) = P(a spikes at t and c spikes at t + Δ)  = Σ_s (π ⊙ [d_a = 0]) Tᴰ [d_c = 0]
 *
 * for Δ = 0..L gives the expected trace increment per step of the synapse from pre j to post i:
 *
 *   E[ΔD_ij] = Σ_{Δ≥1} X_{j→i}(Δ) k(+Δ) + Σ_{Δ≥1} X_{i→j}(Δ) k(−Δ) + X(0) k(0)
 *
 * (all pairs within the rule's window; the simulation remembers N spikes, which matches when N refractory periods
 * cover the window).
 */
import { stdpKernel, type StdpRule } from './stdp.js';

export interface StddcInput {
  /** weight from neuron 1 to neuron 0 */
  W01: number;
  /** weight from neuron 0 to neuron 1 */
  W10: number;
  b0: number;
  b1: number;
  tauRef: number;
  tauSyn?: number;
  /** largest lag (steps) of the cross-correlations */
  maxLag: number;
  /** power-iteration tolerance (L1) */
  tol?: number;
}

export interface StddcResult {
  /** spike probability per step of neuron 0 and 1 */
  rates: [number, number];
  /** X01[Δ] = P(0 spikes at t, 1 spikes at t + Δ), Δ = 0..maxLag (X01[0] = X10[0] = P(both at t)) */
  X01: Float64Array;
  X10: Float64Array;
  /** stationary distribution over (d_0, d_1), index d_0 · (M+1) + d_1 */
  pi: Float64Array;
  M: number;
}

export function stddc(o: StddcInput): StddcResult {
  const tauRef = o.tauRef, tauSyn = o.tauSyn ?? o.tauRef;
  if (tauSyn > tauRef + 1) throw new Error('stddc: tau_syn > tau_ref + 1 needs more than the last spike per neuron (not supported)');
  const M = Math.max(tauRef, tauSyn) - 1;
  const K = M + 1, S = K * K;
  const lt = Math.log(tauRef);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  // per state: spike probabilities and the "no spike" successor indices
  const p0 = new Float64Array(S), p1 = new Float64Array(S);
  const n0 = new Int32Array(K);
  for (let d = 0; d < K; d++) n0[d] = Math.min(d + 1, M);
  for (let d0 = 0; d0 < K; d0++)
    for (let d1 = 0; d1 < K; d1++) {
      const D0 = d0 + 1, D1 = d1 + 1;
      const k0 = D0 < tauSyn ? 1 : 0, k1 = D1 < tauSyn ? 1 : 0;
      const s = d0 * K + d1;
      p0[s] = D0 >= tauRef ? sig(o.b0 + o.W01 * k1 - lt) : 0;
      p1[s] = D1 >= tauRef ? sig(o.b1 + o.W10 * k0 - lt) : 0;
    }
  const step = (v: Float64Array, out: Float64Array) => {
    out.fill(0);
    for (let d0 = 0; d0 < K; d0++)
      for (let d1 = 0; d1 < K; d1++) {
        const s = d0 * K + d1, m = v[s];
        if (m === 0) continue;
        const a = p0[s], c = p1[s];
        const e0 = n0[d0], e1 = n0[d1];
        out[e0 * K + e1] += m * (1 - a) * (1 - c);
        out[0 * K + e1] += m * a * (1 - c);
        out[e0 * K + 0] += m * (1 - a) * c;
        out[0] += m * a * c;
      }
  };
  let pi = new Float64Array(S).fill(1 / S);
  let nx = new Float64Array(S);
  const tol = o.tol ?? 1e-14;
  for (let it = 0; it < 200000; it++) {
    step(pi, nx);
    let diff = 0;
    for (let s = 0; s < S; s++) diff += Math.abs(nx[s] - pi[s]);
    [pi, nx] = [nx, pi];
    if (diff < tol) break;
  }
  let r0 = 0, r1 = 0, both = 0;
  for (let d = 0; d < K; d++) {
    r0 += pi[0 * K + d];
    r1 += pi[d * K + 0];
  }
  both = pi[0];
  const cross = (first: 0 | 1): Float64Array => {
    const X = new Float64Array(o.maxLag + 1);
    X[0] = both;
    let v = new Float64Array(S), w = new Float64Array(S);
    for (let d0 = 0; d0 < K; d0++)
      for (let d1 = 0; d1 < K; d1++) if ((first === 0 ? d0 : d1) === 0) v[d0 * K + d1] = pi[d0 * K + d1];
    for (let lag = 1; lag <= o.maxLag; lag++) {
      step(v, w);
      [v, w] = [w, v];
      let x = 0;
      if (first === 0) for (let d0 = 0; d0 < K; d0++) x += v[d0 * K + 0];
      else for (let d1 = 0; d1 < K; d1++) x += v[0 * K + d1];
      X[lag] = x;
    }
    return X;
  };
  return { rates: [r0, r1], X01: cross(0), X10: cross(1), pi, M };
}

/**
 * Expected trace increments per step, E[ΔD_01] (post 0, pre 1) and E[ΔD_10], under an STDP rule, from a stddc result
 * whose maxLag covers the rule's window.
 */
export function expectedStdp(r: StddcResult, rule: StdpRule): { dD01: number; dD10: number } {
  const L = r.X01.length - 1;
  let dD01 = r.X01[0] * stdpKernel(rule, 0), dD10 = dD01;
  for (let lag = 1; lag <= L; lag++) {
    // 1 then 0 (X10): causal for the synapse 1→0 (post 0), anti-causal for 0→1
    dD01 += r.X10[lag] * stdpKernel(rule, lag) + r.X01[lag] * stdpKernel(rule, -lag);
    dD10 += r.X01[lag] * stdpKernel(rule, lag) + r.X10[lag] * stdpKernel(rule, -lag);
  }
  return { dD01, dD10 };
}

/**
 * The expected SAL update field on a grid of (W01, W10): dW/dEpoch = η · τ_ref · E[ΔD] (a trace normalised by
 * T/τ_ref per epoch of T steps). Rows: W10 values, columns: W01 values.
 */
export function salField(o: { w01: number[]; w10: number[]; b0: number; b1: number; tauRef: number; tauSyn?: number; eta: number; rule: StdpRule; maxLag: number }): { dW01: Float64Array; dW10: Float64Array } {
  const nA = o.w01.length, nB = o.w10.length;
  const dW01 = new Float64Array(nA * nB), dW10 = new Float64Array(nA * nB);
  for (let r = 0; r < nB; r++)
    for (let c = 0; c < nA; c++) {
      const res = stddc({ W01: o.w01[c], W10: o.w10[r], b0: o.b0, b1: o.b1, tauRef: o.tauRef, tauSyn: o.tauSyn, maxLag: o.maxLag, tol: 1e-12 });
      const e = expectedStdp(res, o.rule);
      dW01[r * nA + c] = o.eta * o.tauRef * e.dD01;
      dW10[r * nA + c] = o.eta * o.tauRef * e.dD10;
    }
  return { dW01, dW10 };
}
