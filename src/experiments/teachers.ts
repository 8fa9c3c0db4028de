/**
 * The LagLine teacher (paper Fig. 5, reference §2.1), defined once: a 1→1→1 softplus chain without bias, w = (1, 2),
 * τ_m = (1, 2), τ_r = 0.1, γ = 1. The experiment registry and the lab both build their networks from it.
 * Browser-safe (exported through gle/core).
 */
import type { NetworkSpecInput } from '../model/spec.js';

/** The teacher's parameters, layer by layer. */
export const LAGLINE_TEACHER = {
  weight: [1, 2],
  tauM: [1, 2],
  tauR: 0.1,
  gamma: 1,
  phi: 'softplus',
} as const;

export interface LagLineSpecOptions {
  dt: number;
  beta: number;
  name?: string;
  /** weights of the two layers (default: the teacher's) */
  weight?: readonly [number, number];
  /** membrane time constants of the two layers (default: the teacher's) */
  tauM?: readonly [number, number];
  /** prospective errors (GLE) rather than instantaneous ones (default false) */
  prospective?: boolean;
  /** mark τ_m as learnable (default true) */
  learnTau?: boolean;
}

/** The LagLine chain's spec: the teacher's by default; a student passes its own start weights and τ_m. */
export function lagLineSpec(o: LagLineSpecOptions): NetworkSpecInput {
  const T = LAGLINE_TEACHER;
  const w = o.weight ?? T.weight;
  const tau = o.tauM ?? T.tauM;
  return {
    name: o.name ?? 'lagline-teacher',
    input_size: 1,
    dt: o.dt,
    loss: 'mse',
    beta: o.beta,
    prospective_errors: o.prospective ?? false,
    layers: [0, 1].map((i) => ({
      size: 1,
      phi: T.phi,
      bias: false,
      tau_m: tau[i],
      tau_r: T.tauR,
      gamma: T.gamma,
      learn_tau: o.learnTau ?? true,
      init: { weight: [[w[i]]] },
    })),
  };
}
