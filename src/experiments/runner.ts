/**
 * The one shared runner: resolves an experiment's config (defaults, --quick, --set), creates the run directory,
 * writes config.json, hands a RunContext to the experiment's task, and writes summary.json at the end — also when
 * stopped by Ctrl-C (SIGINT) or --max-seconds, in which case everything written so far is kept.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import os from 'node:os';
import { createNodeBackend } from '../node.js';
import type { Backend } from '../kernels/types.js';
import { MetricsLog } from '../report/metrics.js';
import { createProgress, type Progress } from '../report/progress.js';
import { saveFigure } from '../report/figures.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../io/files.js';
import { findExperiment, EXPERIMENTS } from './registry.js';
import type { ExperimentDef, RunOptions, RunSummary } from './types.js';

export interface RunContext {
  readonly dir: string;
  readonly seed: number;
  readonly quick: boolean;
  readonly params: Record<string, unknown>;
  readonly backend: Backend;
  readonly metrics: MetricsLog;
  readonly resumeFrom: string | null;
  /** true once Ctrl-C or the time limit asked to stop */
  stopRequested(): boolean;
  /**
   * Let the event loop run (signal handlers, I/O). The step loops are synchronous, so a task must await this
   * every few thousand steps, or Ctrl-C is only seen when the run ends.
   */
  breathe(): Promise<void>;
  /** `checkEvery`: how many update() calls between clock reads (1 when each call covers a lot of work) */
  progress(total: number, label: string, unit?: string, checkEvery?: number): Progress;
  figure(name: string, svg: string): void;
  /** a new backend of the same kind (for a second network such as a teacher) */
  newBackend(): Promise<Backend>;
  log(msg: string): void;
}

export type TaskFn = (ctx: RunContext) => Promise<{ final: Record<string, number>; steps: number; extra?: Record<string, unknown> }>;

/** Parse `key=value` (value as JSON when it parses, else a string) and set it at the dotted path. */
export function applySet(params: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new UserError(`--set expects key=value, got '${assignment}'`);
  const key = assignment.slice(0, eq).trim();
  const raw = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  const path = key.split('.');
  let obj: Record<string, unknown> = params;
  for (let i = 0; i < path.length - 1; i++) {
    const next = obj[path[i]];
    if (Array.isArray(next) && /^\d+$/.test(path[i + 1])) {
      obj = next as unknown as Record<string, unknown>;
      continue;
    }
    if (typeof next !== 'object' || next === null) throw new UserError(`--set ${key}: '${path.slice(0, i + 1).join('.')}' is not an object in this experiment's config`);
    obj = next as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (!(last in obj)) {
    const known = Object.keys(obj).join(', ');
    throw new UserError(`--set ${key}: unknown parameter '${last}' (known here: ${known})`);
  }
  obj[last] = value;
}

export function resolveParams(def: ExperimentDef, quick: boolean, sets: string[] = []): Record<string, unknown> {
  const params = JSON.parse(JSON.stringify(def.params)) as Record<string, unknown>;
  if (quick) for (const [k, v] of Object.entries(def.quick)) params[k] = JSON.parse(JSON.stringify(v));
  for (const s of sets) applySet(params, s);
  return params;
}

function gitCommit(): string | null {
  try {
    const root = resolve(new URL('../..', import.meta.url).pathname);
    const head = readFileSync(join(root, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = join(root, '.git', head.slice(5));
    return existsSync(ref) ? readFileSync(ref, 'utf8').trim() : null;
  } catch {
    return null;
  }
}

export function machineInfo(): Record<string, string | number> {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version, platform: `${os.platform()} ${os.arch()}` };
}

const tasks: Record<string, () => Promise<TaskFn>> = {
  'teacher-student': async () => (await import('./teacher-student.js')).teacherStudentTask,
  classify: async () => (await import('./classify.js')).classifyTask,
};

export async function runExperiment(opts: RunOptions): Promise<RunSummary> {
  let def: ExperimentDef | undefined;
  let params: Record<string, unknown>;
  let seed = opts.seed ?? 0;
  let quick = opts.quick ?? false;
  let dir: string;
  let resumeFrom: string | null = null;
  let writeResumeConfig: (() => void) | null = null;
  if (opts.resume) {
    dir = resolve(opts.resume);
    const cfgPath = join(dir, 'config.json');
    if (!existsSync(cfgPath)) throw new UserError(`--resume ${opts.resume}: not a run directory (no config.json)`);
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { experiment: string; seed: number; quick: boolean; params: Record<string, unknown> };
    def = findExperiment(cfg.experiment);
    if (!def) throw new UserError(`--resume ${opts.resume}: unknown experiment '${cfg.experiment}'`);
    params = cfg.params;
    // --set on resume changes the remaining schedule (e.g. more epochs); the change is recorded in config.json
    for (const a of opts.set ?? []) applySet(params, a);
    // written once the backend is known to load, so a failed start leaves the run's config as it was
    if (opts.set?.length) writeResumeConfig = () => writeFileAtomic(cfgPath, JSON.stringify({ ...cfg, params, resumed_with: opts.set }, null, 2) + '\n');
    seed = cfg.seed;
    quick = cfg.quick;
    resumeFrom = join(dir, 'checkpoint');
    if (!existsSync(join(resumeFrom, 'meta.json'))) throw new UserError(`--resume ${opts.resume}: no checkpoint to resume from (checkpoint/meta.json missing)`);
  } else {
    def = findExperiment(opts.experiment);
    if (!def) throw new UserError(`unknown experiment '${opts.experiment}' (known: ${EXPERIMENTS.map((e) => e.name).join(', ')})`);
    params = resolveParams(def, quick, opts.set ?? []);
    if (opts.dtype) {
      const net = (params.network ?? params.teacher) as Record<string, unknown>;
      net.dtype = opts.dtype;
    }
    const model = typeof params.model === 'string' ? `-${params.model}` : '';
    dir = resolve(opts.out ?? join('runs', `${def.name}${model}-seed${seed}${quick ? '-quick' : ''}`));
  }
  const specDtype = (((params.network ?? params.teacher) as Record<string, unknown>)?.dtype as 'float32' | 'float64' | undefined) ?? 'float32';
  const backendName = opts.backend ?? 'auto';
  const backend = await createNodeBackend(backendName, specDtype);
  mkdirSync(dir, { recursive: true });
  writeResumeConfig?.();

  const config = {
    experiment: def.name,
    description: def.description,
    task: def.task,
    seed,
    quick,
    params,
    backend: backend.info,
    machine: machineInfo(),
    git_commit: gitCommit(),
    started: new Date().toISOString(),
    command: `gle ${process.argv.slice(2).join(' ')}`,
  };
  if (!resumeFrom) writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const metrics = new MetricsLog(dir, { resume: resumeFrom !== null });

  let stop = false;
  const onSig = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('\ngle: stopping (Ctrl-C again to abort immediately); writing what we have...\n');
  };
  process.on('SIGINT', onSig);
  const t0 = performance.now();
  const deadline = opts.maxSeconds ? t0 + opts.maxSeconds * 1000 : Infinity;
  const progressMode = opts.progress ?? 'auto';
  // the stepping rate: steps reported to the progress displays over the time they were open (the same measurement
  // as the progress line's final rate), so the run prints one rate; wall_s also counts setup, evaluation and figures
  const stepping = { steps: 0, ms: 0 };
  const ctx: RunContext = {
    dir,
    seed,
    quick,
    params,
    backend,
    metrics,
    resumeFrom,
    stopRequested: () => stop || performance.now() > deadline,
    breathe: () => new Promise<void>((res) => setImmediate(res)),
    progress: (total, label, unit = 'steps', checkEvery?: number) => {
      const p = createProgress({ total, label, unit, checkEvery, mode: progressMode === 'off' ? 'off' : progressMode === 'plain' ? 'plain' : 'auto' });
      const start = performance.now();
      let done = 0;
      let open = true;
      return {
        update: (d, f) => {
          done = d;
          p.update(d, f);
        },
        stop: () => {
          if (open && unit === 'steps') {
            stepping.steps += done;
            stepping.ms += performance.now() - start;
          }
          open = false;
          p.stop();
        },
      };
    },
    figure: (name, svg) => {
      mkdirSync(join(dir, 'figures'), { recursive: true });
      saveFigure(join(dir, 'figures'), name, svg);
    },
    newBackend: () => createNodeBackend(backend.name, backend.dtype, () => {}),
    log: (msg) => {
      if (progressMode !== 'off') process.stderr.write(`${msg}\n`);
    },
  };
  try {
    const task = await tasks[def.task]();
    const res = await task(ctx);
    const wall = (performance.now() - t0) / 1000;
    const summary: RunSummary = {
      experiment: def.name,
      seed,
      dir,
      final: res.final,
      wall_s: Math.round(wall * 100) / 100,
      steps: res.steps,
      steps_per_s: stepping.ms > 0 ? Math.round(stepping.steps / (stepping.ms / 1000)) : Math.round(res.steps / wall),
      stepping_s: Math.round(stepping.ms / 10) / 100,
      backend: backend.name,
      backend_info: backend.info,
      interrupted: ctx.stopRequested(),
      machine: machineInfo(),
      ...(res.extra ?? {}),
    };
    writeFileAtomic(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    return summary;
  } finally {
    metrics.close();
    process.off('SIGINT', onSig);
  }
}
