/**
 * Neuron models (populations): each declares its state and per-step fields once — the network allocates, tiles on a
 * batch-size change, resets, records in traces and saves in checkpoints by looping over these declarations — and
 * names the kernel of its elementwise step (kernels/registry.ts). The GLE equations are in ../dynamics.ts.
 */
import type { NeuronModel, PopulationDecl } from './types.js';

/** GLE neurons: representation membrane u, error membrane v, rate r and r' = φ'(ŭ). */
export const GLE_POPULATION: PopulationDecl = {
  model: 'gle',
  state: [
    { key: 'u', name: 'u' },
    { key: 'v', name: 'v' },
    { key: 'r', name: 'r' },
    { key: 'rPrime', name: 'r_prime' },
  ],
  scratch: [
    { key: 'prospU', name: 'prosp_u' },
    { key: 'prospV', name: 'prosp_v' },
    { key: 'instE', name: 'inst_e' },
    { key: 'uDot', name: 'u_dot' },
  ],
  kernel: 'gle.neurons',
};

/** A relay (pooling stages): passes its drive on as its rate and the error above down unchanged. */
export const RELAY_POPULATION: PopulationDecl = {
  model: 'relay',
  state: [
    { key: 'r', name: 'r' },
    { key: 'rPrime', name: 'r_prime' },
  ],
  scratch: [
    { key: 'prospV', name: 'prosp_v' },
    { key: 'instE', name: 'inst_e' },
  ],
  kernel: 'relay.neurons',
};

export const POPULATIONS: Record<NeuronModel, PopulationDecl> = { gle: GLE_POPULATION, relay: RELAY_POPULATION };

/** The error a layer sends down: state too (the layer below reads it at t−1), sized by the layer's input. */
export const E_BOTTOM = { key: 'eBottom', name: 'e_bottom' } as const;
