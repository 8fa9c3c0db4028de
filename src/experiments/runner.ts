/**
 * The one shared runner: resolves an experiment's config (defaults, --quick, --set) and checks it, picks the run
 * directory (never overwriting a run: an explicit --out that holds one is refused, the default name gets a fresh
 * suffix), takes the directory's lock (one writer per run, see rundir.ts), writes config.json, hands a RunContext to
 * the experiment's task, and writes summary.json at the end — also when stopped by Ctrl-C/SIGTERM or --max-seconds,
 * in which case everything written so far is kept. A fresh run that fails before it has recorded anything removes
 * the directory it created.
 *
 * Resume (`--resume DIR`): the checkpoint is recovered if a save was cut off (checkpoint.ts), metrics.jsonl is cut
 * back to the records the checkpoint had seen (the resumed run writes the rest again, so its record is identical to
 * an uninterrupted run's), and `--set` may change only the parameters listed in RESUMABLE_SETS (others are refused);
 * every resume is recorded in config.json (`resumes`: when, from which step/epoch, the --set changes, the backend,
 * with a warning when the backend differs from the one the run started on).
 *
 * Divergence (guard.ts): a task calls `ctx.guard` at its logging points; a non-finite loss, state or parameter stops
 * the run with exit code 3, keeps the last good checkpoint and records `diverged` in summary.json.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import os from 'node:os';
import { createNodeBackend, createWebGpuEngine } from '../node.js';
import { webgpuRefusal } from './webgpu-support.js';
import { MetricsLog } from '../report/metrics.js';
import { createProgress } from '../report/progress.js';
import { saveFigure } from '../report/figures.js';
import { UserError } from '../util/errors.js';
import { readJsonFile, writeFileAtomic } from '../io/files.js';
import { recoverCheckpoint, saveCheckpoint, saveCheckpointFiles } from '../io/checkpoint.js';
import { findExperiment, EXPERIMENTS } from './registry.js';
import { ADDED_PARAMS, checkParams, checkRemovedSet, RESUMABLE_SETS, validateTaskParams } from './params-check.js';
import { acquireRunLock, chooseRunDir, type RunLock } from './rundir.js';
import { checkFinite, DivergenceError } from './guard.js';
import type { ExperimentDef, RunContext, RunOptions, RunSummary, TaskFn, TaskResult } from './types.js';

// RunContext and TaskFn live in types.ts (tasks import them from there); re-exported for existing importers
export type { RunContext, TaskFn, TaskResult } from './types.js';

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

/** Each task's runner, loaded on demand; its params were validated by TASK_SCHEMAS (schemas.ts) before it runs. */
const tasks: Record<string, () => Promise<TaskFn<never>>> = {
  'teacher-student': async () => (await import('./teacher-student.js')).teacherStudentTask,
  classify: async () => (await import('./classify.js')).classifyTask,
  spiking: async () => (await import('./sal.js')).spikingTask,
  backprop: async () => (await import('../baselines/task.js')).backpropTask,
  microcircuit: async () => (await import('./microcircuits.js')).microcircuitTask,
  le: async () => (await import('./le.js')).leTask,
  vle: async () => (await import('./vle.js')).vleTask,
};

interface RunConfig {
  experiment: string;
  seed: number;
  quick: boolean;
  params: Record<string, unknown>;
  backend?: { name?: string };
  resumes?: Record<string, unknown>[];
  [k: string]: unknown;
}

/** Read a run's config.json, checking its shape (a damaged file is one clear line). */
function readRunConfig(dir: string, flag: string): RunConfig {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(dir)) throw new UserError(`${flag} ${dir}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new UserError(`${flag} ${dir}: not a directory`);
  if (!existsSync(cfgPath)) throw new UserError(`${flag} ${dir}: not a run directory (no config.json)`);
  const cfg = readJsonFile(cfgPath);
  const bad = (what: string) => new UserError(`${flag} ${dir}: config.json ${what}`);
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw bad(`must hold a JSON object, got ${cfg === null ? 'null' : Array.isArray(cfg) ? 'an array' : typeof cfg}`);
  const c = cfg as Record<string, unknown>;
  if (typeof c.experiment !== 'string') throw bad(`has no experiment name`);
  if (typeof c.seed !== 'number' || !Number.isInteger(c.seed) || c.seed < 0) throw bad(`seed must be a non-negative integer, got ${JSON.stringify(c.seed)}`);
  if (typeof c.quick !== 'boolean') throw bad(`quick must be true or false, got ${JSON.stringify(c.quick)}`);
  if (typeof c.params !== 'object' || c.params === null || Array.isArray(c.params)) throw bad(`has no params object`);
  if (c.resumes !== undefined && !Array.isArray(c.resumes)) throw bad(`resumes must be a list`);
  return c as RunConfig;
}

const setKey = (a: string) => a.slice(0, Math.max(0, a.indexOf('='))).trim();

export async function runExperiment(opts: RunOptions): Promise<RunSummary> {
  let def: ExperimentDef | undefined;
  let params: Record<string, unknown>;
  /** what the task receives: params parsed by its schema (schemas.ts) */
  let taskParams: unknown;
  let seed = opts.seed ?? 0;
  let quick = opts.quick ?? false;
  let dir: string;
  let resumeFrom: string | null = null;
  let cfg: RunConfig | null = null;
  let keepRecords: number | undefined;
  let resumeAt: Record<string, unknown> = {};
  const notice = (m: string) => process.stderr.write(`${m}\n`);
  if (opts.maxSeconds !== undefined && !(Number.isFinite(opts.maxSeconds) && opts.maxSeconds > 0)) throw new UserError(`--max-seconds must be a positive number of seconds, got ${String(opts.maxSeconds)}`);
  const ckEvery = opts.checkpointSeconds ?? 60;
  if (!(Number.isFinite(ckEvery) && ckEvery >= 0)) throw new UserError(`--checkpoint-seconds must be a non-negative number, got ${String(opts.checkpointSeconds)}`);
  if (opts.seed !== undefined && !(Number.isInteger(opts.seed) && opts.seed >= 0 && opts.seed <= 2 ** 32 - 1)) throw new UserError(`--seed must be an integer from 0 to ${2 ** 32 - 1}, got ${String(opts.seed)}`);
  if (opts.resume) {
    dir = resolve(opts.resume);
    cfg = readRunConfig(dir, '--resume');
    def = findExperiment(cfg.experiment);
    if (!def) throw new UserError(`--resume ${opts.resume}: unknown experiment '${cfg.experiment}'`);
    params = JSON.parse(JSON.stringify(cfg.params)) as Record<string, unknown>;
    // --set on resume may change only what does not alter the meaning of the checkpoint's state
    const allowed = RESUMABLE_SETS[def.task] ?? [];
    for (const a of opts.set ?? []) {
      const k = setKey(a);
      if (k) checkRemovedSet(def.name, def.task, k);
      if (k && !allowed.includes(k)) throw new UserError(`--resume --set ${k}: cannot be changed on resume (the checkpoint was made with the old value); what can: ${allowed.join(', ') || 'nothing, for this experiment'}`);
      applySet(params, a);
    }
    const defaults = resolveParams(def, cfg.quick);
    // (a task's experiments share the table: only the keys this experiment declares)
    for (const [k, v] of Object.entries(ADDED_PARAMS[def.task] ?? {})) if (!(k in params) && k in defaults) params[k] = v;
    const missing = Object.keys(defaults).filter((k) => !(k in params));
    if (missing.length) throw new UserError(`--resume ${opts.resume}: config.json params lack ${missing.map((k) => `'${k}'`).join(', ')} (not a config this version wrote)`);
    checkParams(def.name, params, defaults);
    taskParams = validateTaskParams(def.name, def.task, params);
    seed = cfg.seed;
    quick = cfg.quick;
  } else {
    def = findExperiment(opts.experiment);
    if (!def) throw new UserError(`unknown experiment '${opts.experiment}' (known: ${EXPERIMENTS.map((e) => e.name).join(', ')})`);
    for (const a of opts.set ?? []) checkRemovedSet(def.name, def.task, setKey(a));
    params = resolveParams(def, quick, opts.set ?? []);
    if (opts.dtype) {
      const net = (params.network ?? params.teacher ?? params) as Record<string, unknown>;
      net.dtype = opts.dtype;
    }
    checkParams(def.name, params, resolveParams(def, quick));
    taskParams = validateTaskParams(def.name, def.task, params);
    const model = typeof params.model === 'string' ? `-${params.model}` : '';
    dir = chooseRunDir(resolve(opts.out ?? join('runs', `${def.name}${model}-seed${seed}${quick ? '-quick' : ''}`)), opts.out !== undefined, notice);
  }
  const specDtype = (((params.network ?? params.teacher) as Record<string, unknown>)?.dtype as 'float32' | 'float64' | undefined) ?? 'float32';
  const backendName = opts.backend ?? 'auto';
  // webgpu: refused (one line, exit 2) where the device path lacks what the experiment needs; the host keeps a
  // float32 CPU copy of the network (auto backend) for checkpoints and a fixed front end
  let gpu: Awaited<ReturnType<typeof createWebGpuEngine>> | null = null;
  if (backendName === 'webgpu') {
    const why = webgpuRefusal(def, params);
    if (why) throw new UserError(why);
    gpu = await createWebGpuEngine();
  }
  const backend = await createNodeBackend(gpu ? 'auto' : (backendName as Exclude<typeof backendName, 'webgpu'>), specDtype);
  const backendLabel = gpu ? 'webgpu' : backend.name;
  const backendInfo = gpu ? { backend: 'webgpu', dtype: 'float32', adapter: gpu.adapterName, software_adapter: gpu.isFallback, host: backend.name } : backend.info;
  // from here on the run directory is ours: create it (fresh runs), lock it, and only then touch anything in it
  const created = !existsSync(dir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create run directory ${dir}: ${(e as Error).message}`);
  }
  let lock: RunLock;
  try {
    lock = acquireRunLock(dir, notice);
  } catch (e) {
    if (created) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let started = false; // whether the run has recorded anything (then a failure keeps the directory)
  let metrics: MetricsLog | null = null;
  try {
    if (opts.resume && cfg) {
      // temp files of writes a kill cut off (writeFileAtomic's .NAME.*.tmp, the metrics CSV's NAME.tmp-*)
      for (const f of readdirSync(dir)) if (/^\..+\.tmp$/.test(f) || /\.tmp-\d+-[a-z0-9]+$/.test(f)) rmSync(join(dir, f), { force: true });
      const ckDir = join(dir, 'checkpoint');
      if (recoverCheckpoint(ckDir)) {
        resumeFrom = ckDir;
        // only meta.json here (any task's checkpoint has one, with `extra`); the task itself loads and checks the rest
        const meta = readJsonFile(join(ckDir, 'meta.json'));
        if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new UserError(`checkpoint ${ckDir}: meta.json must hold a JSON object`);
        const m = meta as { extra?: unknown; steps?: unknown };
        const ex = (typeof m.extra === 'object' && m.extra !== null ? m.extra : {}) as Record<string, unknown>;
        if (typeof ex.metrics_records === 'number') keepRecords = ex.metrics_records;
        resumeAt = { step: typeof ex.step === 'number' ? ex.step : typeof m.steps === 'number' ? m.steps : 0, ...(typeof ex.epoch === 'number' ? { epoch: ex.epoch } : {}) };
      } else {
        keepRecords = 0;
        resumeAt = { step: 0 };
        notice(`gle: note: ${dir} has no checkpoint yet; starting the run over from step 0 (same config and seed)`);
      }
      const first = (cfg.backend as { backend?: string; name?: string } | undefined)?.backend ?? (cfg.backend as { name?: string } | undefined)?.name;
      const prev = (cfg.resumes?.length ? (cfg.resumes[cfg.resumes.length - 1] as { backend?: string }).backend : undefined) ?? first;
      if (prev && prev !== backendLabel) notice(`gle: warning: resuming on backend ${backendLabel}, the run was last on ${prev}; results may differ in the last bits from an uninterrupted run (recorded in config.json)`);
      const entry = {
        at: new Date().toISOString(),
        ...resumeAt,
        set: opts.set ?? [],
        backend: backendLabel,
        ...(prev && prev !== backendLabel ? { backend_switched_from: prev } : {}),
      };
      writeFileAtomic(join(dir, 'config.json'), JSON.stringify({ ...cfg, params, resumes: [...(cfg.resumes ?? []), entry] }, null, 2) + '\n');
      started = true;
    } else {
      for (const f of readdirSync(dir)) if (/^\..+\.tmp$/.test(f)) rmSync(join(dir, f), { force: true }); // a killed start's
      const config = {
        experiment: def.name,
        description: def.description,
        task: def.task,
        seed,
        quick,
        params,
        backend: backendInfo,
        machine: machineInfo(),
        git_commit: gitCommit(),
        started: new Date().toISOString(),
        command: `gle ${process.argv.slice(2).join(' ')}`,
      };
      writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    }
    metrics = new MetricsLog(dir, { resume: opts.resume !== undefined, keep: keepRecords });
  } catch (e) {
    lock.release();
    if (!opts.resume && created) rmSync(dir, { recursive: true, force: true });
    else if (!opts.resume) for (const f of ['config.json', 'metrics.jsonl', 'metrics.csv']) rmSync(join(dir, f), { force: true });
    throw e;
  }
  const log = metrics;

  let stop = false;
  const onSig = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('\ngle: stopping (Ctrl-C again to abort immediately); writing what we have...\n');
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  const t0 = performance.now();
  const deadline = opts.maxSeconds ? t0 + opts.maxSeconds * 1000 : Infinity;
  const progressMode = opts.progress ?? 'auto';
  let lastCk = performance.now();
  let ckStep: string | null = resumeFrom ? `${resumeAt.epoch !== undefined ? `epoch ${String(resumeAt.epoch)}` : `step ${String(resumeAt.step)}`}` : null;
  const ckDir = join(dir, 'checkpoint');
  // the stepping rate: steps reported to the progress displays over the time they were open (the same measurement
  // as the progress line's final rate), so the run prints one rate; wall_s also counts setup, evaluation and figures
  const stepping = { steps: 0, ms: 0 };
  const ctx: RunContext<unknown> = {
    dir,
    seed,
    quick,
    params: taskParams,
    backend,
    gpu,
    metrics: log,
    resumeFrom,
    stopRequested: () => stop || performance.now() > deadline,
    breathe: () => new Promise<void>((res) => setImmediate(res)),
    progress: (total, label, unit = 'steps', checkEvery?: number) => {
      // the display's own clock readings are the measurement: its first reading starts the interval, its last (in
      // stop()) ends it, so the summary's rate is the progress line's final rate exactly, however loaded the machine
      let first = NaN, last = NaN;
      const clock = (): number => {
        last = performance.now();
        if (Number.isNaN(first)) first = last;
        return last;
      };
      const p = createProgress({ total, label, unit, checkEvery, now: clock, mode: progressMode === 'off' ? 'off' : progressMode === 'plain' ? 'plain' : 'auto' });
      if (Number.isNaN(first)) clock(); // a silent display reads no clock
      let done = 0;
      let open = true;
      return {
        update: (d, f) => {
          done = d;
          p.update(d, f);
        },
        stop: () => {
          const wasOpen = open;
          open = false;
          p.stop();
          if (wasOpen && unit === 'steps') {
            if (progressMode === 'off') clock();
            stepping.steps += done;
            stepping.ms += last - first;
          }
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
    saveCheckpoint: (net, learner, extra, parts) => {
      saveCheckpoint(ckDir, net, learner, { ...extra, metrics_records: log.length }, parts);
      started = true;
      lastCk = performance.now();
      ckStep = typeof extra.epoch === 'number' ? `epoch ${extra.epoch}` : `step ${String(extra.step ?? net.steps)}`;
    },
    saveCheckpointFiles: (files, meta) => {
      const extra: Record<string, unknown> = { ...(meta.extra ?? {}), metrics_records: log.length };
      saveCheckpointFiles(ckDir, [['', { ...files, 'meta.json': JSON.stringify({ ...meta, extra }) + '\n' }]]);
      started = true;
      lastCk = performance.now();
      ckStep = typeof extra.epoch === 'number' ? `epoch ${String(extra.epoch)}` : `step ${String(extra.step ?? '?')}`;
    },
    checkpointDue: () => performance.now() - lastCk >= ckEvery * 1000,
    guard: (loss, net, learner, at) =>
      checkFinite(loss, net, learner, at, ckStep ? `; stopped, the last good checkpoint (${ckStep}) is kept in ${ckDir}` : '; stopped before any checkpoint was written'),
  };
  try {
    const task = await tasks[def.task]();
    let res: TaskResult;
    try {
      res = await task(ctx as RunContext<never>);
    } catch (e) {
      if (e instanceof DivergenceError) {
        const summary = {
          experiment: def.name,
          seed,
          dir,
          final: {},
          diverged: { ...e.info, message: e.message, checkpoint_kept: ckStep },
          wall_s: Math.round(((performance.now() - t0) / 1000) * 100) / 100,
          backend: backendLabel,
          machine: machineInfo(),
        };
        writeFileAtomic(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
      }
      throw e;
    }
    const wall = (performance.now() - t0) / 1000;
    const summary: RunSummary = {
      experiment: def.name,
      seed,
      dir,
      final: res.final,
      wall_s: Math.round(wall * 100) / 100,
      steps: res.totalSteps ?? res.steps,
      session_steps: res.steps,
      steps_per_s: stepping.ms > 0 ? Math.round(stepping.steps / (stepping.ms / 1000)) : Math.round(res.steps / wall),
      stepping_s: Math.round(stepping.ms / 10) / 100,
      backend: backendLabel,
      backend_info: backendInfo,
      interrupted: ctx.stopRequested(),
      diverged: null,
      machine: machineInfo(),
      // webgpu: what crossed the host/device boundary in this session (submits, dispatches, uploads, read-backs)
      ...(gpu ? { webgpu_counters: { ...gpu.counters } } : {}),
      ...(res.extra ?? {}),
    };
    writeFileAtomic(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    return summary;
  } catch (e) {
    if (!opts.resume && !started && log.length === 0 && !(e instanceof DivergenceError)) {
      // failed before recording anything: leave nothing behind (an empty directory given as --out stays, empty)
      log.close();
      lock.release();
      if (created) rmSync(dir, { recursive: true, force: true });
      else for (const f of ['config.json', 'metrics.jsonl', 'metrics.csv', 'figures']) rmSync(join(dir, f), { recursive: true, force: true });
    }
    throw e;
  } finally {
    gpu?.destroy();
    log.close();
    lock.release();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}
