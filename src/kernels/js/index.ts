/**
 * Portable reference backend: plain loops over typed arrays, float32 or float64 storage.
 * It is the backend the golden tests pin; the compiled backends are checked against it.
 */
import type { AdamScalars, Backend, DType, FBuf, FloatArray, LayerStepArgs, PhiCode } from '../types.js';
import { STEP } from '../types.js';
import { PHI_X, phiEval, phiRecord } from '../phi.js';
import { type GleNeuronArgs, gleNeurons } from '../generic.js';

class JsBuf implements FBuf {
  readonly ptr = 0;
  constructor(public a: FloatArray) {}
  get n(): number {
    return this.a.length;
  }
}

export class JsBackend implements Backend {
  readonly name = 'js' as const;
  readonly info: Record<string, string | number | boolean>;
  /** φ, r', r'', dφ/dx of one value (phi.ts) */
  private readonly d = phiRecord();
  /** the population-step record of each fused-step argument record (written once) */
  private readonly pop = new WeakMap<LayerStepArgs, GleNeuronArgs>();

  constructor(readonly dtype: DType = 'float32') {
    this.info = { backend: 'js', dtype };
  }

  alloc(n: number): FBuf {
    return new JsBuf(this.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));
  }

  layerStep(L: LayerStepArgs, phi: PhiCode, dt: number, gamma: number, flags: number): void {
    const { B, nIn, nOut } = L;
    const W = L.W.a;
    const bias = L.b ? L.b.a : null;
    const rB = L.rBottom.a, uDot = L.uDot.a;
    // drive s = W r_bottom + b into u_dot, then the GLE population step (the generic kernel, which overwrites u_dot)
    for (let bi = 0; bi < B; bi++) {
      const xo = bi * nIn;
      const ro = bi * nOut;
      for (let j = 0; j < nOut; j++) {
        let s = bias ? bias[j] : 0;
        const wo = j * nIn;
        for (let k = 0; k < nIn; k++) s += W[wo + k] * rB[xo + k];
        uDot[ro + j] = s;
      }
    }
    let pa = this.pop.get(L);
    if (!pa) {
      pa = {
        B, n: nOut, drive: L.uDot, rawErr: L.rawErr, u: L.u, v: L.v, rPrime: L.rPrime, uN: L.uN, vN: L.vN, rN: L.rN,
        rPrimeN: L.rPrimeN, instE: L.instE, prospU: L.prospU, prospV: L.prospV, uDot: L.uDot, tauM: L.tauM, tauR: L.tauR,
        gTau: L.gTau, phi, dt, gamma, flags,
      };
      this.pop.set(L, pa);
    }
    pa.phi = phi;
    pa.flags = flags;
    if (pa.dt !== dt) pa.dt = dt;
    if (pa.gamma !== gamma) pa.gamma = gamma;
    gleNeurons(this, pa);

    if (flags & STEP.GRADS) {
      // read the (possibly rounded) stored prosp_v so every backend and precision sees the same quantity
      const pVs = L.prospV.a;
      const gW = L.gW.a;
      const invB = 1 / B;
      for (let j = 0; j < nOut; j++) {
        const wo = j * nIn;
        for (let k = 0; k < nIn; k++) {
          let acc = 0;
          for (let bi = 0; bi < B; bi++) acc += pVs[bi * nOut + j] * rB[bi * nIn + k];
          gW[wo + k] = -acc * invB;
        }
      }
      if (L.gB) {
        const gB = L.gB.a;
        for (let j = 0; j < nOut; j++) {
          let acc = 0;
          for (let bi = 0; bi < B; bi++) acc += pVs[bi * nOut + j];
          gB[j] = -acc * invB;
        }
      }
    }

    if (flags & STEP.ERR_DOWN) {
      const eB = L.eBottomN.a;
      const pVs = L.prospV.a;
      eB.fill(0, 0, B * nIn);
      for (let bi = 0; bi < B; bi++) {
        const eo = bi * nIn;
        for (let j = 0; j < nOut; j++) {
          const p = pVs[bi * nOut + j];
          if (p === 0) continue;
          const wo = j * nIn;
          for (let k = 0; k < nIn; k++) eB[eo + k] += p * W[wo + k];
        }
      }
    }
  }

  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: FBuf, Bm: FBuf, beta: number, C: FBuf): void {
    const a = A.a, b = Bm.a, c = C.a;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = tA ? a[k * M + i] : a[i * K + k];
          const bv = tB ? b[j * K + k] : b[k * N + j];
          acc += av * bv;
        }
        const o = i * N + j;
        c[o] = beta === 0 ? alpha * acc : alpha * acc + beta * c[o];
      }
    }
  }

  activate(phi: PhiCode, x: FBuf, r: FBuf, rp: FBuf, n: number): void {
    const xa = x.a, ra = r.a, pa = rp.a, d = this.d;
    for (let i = 0; i < n; i++) {
      d[PHI_X] = xa[i];
      phiEval(phi, d);
      ra[i] = d[0];
      pa[i] = d[1];
    }
  }

  adam(p: FBuf, g: FBuf, m: FBuf, v: FBuf, n: number, s: AdamScalars): void {
    const pa = p.a, ga = g.a, ma = m.a, va = v.a;
    const { lr, beta1, beta2, eps, bc1, bc2, weightDecay } = s;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    for (let i = 0; i < n; i++) {
      let gi = ga[i];
      if (weightDecay !== 0) gi += weightDecay * pa[i];
      const mi = beta1 * ma[i] + (1 - beta1) * gi;
      const vi = beta2 * va[i] + (1 - beta2) * gi * gi;
      ma[i] = mi;
      va[i] = vi;
      const denom = Math.sqrt(vi) / sqrtBc2 + eps;
      pa[i] -= (stepSize * mi) / denom;
    }
  }
}

