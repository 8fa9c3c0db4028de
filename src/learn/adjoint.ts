/**
 * The continuous-time adjoint method (AM): exact backpropagation through time for networks of GLE neurons whose
 * dynamics receive no nudging (γ = 0 — the reference LagNet "ie" student), integrated backward over a window.
 *
 * Continuous forward dynamics of layer ℓ (input r_{ℓ−1}, r_{−1} = x):
 *   τ_m u̇_ℓ = W_ℓ r_{ℓ−1} + b_ℓ − u_ℓ          i.e.  u_ℓ = I⁻_{τ_m}{s_ℓ},  s_ℓ = W_ℓ r_{ℓ−1} + b_ℓ
 *   ŭ_ℓ = u_ℓ + τ_r u̇_ℓ                         i.e.  ŭ_ℓ = D⁺_{τ_r}{u_ℓ}
 *   r_ℓ = φ(ŭ_ℓ)
 * with the retrospective low-pass I⁻_τ{s}(t) = (1/τ)∫_{−∞}^{t} e^{−(t−t')/τ} s(t') dt' and the prospective operator
 * D⁺_τ{u} = u + τ u̇. Objective over a window [0, T]: L = ∫_0^T ℓ(y(t), target(t)) dt, y = r_top.
 *
 * Adjoints. Write α_ℓ(t) = δL/δŭ_ℓ(t) and λ_ℓ(t) = δL/δs_ℓ(t) (functional derivatives; the gradient sign, so λ is
 * a *negative* error: the GLE error ĕ approximates −λ).
 *   • r = φ(ŭ):  α_ℓ = φ'(ŭ_ℓ) ⊙ δL/δr_ℓ,  with δL/δr_top = ∂ℓ/∂y (the output error) and δL/δr_ℓ = W_{ℓ+1}ᵀ λ_{ℓ+1}.
 *   • D⁺ ↦ D⁻: ∫ α (δu + τ_r δu̇) dt = ∫ (α − τ_r α̇) δu dt + [τ_r α δu]_0^T, so δL/δu = D⁻_{τ_r}{α} := α − τ_r α̇
 *     (δu(0) = 0: the window start is detached; the end term is the α(T⁻) → 0 jump, a delta that the discrete
 *     backward difference below picks up automatically by taking α = 0 after the window).
 *   • I⁻ ↦ backward low-pass: ∫ g(t) (1/τ_m)∫_{t'<t} e^{−(t−t')/τ_m} δs(t') dt' dt = ∫ δs(t') λ(t') dt' with
 *     λ(t') = (1/τ_m) ∫_{t>t'} e^{−(t−t')/τ_m} g(t) dt, i.e. −τ_m λ̇ = D⁻_{τ_r}{α} − λ,  λ(T) = 0.
 *   • Parameters: ∂L/∂W_ℓ = ∫ λ_ℓ r_{ℓ−1}ᵀ dt,  ∂L/∂b_ℓ = ∫ λ_ℓ dt, and (τ_m u̇ + u = s with δτ_m acts as the
 *     source δs = −δτ_m u̇)  ∂L/∂τ_m = −∫ λ_ℓ ⊙ u̇_ℓ dt  (summed over the batch, per neuron).
 * For a sinusoid e^{iωt} the GLE error path D⁺_{τ_m} I⁻_{τ_r} has gain (1 + iωτ_m)/(1 + iωτ_r) and the adjoint path
 * I⁻(backward)_{τ_m} D⁻_{τ_r} has (1 − iωτ_r)/(1 − iωτ_m): same phase, gain ratio (1 + ω²τ_m²)/(1 + ω²τ_r²).
 *
 * Discretisation (backward in time over the recorded window t = 0 … T−1, step dt):
 *   D⁻: β[t] = α[t] − τ_r (α[t+1] − α[t])/dt,  α[T] = 0
 *   λ[t] = (dt/τ_m) β[t] + exp(−dt/τ_m) λ[t+1],  λ[T] = 0
 *   ∂L/∂W = Σ_t λ[t] r_pre[t]ᵀ dt,  ∂L/∂b = Σ_t λ[t] dt,  ∂L/∂τ_m = −Σ_t λ[t] ⊙ u̇[t] dt.
 * Time indices follow the network's Jacobi delays: r_pre[t] is what layer ℓ read at step t (x[t], or the rate the
 * layer below computed at step t−1), ŭ[t] is the prosp_u of step t, so the layer below's α is
 * α_{ℓ−1}[t] = φ'(ŭ_{ℓ−1}[t]) ⊙ W_ℓᵀ λ_ℓ[t+1], and the top layer's α[t] = φ'(ŭ_top[t]) ⊙ ∂ℓ_{t+1}/∂y[t+1] because the
 * network returns y[t+1] = φ(ŭ_top[t]).
 *
 * Normalisation: ℓ_t is the batch-mean mse of the returned output (mean over all B·n elements, the same per-step
 * loss as TruncatedBPTT), so λ includes the factor 2/(B·n), and the objective is L = Σ_t ℓ_t dt (≈ ∫ ℓ dt). The
 * gradients written are therefore ≈ dt × the TruncatedBPTT (loss-sum) gradients of the same window.
 *
 * As a learning rule (`AdjointLearner`): windowed like the reference "ie" student — `step` runs the network (its
 * own GLE errors are still computed for comparison, but with γ = 0 they do not touch the dynamics), records the
 * window's forward trajectory into buffers preallocated for the current batch size, and at the window end
 * integrates λ backward, writes the gradients, steps the optimiser and clamps the time constants.
 */
import type { Learner } from './learner.js';
import type { FBuf } from '../kernels/types.js';
import { JsBackend } from '../kernels/js/index.js';
import { phiDerivs } from './bptt.js';
import { type GradRec, WindowedRule, type WindowOptions, gradRec } from './windowed.js';

interface AdjRec extends GradRec {
  nIn: number;
  nOut: number;
  /** a relay population (pooling stage): r = s, so λ = δL/δs = δL/δr (no membrane, no time constants) */
  relay: boolean;
  rB: FBuf[]; // one B × nIn buffer per step
  pu: Float64Array; // T × B × nOut
  ud: Float64Array;
  lam: Float64Array; // T × B × nOut
  aNext: Float64Array; // B × nOut: α[t+1]
  decay: Float64Array; // nOut
  /** B × nOut: δL/δr of this layer at one step (from the layer above's input VJP) */
  gR: FBuf;
  /** B × nOut: λ of the layer at the step above, the operand of that VJP */
  lamAt: FBuf;
  /** B × nOut: λ[t] dt, the operand of this layer's weight VJP */
  lamDt: FBuf;
}

export type AdjointOptions = WindowOptions;

export class AdjointLearner extends WindowedRule {
  /** number of steps of the last completed window (the valid length of `lastLambda`, in steps) */
  lastWindowSteps = 0;

  private recs: AdjRec[] = [];
  private readonly d2 = new Float64Array(2);
  /** the backend of the backward integration: float64 js (see TruncatedBPTT); projections' VJPs run through it */
  private readonly k = new JsBackend('float64');

  constructor(learner: Learner, windowSteps: number, opts: AdjointOptions = {}) {
    super(learner, windowSteps, opts, 'AdjointLearner');
    this.checkGamma();
    this.allocate(this.net.B);
  }

  private checkGamma(): void {
    this.net.layers.forEach((l, i) => {
      if (l.hyper.gamma !== 0)
        throw new Error(`AdjointLearner needs dynamics without nudging: layer ${i} has gamma = ${l.hyper.gamma} (set gamma to 0)`);
    });
  }

  protected allocateLayers(B: number): void {
    const T = this.windowSteps;
    const f = (n: number) => new Float64Array(n);
    const k = this.k;
    this.recs = this.net.layers.map((l) => {
      return {
        ...gradRec(k, l),
        nIn: l.nIn,
        nOut: l.nOut,
        relay: l.population.model === 'relay',
        rB: Array.from({ length: T }, () => k.alloc(B * l.nIn)),
        pu: f(T * B * l.nOut),
        ud: f(T * B * l.nOut),
        lam: f(T * B * l.nOut),
        aNext: f(B * l.nOut),
        decay: f(l.nOut),
        gR: k.alloc(B * l.nOut),
        lamAt: k.alloc(B * l.nOut),
        lamDt: k.alloc(B * l.nOut),
      };
    });
    this.lastWindowSteps = 0;
  }

  /**
   * λ of layer l over the last completed window: a T × B × n_out array (row-major by step, then batch row), valid
   * for the first `lastWindowSteps` steps. The buffer is reused: copy it if it must outlive the next window.
   * λ is ∂L/∂s (gradient sign); compare −λ with the GLE error ĕ.
   */
  lastLambda(layer: number): Float64Array {
    const R = this.recs[layer];
    if (!R) throw new Error(`no layer ${layer} (the network has ${this.recs.length})`);
    return R.lam;
  }

  /** The rate each layer above the first reads at step t (the previous rate of the layer below). */
  protected recordBefore(t: number): void {
    const net = this.net, B = this.B;
    for (let l = 1; l < net.layers.length; l++) {
      const R = this.recs[l];
      R.rB[t].a.set(net.state(l - 1).r.a.subarray(0, B * R.nIn));
    }
  }

  /** The input as stored, and prosp_u and u_dot of every layer at step t. */
  protected recordAfter(t: number): void {
    const net = this.net, B = this.B;
    const R0 = this.recs[0];
    R0.rB[t].a.set(net.input.a.subarray(0, B * R0.nIn));
    for (let l = 0; l < net.layers.length; l++) {
      const R = this.recs[l];
      if (R.relay) continue;
      const no = B * R.nOut, sc = net.scratch(l);
      const pu = sc.prospU.a, ud = sc.uDot.a;
      for (let i = 0; i < no; i++) {
        R.pu[t * no + i] = pu[i];
        R.ud[t * no + i] = ud[i];
      }
    }
  }

  /**
   * Integrate the adjoint backward over the steps recorded so far; writes ∂L/∂W, ∂L/∂b, ∂L/∂τ_m (L = Σ_t ℓ_t dt)
   * into the network's gradient buffers and fills `lastLambda`. Returns the loss sum Σ_t ℓ_t. Does not end the window.
   */
  computeGradients(): number {
    this.checkGamma();
    const net = this.net;
    const B = this.B, T = this.t, L = net.layers.length, nO = net.nOut, dt = net.dt;
    const d2 = this.d2;
    const lossScale = 2 / (B * nO);
    let lossSum = 0;
    for (let t = 0; t < T; t++) {
      if (!this.hasT[t]) continue;
      const o = t * B * nO;
      let acc = 0;
      for (let i = 0; i < B * nO; i++) {
        const dl = this.y[o + i] - this.tgt[o + i];
        acc += dl * dl;
      }
      lossSum += acc / (B * nO);
    }
    const k = this.k;
    for (let l = L - 1; l >= 0; l--) {
      const layer = net.layers[l];
      const R = this.recs[l];
      const nOut = R.nOut, no = B * nOut;
      const tauM = layer.params.tauM.a, tauR = layer.params.tauR.a, phi = layer.hyper.phi;
      const above = l < L - 1 ? this.recs[l + 1] : null;
      const abProj = l < L - 1 ? net.layers[l + 1].projection : null;
      const gR = R.gR.a, lamDt = R.lamDt.a;
      if (!R.relay) for (let j = 0; j < nOut; j++) R.decay[j] = Math.exp(-dt / tauM[j]);
      R.aNext.fill(0);
      R.gW.a.fill(0);
      R.gB.a.fill(0);
      R.gTau.fill(0);
      for (let t = T - 1; t >= 0; t--) {
        const last = t + 1 >= T;
        // δL/δr at the time this layer's rate is consumed (one step later): the input VJP of the layer above
        // applied to its λ[t+1], or the output error
        gR.fill(0);
        if (!last) {
          if (above && abProj) {
            const nAb = B * above.nOut;
            above.lamAt.a.set(above.lam.subarray((t + 1) * nAb, (t + 2) * nAb));
            // the layer above read this layer's rate at t+1: its input then is the operand (max pooling's argmax)
            abProj.vjpForward(k, B, above.lamAt, above.rB[t + 1], null, null, R.gR);
          } else if (this.hasT[t + 1]) {
            const o = (t + 1) * B * nO;
            for (let i = 0; i < no; i++) gR[i] = lossScale * (this.y[o + i] - this.tgt[o + i]);
          }
        }
        if (R.relay) {
          // r = s: λ[t] = δL/δr[t]; the stage has no weights
          for (let i = 0; i < no; i++) R.lam[t * no + i] = gR[i];
          continue;
        }
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < nOut; j++) {
            const i = b * nOut + j;
            phiDerivs(phi, R.pu[t * no + i], d2);
            const a = d2[0] * gR[i];
            const tm = tauM[j];
            const beta = a - (tauR[j] * (R.aNext[i] - a)) / dt;
            const lamNext = last ? 0 : R.lam[(t + 1) * no + i];
            const lam = (dt / tm) * beta + R.decay[j] * lamNext;
            R.lam[t * no + i] = lam;
            R.aNext[i] = a;
            const ld = lam * dt;
            lamDt[i] = ld;
            R.gTau[j] -= ld * R.ud[t * no + i];
          }
        }
        // ∂L/∂W += λ dt r_preᵀ, ∂L/∂b += λ dt: the weight VJP of this layer's projection
        layer.projection.vjpForward(k, B, R.lamDt, R.rB[t], R.gW, R.gB, null);
      }
    }
    this.writeGradients(this.recs.map((R) => R.views));
    this.lastWindowSteps = T;
    return lossSum;
  }
}
