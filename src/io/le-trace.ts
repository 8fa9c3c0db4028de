/**
 * LE trace files (the golden schema of test/fixtures/golden/le/README.md, written from the authors' reference code):
 * recognise one, turn its network into an LE spec (initial parameters from `init`, per-neuron τ lists where given), and
 * replay it: step an LENetwork through the file's inputs and targets and compare every recorded quantity (per stage:
 * u, u_dot, basal, prosp_u, prosp_u_m, r, r_prime, e, e_bottom; pooling: r, r_prime, argmax exactly, e_bottom; every
 * parameter after every step's update). Used by `gle replay` and the tests. Browser-safe.
 */
import { flattenNested } from '../util/nested.js';
import type { Backend, FBuf } from '../kernels/types.js';
import { LENetwork, type LeSpecInput } from '../model/le-network.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type LeTrace = any;

/** true when `g` looks like an LE trace (schema_version 1 with an LE variant and typed stages) */
export function isLeTrace(g: unknown): boolean {
  const x = g as LeTrace;
  return !!x && typeof x === 'object' && typeof x.settings?.variant === 'string' && Array.isArray(x.layers) && x.layers.every((l: any) => typeof l?.type === 'string') && !!x.init && !!x.trace;
}

/** Check the fields a replay reads; one message naming the first missing one. */
export function validateLeTrace(g: LeTrace, where: string): LeTrace {
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`${where}: not a valid LE trace: ${what}`);
  };
  need(g?.schema_version === 1, 'schema_version must be 1');
  need(Number.isInteger(g.n_steps) && g.n_steps > 0 && Number.isInteger(g.batch_size) && g.batch_size > 0, 'n_steps and batch_size must be positive integers');
  need(Array.isArray(g.inputs) && g.inputs.length >= g.n_steps && Array.isArray(g.targets) && g.targets.length >= g.n_steps, 'inputs and targets need n_steps entries');
  need(Array.isArray(g.trace?.layers) && g.trace.layers.length === g.layers.length && typeof g.trace.params === 'object', 'trace.layers (one per stage) and trace.params are required');
  for (const k of ['dt', 'tau', 'beta', 'learning_rate', 'lr_multiplier', 'n_updates']) need(typeof g.settings?.[k] === 'number', `settings.${k} must be a number`);
  return g;
}

/** Nested arrays of a trace, flattened (row-major). */
export const flat = flattenNested;

/** The golden file's network as an LE spec (initial parameters from `init`, per-neuron τ lists where given). */
export function leTraceSpec(g: LeTrace): LeSpecInput {
  const s = g.settings;
  const layers = g.layers.map((l: any) => {
    const init: any = {};
    if (g.init[`${l.name}.weight`]) init.weight = g.init[`${l.name}.weight`];
    if (g.init[`${l.name}.bias`]) init.bias = g.init[`${l.name}.bias`];
    if (g.init[`${l.name}.feedback`]) init.feedback = g.init[`${l.name}.feedback`];
    const taus = l.tau ? { tau: l.tau, tau_m: l.tau_m } : {};
    switch (l.type) {
      case 'linear':
      case 'projection':
        return { type: 'dense', name: l.name, size: l.out, phi: l.phi, lr_factor: l.lr_factor, init, ...taus };
      case 'conv2d':
        return { type: 'conv2d', name: l.name, channels: l.filters, kernel: l.kernel_size, phi: l.phi, lr_factor: l.lr_factor, init };
      case 'maxpool2d':
        return { type: 'maxpool', name: l.name, kernel: l.kernel_size };
      default:
        throw new Error(`unknown golden layer type ${l.type}`);
    }
  });
  return {
    model: 'le',
    input_shape: g.input_shape ?? [g.layers[0].in],
    dt: s.dt,
    tau: s.tau,
    tau_m: s.tau_m,
    beta: s.beta,
    variant: s.variant,
    learning_rate: s.learning_rate,
    lr_multiplier: s.lr_multiplier,
    n_updates: s.n_updates,
    feedback_alignment: s.feedback_alignment,
    prosp_rate_errors: s.prosp_rate_errors,
    layers,
  };
}

export interface QuantityReport {
  maxAbs: number;
  /** max |d| / |ref| over entries with |ref| > atol */
  maxRel: number;
  /** max over entries of |d| − (atol + rtol·|ref|) (≤ 0: within tolerance) */
  worstExcess: number;
  worstStep: number;
}

/** q[key], started empty on first use */
function reportOf(q: Record<string, QuantityReport>, key: string): QuantityReport {
  return (q[key] ??= { maxAbs: 0, maxRel: 0, worstExcess: -Infinity, worstStep: -1 });
}

/** Compare one logged quantity at step t with the reference and fold the result into q[key] (shared by every replay). */
export function compareQuantity(q: Record<string, QuantityReport>, key: string, t: number, ref: unknown, got: ArrayLike<number>, atol: number, rtol: number): void {
  const r = flat(ref);
  const rep = reportOf(q, key);
  if (r.length > got.length) throw new Error(`${key}: reference has ${r.length} values, the network ${got.length}`);
  for (let i = 0; i < r.length; i++) {
    const d = Math.abs(got[i] - r[i]);
    const ex = Number.isNaN(d) ? Infinity : d - (atol + rtol * Math.abs(r[i]));
    if (d > rep.maxAbs || Number.isNaN(d)) rep.maxAbs = Number.isNaN(d) ? Infinity : d;
    if (Math.abs(r[i]) > atol && d / Math.abs(r[i]) > rep.maxRel) rep.maxRel = d / Math.abs(r[i]);
    if (ex > rep.worstExcess) {
      rep.worstExcess = ex;
      rep.worstStep = t;
    }
  }
}

/**
 * Compare a pooling stage's argmax at step t exactly and fold it into q[key]: maxAbs = the most entries that differ
 * at one step, worstStep = the first step with a difference (shared by every replay).
 */
export function compareArgmax(q: Record<string, QuantityReport>, key: string, t: number, ref: unknown, got: ArrayLike<number>): void {
  const r = flat(ref);
  let bad = 0;
  r.forEach((v, j) => (bad += v === got[j] ? 0 : 1));
  const rep = reportOf(q, key);
  if (bad > rep.maxAbs) rep.maxAbs = bad;
  if (bad > 0 && rep.worstExcess <= 0) {
    rep.worstExcess = bad;
    rep.worstStep = t;
  }
}

/** Step an LENetwork through the file; compare everything at every step. */
export function replayLeTrace(g: LeTrace, k: Backend, atol: number, rtol: number): { net: LENetwork; ok: boolean; scenario: string; steps: number; quantities: Record<string, QuantityReport> } {
  const net = new LENetwork(k, leTraceSpec(g), g.batch_size);
  const q: Record<string, QuantityReport> = {};
  const cmp = (key: string, t: number, ref: unknown, got: ArrayLike<number>) => compareQuantity(q, key, t, ref, got, atol, rtol);
  const view = (b: FBuf) => b.a;
  for (let t = 0; t < g.n_steps; t++) {
    net.step(flat(g.inputs[t]), flat(g.targets[t]));
    g.layers.forEach((l: any, i: number) => {
      const tr = g.trace.layers[i];
      const st = net.stages[i];
      const pre = `${l.name}.`;
      cmp(pre + 'r', t, tr.r[t], view(net.rate(i)));
      cmp(pre + 'r_prime', t, tr.r_prime[t], view(net.ratePrime(i)));
      cmp(pre + 'e_bottom', t, tr.e_bottom[t], view(st.eBottom));
      if (st.kind === 'pool') compareArgmax(q, pre + 'argmax', t, tr.argmax[t], st.ws.argmax);
      else {
        cmp(pre + 'u', t, tr.u[t], view(st.u));
        cmp(pre + 'u_dot', t, tr.u_dot[t], view(st.uDot));
        cmp(pre + 'basal', t, tr.basal[t], view(st.drive));
        cmp(pre + 'prosp_u', t, tr.prosp_u[t], view(st.prospU));
        cmp(pre + 'prosp_u_m', t, tr.prosp_u_m[t], view(st.prospUm));
        cmp(pre + 'e', t, tr.e[t], view(st.e));
        cmp(pre + 'weight', t, g.trace.params[`${l.name}.weight`][t], view(st.proj.W!));
        if (st.proj.b) cmp(pre + 'bias', t, g.trace.params[`${l.name}.bias`][t], view(st.proj.b));
      }
    });
  }
  return { net, ok: failures(q).length === 0, scenario: String(g.scenario ?? 'le'), steps: g.n_steps, quantities: q };
}

/** One line per quantity out of tolerance (empty: all within). */
export function failures(q: Record<string, QuantityReport>): string[] {
  return Object.entries(q)
    .filter(([, d]) => d.worstExcess > 0)
    .map(([k, d]) => `${k}: maxAbs ${d.maxAbs.toExponential(2)} (worst at step ${d.worstStep})`);
}

export function maxAbsOverall(q: Record<string, QuantityReport>): number {
  return Math.max(...Object.entries(q).filter(([k]) => !k.endsWith('argmax')).map(([, d]) => d.maxAbs));
}
