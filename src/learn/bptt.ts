/**
 * Truncated backpropagation through time (BPTT) through the exact discretised GLE dynamics — the reference's
 * `use_autodiff` baseline (reference-gle.md §1.7), with a hand-written reverse sweep instead of autograd.
 *
 * Forward (one dt, Jacobi order, see src/model/dynamics.ts): every layer ℓ reads values committed at t−1
 *   raw   = e_bottom_{ℓ+1}[t−1]                          (hidden)   or   β (target[t] − y[t])   (top, mse)
 *   ie    = raw ⊙ r'[t−1]
 *   s     = W r_bottom + b,   r_bottom = x[t] (ℓ = 0) or r_{ℓ−1}[t−1]
 *   prospective: v̇ = (ie − v)/τ_r,  v⁺ = v + dt v̇,  ĕ = v + τ_m v̇        otherwise: v⁺ = ĕ = ie
 *   u̇     = (s + γ ĕ − u)/τ_m,  u⁺ = u + dt u̇,  ŭ = u + τ_r u̇
 *   r⁺    = φ(ŭ),  r'⁺ = φ'(ŭ),  e_bottom⁺ = ĕ W
 * and the network returns y[t] = r_top[t−1].
 *
 * Objective of a window of T steps (the reference's `loss_sum`, not scaled by β):
 *   L = Σ_{t<T} mse(y[t], target[t]),   mse = mean over all B·n elements (steps without a target contribute 0).
 * The state at the window start is a constant (detached); W, b, τ_m are held fixed during the window (the optimiser
 * steps only at the window end), so L is a smooth function of the parameters and the reverse sweep below is its
 * exact gradient: it differentiates through the Jacobi coupling, the nudging γ ĕ, the target error that depends on
 * the previous top rate, the r' = φ'(ŭ) factor of ie (hence φ''), the prospective error neuron and the error sent
 * down e_bottom = ĕ W (which depends on W). τ_r is not a parameter.
 *
 * Reverse sweep (adjoints ḡ of the state after step t → adjoints of the state before it), per layer and element:
 *   ḡŭ  = ḡr⁺ φ'(ŭ) + ḡr'⁺ φ''(ŭ)
 *   ḡu̇  = dt ḡu⁺ + τ_r ḡŭ                 ḡu  = ḡu⁺ + ḡŭ − ḡu̇/τ_m
 *   ḡs  = ḡu̇/τ_m                          ḡĕ  = γ ḡu̇/τ_m + (ḡe_bottom⁺ Wᵀ)
 *   ḡτ_m += −ḡu̇ u̇/τ_m (+ ḡĕ v̇ if prospective)
 *   prospective: ḡv̇ = dt ḡv⁺ + τ_m ḡĕ,  ḡv = ḡv⁺ + ḡĕ − ḡv̇/τ_r,  ḡie = ḡv̇/τ_r     otherwise ḡie = ḡv⁺ + ḡĕ
 *   ḡraw = ḡie r',  ḡr' = ḡie raw,  ḡW += ḡsᵀ r_bottom + ĕᵀ ḡe_bottom⁺,  ḡb += Σ_b ḡs,  ḡr_bottom = ḡs W
 * where ḡraw goes to e_bottom_{ℓ+1}[t−1] (hidden) or −β ḡraw to r_top[t−1] (top), ḡr_bottom goes to r_{ℓ−1}[t−1],
 * and the loss adds 2 (y[t] − target[t])/(B n) to ḡr_top[t−1].
 *
 * The forward pass runs `net.step` with `net.training = false` (the local GLE gradients are not computed) and copies
 * what the sweep needs into window buffers preallocated for the current batch size (float64, whatever the network's
 * dtype), so a step allocates nothing. Only the `mse` loss is supported.
 */
import type { FBuf, PhiCode } from '../kernels/types.js';
import { JsBackend } from '../kernels/js/index.js';
import { phiDerivs as phiDerivsInto } from '../kernels/phi.js';
import type { Learner } from './learner.js';
import { type GradRec, WindowedRule, type WindowOptions, gradRec } from './windowed.js';

/** [dφ/dx, d r'/dx] of the rate function (the shared table in kernels/phi.ts). */
export function phiDerivs(phi: PhiCode, x: number, out: Float64Array): void {
  phiDerivsInto(phi, x, out, phiScratch);
}
const phiScratch = new Float64Array(5);

function copyInto(dst: Float64Array, off: number, src: FBuf, n: number): void {
  const a = src.a;
  for (let i = 0; i < n; i++) dst[off + i] = a[i];
}

/** Per-layer window records (T × B × n, row-major by step) and reverse-sweep buffers. */
interface LayerRec extends GradRec {
  nIn: number;
  nOut: number;
  /** a relay population (pooling stage): r⁺ = s, ĕ = raw; no membranes, no time constants */
  relay: boolean;
  u0: Float64Array; // previous u
  v0: Float64Array; // previous v
  rp0: Float64Array; // previous r'
  rB: FBuf[]; // r_bottom read, one B × nIn buffer per step (operands of the projection's VJP)
  raw: Float64Array; // raw error read
  pu: Float64Array; // prosp_u computed
  pv: FBuf[]; // prosp_v computed, one B × nOut buffer per step
  ud: Float64Array; // u_dot computed
  // adjoints of the state after the current step (n) and before it (p)
  nU: Float64Array;
  nV: Float64Array;
  nR: FBuf;
  nRP: Float64Array;
  nEB: FBuf;
  pU: Float64Array;
  pV: Float64Array;
  pR: FBuf;
  pRP: Float64Array;
  pEB: FBuf;
  /** adjoints of this step's drive s and prospective error ĕ (B × nOut) */
  gS: FBuf;
  gPv: FBuf;
}

export type BPTTOptions = WindowOptions;

export class TruncatedBPTT extends WindowedRule {
  private recs: LayerRec[] = [];
  private readonly d2 = new Float64Array(2);
  /**
   * The backend of the reverse sweep: float64 js whatever the network's backend, so the window's gradient keeps the
   * precision it always had; the projections' VJPs run their products through it (they read the network's W as
   * buffers of any backend).
   */
  private readonly k = new JsBackend('float64');

  constructor(learner: Learner, windowSteps: number, opts: BPTTOptions = {}) {
    super(learner, windowSteps, opts, 'TruncatedBPTT');
    this.allocate(this.net.B);
  }

  protected allocateLayers(B: number): void {
    const T = this.windowSteps;
    const f = (n: number) => new Float64Array(n);
    const k = this.k;
    const steps = (n: number) => Array.from({ length: T }, () => k.alloc(n));
    this.recs = this.net.layers.map((l) => {
      const no = B * l.nOut, ni = B * l.nIn;
      return {
        ...gradRec(k, l),
        nIn: l.nIn,
        nOut: l.nOut,
        relay: l.population.model === 'relay',
        u0: f(T * no),
        v0: f(T * no),
        rp0: f(T * no),
        rB: steps(ni),
        raw: f(T * no),
        pu: f(T * no),
        pv: steps(no),
        ud: f(T * no),
        nU: f(no),
        nV: f(no),
        nR: k.alloc(no),
        nRP: f(no),
        nEB: k.alloc(ni),
        pU: f(no),
        pV: f(no),
        pR: k.alloc(no),
        pRP: f(no),
        pEB: k.alloc(ni),
        gS: k.alloc(no),
        gPv: k.alloc(no),
      };
    });
  }

  /** What every layer reads at step t (values committed at t−1), and the top layer's raw target error. */
  protected recordBefore(t: number, has: boolean): void {
    const net = this.net, B = this.B, L = net.layers.length, nO = net.nOut;
    for (let l = 0; l < L; l++) {
      const R = this.recs[l];
      const no = B * R.nOut, ni = B * R.nIn;
      const s = net.state(l);
      if (!R.relay) {
        copyInto(R.u0, t * no, s.u, no);
        copyInto(R.v0, t * no, s.v, no);
      }
      copyInto(R.rp0, t * no, s.rPrime, no);
      if (l > 0) R.rB[t].a.set(net.state(l - 1).r.a.subarray(0, ni));
      if (l < L - 1) copyInto(R.raw, t * no, net.state(l + 1).eBottom, no);
    }
    const top = this.recs[L - 1];
    const yPrev = net.state(L - 1).r.a;
    const o = t * B * nO, beta = net.beta;
    for (let i = 0; i < B * nO; i++) top.raw[o + i] = has && beta !== 0 ? beta * (this.tgt[o + i] - yPrev[i]) : 0;
  }

  /** The input as stored (rounded to the net's dtype) and what every layer computed at step t. */
  protected recordAfter(t: number): void {
    const net = this.net, B = this.B;
    this.recs[0].rB[t].a.set(net.input.a.subarray(0, B * net.nIn));
    for (let l = 0; l < net.layers.length; l++) {
      const R = this.recs[l];
      const no = B * R.nOut;
      const sc = net.scratch(l);
      R.pv[t].a.set(sc.prospV.a.subarray(0, no));
      if (R.relay) continue;
      copyInto(R.pu, t * no, sc.prospU, no);
      copyInto(R.ud, t * no, sc.uDot, no);
    }
  }

  /**
   * Reverse sweep over the steps recorded so far in this window; writes dL/dW, dL/db, dL/dτ_m of the loss sum into
   * the network's gradient buffers (for the tensors `net.parameters()` lists) and returns the loss sum. Does not
   * step the optimiser or end the window.
   */
  computeGradients(): number {
    const net = this.net;
    const B = this.B;
    const T = this.t;
    const L = net.layers.length;
    const nO = net.nOut;
    const dt = net.dt;
    const beta = net.beta;
    const d2 = this.d2;
    const lossScale = 2 / (B * nO);
    let lossSum = 0;
    for (const R of this.recs) {
      R.nU.fill(0);
      R.nV.fill(0);
      R.nR.a.fill(0);
      R.nRP.fill(0);
      R.nEB.a.fill(0);
      R.gW.a.fill(0);
      R.gB.a.fill(0);
      R.gTau.fill(0);
    }
    const k = this.k;
    for (let t = T - 1; t >= 0; t--) {
      for (const R of this.recs) {
        R.pU.fill(0);
        R.pV.fill(0);
        R.pR.a.fill(0);
        R.pRP.fill(0);
        R.pEB.a.fill(0);
      }
      // loss term of step t: y[t] = r_top[t−1]
      if (this.hasT[t]) {
        const o = t * B * nO;
        const pR = this.recs[L - 1].pR.a;
        let acc = 0;
        for (let i = 0; i < B * nO; i++) {
          const dlt = this.y[o + i] - this.tgt[o + i];
          acc += dlt * dlt;
          pR[i] += lossScale * dlt;
        }
        lossSum += acc / (B * nO);
      }
      for (let l = 0; l < L; l++) {
        const layer = net.layers[l];
        const proj = layer.projection;
        const R = this.recs[l];
        const nOut = R.nOut;
        const no = B * nOut;
        const tauM = layer.params.tauM.a, tauR = layer.params.tauR.a;
        const gamma = layer.hyper.gamma, prospective = layer.hyper.prospective, phi = layer.hyper.phi;
        const errDown = l > 0 || net.computeInputError;
        const oN = t * no;
        const below = l > 0 ? this.recs[l - 1] : null;
        const above = l < L - 1 ? this.recs[l + 1] : null;
        const isTop = l === L - 1;
        const nR = R.nR.a, gSa = R.gS.a, gPva = R.gPv.a;
        if (R.relay) {
          // a relay stage: r⁺ = s (ḡs = ḡr⁺), ĕ = raw (ḡraw = ḡĕ from the error path); r'⁺ = 1 is a constant
          gSa.set(nR.subarray(0, no));
          gPva.fill(0, 0, no);
          if (errDown) proj.vjpBackward(k, B, R.pv[t], R.nEB, R.gPv, R.gW, R.rB[t]);
          for (let i = 0; i < no; i++) {
            if (above) above.pEB.a[i] += gPva[i];
            else if (isTop && this.hasT[t] && beta !== 0) R.pR.a[i] -= beta * gPva[i];
          }
          proj.vjpForward(k, B, R.gS, R.rB[t], null, null, below ? below.pR : null);
          continue;
        }
        // 1. the population (GLE neurons), up to ĕ: adjoints of ŭ, u̇, u and of the drive s; γ ĕ's share of ḡĕ
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < nOut; j++) {
            const i = b * nOut + j;
            const k0 = oN + i;
            const tm = tauM[j], tr = tauR[j];
            phiDerivs(phi, R.pu[k0], d2);
            const gPu = nR[i] * d2[0] + R.nRP[i] * d2[1];
            const gUd = dt * R.nU[i] + tr * gPu;
            R.pU[i] += R.nU[i] + gPu - gUd / tm;
            gSa[i] = gUd / tm;
            gPva[i] = (gamma * gUd) / tm;
            R.gTau[j] += (-gUd * R.ud[k0]) / tm;
          }
        }
        // 2. the projection's error path e_bottom = ĕ W (or ĕ B): ḡĕ += ḡe_bottom Wᵀ, ḡW += ĕᵀ ḡe_bottom
        if (errDown) proj.vjpBackward(k, B, R.pv[t], R.nEB, R.gPv, R.gW, R.rB[t]);
        // 3. the population from ĕ down to its inputs (raw error, r')
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < nOut; j++) {
            const i = b * nOut + j;
            const k0 = oN + i;
            const tm = tauM[j], tr = tauR[j];
            const gPv = gPva[i];
            let gIe: number;
            if (prospective) {
              const ie = R.raw[k0] * R.rp0[k0];
              const vd = (ie - R.v0[k0]) / tr;
              R.gTau[j] += gPv * vd;
              const gVd = dt * R.nV[i] + tm * gPv;
              R.pV[i] += R.nV[i] + gPv - gVd / tr;
              gIe = gVd / tr;
            } else {
              gIe = R.nV[i] + gPv;
            }
            R.pRP[i] += gIe * R.raw[k0];
            const gRaw = gIe * R.rp0[k0];
            if (above) above.pEB.a[i] += gRaw;
            else if (isTop && this.hasT[t] && beta !== 0) R.pR.a[i] -= beta * gRaw;
          }
        }
        // 4. the projection's drive s = W r_bottom + b: ḡW += ḡsᵀ r_bottom, ḡb += Σ ḡs, ḡr_bottom += ḡs W
        proj.vjpForward(k, B, R.gS, R.rB[t], R.gW, R.gB, below ? below.pR : null);
      }
      // the adjoints of the state before step t become those after step t−1
      for (const R of this.recs) {
        [R.nU, R.pU] = [R.pU, R.nU];
        [R.nV, R.pV] = [R.pV, R.nV];
        [R.nR, R.pR] = [R.pR, R.nR];
        [R.nRP, R.pRP] = [R.pRP, R.nRP];
        [R.nEB, R.pEB] = [R.pEB, R.nEB];
      }
    }
    // write the gradients the optimiser consumes
    this.writeGradients(this.recs.map((R) => R.views));
    return lossSum;
  }
}
