/**
 * The one table of kernel constants shared by every backend: activation codes, the flags of the fused dense GLE
 * step, and the argument layout of that step (the buffers of `LayerStepArgs`, in the order the compiled backends
 * receive them). The C header `native/gle_layout.h` and the AssemblyScript module `wasm/assembly/layout.ts` are
 * generated from this file by `npm run gen:constants` (scripts/gen-kernel-constants.ts); a test checks that the
 * committed copies are up to date. Browser-safe, no imports.
 */

/** Activation codes shared by every backend (name → code; the order is the code). */
export const PHI = {
  linear: 0,
  tanh: 1,
  sigmoid: 2,
  softplus: 3,
  relu: 4,
  hard_sigmoid: 5,
  hard_tanh: 6,
} as const;
export type PhiName = keyof typeof PHI;
export type PhiCode = (typeof PHI)[PhiName];
/** Number of activation codes (valid codes are 0 … PHI_COUNT − 1). */
export const PHI_COUNT = Object.keys(PHI).length;

/** Flags of the fused layer step. */
export const STEP = {
  /** prospective error neurons (v ODE with tau_r, look-ahead with tau_m); otherwise prosp_v = inst_e */
  PROSPECTIVE: 1,
  /** write dW, db (and dtau_m when LEARN_TAU) */
  GRADS: 2,
  /** write the tau_m gradient (only with GRADS) */
  LEARN_TAU: 4,
  /** compute the error sent down, e_bottom = prosp_v W */
  ERR_DOWN: 8,
} as const;

/**
 * Size class of one buffer of the fused step: `w` nOut·nIn (weights), `out` nOut (per neuron), `bo` B·nOut (per
 * batch row and neuron), `bi` B·nIn (per batch row and input).
 */
export type SizeClass = 'w' | 'out' | 'bo' | 'bi';

export interface FieldDecl {
  /** the `LayerStepArgs` key */
  readonly key: string;
  /** the C enum suffix (F_<c>) */
  readonly c: string;
  readonly size: SizeClass;
  /** may be null (a layer without bias) */
  readonly optional?: boolean;
}

/** The buffers of one fused dense GLE step, in the order of the compiled backends' argument records. */
export const DENSE_STEP_FIELDS = [
  { key: 'W', c: 'W', size: 'w' },
  { key: 'b', c: 'b', size: 'out', optional: true },
  { key: 'tauM', c: 'tauM', size: 'out' },
  { key: 'tauR', c: 'tauR', size: 'out' },
  { key: 'rBottom', c: 'rB', size: 'bi' },
  { key: 'rawErr', c: 'raw', size: 'bo' },
  { key: 'u', c: 'u', size: 'bo' },
  { key: 'v', c: 'v', size: 'bo' },
  { key: 'rPrime', c: 'rP', size: 'bo' },
  { key: 'uN', c: 'uN', size: 'bo' },
  { key: 'vN', c: 'vN', size: 'bo' },
  { key: 'rN', c: 'rN', size: 'bo' },
  { key: 'rPrimeN', c: 'rPN', size: 'bo' },
  { key: 'eBottomN', c: 'eB', size: 'bi' },
  { key: 'instE', c: 'instE', size: 'bo' },
  { key: 'prospU', c: 'pU', size: 'bo' },
  { key: 'prospV', c: 'pV', size: 'bo' },
  { key: 'uDot', c: 'uDot', size: 'bo' },
  { key: 'gW', c: 'gW', size: 'w' },
  { key: 'gB', c: 'gB', size: 'out', optional: true },
  { key: 'gTau', c: 'gTau', size: 'out' },
] as const satisfies readonly FieldDecl[];

export type DenseStepField = (typeof DENSE_STEP_FIELDS)[number]['key'];

/** Floats a buffer of the given size class holds. */
export function sizeOf(size: SizeClass, B: number, nIn: number, nOut: number): number {
  switch (size) {
    case 'w':
      return nOut * nIn;
    case 'out':
      return nOut;
    case 'bo':
      return B * nOut;
    case 'bi':
      return B * nIn;
  }
}

/**
 * The wasm step struct (i32 words): B, nIn, nOut, then one pointer per DENSE_STEP_FIELDS entry, then two transient
 * scratch pointers (Wᵀ, and 1/τ_m followed by 1/τ_r).
 */
export const WASM_STRUCT = {
  DIMS: 3,
  FIELDS: 3,
  SCRATCH_WT: 3 + DENSE_STEP_FIELDS.length,
  SCRATCH_INV: 4 + DENSE_STEP_FIELDS.length,
  INTS: 5 + DENSE_STEP_FIELDS.length,
} as const;
