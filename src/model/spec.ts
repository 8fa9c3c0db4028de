/**
 * The declarative JSON network spec, its validation (zod + the checks zod cannot express) and its resolution into
 * per-neuron vectors. Every error names the path of the offending field.
 *
 * Example:
 * {
 *   "input_size": 1, "dt": 0.01, "dtype": "float64", "seed": 0,
 *   "loss": "mse", "beta": 0.1, "prospective_errors": true,
 *   "layers": [
 *     { "size": 1, "phi": "softplus", "bias": false, "tau_m": 1.0, "tau_r": 0.1, "gamma": 1, "learn_tau": true },
 *     { "size": 1, "phi": "softplus", "bias": false, "tau_m": 2.0, "tau_r": 0.1, "gamma": 1, "learn_tau": true }
 *   ],
 *   "optimizer": { "type": "sgd", "lr": 0.1 },
 *   "clamp_tau_min": 0.1
 * }
 *
 * Time constants are a scalar, a per-neuron list, or `{ "groups": [{ "count": 18, "value": 0.6 }, ...] }`
 * (consecutive neuron groups; counts must add up to the layer size).
 */
import { z } from 'zod';
import { finite, type TauSpec } from './layers/neuron.js';
import * as dense from './layers/dense.js';
import * as conv from './layers/conv.js';
import * as pool from './layers/pool.js';
import * as flatten from './layers/flatten.js';
import type { ResolvedLayer } from './layers/types.js';
import { sizeProblems } from './memory.js';

export type { TauSpec };
export type { ResolvedLayer };

/**
 * A layer spec: a discriminated union on `type` (each type's module exports its schema); a layer without `type` is
 * today's GLE dense layer, so every older spec and checkpoint keeps loading.
 */
const LayerSpec = z.preprocess(
  (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && !('type' in v) ? { type: 'dense', ...(v as object) } : v),
  z.discriminatedUnion('type', [dense.schema, conv.schema1d, conv.schema2d, pool.schema, flatten.schema]),
);

export const OptimizerSpec = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('sgd'),
      lr: finite.nonnegative(),
      momentum: finite.min(0).default(0),
      dampening: finite.min(0).default(0),
      nesterov: z.boolean().default(false),
      weight_decay: finite.min(0).default(0),
    })
    .strict(),
  z
    .object({
      type: z.literal('adam'),
      lr: finite.nonnegative(),
      betas: z.tuple([finite.min(0).max(1), finite.min(0).max(1)]).default([0.9, 0.999]),
      eps: finite.positive().default(1e-8),
      weight_decay: finite.min(0).default(0),
    })
    .strict(),
]);
export type OptimizerSpec = z.infer<typeof OptimizerSpec>;

const PlateauSchedulerSpec = z
  .object({
    type: z.literal('plateau'),
    mode: z.enum(['min', 'max']).default('min'),
    factor: finite.positive().lt(1).default(0.1),
    patience: z.number().int().min(0).default(10),
    threshold: finite.min(0).default(1e-4),
    threshold_mode: z.enum(['rel', 'abs']).default('rel'),
    cooldown: z.number().int().min(0).default(0),
    min_lr: finite.min(0).default(0),
    eps: finite.min(0).default(1e-8),
  })
  .strict();
/**
 * cosine: the lr follows a half cosine from the optimiser's lr down to min_lr over `steps` optimiser steps (one per
 * dt-step when learning online), then stays at min_lr; nothing per epoch.
 */
const CosineSchedulerSpec = z
  .object({
    type: z.literal('cosine'),
    steps: z.number().int().positive(),
    min_lr: finite.min(0).default(0),
  })
  .strict();
export const SchedulerSpec = z.discriminatedUnion('type', [PlateauSchedulerSpec, CosineSchedulerSpec]);
/**
 * Weight averaging for evaluation: an exponential moving average of the learnable parameters, updated after every
 * optimiser step with the decay min(decay, (1 + t) / (10 + t)) (t: updates so far); evaluation and prediction use the
 * averaged parameters, learning goes on with the raw ones. null (the default): evaluation uses the raw parameters.
 */
export const AverageSpec = z
  .object({
    decay: finite.gt(0).lt(1),
  })
  .strict();
export type AverageSpec = z.infer<typeof AverageSpec>;
export type SchedulerSpec = z.infer<typeof SchedulerSpec>;
export type PlateauSchedulerSpec = z.infer<typeof PlateauSchedulerSpec>;
export type CosineSchedulerSpec = z.infer<typeof CosineSchedulerSpec>;

export const NetworkSpecSchema = z
  .object({
    name: z.string().optional(),
    input_size: z.number().int().positive(),
    /** the input as a map for conv / pooling layers: [C, L] or [C, H, W] (product = input_size) */
    input_shape: z.array(z.number().int().positive()).min(1).max(3).optional(),
    dt: finite.positive(),
    dtype: z.enum(['float32', 'float64']).default('float32'),
    backend: z.enum(['auto', 'js', 'wasm', 'native']).default('auto'),
    seed: z.number().int().min(0).default(0),
    loss: z.enum(['mse', 'ce', 'nll']).default('mse'),
    beta: finite.min(0).default(0.1),
    prospective_errors: z.boolean().default(true),
    layers: z.array(LayerSpec).min(1),
    optimizer: OptimizerSpec.nullable().default(null),
    scheduler: SchedulerSpec.nullable().default(null),
    average: AverageSpec.nullable().default(null),
    clamp_tau_min: finite.positive().nullable().default(null),
    clamp_tau_max: finite.positive().nullable().default(null),
  })
  .strict();

/** A layer as written in JSON: `type` may be left out for a dense layer. */
export type LayerSpecInput =
  | (Omit<z.input<typeof dense.schema>, 'type'> & { type?: 'dense' })
  | z.input<typeof conv.schema1d>
  | z.input<typeof conv.schema2d>
  | z.input<typeof pool.schema>
  | z.input<typeof flatten.schema>;
export type DenseLayerSpecInput = Omit<z.input<typeof dense.schema>, 'type'> & { type?: 'dense' };
export type NetworkSpecInput = Omit<z.input<typeof NetworkSpecSchema>, 'layers'> & { layers: LayerSpecInput[] };
export type NetworkSpec = z.output<typeof NetworkSpecSchema>;
export type LayerSpec = z.output<typeof LayerSpec>;

export interface ResolvedSpec extends NetworkSpec {
  resolved: ResolvedLayer[];
}

export class SpecError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.length === 1 ? `invalid network spec: ${issues[0]}` : `invalid network spec:\n  - ${issues.join('\n  - ')}`);
    this.name = 'SpecError';
  }
}

function pathStr(path: (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s || '(root)';
}

const F32_MAX = 3.4028234663852886e38;

/** float32 specs: every number that goes into a float32 buffer must fit (1e39 would silently become Infinity). */
function float32Range(spec: NetworkSpec, issues: string[]): void {
  const check = (v: unknown, where: string) => {
    if (typeof v === 'number') {
      if (Math.abs(v) > F32_MAX) issues.push(`${where}: ${v} does not fit in float32 (largest ${F32_MAX.toExponential(4)}); use dtype float64 or a smaller value`);
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const before = issues.length;
        check(v[i], `${where}[${i}]`);
        if (issues.length > before) return; // one per array is enough
      }
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) check(x, `${where}.${k}`);
  };
  spec.layers.forEach((layer, i) => {
    const l = layer as { tau_m?: unknown; tau_r?: unknown; init?: unknown };
    if (l.tau_m !== undefined) check(l.tau_m, `layers[${i}].tau_m`);
    if (l.tau_r !== undefined) check(l.tau_r, `layers[${i}].tau_r`);
    if (l.init) check(l.init, `layers[${i}].init`);
  });
  if (spec.optimizer) check(spec.optimizer, 'optimizer');
  if (spec.beta !== undefined) check(spec.beta, 'beta');
}

/** Validate and resolve a spec (parsed JSON or an object). Throws SpecError listing every problem found. */
export function parseSpec(input: unknown): ResolvedSpec {
  const r = NetworkSpecSchema.safeParse(input);
  if (!r.success) {
    const schema = r.error.issues.map((i) => {
      let msg = i.message;
      if (i.code === 'invalid_type' && (i.received === 'nan' || (i as { received?: string }).received === 'nan')) msg = 'is NaN';
      if (i.code === 'unrecognized_keys') msg = `unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`;
      return `${pathStr(i.path)}: ${msg}`;
    });
    throw new SpecError([...schema, ...laterProblems(input, r.error.issues)]);
  }
  return resolveSpec(r.data);
}

/**
 * The resolution problems (sizes, shapes, time constants, ranges) of a spec that failed the schema, so that all
 * problems are reported at once where possible: the fields the schema rejected are dropped from a copy (optional
 * ones then take their defaults) and the copy is resolved; nothing is added when a required field is among them or
 * the copy still fails the schema. Problems at a path the schema already named are left out.
 */
function laterProblems(input: unknown, schemaIssues: { path: (string | number)[]; code: string; keys?: string[] }[]): string[] {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return [];
  let copy: Record<string, unknown>;
  try {
    copy = JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
  } catch {
    return [];
  }
  const named = new Set<string>();
  for (const i of schemaIssues) {
    const path = i.code === 'unrecognized_keys' ? [...i.path, ...(i.keys ?? [])] : i.path;
    if (i.code === 'unrecognized_keys' && !i.keys?.length) return [];
    // drop the offending field: a top-level field, or a layer's field (layers[i].field)
    const cut = path[0] === 'layers' && typeof path[1] === 'number' ? path.slice(0, 3) : path.slice(0, 1);
    if (cut.length === 0 || (cut[0] === 'layers' && cut.length < 3)) return [];
    for (const k of i.code === 'unrecognized_keys' ? (i.keys ?? []).map((k) => [...i.path, k]) : [cut]) {
      let o: unknown = copy;
      for (const p of k.slice(0, -1)) o = o && typeof o === 'object' ? (o as Record<string | number, unknown>)[p] : undefined;
      if (o && typeof o === 'object') delete (o as Record<string | number, unknown>)[k[k.length - 1]];
      named.add(pathStr(k));
    }
  }
  const again = NetworkSpecSchema.safeParse(copy);
  if (!again.success) return [];
  try {
    resolveSpec(again.data);
  } catch (e) {
    if (e instanceof SpecError) return e.issues.filter((m) => ![...named].some((n) => m.startsWith(`${n}:`) || m.startsWith(`${n}.`) || m.startsWith(`${n}[`)));
    return [];
  }
  return [];
}

function resolveSpec(spec: NetworkSpec): ResolvedSpec {
  // sizes first: a spec too large to hold is refused before anything per-neuron is expanded (src/model/memory.ts)
  // (dense stacks here; other layer types are sized by the network before it allocates)
  if (spec.layers.every((l) => l.type === 'dense')) {
    const sizeIssues = sizeProblems(spec.input_size, spec.layers.map((l) => (l as { size: number }).size), spec.dtype);
    if (sizeIssues.length) throw new SpecError(sizeIssues);
  }
  const issues: string[] = [];
  if (spec.dtype === 'float32') float32Range(spec, issues);
  const resolved: ResolvedLayer[] = [];
  let shape: number[] = [spec.input_size];
  if (spec.input_shape) {
    const n = spec.input_shape.reduce((a, b) => a * b, 1);
    if (n !== spec.input_size) issues.push(`input_shape: [${spec.input_shape.join(', ')}] holds ${n} values but input_size is ${spec.input_size}`);
    else shape = spec.input_shape;
  }
  const ctx = { dt: spec.dt, prospective: spec.prospective_errors };
  spec.layers.forEach((l, i) => {
    const where = `layers[${i}]`;
    let r: ResolvedLayer;
    switch (l.type) {
      case 'flatten':
        shape = flatten.resolveShape(shape);
        return;
      case 'dense':
        r = dense.resolve(l, shape, where, ctx, issues);
        break;
      case 'conv1d':
      case 'conv2d':
        r = conv.resolve(l, shape, where, ctx, issues);
        break;
      case 'maxpool':
        r = pool.resolve(l, shape, where, issues);
        break;
    }
    r.name = l.name ?? `layer_${resolved.length}`;
    resolved.push(r);
    shape = r.outShape;
  });
  if (resolved.length === 0) issues.push('layers: no layer with neurons (flatten alone is not a network)');
  else if (resolved[resolved.length - 1].neuron === 'relay') issues.push(`layers[${spec.layers.length - 1}]: the top layer must have neurons (not ${resolved[resolved.length - 1].type})`);
  if (spec.clamp_tau_min !== null && spec.clamp_tau_max !== null && spec.clamp_tau_max < spec.clamp_tau_min)
    issues.push(`clamp_tau_max: ${spec.clamp_tau_max} is below clamp_tau_min ${spec.clamp_tau_min}`);
  if (issues.length) throw new SpecError(issues);
  return { ...spec, resolved };
}

/** The JSON form of a resolved spec (without derived fields), suitable for checkpoints. */
export function specToJson(s: ResolvedSpec): NetworkSpecInput {
  const { resolved: _r, ...rest } = s;
  return JSON.parse(JSON.stringify(rest)) as NetworkSpecInput;
}
