/**
 * Step-by-step traces in the golden schema (test/fixtures/golden/README.md, schema_version 1): recording a run of ours,
 * and replaying a recorded trace (ours, the goldens, or a user's recording from the Python reference) to report,
 * per quantity, the largest absolute and relative differences.
 *
 * Browser-safe: works on parsed JSON objects; file handling is in the CLI.
 */
import { flattenNested } from '../util/nested.js';
import type { Backend, FloatArray } from '../kernels/types.js';
import { GLENetwork } from '../model/network.js';
import { E_BOTTOM, GLE_POPULATION } from '../model/layers/populations.js';
import type { NetworkSpecInput } from '../model/spec.js';
import { Learner } from '../learn/learner.js';

type Nested = number | Nested[];

export interface GoldenLayer {
  name?: string;
  in: number;
  out: number;
  bias: boolean;
  phi: string;
  tau_m: number[];
  tau_r: number[];
  gamma: number;
  learn_tau: boolean;
}

export interface GoldenTrace {
  schema_version: number;
  scenario?: string;
  description?: string;
  dtype?: string;
  settings: {
    dt: number;
    beta: number;
    loss: 'mse' | 'ce' | 'nll';
    prospective_errors: boolean;
    optimizer: null | { type: 'sgd' | 'adam'; lr: number; momentum?: number; betas?: [number, number]; eps?: number };
    clamp_tau_min: number | null;
    seed?: number;
  };
  n_steps: number;
  batch_size: number;
  layers: GoldenLayer[];
  init: Record<string, Nested>;
  inputs: number[][][];
  targets: Nested[] | null;
  trace: {
    output: number[][][];
    loss: (number | null)[];
    layers: Record<string, number[][][]>[];
    grads: Record<string, Nested[]>;
    params: Record<string, Nested[]>;
  };
  [k: string]: unknown;
}

/** The per-layer fields of the golden schema: the GLE population's declared state and per-step fields, and e_bottom. */
export const LAYER_FIELDS: readonly string[] = [
  ...GLE_POPULATION.state.map((f) => f.name),
  ...GLE_POPULATION.scratch.filter((f) => f.name !== 'u_dot').map((f) => f.name),
  E_BOTTOM.name,
];
export type LayerField = string;

const flat = (x: Nested): number[] => flattenNested(x);

/** Check the parts of a trace that replay needs; throws Error naming the first problem. */
export function validateTrace(t: unknown, name = 'trace'): GoldenTrace {
  const fail = (m: string): never => {
    throw new Error(`${name}: ${m}`);
  };
  if (typeof t !== 'object' || t === null) fail('not a JSON object');
  const g = t as GoldenTrace;
  if (g.schema_version !== 1) fail(`schema_version must be 1, got ${String(g.schema_version)}`);
  for (const k of ['settings', 'layers', 'init', 'inputs', 'trace'] as const) if (!(k in g)) fail(`missing key '${k}'`);
  if (!Number.isInteger(g.n_steps) || g.n_steps < 1) fail('n_steps must be a positive integer');
  if (!Number.isInteger(g.batch_size) || g.batch_size < 1) fail('batch_size must be a positive integer');
  if (!Array.isArray(g.inputs) || g.inputs.length < g.n_steps) fail(`inputs has ${g.inputs?.length} steps, expected ${g.n_steps}`);
  if (!Array.isArray(g.layers) || g.layers.length === 0) fail('layers must be a non-empty list');
  for (const k of ['output', 'loss', 'layers', 'grads', 'params'] as const) if (!(k in g.trace)) fail(`trace is missing '${k}'`);
  return g;
}

/** The network spec a trace describes. */
export function traceToSpec(g: GoldenTrace, dtype: 'float32' | 'float64', backend: 'js' | 'wasm' | 'native' | 'auto' = 'js'): NetworkSpecInput {
  const s = g.settings;
  const layers = g.layers.map((l, i) => {
    const w = g.init[`layer_${i}.weight`];
    const b = g.init[`layer_${i}.bias`];
    return {
      name: `layer_${i}`,
      size: l.out,
      phi: l.phi,
      bias: l.bias,
      tau_m: l.tau_m,
      tau_r: l.tau_r,
      gamma: l.gamma,
      learn_tau: l.learn_tau,
      init: {
        ...(w !== undefined ? { weight: w as number[][] } : {}),
        ...(b !== undefined ? { bias: b as number[] } : {}),
      },
    };
  });
  const opt = s.optimizer;
  return {
    input_size: g.layers[0].in,
    dt: s.dt,
    dtype,
    backend,
    seed: s.seed ?? 0,
    loss: s.loss,
    beta: s.beta,
    prospective_errors: s.prospective_errors,
    layers,
    optimizer:
      opt === null
        ? null
        : opt.type === 'sgd'
          ? { type: 'sgd', lr: opt.lr, momentum: opt.momentum ?? 0 }
          : { type: 'adam', lr: opt.lr, betas: opt.betas ?? [0.9, 0.999], eps: opt.eps ?? 1e-8 },
    clamp_tau_min: s.clamp_tau_min,
  };
}

export interface QuantityDiff {
  maxAbs: number;
  maxRel: number;
  /** largest |a-b| - (atol + rtol |b|); ≤ 0 means within tolerance everywhere */
  worstExcess: number;
  worstStep: number;
  count: number;
}

export interface ReplayReport {
  scenario: string;
  steps: number;
  quantities: Record<string, QuantityDiff>;
  ok: boolean;
  atol: number;
  rtol: number;
}

export class Comparator {
  q: Record<string, QuantityDiff> = {};
  constructor(
    readonly atol: number,
    readonly rtol: number,
  ) {}
  add(name: string, ours: ArrayLike<number>, ref: number[], step: number) {
    let d = this.q[name];
    if (!d) d = this.q[name] = { maxAbs: 0, maxRel: 0, worstExcess: -Infinity, worstStep: -1, count: 0 };
    if (ours.length !== ref.length) throw new Error(`${name} at step ${step}: trace has ${ref.length} values, the network produced ${ours.length}`);
    for (let i = 0; i < ref.length; i++) {
      const a = ours[i], b = ref[i];
      const diff = Math.abs(a - b);
      const bad = !Number.isFinite(a) && Number.isFinite(b);
      if (diff > d.maxAbs || bad) d.maxAbs = bad ? Infinity : diff;
      if (b !== 0) d.maxRel = Math.max(d.maxRel, diff / Math.abs(b));
      const ex = bad ? Infinity : diff - (this.atol + this.rtol * Math.abs(b));
      if (ex > d.worstExcess) {
        d.worstExcess = ex;
        d.worstStep = step;
      }
      d.count++;
    }
  }
}

function bufOf(net: GLENetwork, l: number, f: LayerField): FloatArray {
  const b = net.field(l, f);
  if (!b) throw new Error(`layer ${l} has no field '${f}'`);
  return b.a;
}

export function targetArg(g: GoldenTrace, t: number): ArrayLike<number> | null {
  if (!g.targets) return null;
  const tt = g.targets[t];
  if (g.settings.loss === 'mse') {
    const f = flat(tt);
    if (f.length === g.batch_size && g.layers[g.layers.length - 1].out !== 1) return Int32Array.from(f);
    return f;
  }
  return Int32Array.from(flat(tt));
}

function namedGrad(net: GLENetwork, name: string): FloatArray | null {
  const p = net.parameters().find((x) => x.name === name);
  return p ? p.g.a : null;
}
function namedParam(net: GLENetwork, name: string): FloatArray | null {
  const p = net.allTensors().find((x) => x.name === name);
  return p ? p.buf.a : null;
}

/** Re-run a recorded trace on a backend and compare every recorded quantity at every step. */
export function replayTrace(g: GoldenTrace, backend: Backend, atol: number, rtol: number, opts: { path?: 'auto' | 'composed' | 'populations' } = {}): ReplayReport {
  const spec = traceToSpec(g, backend.dtype, backend.name);
  const net = new GLENetwork(spec, backend, { computeInputError: true, batchSize: g.batch_size, path: opts.path });
  const learner = new Learner(net);
  const cmp = new Comparator(atol, rtol);
  const T = g.n_steps;
  const L = g.layers.length;
  const gradNames = Object.keys(g.trace.grads);
  const paramNames = Object.keys(g.trace.params);
  for (const n of gradNames) if (!namedGrad(net, n)) throw new Error(`trace records a gradient for '${n}', which this network does not learn`);
  for (const n of paramNames) if (!namedParam(net, n)) throw new Error(`trace records parameter '${n}', which this network does not have`);
  const lossArr = [0];
  for (let t = 0; t < T; t++) {
    const out = learner.trainStep(flat(g.inputs[t]), targetArg(g, t));
    cmp.add('output', out.a, flat(g.trace.output[t]), t);
    const lref = g.trace.loss[t];
    if (typeof lref === 'number') {
      lossArr[0] = net.lastLoss();
      cmp.add('loss', lossArr, [lref], t);
    }
    for (let l = 0; l < L; l++) {
      const rec = g.trace.layers[l];
      for (const f of LAYER_FIELDS) if (rec[f]) cmp.add(`layer_${l}.${f}`, bufOf(net, l, f), flat(rec[f][t]), t);
    }
    for (const n of gradNames) cmp.add(`grad ${n}`, namedGrad(net, n)!, flat(g.trace.grads[n][t]), t);
    for (const n of paramNames) cmp.add(`param ${n}`, namedParam(net, n)!, flat(g.trace.params[n][t]), t);
  }
  const ok = Object.values(cmp.q).every((d) => d.worstExcess <= 0);
  return { scenario: g.scenario ?? '(unnamed)', steps: T, quantities: cmp.q, ok, atol, rtol };
}

export function nest(a: ArrayLike<number>, B: number): number[][] {
  const w = a.length / B;
  const out: number[][] = [];
  for (let b = 0; b < B; b++) out.push(Array.from({ length: w }, (_, j) => a[b * w + j]));
  return out;
}

export function shaped(a: ArrayLike<number>, shape: number[]): Nested {
  if (shape.length <= 1) return Array.from(a);
  return nest(a, shape[0]);
}

/**
 * Run a network on inputs (and optional targets) with its optimiser and record a trace in the golden schema.
 * inputs: T × (B·n_in) flat per step; targets: T × (B·n_out) values, or T × B labels, or null.
 */
export function recordTrace(
  net: GLENetwork,
  learner: Learner,
  inputs: ArrayLike<number>[],
  targets: (ArrayLike<number> | null)[] | null,
  info: { scenario?: string; description?: string } = {},
): GoldenTrace {
  const B = net.B;
  const L = net.layers.length;
  const trace: GoldenTrace['trace'] = { output: [], loss: [], layers: net.layers.map(() => ({})), grads: {}, params: {} };
  // the fields each layer's neuron model has (a pooling stage has no u, v, prosp_u)
  trace.layers.forEach((rec, l) => {
    for (const f of LAYER_FIELDS) if (net.field(l, f)) rec[f] = [];
  });
  const learn = net.parameters();
  for (const p of learn) {
    trace.grads[p.name] = [];
    trace.params[p.name] = [];
  }
  const init: Record<string, Nested> = {};
  for (const t of net.allTensors()) if (!t.name.endsWith('tau_m') && !t.name.endsWith('tau_r')) init[t.name] = shaped(t.buf.a, t.shape);
  const layersDesc: GoldenLayer[] = net.layers.map((l) => ({
    name: l.spec.name,
    in: l.nIn,
    out: l.nOut,
    bias: l.params.b !== null,
    phi: l.spec.phi,
    tau_m: Array.from(l.params.tauM.a),
    tau_r: Array.from(l.params.tauR.a),
    gamma: l.hyper.gamma,
    learn_tau: l.hyper.learnTau,
  }));
  for (let t = 0; t < inputs.length; t++) {
    const tg = targets ? targets[t] : null;
    const out = learner.trainStep(inputs[t], tg);
    trace.output.push(nest(out.a, B));
    const lv = net.lastLoss();
    trace.loss.push(Number.isNaN(lv) ? null : lv);
    for (let l = 0; l < L; l++) for (const f of LAYER_FIELDS) trace.layers[l][f]?.push(nest(bufOf(net, l, f), B));
    for (const p of learn) {
      trace.grads[p.name].push(shaped(p.g.a, p.shape));
      trace.params[p.name].push(shaped(p.p.a, p.shape));
    }
  }
  const opt = learner.opt;
  const spec = net.spec;
  return {
    schema_version: 1,
    scenario: info.scenario ?? spec.name ?? 'gle-simulate',
    description: info.description ?? 'recorded by gle simulate',
    dtype: net.k.dtype,
    generator: `gle ${net.k.name} backend`,
    settings: {
      dt: net.dt,
      beta: net.beta,
      loss: net.loss,
      prospective_errors: spec.prospective_errors,
      optimizer: opt && spec.optimizer ? { ...spec.optimizer } : null,
      clamp_tau_min: learner.clampMin,
      seed: spec.seed,
    },
    n_steps: inputs.length,
    batch_size: B,
    layers: layersDesc,
    init,
    inputs: inputs.map((x) => nest(x, B)),
    targets: targets ? targets.map((x) => (x ? (x instanceof Int32Array ? Array.from(x) : nest(x, B)) : [])) : null,
    trace,
  };
}
