/**
 * The neuron (population) part of a layer spec and its resolution: rate function, time constants (scalar, per-neuron
 * list or groups), nudging γ, τ learning, prospective errors. Shared by every layer type that has neurons.
 */
import { countProblem } from '../memory.js';
import { z } from 'zod';
import { PHI, type PhiName } from '../../kernels/layout.js';

export const finite = z.number().finite();

const TauGroups = z.object({ groups: z.array(z.object({ count: z.number().int().positive(), value: finite })).min(1) }).strict();
export const TauSpec = z.union([finite, z.array(finite).min(1), TauGroups]);
export type TauSpec = z.infer<typeof TauSpec>;

export const phiNames = Object.keys(PHI) as [PhiName, ...PhiName[]];

/** zod fields of a layer with neurons (spread into each layer type's schema). */
export const neuronFields = {
  /** the neuron model ('gle': today's GLE neurons; later 'le', microcircuit, spiking models) */
  neuron: z.literal('gle').default('gle'),
  phi: z.string().default('linear'),
  tau_m: TauSpec,
  tau_r: TauSpec.optional(),
  gamma: finite.default(0),
  learn_tau: z.boolean().default(false),
  prospective_errors: z.boolean().optional(),
};

export interface NeuronSpecOut {
  neuron: 'gle';
  phi: string;
  tau_m: TauSpec;
  tau_r?: TauSpec;
  gamma: number;
  learn_tau: boolean;
  prospective_errors?: boolean;
}

export function expandTau(t: TauSpec, n: number, where: string, issues: string[]): number[] {
  if (typeof t === 'number') return new Array<number>(n).fill(t);
  if (Array.isArray(t)) {
    if (t.length !== n) issues.push(`${where}: has ${t.length} entries but the layer has ${n} neurons`);
    return t.slice(0, n).concat(new Array<number>(Math.max(0, n - t.length)).fill(t[t.length - 1] ?? 1));
  }
  const out: number[] = [];
  const total = t.groups.reduce((a, g) => a + g.count, 0);
  if (total !== n) {
    issues.push(`${where}: groups add up to ${total} neurons but the layer has ${n}`);
    return new Array<number>(n).fill(t.groups[0].value);
  }
  for (const g of t.groups) for (let i = 0; i < g.count; i++) out.push(g.value);
  if (out.length !== n) issues.push(`${where}: groups add up to ${out.length} neurons but the layer has ${n}`);
  while (out.length < n) out.push(out[out.length - 1] ?? 1);
  return out.slice(0, n);
}

/** Report each bad time constant once: per field for a scalar, per neuron for a vector or groups. */
function checkTaus(v: number[], raw: TauSpec, where: string, dt: number, issues: string[]): void {
  const bad = (t: number) => (!(t > 0) ? `must be > 0, got ${t}` : t < dt * (1 - 1e-12) ? `${t} is smaller than dt ${dt}` : null);
  if (typeof raw === 'number') {
    const m = bad(raw);
    if (m) issues.push(`${where}: ${m}`);
    return;
  }
  let n = 0;
  v.forEach((t, j) => {
    const m = bad(t);
    if (m && n++ < 5) issues.push(`${where}[${j}]: ${m}`);
  });
  if (n > 5) issues.push(`${where}: ${n - 5} more neurons with the same problem`);
}

/**
 * Resolve the neuron fields for `units` independent time-constant slots (neurons of a dense layer, channels of a
 * conv layer), each repeated `repeat` times (the positions of a channel).
 */
export function resolveNeurons(
  l: NeuronSpecOut,
  units: number,
  repeat: number,
  where: string,
  ctx: { dt: number; prospective: boolean },
  issues: string[],
): { phi: string; phiCode: (typeof PHI)[PhiName]; tauM: number[]; tauR: number[]; gamma: number; learn_tau: boolean; prospective: boolean; neuron: 'gle' } {
  if (!(l.phi in PHI)) issues.push(`${where}.phi: unknown activation '${l.phi}' (expected one of ${phiNames.join(', ')})`);
  // per neuron: two time constants as JS numbers, state and parameters (>= 64 bytes); too many is refused here,
  // before anything is expanded (the spec then fails with this line instead of crashing while allocating)
  const big = countProblem(where, 'neurons', units * repeat, 64);
  if (big) {
    issues.push(big);
    units = 1;
    repeat = 1;
  }
  const tm = expandTau(l.tau_m, units, `${where}.tau_m`, issues);
  const tr = l.tau_r === undefined ? tm.slice() : expandTau(l.tau_r, units, `${where}.tau_r`, issues);
  checkTaus(tm, l.tau_m, `${where}.tau_m`, ctx.dt, issues);
  if (l.tau_r !== undefined) checkTaus(tr, l.tau_r, `${where}.tau_r`, ctx.dt, issues);
  const rep = (v: number[]) => (repeat === 1 ? v : v.flatMap((x) => new Array<number>(repeat).fill(x)));
  return {
    neuron: 'gle',
    phi: l.phi,
    phiCode: PHI[l.phi as PhiName] ?? 0,
    tauM: rep(tm),
    tauR: rep(tr),
    gamma: l.gamma,
    learn_tau: l.learn_tau,
    prospective: l.prospective_errors ?? ctx.prospective,
  };
}

/** The neuron fields of a layer without neurons (pooling): a relay population. */
export const RELAY_NEURONS = {
  neuron: 'relay' as const,
  phi: 'linear',
  phiCode: 0 as const,
  tauM: [] as number[],
  tauR: [] as number[],
  gamma: 0,
  learn_tau: false,
  prospective: false,
};
