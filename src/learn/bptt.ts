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
import { phiDerivs as phiDerivsInto } from '../kernels/phi.js';
import type { Learner } from './learner.js';
import { WindowedRule, type WindowOptions } from './windowed.js';

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
interface LayerRec {
  nIn: number;
  nOut: number;
  u0: Float64Array; // previous u
  v0: Float64Array; // previous v
  rp0: Float64Array; // previous r'
  rB: Float64Array; // r_bottom read (T × B × nIn)
  raw: Float64Array; // raw error read
  pu: Float64Array; // prosp_u computed
  pv: Float64Array; // prosp_v computed
  ud: Float64Array; // u_dot computed
  // adjoints of the state after the current step (n) and before it (p)
  nU: Float64Array;
  nV: Float64Array;
  nR: Float64Array;
  nRP: Float64Array;
  nEB: Float64Array;
  pU: Float64Array;
  pV: Float64Array;
  pR: Float64Array;
  pRP: Float64Array;
  pEB: Float64Array;
  gW: Float64Array;
  gB: Float64Array;
  gTau: Float64Array;
}

export type BPTTOptions = WindowOptions;

export class TruncatedBPTT extends WindowedRule {
  private recs: LayerRec[] = [];
  private readonly d2 = new Float64Array(2);

  constructor(learner: Learner, windowSteps: number, opts: BPTTOptions = {}) {
    super(learner, windowSteps, opts, 'TruncatedBPTT');
    this.allocate(this.net.B);
  }

  protected allocateLayers(B: number): void {
    const T = this.windowSteps;
    const f = (n: number) => new Float64Array(n);
    this.recs = this.net.layers.map((l) => {
      const no = B * l.nOut, ni = B * l.nIn;
      return {
        nIn: l.nIn,
        nOut: l.nOut,
        u0: f(T * no),
        v0: f(T * no),
        rp0: f(T * no),
        rB: f(T * ni),
        raw: f(T * no),
        pu: f(T * no),
        pv: f(T * no),
        ud: f(T * no),
        nU: f(no),
        nV: f(no),
        nR: f(no),
        nRP: f(no),
        nEB: f(ni),
        pU: f(no),
        pV: f(no),
        pR: f(no),
        pRP: f(no),
        pEB: f(ni),
        gW: f(l.nOut * l.nIn),
        gB: f(l.nOut),
        gTau: f(l.nOut),
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
      copyInto(R.u0, t * no, s.u, no);
      copyInto(R.v0, t * no, s.v, no);
      copyInto(R.rp0, t * no, s.rPrime, no);
      if (l > 0) copyInto(R.rB, t * ni, net.state(l - 1).r, ni);
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
    copyInto(this.recs[0].rB, t * B * net.nIn, net.input, B * net.nIn);
    for (let l = 0; l < net.layers.length; l++) {
      const R = this.recs[l];
      const no = B * R.nOut;
      const sc = net.scratch(l);
      copyInto(R.pu, t * no, sc.prospU, no);
      copyInto(R.pv, t * no, sc.prospV, no);
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
      R.nR.fill(0);
      R.nRP.fill(0);
      R.nEB.fill(0);
      R.gW.fill(0);
      R.gB.fill(0);
      R.gTau.fill(0);
    }
    for (let t = T - 1; t >= 0; t--) {
      for (const R of this.recs) {
        R.pU.fill(0);
        R.pV.fill(0);
        R.pR.fill(0);
        R.pRP.fill(0);
        R.pEB.fill(0);
      }
      // loss term of step t: y[t] = r_top[t−1]
      if (this.hasT[t]) {
        const o = t * B * nO;
        const top = this.recs[L - 1];
        let acc = 0;
        for (let i = 0; i < B * nO; i++) {
          const dlt = this.y[o + i] - this.tgt[o + i];
          acc += dlt * dlt;
          top.pR[i] += lossScale * dlt;
        }
        lossSum += acc / (B * nO);
      }
      for (let l = 0; l < L; l++) {
        const layer = net.layers[l];
        const R = this.recs[l];
        const nIn = R.nIn, nOut = R.nOut;
        const no = B * nOut, ni = B * nIn;
        const W = layer.params.W.a, tauM = layer.params.tauM.a, tauR = layer.params.tauR.a;
        const gamma = layer.hyper.gamma, prospective = layer.hyper.prospective, phi = layer.hyper.phi;
        const errDown = l > 0 || net.computeInputError;
        const oN = t * no, oI = t * ni;
        const below = l > 0 ? this.recs[l - 1] : null;
        const above = l < L - 1 ? this.recs[l + 1] : null;
        const isTop = l === L - 1;
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < nOut; j++) {
            const i = b * nOut + j;
            const k0 = oN + i;
            const pu = R.pu[k0], pv = R.pv[k0], ud = R.ud[k0];
            const tm = tauM[j], tr = tauR[j];
            phiDerivs(phi, pu, d2);
            const gPu = R.nR[i] * d2[0] + R.nRP[i] * d2[1];
            const gUd = dt * R.nU[i] + tr * gPu;
            R.pU[i] += R.nU[i] + gPu - gUd / tm;
            const gS = gUd / tm;
            let gPv = (gamma * gUd) / tm;
            if (errDown) {
              const wo = j * nIn, eo = b * nIn;
              for (let k = 0; k < nIn; k++) gPv += R.nEB[eo + k] * W[wo + k];
            }
            let gTau = (-gUd * ud) / tm;
            let gIe: number;
            if (prospective) {
              const ie = R.raw[k0] * R.rp0[k0];
              const vd = (ie - R.v0[k0]) / tr;
              gTau += gPv * vd;
              const gVd = dt * R.nV[i] + tm * gPv;
              R.pV[i] += R.nV[i] + gPv - gVd / tr;
              gIe = gVd / tr;
            } else {
              gIe = R.nV[i] + gPv;
            }
            R.gTau[j] += gTau;
            R.pRP[i] += gIe * R.raw[k0];
            const gRaw = gIe * R.rp0[k0];
            if (above) above.pEB[i] += gRaw;
            else if (isTop && this.hasT[t] && beta !== 0) R.pR[i] -= beta * gRaw;
            // s = W r_bottom + b
            R.gB[j] += gS;
            const wo = j * nIn, bo = b * nIn;
            for (let k = 0; k < nIn; k++) {
              R.gW[wo + k] += gS * R.rB[oI + bo + k];
              if (errDown) R.gW[wo + k] += pv * R.nEB[bo + k];
              if (below) below.pR[bo + k] += gS * W[wo + k];
            }
          }
        }
      }
      // the adjoints of the state before step t become those after step t−1
      for (const R of this.recs) {
        let s = R.nU;
        R.nU = R.pU;
        R.pU = s;
        s = R.nV;
        R.nV = R.pV;
        R.pV = s;
        s = R.nR;
        R.nR = R.pR;
        R.pR = s;
        s = R.nRP;
        R.nRP = R.pRP;
        R.pRP = s;
        s = R.nEB;
        R.nEB = R.pEB;
        R.pEB = s;
      }
    }
    // write the gradients the optimiser consumes
    this.writeGradients(this.recs);
    return lossSum;
  }
}
