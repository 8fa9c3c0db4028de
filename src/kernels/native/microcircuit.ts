/**
 * The dendritic microcircuit (src/model/microcircuit.ts) stepped by the native addon (native/gle_microcircuit.c):
 * `presentMicrocircuit` for a whole ensemble in one call, float64 state only. Same equations and order of operations
 * as the TypeScript step; the libm functions are glibc's instead of V8's, so results agree to rounding, not bit for
 * bit (test/microcircuit-ensemble.test.ts). Node-only.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MicrocircuitParams, MicrocircuitState } from '../../model/microcircuit.js';

type MicroPresent = (params: Float64Array, bufs: Float64Array[], noise: Uint32Array, gauss: Float64Array, x: Float64Array, target: Float64Array | null, steps: number, learn: boolean, from: number, acc: Float64Array) => number;

/** The state buffers in the order native/gle_microcircuit.c reads them (MC_B_*). */
const BUFS = ['W_up1', 'W_up2', 'B', 'W_ip', 'W_pi', 'd_up1', 'd_up2', 'd_ip', 'd_pi', 'rIn', 'tgt', 'uP', 'upP', 'rP', 'rHatP', 'vA', 'vB', 'xi', 'uI', 'upI', 'rI', 'rHatI', 'uO', 'rO', 'rHatO', 'upO', 'hpO', 'rPold', 'rIold', 'rOold', 'upOold', 'bNorm'] as const;

let fn: MicroPresent | null = null;

function load(): MicroPresent {
  if (fn) return fn;
  const rel = 'native/build/Release/gle_native.node';
  const here = fileURLToPath(new URL('.', import.meta.url));
  const path = [`${here}../../../${rel}`, `${here}../../../../${rel}`].find((p) => existsSync(p));
  if (!path) throw new Error('native addon not built (install libopenblas-dev and run npm run build:native)');
  const addon = createRequire(import.meta.url)(path) as { microPresent?: MicroPresent };
  if (typeof addon.microPresent !== 'function') throw new Error('native addon predates the microcircuit kernel; rebuild with npm run build:native');
  fn = addon.microPresent;
  return fn;
}

/** A `present` for this circuit and state on the native addon (throws with a one-line reason when unavailable). */
export function nativeMicrocircuitPresenter(p: MicrocircuitParams, s: MicrocircuitState): (x: Float64Array, target: Float64Array | null, steps: number, learn: boolean, from: number, acc: Float64Array) => number {
  if (p.dtype !== 'float64') throw new Error('the native microcircuit kernel needs dtype float64');
  const f = load();
  const fb = p.feedback === 'fixed' ? 0 : p.feedback === 'pal' ? 1 : p.feedback === 'transpose' ? 2 : 3;
  // MC_P_* order
  const params = Float64Array.from([
    p.dims[0], p.dims[1], p.dims[2], s.n, p.dt, p.le ? 1 : 0, p.phi === 'sigmoid' ? 1 : 0, p.gl, p.gb, p.ga, p.gsom, p.gd, p.gt,
    p.sigmaXi, p.tauXi, p.tauHp, p.alpha, p.tau0, p.etaUp[0], p.etaUp[1], p.etaIp, p.etaPi, p.etaB,
    p.tauW[0], p.tauW[1], p.tauW[2], p.clip ? p.clip[0] : Infinity, p.clip ? p.clip[1] : Infinity, fb,
  ]);
  const bufs = BUFS.map((k) => s[k] as Float64Array);
  return (x, target, steps, learn, from, acc) => f(params, bufs, s.noise, s.gauss, x, target, steps, learn, from, acc);
}
