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
import { PHI, type PhiName } from '../kernels/types.js';
import { sizeProblems } from './memory.js';

const finite = z.number().finite();

const TauGroups = z.object({ groups: z.array(z.object({ count: z.number().int().positive(), value: finite })).min(1) }).strict();
const TauSpec = z.union([finite, z.array(finite).min(1), TauGroups]);
export type TauSpec = z.infer<typeof TauSpec>;

const phiNames = Object.keys(PHI) as [PhiName, ...PhiName[]];

const LayerSpec = z
  .object({
    name: z.string().optional(),
    size: z.number().int().positive(),
    phi: z.string().default('linear'),
    bias: z.boolean().default(true),
    tau_m: TauSpec,
    tau_r: TauSpec.optional(),
    gamma: finite.default(0),
    learn_tau: z.boolean().default(false),
    prospective_errors: z.boolean().optional(),
    /** learn W / b (default true); frozen layers still run and pass errors down */
    trainable: z.boolean().default(true),
    init: z
      .object({
        weight: z.array(z.array(finite)).optional(),
        bias: z.array(finite).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

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

export const SchedulerSpec = z
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
export type SchedulerSpec = z.infer<typeof SchedulerSpec>;

export const NetworkSpecSchema = z
  .object({
    name: z.string().optional(),
    input_size: z.number().int().positive(),
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
    clamp_tau_min: finite.positive().nullable().default(null),
    clamp_tau_max: finite.positive().nullable().default(null),
  })
  .strict();

export type NetworkSpecInput = z.input<typeof NetworkSpecSchema>;
export type NetworkSpec = z.output<typeof NetworkSpecSchema>;
export type LayerSpec = z.output<typeof LayerSpec>;

/** A fully resolved layer: per-neuron time constants as plain arrays. */
export interface ResolvedLayer extends LayerSpec {
  name: string;
  nIn: number;
  phiCode: (typeof PHI)[PhiName];
  tauM: number[];
  tauR: number[];
  prospective: boolean;
}

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

function expandTau(t: TauSpec, n: number, where: string, issues: string[]): number[] {
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
  spec.layers.forEach((l, i) => {
    check(l.tau_m, `layers[${i}].tau_m`);
    if (l.tau_r !== undefined) check(l.tau_r, `layers[${i}].tau_r`);
    if (l.init) check(l.init, `layers[${i}].init`);
  });
  if (spec.optimizer) check(spec.optimizer, 'optimizer');
  if (spec.beta !== undefined) check(spec.beta, 'beta');
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

/** Validate and resolve a spec (parsed JSON or an object). Throws SpecError listing every problem found. */
export function parseSpec(input: unknown): ResolvedSpec {
  const r = NetworkSpecSchema.safeParse(input);
  if (!r.success) {
    throw new SpecError(
      r.error.issues.map((i) => {
        let msg = i.message;
        if (i.code === 'invalid_type' && (i.received === 'nan' || (i as { received?: string }).received === 'nan')) msg = 'is NaN';
        if (i.code === 'unrecognized_keys') msg = `unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`;
        return `${pathStr(i.path)}: ${msg}`;
      }),
    );
  }
  const spec = r.data;
  // sizes first: a spec too large to hold is refused before anything per-neuron is expanded (src/model/memory.ts)
  const sizeIssues = sizeProblems(spec.input_size, spec.layers.map((l) => l.size), spec.dtype);
  if (sizeIssues.length) throw new SpecError(sizeIssues);
  const issues: string[] = [];
  if (spec.dtype === 'float32') float32Range(spec, issues);
  const resolved: ResolvedLayer[] = [];
  let nIn = spec.input_size;
  spec.layers.forEach((l, i) => {
    const where = `layers[${i}]`;
    if (!(l.phi in PHI)) issues.push(`${where}.phi: unknown activation '${l.phi}' (expected one of ${phiNames.join(', ')})`);
    const tauM = expandTau(l.tau_m, l.size, `${where}.tau_m`, issues);
    const tauR = l.tau_r === undefined ? tauM.slice() : expandTau(l.tau_r, l.size, `${where}.tau_r`, issues);
    checkTaus(tauM, l.tau_m, `${where}.tau_m`, spec.dt, issues);
    if (l.tau_r !== undefined) checkTaus(tauR, l.tau_r, `${where}.tau_r`, spec.dt, issues);
    if (l.init?.weight) {
      const w = l.init.weight;
      if (w.length !== l.size || w.some((row) => row.length !== nIn))
        issues.push(`${where}.init.weight: shape is ${w.length} x ${w[0]?.length ?? 0}, expected ${l.size} x ${nIn} (out x in)`);
    }
    if (l.init?.bias) {
      if (!l.bias) issues.push(`${where}.init.bias: given but the layer has bias: false`);
      else if (l.init.bias.length !== l.size) issues.push(`${where}.init.bias: has ${l.init.bias.length} entries, expected ${l.size}`);
    }
    resolved.push({
      ...l,
      name: l.name ?? `layer_${i}`,
      nIn,
      phiCode: PHI[l.phi as PhiName],
      tauM,
      tauR,
      prospective: l.prospective_errors ?? spec.prospective_errors,
    });
    nIn = l.size;
  });
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
