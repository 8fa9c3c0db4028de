/**
 * Latent Equilibrium neurons (Haider et al., NeurIPS 2021): the population step of LE's layered networks, the τ_r = τ_m
 * corner of GLE, exactly as the authors' reference code steps it (test/fixtures/golden/le/README.md).
 *
 * Notation (paper): layer ℓ, basal input a_ℓ = W_ℓ r_{ℓ−1} + b_ℓ, own error e_ℓ, membrane u_ℓ with time constant τ_m,
 * prospective time constant τ (= τ_r), β nudging, ⊙ elementwise, mean_b the mean over batch rows (each row is an
 * independent copy of the network state). One time step dt:
 *
 *   ê_L        = β · r'_L(t−dt) ⊙ (y_t − r_L(t−dt))                 rate target (zero when not learning)
 *   a_ℓ        = W_ℓ r_{ℓ−1} + b_ℓ                                  vanilla: r_{ℓ−1}(t−dt); full forward pass: r_{ℓ−1}(t)
 *   u̇_ℓ        = (1/τ_m) · ((a_ℓ − u_ℓ) + e_ℓ)                      e_ℓ: own error from the previous step
 *   ŭ_ℓ        = u_ℓ + τ · u̇_ℓ,   ŭᵐ_ℓ = u_ℓ + τ_m · u̇_ℓ           (both from the old u)
 *   u_ℓ       ← u_ℓ + dt · u̇_ℓ
 *   r_ℓ        = φ(ŭ_ℓ),  r'_ℓ = φ'(ŭ_ℓ)
 *   ε_{ℓ−1}    = r'_{ℓ−1} ⊙ W_ℓᵀ (ŭᵐ_ℓ − a_ℓ)                        (prosp_rate_errors: ŭ_ℓ instead of ŭᵐ_ℓ; feedback
 *                                                                    alignment: a fixed B_ℓ instead of W_ℓ; r'_{ℓ−1} the
 *                                                                    one read this step, W before this step's update)
 *   e_L ← ê_L,  e_ℓ ← ε_ℓ (from layer ℓ+1, this step; backward filter: e_ℓ ← e_ℓ + (dt/τ_s)(ε_ℓ − e_ℓ))
 *   W_ℓ ← W_ℓ − (dt · ∇_W) · η_ℓ   with ∇_W = −mean_b(e_ℓ r_{ℓ−1}ᵀ)   b_ℓ likewise with −mean_b(e_ℓ)
 *   η_ℓ        = learning_rate · lr_multiplier / (dt · n_updates) · lr_factor_ℓ
 *
 * With τ = τ_m, ŭ_ℓ = a_ℓ + e_ℓ for any u (the membrane's lag is undone), and ε is the backpropagated error with one dt
 * of delay per stage. Options of the dense reference copy: Gaussian rate noise (the rate sent forward is r + N(0, σ_r²),
 * fresh each step; r' not noised), a forward synaptic filter (the rate sent forward is r̄ ← r̄ + (dt/τ_s)(r_noisy − r̄)),
 * a backward filter (on ε, above), per-neuron τ mismatch (τ·N(1, w²) and τ_m·N(1, w²), independently, clipped to
 * [1, 1000]), and τ adaptation with nudging off: τ_m ← τ_m + λ_τ · mean_b((ŭ − a) ⊙ u̇), λ_τ = lr·lr_mult·factor_τ.
 *
 * This file holds the elementwise population step (kernel 'le.neurons', registered in kernels/registry.ts; the drive
 * a comes ready from any projection) and the population's field declaration. The network that sequences the stages is
 * ../le-network.ts.
 */
import type { Backend, FBuf, PhiCode } from '../../kernels/types.js';
import { PHI_X, phiEval, phiRecord } from '../../kernels/phi.js';

/** LE neurons: membrane u, rate r, r' = φ'(ŭ), own error e; per step u̇, ŭ, ŭᵐ, and ŭᵐ − a (the error sent down). */
export const LE_FIELDS = {
  state: [
    { key: 'u', name: 'u' },
    { key: 'r', name: 'r' },
    { key: 'rPrime', name: 'r_prime' },
    { key: 'e', name: 'e' },
  ],
  scratch: [
    { key: 'drive', name: 'basal' },
    { key: 'uDot', name: 'u_dot' },
    { key: 'prospU', name: 'prosp_u' },
    { key: 'prospUm', name: 'prosp_u_m' },
    { key: 'diff', name: 'error_out' },
  ],
  kernel: 'le.neurons',
} as const;

/** Arguments of the LE population step over B rows of n neurons (per-neuron τ and τ_m of length n). */
export interface LeNeuronArgs {
  B: number;
  n: number;
  /** a = W r_in + b (ready) */
  drive: FBuf;
  /** own error e (from the previous step) */
  e: FBuf;
  /** membrane, updated in place */
  u: FBuf;
  uDot: FBuf;
  prospU: FBuf;
  prospUm: FBuf;
  /** ŭᵐ − a (or ŭ − a with prosp_rate_errors): what the projection sends down */
  diff: FBuf;
  rN: FBuf;
  rPrimeN: FBuf;
  tau: FBuf;
  tauM: FBuf;
  phi: PhiCode;
  dt: number;
  prospRateErrors: boolean;
}

const rec = phiRecord();

/** The generic LE population step (works on every backend through the buffers' views); allocates nothing. */
export function leNeurons(_k: Backend, a: LeNeuronArgs): void {
  const { B, n, phi, dt } = a;
  const s = a.drive.a, e = a.e.a, u = a.u.a, uD = a.uDot.a, pU = a.prospU.a, pUm = a.prospUm.a, df = a.diff.a;
  const rN = a.rN.a, rPN = a.rPrimeN.a, tau = a.tau.a, tauM = a.tauM.a;
  const pre = a.prospRateErrors;
  const d = rec;
  for (let b = 0; b < B; b++) {
    const ro = b * n;
    for (let j = 0; j < n; j++) {
      const i = ro + j;
      const ui = u[i], si = s[i];
      const ud = (1 / tauM[j]) * (si - ui + e[i]);
      uD[i] = ud;
      const pu = ui + tau[j] * ud;
      const pum = ui + tauM[j] * ud;
      pU[i] = pu;
      pUm[i] = pum;
      u[i] = ui + dt * ud;
      df[i] = (pre ? pu : pum) - si;
      d[PHI_X] = pu;
      phiEval(phi, d);
      rN[i] = d[0];
      rPN[i] = d[1];
    }
  }
}
