/**
 * Divergence guard: a run whose loss, state or parameters stop being finite is stopped at the next check (every
 * logging point / batch), with a clear one-line message and exit code {@link DIVERGED_EXIT_CODE}; the runner keeps
 * the last good checkpoint (nothing non-finite is ever saved) and records the event in summary.json.
 */
import type { GLENetwork } from '../model/network.js';
import type { Learner } from '../learn/learner.js';
import { UserError } from '../util/errors.js';

/** Exit code of a run stopped because it diverged (2 = bad input, 130 = interrupted). */
export const DIVERGED_EXIT_CODE = 3;

export interface DivergenceInfo {
  /** the step (or epoch) at which it was detected */
  step: number;
  unit: 'step' | 'epoch';
  /** what went non-finite: 'loss', or a tensor name such as 'layer_0.weight' or 'state.layer_1.u' */
  what: string;
  value: string;
}

export class DivergenceError extends UserError {
  constructor(readonly info: DivergenceInfo, hint: string) {
    super(`the run diverged: ${info.what} became ${info.value} by ${info.unit} ${info.step}${hint}`, DIVERGED_EXIT_CODE);
    this.name = 'DivergenceError';
  }
}

function firstBad(a: ArrayLike<number>, n: number): number {
  for (let i = 0; i < n; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** The first non-finite parameter, state or optimiser-state entry of `net`, or null. */
export function nonFiniteTensor(net: GLENetwork, learner: Learner | null = null): { what: string; value: string } | null {
  const groups = [net.allTensors(), net.stateTensors(), learner?.opt ? learner.opt.stateTensors() : []];
  for (const g of groups) {
    for (const t of g) {
      const i = firstBad(t.buf.a, t.buf.n);
      if (i >= 0) return { what: t.buf.n === 1 ? t.name : `${t.name}[${i}]`, value: String(t.buf.a[i]) };
    }
  }
  return null;
}

/**
 * Throws a DivergenceError when `loss` is not finite or `net` holds a non-finite value. `hint` is appended to the
 * message (e.g. which checkpoint was kept).
 */
export function checkFinite(loss: number, net: GLENetwork, learner: Learner | null, at: { step: number; unit: 'step' | 'epoch' }, hint = ''): void {
  if (!Number.isFinite(loss)) throw new DivergenceError({ ...at, what: 'loss', value: String(loss) }, hint);
  const bad = nonFiniteTensor(net, learner);
  if (bad) throw new DivergenceError({ ...at, ...bad }, hint);
}
