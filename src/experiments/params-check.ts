/**
 * Checks on an experiment's resolved parameters (after --quick and --set), so a bad value is one clear line with
 * exit 2 before the run directory is created: the type must match the default's (a number stays a finite number,
 * a boolean a boolean), counts must be integers in range, and every network spec in the config must be valid and fit
 * in memory at the batch size it will run with. Also which parameters `--resume --set` may change.
 */
import { parseSpec, SpecError, type NetworkSpecInput } from '../model/spec.js';
import { formatBytes, memoryLimit, sizeProblems } from '../model/memory.js';
import { UserError } from '../util/errors.js';
import type { ExperimentDef } from './types.js';
import { schemaProblem, TASK_SCHEMAS } from './schemas.js';

/** counts: [minimum, maximum] (integers) */
const COUNTS: Record<string, [number, number]> = {
  batch: [1, 1e6],
  testBatch: [1, 1e6],
  epochs: [1, 1e6],
  maxTrain: [0, 1e9],
  maxTest: [0, 1e9],
  checkpointEvery: [1, 1e6],
  trainSteps: [1, 2e8],
  initSteps: [0, 2e8],
  initTeacherTau: [0, 2e8],
  logEvery: [1, 2e8],
  analysisSteps: [1, 2 ** 24],
};
/** must be > 0 */
const POSITIVE = new Set(['dt', 'amWindow', 'lrTimesBeta', 'amLr', 'beta', 'sigma', 'period', 'width']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

function checkValue(key: string, path: string, v: unknown, def: unknown, out: string[]): void {
  if (def === null || def === undefined) {
    // free-form (e.g. data: null | path, analysisSteps: null | count): check the count rules when numeric
    if (typeof v === 'number' && key in COUNTS) checkValue(key, path, v, 0, out);
    return;
  }
  if (typeof def === 'number') {
    if (v === null && !(key in COUNTS) && !POSITIVE.has(key)) return; // optional numbers (e.g. clampTauMin: null = off)
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      out.push(`${path} must be a finite number, got ${show(v)}`);
      return;
    }
    const c = COUNTS[key];
    if (c) {
      if (!Number.isInteger(v) || v < c[0] || v > c[1]) out.push(`${path} must be an integer from ${c[0]} to ${c[1]}, got ${show(v)}`);
    } else if (POSITIVE.has(key) && !(v > 0)) out.push(`${path} must be > 0, got ${show(v)}`);
    return;
  }
  if (typeof def === 'boolean') {
    if (typeof v !== 'boolean') out.push(`${path} must be true or false, got ${show(v)}`);
    return;
  }
  if (typeof def === 'string') {
    // a string or a list (e.g. learnLayers: 'all' | [0, 1]); the task checks the value itself
    if (typeof v !== 'string' && !Array.isArray(v)) out.push(`${path} must be a string, got ${show(v)}`);
    return;
  }
  if (Array.isArray(def)) {
    if (!Array.isArray(v)) {
      if (typeof def[0] === 'number' || typeof v !== 'string') out.push(`${path} must be a list, got ${show(v)}`);
      return;
    }
    if (def.length && typeof def[0] === 'number')
      v.forEach((x, i) => {
        if (typeof x !== 'number' || !Number.isFinite(x)) out.push(`${path}[${i}] must be a finite number, got ${show(x)}`);
      });
    return;
  }
  if (isObj(def)) {
    if (!isObj(v)) {
      out.push(`${path} must be an object, got ${show(v)}`);
      return;
    }
    if ('layers' in def) return; // a network spec: checked by parseSpec below
    for (const [k, dv] of Object.entries(def)) if (k in v) checkValue(k, `${path}.${k}`, v[k], dv, out);
  }
}

/** Throws a UserError (one line) when `params` break the rules above. `defaults`: the experiment's params (+quick). */
export function checkParams(name: string, params: Obj, defaults: Obj): void {
  const out: string[] = [];
  for (const [k, dv] of Object.entries(defaults)) if (k in params) checkValue(k, k, params[k], dv, out);
  if (out.length) throw new UserError(`${name}: ${out[0]}${out.length > 1 ? ` (and ${out.length - 1} more problem${out.length > 2 ? 's' : ''})` : ''}`);
  const batch = Math.max(Number(params.batch ?? 1), Number(params.testBatch ?? 1));
  for (const key of ['network', 'teacher', 'frontend']) {
    const spec = params[key];
    if (spec === null || spec === undefined) continue;
    try {
      const s = parseSpec(spec as NetworkSpecInput);
      const big = sizeProblems(s.input_size, s.resolved.map((l) => l.size), s.dtype, batch);
      if (big.length) throw new SpecError(big);
    } catch (e) {
      if (e instanceof SpecError) throw new UserError(`${name}: ${key}: ${e.issues[0]}${e.issues.length > 1 ? ` (and ${e.issues.length - 1} more problem${e.issues.length > 2 ? 's' : ''})` : ''}`);
      throw e;
    }
  }
  const total = Number(params.trainSteps ?? 0) + Number(params.initSteps ?? 0);
  if (params.initTeacherTau !== undefined && Number(params.initTeacherTau) > Number(params.initSteps)) throw new UserError(`${name}: initTeacherTau (${String(params.initTeacherTau)}) must not exceed initSteps (${String(params.initSteps)})`);
  if (isObj(params.input) && params.input.type === 'square' && total * 16 > memoryLimit())
    throw new UserError(`${name}: initSteps + trainSteps = ${total} steps of square-wave input need ${formatBytes(total * 16)}, more than the ${formatBytes(memoryLimit())} available`);
}

/** The parameters `--resume --set` may change (they do not alter what the checkpoint's state means), per task. */
export const RESUMABLE_SETS: Partial<Record<string, string[]>> & Record<ExperimentDef['task'], string[]> = {
  classify: ['epochs', 'checkpointEvery', 'data', 'featureCache'],
  'teacher-student': ['analysisSteps'],
  spiking: [],
  vle: [],
  backprop: ['totalSteps', 'evalEvery'],
  microcircuit: [],
  le: ['epochs', 'data'],
};

/**
 * Parameters earlier versions had and this one dropped (they had no effect, or duplicated the network's own value),
 * per task: `--set` of one is refused with the reason; a config.json that still carries one (an old run directory)
 * resumes, the key ignored.
 */
export const REMOVED_PARAMS: Partial<Record<string, Record<string, string>>> = {
  'teacher-student': {
    dt: "the time step is the teacher network's: --set teacher.dt=VALUE",
    'optimizer.lrTimesBetaOverDt': 'it never had an effect',
    'student.gamma': "the student's gamma is the teacher's per layer (teacher.layers.N.gamma; 0 for the adjoint rule)",
    'student.bias': "the student's bias is the teacher's per layer (teacher.layers.N.bias)",
  },
  classify: {
    dt: "the time step is the network's: --set network.dt=VALUE",
    evalTrain: 'it never had an effect (the training accuracy is measured online, during each epoch)',
  },
};

/**
 * Parameters later versions added, per task, with the value that reproduces what earlier versions did: a config.json
 * written before one existed resumes with that value filled in.
 */
export const ADDED_PARAMS: Partial<Record<string, Record<string, unknown>>> = {
  backprop: { validation: 0 },
  // sal-symmnet's SAL pair span (null: the whole 30 τ window, as before the 20-step buffer was modelled)
  spiking: { salSpan: null },
};

/** Refuse `--set KEY=...` of a removed parameter (one line naming why). */
export function checkRemovedSet(name: string, task: string, key: string): void {
  const why = REMOVED_PARAMS[task]?.[key];
  if (why !== undefined) throw new UserError(`${name}: --set ${key}: this parameter was removed; ${why}`);
}

/**
 * Validate the resolved parameters against the task's schema (schemas.ts) and return what the task receives: the
 * parsed value (removed keys dropped). An old config whose `dt` disagrees with its network's dt is refused, since
 * this version steps the network's dt only.
 */
export function validateTaskParams(name: string, task: string, params: Obj): unknown {
  const legacyDt = params.dt;
  if (typeof legacyDt === 'number' && REMOVED_PARAMS[task]?.dt !== undefined) {
    const net = (task === 'teacher-student' ? params.teacher : params.network) as Obj | undefined;
    const netDt = isObj(net) ? net.dt : undefined;
    if (typeof netDt === 'number' && netDt !== legacyDt)
      throw new UserError(`${name}: params.dt (${legacyDt}) differs from the ${task === 'teacher-student' ? 'teacher' : 'network'}'s dt (${netDt}); this version runs at the network's dt only (set it there)`);
  }
  const schema = TASK_SCHEMAS[task];
  if (!schema) return params;
  const r = schema.safeParse(params);
  if (!r.success) throw new UserError(`${name}: ${schemaProblem(r.error, params)}`);
  return r.data;
}
