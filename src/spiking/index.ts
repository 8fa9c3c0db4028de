/**
 * The spiking module (browser-safe): stochastic spiking populations, projections, pair-based STDP (SAL, ws), the
 * sampling network (js and wasm engines), the layered SALNet, the 1–1–1 microcircuit and the analytic stddc.
 * Exported from the core as the namespace `spiking`. Equations: docs/spiking.md.
 */
export * from './units.js';
export * from './projection.js';
export * from './stdp.js';
export * from './ssn.js';
export * from './salnet.js';
export * from './microcircuit.js';
export * from './stddc.js';
