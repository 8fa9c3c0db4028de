/**
 * The one table of rate functions: φ, the r' = φ' the kernels store, its derivative φ'' (for exact gradients through
 * r'), and the derivative of the rate the kernels actually return. The js backend steps with it, truncated BPTT and
 * the adjoint differentiate with it; the compiled backends implement the same functions in float32 (their tests
 * compare against this file). Codes are PHI in layout.ts.
 */
import type { PhiCode } from './layout.js';

/** out[PHI_R] φ(x) */
export const PHI_R = 0;
/** out[PHI_RP] the r' the kernels store (φ'; for softplus the logistic sigmoid, also above torch's threshold 20) */
export const PHI_RP = 1;
/** out[PHI_RPP] d r'/dx (φ''; 0 almost everywhere for the piecewise-linear rates) */
export const PHI_RPP = 2;
/** out[PHI_DR] d φ/dx of the returned rate (softplus above its threshold 20 is the identity, so 1 there) */
export const PHI_DR = 3;

/** io[PHI_X] the argument x (read first; passed in the array so that hot loops box no double per call) */
export const PHI_X = 4;

/** A scratch record for phiEval: [φ, r', r'', dφ/dx, x]. */
export function phiRecord(): Float64Array {
  return new Float64Array(5);
}

/** Evaluate rate function `phi` at x = io[PHI_X]: writes φ, r', r'' and dφ/dx into io[0..3] (see PHI_R … PHI_DR). */
export function phiEval(phi: PhiCode, io: Float64Array): void {
  const x = io[PHI_X];
  const out = io;
  switch (phi) {
    case 0: // linear
      out[0] = x;
      out[1] = 1;
      out[2] = 0;
      out[3] = 1;
      return;
    case 1: {
      // tanh
      const t = Math.tanh(x);
      const d = 1 - t * t;
      out[0] = t;
      out[1] = d;
      out[2] = -2 * t * d;
      out[3] = d;
      return;
    }
    case 2: {
      // sigmoid
      const s = 1 / (1 + Math.exp(-x));
      const d = s * (1 - s);
      out[0] = s;
      out[1] = d;
      out[2] = d * (1 - 2 * s);
      out[3] = d;
      return;
    }
    case 3: {
      // softplus with torch's threshold 20; the stored r' is the logistic sigmoid everywhere
      const s = 1 / (1 + Math.exp(-x));
      out[0] = x > 20 ? x : Math.log1p(Math.exp(x));
      out[1] = s;
      out[2] = s * (1 - s);
      out[3] = x > 20 ? 1 : s;
      return;
    }
    case 4: {
      // relu
      const on = x > 0 ? 1 : 0;
      out[0] = x > 0 ? x : 0;
      out[1] = on;
      out[2] = 0;
      out[3] = on;
      return;
    }
    case 5: {
      // hard sigmoid = clamp(x, 0, 1); derivative 1 on the closed interval
      const on = x >= 0 && x <= 1 ? 1 : 0;
      out[0] = x < 0 ? 0 : x > 1 ? 1 : x;
      out[1] = on;
      out[2] = 0;
      out[3] = on;
      return;
    }
    case 6: {
      // hard tanh = clamp(x, -1, 1)
      const on = x >= -1 && x <= 1 ? 1 : 0;
      out[0] = x < -1 ? -1 : x > 1 ? 1 : x;
      out[1] = on;
      out[2] = 0;
      out[3] = on;
      return;
    }
    default:
      throw new Error(`unknown activation code ${phi as number}`);
  }
}

/** [dφ/dx of the returned rate, d r'/dx] into out[0], out[1] (what the reverse sweeps need). */
export function phiDerivs(phi: PhiCode, x: number, out: Float64Array, scratch: Float64Array): void {
  scratch[PHI_X] = x;
  phiEval(phi, scratch);
  out[0] = scratch[PHI_DR];
  out[1] = scratch[PHI_RPP];
}
