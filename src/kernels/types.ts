/**
 * The kernel interface: the few numeric operations a GLE step needs, behind one contract.
 *
 * Backends (`js`, `wasm`, `native`) implement it; the model never knows which one runs, and backends never
 * know about layers or networks. All matrices are row-major. All buffers a backend operates on must have been
 * allocated by that backend (`alloc`), because compiled backends address them by offset into their own memory.
 *
 * A buffer is an `FBuf` handle rather than a bare typed array: a WebAssembly memory can grow, which detaches
 * old typed-array views; the backend then refreshes `buf.a` on every handle it gave out. Code must therefore
 * read `buf.a` when it needs the view and not keep the view across allocations.
 */

export type DType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

/** A backend-owned vector of `n` floats. `a` is the current view (re-read it after any `alloc`). */
export interface FBuf {
  readonly n: number;
  a: FloatArray;
  /** Backend-private address (byte offset in a WebAssembly memory; unused by the js backend). */
  readonly ptr: number;
}

import type { PhiCode } from './layout.js';

export { PHI, PHI_COUNT, STEP, DENSE_STEP_FIELDS, type PhiName, type PhiCode } from './layout.js';

/**
 * Every buffer one dense GLE layer step touches. Created once per layer (and per state parity / batch size) by
 * the model; compiled backends may cache a handle keyed on this object, so its buffer fields must not be
 * reassigned after the first `layerStep` call (scalars are passed per call instead).
 *
 * Shapes: B batch rows, nIn inputs, nOut neurons. W is nOut x nIn (torch layout).
 */
export interface LayerStepArgs {
  readonly B: number;
  readonly nIn: number;
  readonly nOut: number;
  // parameters
  readonly W: FBuf; // nOut*nIn
  readonly b: FBuf | null; // nOut
  readonly tauM: FBuf; // nOut
  readonly tauR: FBuf; // nOut
  // inputs of this step (values committed at t-1)
  readonly rBottom: FBuf; // B*nIn: network input (layer 0) or previous rate of the layer below
  readonly rawErr: FBuf; // B*nOut: previous e_bottom of the layer above, or the target error (top layer)
  readonly u: FBuf; // B*nOut previous membrane
  readonly v: FBuf; // B*nOut previous error-neuron membrane
  readonly rPrime: FBuf; // B*nOut previous phi'(prosp_u)
  // next state (written)
  readonly uN: FBuf;
  readonly vN: FBuf;
  readonly rN: FBuf;
  readonly rPrimeN: FBuf;
  readonly eBottomN: FBuf; // B*nIn
  // per-step values (written): recorded in traces, used by gradients
  readonly instE: FBuf; // B*nOut
  readonly prospU: FBuf; // B*nOut
  readonly prospV: FBuf; // B*nOut
  readonly uDot: FBuf; // B*nOut
  // gradients (written when STEP.GRADS)
  readonly gW: FBuf; // nOut*nIn
  readonly gB: FBuf | null; // nOut
  readonly gTau: FBuf; // nOut
}

/** Adam hyper-parameters for one fused update (PyTorch semantics; bias corrections precomputed by the caller). */
export interface AdamScalars {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 - beta1^t */
  bc1: number;
  /** 1 - beta2^t */
  bc2: number;
  weightDecay: number;
}

export interface Backend {
  readonly name: 'js' | 'wasm' | 'native';
  readonly dtype: DType;
  /** Human-readable details for run metadata (e.g. SIMD, BLAS core type, threads). */
  readonly info: Record<string, string | number | boolean>;

  /** A zero-filled buffer of n floats owned by this backend. */
  alloc(n: number): FBuf;

  /**
   * The fused GLE layer update (see src/model/dynamics.ts for the equations):
   *   inst_e = rawErr * r'            s = W r_bottom + b
   *   prospective:  v_dot = (inst_e - v)/tau_r; v_new = v + dt v_dot; prosp_v = v + tau_m v_dot
   *   otherwise:    v_new = prosp_v = inst_e
   *   u_dot = (s + gamma prosp_v - u)/tau_m; u_new = u + dt u_dot; prosp_u = u + tau_r u_dot
   *   GRADS: gW = -(prosp_vᵀ r_bottom)/B, gB = -mean_b prosp_v, LEARN_TAU: gTau = mean_b(prosp_v * u_dot)
   *   ERR_DOWN: e_bottom_new = prosp_v W          r_new = phi(prosp_u), r'_new = phi'(prosp_u)
   */
  layerStep(a: LayerStepArgs, phi: PhiCode, dt: number, gamma: number, flags: number): void;

  /**
   * C = alpha * op(A) op(B) + beta * C, row-major; op(A) is M x K, op(B) is K x N, C is M x N.
   * tA: A is stored K x M; tB: B is stored N x K.
   */
  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: FBuf, B: FBuf, beta: number, C: FBuf): void;

  /** r = phi(x), rp = phi'(x) elementwise over the first n entries. */
  activate(phi: PhiCode, x: FBuf, r: FBuf, rp: FBuf, n: number): void;

  /** One PyTorch Adam update over n entries: p -= lr * mhat / (sqrt(vhat) + eps). */
  adam(p: FBuf, g: FBuf, m: FBuf, v: FBuf, n: number, s: AdamScalars): void;
}
