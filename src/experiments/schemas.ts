/**
 * The parameters of each task as zod schemas: the runner validates an experiment's resolved parameters (defaults,
 * --quick, --set; or a resumed run's config.json) against its task's schema before the run directory exists, and
 * hands the task the parsed, typed result (`RunContext<P>`). A bad value is one line naming the parameter, exit 2.
 *
 * Keys a schema does not list are dropped from what the task sees (old run directories may still carry removed
 * parameters, see REMOVED_PARAMS in params-check.ts); `--set` of an unknown key is refused earlier, by applySet.
 * Network specs (`teacher`, `network`, `frontend`) are checked by the spec parser (params-check.ts), not here.
 *
 * Browser-safe (zod only): the lab may validate a config the same way.
 */
import { z } from 'zod';
import type { NetworkSpecInput } from '../model/spec.js';
import type { BackpropParams } from '../baselines/task.js';

const count = (min: number, max: number) => z.number().int().min(min).max(max);
const positive = z.number().finite().positive();
const finiteNum = z.number().finite();
/** a network spec: an object here; parseSpec checks the rest */
const spec = z.custom<NetworkSpecInput>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), { message: 'expected a network spec (an object with layers)' });

export const RULES = ['gle', 'bp', 'bptt-tw1', 'bptt-tw2', 'bptt-tw4', 'am'] as const;

export const teacherStudentSchema = z
  .object({
    /** the learning rule of the student */
    model: z.enum(RULES),
    batch: count(1, 1e6),
    /** the teacher; the student is the same spec with prospective errors per `model` and randomised parameters; its dt is the run's dt */
    teacher: spec,
    /** student parameters drawn U[lo, hi) from the seed (e.g. "layer_0.weight") */
    randomise: z.object({ names: z.array(z.string()), lo: finiteNum, hi: finiteNum }),
    /** explicit initial values for student tensors, applied after randomisation (e.g. the reference's seed-0 draw) */
    studentInit: z.record(z.array(finiteNum)).nullable(),
    /** named initial values instead of the random draw: 'reference-seed0' = the reference's torch seed-0 draw (LagLine) */
    initPreset: z.enum(['random', 'reference-seed0']),
    /** parameters the student learns: weights of these layers (others frozen) */
    learnLayers: z.union([z.literal('all'), z.array(z.number().int().min(0))]),
    student: z.object({ beta: positive, learn_tau: z.boolean() }),
    input: z.discriminatedUnion('type', [
      z.object({ type: z.literal('square'), width: positive, period: positive, sigma: positive, maxShift: finiteNum }),
      z.object({ type: z.literal('sines'), omegas: z.array(finiteNum).min(1), amps: z.array(finiteNum).optional(), phases: z.array(finiteNum).optional() }),
    ]),
    /** steps without learning; during the first `initTeacherTau` of them the student uses the teacher's tau_m */
    initSteps: count(0, 2e8),
    initTeacherTau: count(0, 2e8),
    trainSteps: count(1, 2e8),
    optimizer: z.discriminatedUnion('type', [
      z.object({ type: z.literal('adam'), lrTimesBeta: positive }),
      z.object({ type: z.literal('sgd'), lrTimesBeta: positive, momentum: finiteNum }),
    ]),
    /** for the adjoint rule ('am') and windowed rules: window in time units */
    amWindow: positive,
    amLr: positive.optional(),
    clampTauMin: finiteNum.nullable(),
    logEvery: count(1, 2e8),
    /** after training: compare GLE errors with adjoints over this many steps (a power of two); null = skip */
    analysisSteps: count(1, 2 ** 24).nullable(),
    /** time-unit windows for the final loss figures */
    finalWindows: z.array(finiteNum),
  })
  .refine((p) => p.initTeacherTau <= p.initSteps, { message: 'initTeacherTau must not exceed initSteps', path: ['initTeacherTau'] });

export const classifySchema = z.object({
  dataset: z.enum(['mnist1d', 'speech-commands']),
  /** data location (default: the shipped MNIST-1D; the speech set needs --data or --set data=PATH) */
  data: z.string().nullable(),
  epochs: count(1, 1e6),
  batch: count(1, 1e6),
  testBatch: count(1, 1e6),
  /** a fixed front end stepped before the classifier, reset at every batch (MNIST-1D static LagNet) */
  frontend: spec.nullable(),
  /** the classifier; its dt is the run's dt (one step per input point) */
  network: spec,
  /** limit the samples per split (quick runs); 0 = all */
  maxTrain: count(0, 1e9),
  maxTest: count(0, 1e9),
  /** the split the scheduler watches and the headline accuracy is read from */
  evalSplit: z.enum(['test', 'val']),
  /** checkpoint every this many epochs (and at the end) */
  checkpointEvery: count(1, 1e6),
  /** speech: the feature cache directory (null: the default place); mnist1d ignores it */
  featureCache: z.string().nullable(),
});

export const backpropSchema: z.ZodType<BackpropParams, z.ZodTypeDef, unknown> = z.object({
  dataset: z.literal('mnist1d'),
  data: z.string().nullable(),
  model: z.enum(['mlp', 'tcn', 'gru']),
  hidden: count(1, 1e6).nullable(),
  channels: count(1, 1e6),
  lr: positive,
  weightDecay: finiteNum.min(0),
  batch: count(1, 1e6),
  /** training samples held out as a validation split (the task checks the upper bound against the set) */
  validation: z.number().int().min(0).max(1e6),
  totalSteps: count(1, 1e9),
  evalEvery: count(1, 1e9),
  dtype: z.enum(['float32', 'float64']),
});

/**
 * The spiking (SAL) task checks its three kinds' fields itself (sal.ts); the schema fixes the discriminant and keeps
 * every field (passthrough).
 */
export const spikingSchema = z.object({ kind: z.enum(['two-neuron', 'sampling', 'microcircuit', 'symmnet']) }).passthrough();

const nonneg = z.number().finite().min(0);
const bool = z.boolean();

/** Latent Equilibrium runs (le.ts; LE MLP / LeNet on MNIST or CIFAR-10, or their BP twins). */
export const leSchema = z
  .object({
    model: z.enum(['le', 'bp']),
    dataset: z.enum(['mnist', 'cifar10']),
    arch: z.enum(['mlp', 'lenet']),
    hidden: z.array(count(1, 1e6)).min(1),
    data: z.string().nullable(),
    epochs: count(1, 1e6),
    batch: count(1, 1e6),
    dt: positive,
    tau: nonneg,
    tau_m: positive.nullable(),
    n_updates: count(1, 1e9),
    learning_rate: finiteNum,
    lr_multiplier: finiteNum,
    lr_factors: z.array(finiteNum).min(1),
    beta: finiteNum,
    variant: z.enum(['vanilla', 'full_forward_pass']),
    phi: z.string(),
    optimizer: z.enum(['none', 'adam']),
    feedback_alignment: bool,
    tau_width: nonneg,
    noise_width: nonneg,
    forward_filter: bool,
    backward_filter: bool,
    target_filter: bool,
    tau_s: nonneg,
    prosp_rate_errors: bool,
    adapt_tau: bool,
    adapt_tau_max: count(1, 1e9),
    bp_loss: z.enum(['mse', 'ce']),
    bp_lr: positive.nullable(),
    device: z.enum(['cpu', 'webgpu']).default('cpu'),
    maxTrain: count(0, 1e9),
    maxTest: count(0, 1e9),
  })
  .passthrough();

/**
 * Dendritic microcircuits (microcircuits.ts): the schema fixes the kind, the layer sizes and the float type; each
 * kind's own fields are checked by the task (one line per problem) and kept here (passthrough).
 */
export const microcircuitSchema = z
  .object({ kind: z.enum(['bars', 'mimic', 'pal']), dims: z.tuple([count(1, 1e6), count(1, 1e6), count(1, 1e6)]), dtype: z.enum(['float32', 'float64']) })
  .passthrough();

/** Learned feedback for GLE (vle.ts): the kind, the variants and the run's length; the rest is checked by the task. */
export const vleSchema = z
  .object({
    kind: z.enum(['chain', 'network', 'xor']),
    dt: positive,
    variants: z.array(z.enum(['transpose', 'learned', 'fixed'])).min(1),
    trainSteps: count(1, 1e10),
    seeds: count(1, 1e4),
    lr: nonneg,
  })
  .passthrough();

/**
 * Each task's schema. A task without an entry (one added elsewhere) gets its parameters unchecked beyond the generic
 * type checks of params-check.ts; add its schema here.
 */
export const TASK_SCHEMAS: Partial<Record<string, z.ZodType<unknown, z.ZodTypeDef, unknown>>> = {
  'teacher-student': teacherStudentSchema,
  classify: classifySchema,
  backprop: backpropSchema,
  spiking: spikingSchema,
  le: leSchema,
  microcircuit: microcircuitSchema,
  vle: vleSchema,
};

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : v === undefined ? 'nothing' : JSON.stringify(v));

/** The value at a zod issue's path (for "got ..."), or undefined. */
function at(root: unknown, path: (string | number)[]): unknown {
  let o = root;
  for (const k of path) {
    if (typeof o !== 'object' || o === null) return undefined;
    o = (o as Record<string | number, unknown>)[k];
  }
  return o;
}

/** One line for the first problem zod found (and how many more). */
export function schemaProblem(err: z.ZodError, input: unknown): string {
  const issues = err.issues;
  const first = issues[0];
  const path = first.path.join('.') || '(parameters)';
  let msg = first.message;
  if (first.code === 'invalid_union_discriminator' || first.code === 'invalid_enum_value') msg = `must be one of ${(first.options as readonly unknown[]).map(show).join(', ')}`;
  const got = first.code === 'custom' && first.path.length === 1 && first.path[0] === 'initTeacherTau' ? '' : `, got ${show(at(input, first.path))}`;
  return `${path}: ${msg}${got}${issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : ''}`;
}
