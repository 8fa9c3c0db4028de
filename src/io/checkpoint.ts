/**
 * Checkpoints: a directory holding
 *   spec.json          the network spec (JSON, as `gle simulate` and the lab accept it)
 *   model.safetensors  parameters (layer_0.weight, layer_0.bias, layer_0.tau_m, layer_0.tau_r, ...), the dynamic
 *                      state (state.layer_0.u, ...), and the optimiser state (optim.layer_0.weight.exp_avg, ...)
 *   meta.json          scalars: steps, batch size, optimiser step/lr, scheduler state, and whatever the caller adds
 *                      (epoch, RNG state); it records the sha256 of model.safetensors and of spec.json, so a torn or
 *                      edited checkpoint is detected.
 *   <part>/            optional nested checkpoints saved together with it (e.g. the teacher of a teacher-student run)
 *
 * A checkpoint is replaced atomically AS A WHOLE: the new one is written (files fsynced) into a staging directory
 * `.<name>.new-<pid>-<n>` beside it; then the current one is renamed to `.<name>.old-<pid>-<n>`, the staging directory
 * is renamed to `<name>`, and the old one is deleted. A kill at any instant leaves either `<name>` complete, or (between
 * the two renames) no `<name>` and the previous one complete under `.old-*`: {@link recoverCheckpoint} puts it back.
 * Loading a checkpoint and going on gives bit-identical results to not stopping (the state is stored exactly, in the
 * network's dtype). The safetensors file loads with PyTorch's `safetensors.torch.load_file`.
 *
 * Older checkpoints (three separately renamed files, or no meta.json at all) still load.
 *
 * Test hook: with GLE_TEST_CKPT_PAUSE_MS=N in the environment, saving pauses N ms before every file operation, so a
 * test can land a kill inside a checkpoint write.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { FBuf } from '../kernels/types.js';
import { GLENetwork } from '../model/network.js';
import { parseSpec, SpecError, type ResolvedSpec } from '../model/spec.js';
import type { Learner } from '../learn/learner.js';
import { UserError } from '../util/errors.js';
import { readFileBytes, readJsonFile, writeFileAtomic } from './files.js';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'gle-checkpoint/1';

export interface CheckpointMeta {
  format: string;
  dtype: 'float32' | 'float64';
  batch_size: number;
  steps: number;
  model_sha256: string;
  /** sha256 of spec.json (absent in checkpoints written before it was recorded) */
  spec_sha256?: string;
  optimizer: Record<string, number> | null;
  scheduler: Record<string, number | string> | null;
  /** the weight average's scalars (spec `average`; absent without it) */
  average?: Record<string, number>;
  extra: Record<string, unknown>;
}

function tensorOf(buf: FBuf, shape: number[]): SafeTensor {
  const a = buf.a;
  return a instanceof Float64Array
    ? { dtype: 'F64', shape, data: Float64Array.from(a.subarray(0, buf.n)) }
    : { dtype: 'F32', shape, data: Float32Array.from(a.subarray(0, buf.n)) };
}

function jsonNum(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}
function numJson(x: number | string): number {
  return typeof x === 'number' ? x : Number(x);
}

/** Sleep (blocking) for the test hook GLE_TEST_CKPT_PAUSE_MS; a no-op otherwise. */
function testPause(): void {
  const ms = Number(process.env.GLE_TEST_CKPT_PAUSE_MS ?? 0);
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported on this platform: the files themselves are synced */
  }
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The files of one checkpoint (not yet written). */
function checkpointFiles(net: GLENetwork, learner: Learner | null, extra: Record<string, unknown>): Record<string, Uint8Array | string> {
  const tensors: Record<string, SafeTensor> = {};
  for (const t of net.allTensors()) tensors[t.name] = tensorOf(t.buf, t.shape);
  for (const t of net.stateTensors()) tensors[t.name] = tensorOf(t.buf, t.shape);
  if (learner?.opt) for (const t of learner.opt.stateTensors()) tensors[t.name] = tensorOf(t.buf, t.shape);
  if (learner?.average) {
    if (learner.average.swapped) throw new Error('internal: a checkpoint while the averaged parameters are swapped in');
    for (const t of learner.average.stateTensors()) tensors[t.name] = tensorOf(t.buf, t.shape);
  }
  const bytes = encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, dtype: net.k.dtype });
  const specText = JSON.stringify(net.specJson(), null, 2) + '\n';
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    dtype: net.k.dtype,
    batch_size: net.B,
    steps: net.steps,
    model_sha256: sha256(bytes),
    spec_sha256: sha256(specText),
    optimizer: learner?.opt ? learner.opt.stateScalars() : null,
    scheduler: learner?.scheduler
      ? Object.fromEntries(Object.entries(learner.scheduler.getState()).map(([k, v]) => [k, jsonNum(v)]))
      : null,
    ...(learner?.average ? { average: learner.average.stateScalars() } : {}),
    extra,
  };
  return { 'spec.json': specText, 'model.safetensors': bytes, 'meta.json': JSON.stringify(meta, null, 2) + '\n' };
}

/** A checkpoint saved together with the main one, in a sub-directory (e.g. `teacher`). */
export interface CheckpointPart {
  net: GLENetwork;
  learner?: Learner | null;
  extra?: Record<string, unknown>;
}

let stageCounter = 0;

/**
 * Save network (+ optional learner state) to `dir`, atomically as a whole (see the module header); `extra` goes to
 * meta.json, `parts` are nested checkpoints written in the same atomic step.
 */
export function saveCheckpoint(
  dir: string,
  net: GLENetwork,
  learner: Learner | null,
  extra: Record<string, unknown> = {},
  parts: Record<string, CheckpointPart> = {},
): void {
  const all: [string, Record<string, Uint8Array | string>][] = [['', checkpointFiles(net, learner, extra)]];
  for (const [sub, p] of Object.entries(parts)) {
    if (!/^[A-Za-z0-9_-]+$/.test(sub)) throw new Error(`checkpoint part name '${sub}' is not a plain name`);
    all.push([sub, checkpointFiles(p.net, p.learner ?? null, p.extra ?? {})]);
  }
  saveCheckpointFiles(dir, all);
}

/**
 * Write a checkpoint directory atomically as a whole: the files (`meta.json` last in each folder) go into a staging
 * folder beside `dir`, the current `dir` is moved aside, the staging folder renamed into place, then the old one
 * removed; `recoverCheckpoint` undoes a save cut off between the two renames. `parts` lists [sub-folder ('' for
 * `dir` itself), files]. Tasks with their own checkpoint contents (e.g. the backprop baselines) use this directly;
 * their `meta.json` carries `extra` like a network checkpoint's, so the runner can resume them the same way.
 */
export function saveCheckpointFiles(dir: string, all: [string, Record<string, Uint8Array | string>][]): void {
  const parent = dirname(dir);
  const name = basename(dir);
  mkdirSync(parent, { recursive: true });
  const tag = `${process.pid}-${Date.now()}-${stageCounter++}`;
  const stage = join(parent, `.${name}.new-${tag}`);
  const old = join(parent, `.${name}.old-${tag}`);
  try {
    testPause();
    mkdirSync(stage);
    for (const [sub, files] of all) {
      const d = sub ? join(stage, sub) : stage;
      if (sub) {
        testPause();
        mkdirSync(d);
      }
      // meta.json last, so a staging directory with a meta.json has all its files
      const names = Object.keys(files).filter((f) => f !== 'meta.json');
      if ('meta.json' in files) names.push('meta.json');
      for (const f of names) {
        testPause();
        writeFileAtomic(join(d, f), files[f]);
      }
      syncDir(d);
    }
    syncDir(stage);
    testPause();
    if (existsSync(dir)) renameSync(dir, old);
    testPause();
    renameSync(stage, dir);
    syncDir(parent);
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    if (!existsSync(dir) && existsSync(old)) renameSync(old, dir);
    const err = e as NodeJS.ErrnoException;
    if (e instanceof UserError) throw e;
    if (typeof err.code === 'string') throw new UserError(`cannot write checkpoint ${dir}: ${err.message}`);
    throw e;
  }
  testPause();
  rmSync(old, { recursive: true, force: true });
}

/**
 * Bring a checkpoint directory back to a consistent state after a crash (call it before reading a checkpoint the
 * caller owns, e.g. under a run's lock): when `dir` is missing but a complete previous one was left aside by an
 * interrupted save, it is put back; leftover staging and old copies are deleted. Returns whether `dir` exists now.
 * (An interrupted save's staging copy is never used, even when complete: the previous checkpoint is the one the
 * rest of the run's record matches.)
 */
export function recoverCheckpoint(dir: string): boolean {
  const parent = dirname(dir);
  const name = basename(dir);
  if (!existsSync(parent)) return false;
  const leftovers = readdirSync(parent).filter((f) => f.startsWith(`.${name}.new-`) || f.startsWith(`.${name}.old-`));
  if (!existsSync(dir)) {
    // newest first: the last checkpoint that was complete when the save began
    const olds = leftovers
      .filter((f) => f.startsWith(`.${name}.old-`))
      .map((f) => ({ f, t: statSync(join(parent, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of olds) {
      if (existsSync(join(parent, f, 'meta.json'))) {
        renameSync(join(parent, f), dir);
        syncDir(parent);
        break;
      }
    }
  }
  for (const f of leftovers) if (existsSync(join(parent, f))) rmSync(join(parent, f), { recursive: true, force: true });
  // stray temp files of the older file-by-file writer
  if (existsSync(dir) && statSync(dir).isDirectory()) {
    for (const f of readdirSync(dir)) if (/^\..*\.tmp$/.test(f)) rmSync(join(dir, f), { force: true });
  }
  return existsSync(dir);
}

export interface LoadedCheckpoint {
  spec: ResolvedSpec;
  tensors: Record<string, SafeTensor>;
  meta: CheckpointMeta | null;
}

/** Read and validate a checkpoint directory (spec.json + model.safetensors [+ meta.json]). */
export function readCheckpoint(dir: string): LoadedCheckpoint {
  if (!existsSync(dir)) {
    const parent = dirname(dir);
    const prev = existsSync(parent) ? readdirSync(parent).find((f) => f.startsWith(`.${basename(dir)}.old-`)) : undefined;
    if (prev) throw new UserError(`checkpoint ${dir}: no such directory; a save cut off by a crash left the previous checkpoint at ${join(parent, prev)} (gle run --resume on the run directory puts it back)`);
    throw new UserError(`checkpoint ${dir}: no such directory`);
  }
  const specPath = join(dir, 'spec.json');
  const modelPath = join(dir, 'model.safetensors');
  if (!existsSync(specPath)) throw new UserError(`checkpoint ${dir}: missing spec.json`);
  if (!existsSync(modelPath)) throw new UserError(`checkpoint ${dir}: missing model.safetensors`);
  const specBytes = readFileBytes(specPath, 'checkpoint spec');
  let spec: ResolvedSpec;
  try {
    spec = parseSpec(readJsonFile(specPath));
  } catch (e) {
    const msg = e instanceof SpecError ? `invalid network spec: ${e.issues.join('; ')}` : (e as Error).message;
    throw new UserError(msg.startsWith(specPath) ? `checkpoint ${msg}` : `checkpoint ${specPath}: ${msg}`);
  }
  const bytes = readFileBytes(modelPath, 'checkpoint model');
  const metaPath = join(dir, 'meta.json');
  let meta: CheckpointMeta | null = null;
  if (existsSync(metaPath)) {
    meta = checkMeta(readJsonFile(metaPath), metaPath);
    if (meta.model_sha256 !== sha256(bytes))
      throw new UserError(`checkpoint ${dir}: model.safetensors does not match meta.json (sha256 differs): the checkpoint is torn or was edited`);
    if (meta.spec_sha256 !== undefined && meta.spec_sha256 !== sha256(specBytes))
      throw new UserError(`checkpoint ${dir}: spec.json does not match meta.json (sha256 differs): the checkpoint is torn or was edited`);
  }
  const { tensors } = decodeSafetensors(bytes, modelPath);
  return { spec, tensors, meta };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Check meta.json's shape (a hand-edited or damaged file is a UserError naming the field). */
function checkMeta(m: unknown, where: string): CheckpointMeta {
  if (!isObj(m)) throw new UserError(`checkpoint ${where}: expected a JSON object, got ${m === null ? 'null' : Array.isArray(m) ? 'an array' : typeof m}`);
  if (m.format !== CHECKPOINT_FORMAT) throw new UserError(`checkpoint ${where}: unknown format '${String(m.format)}' (expected ${CHECKPOINT_FORMAT})`);
  if (m.dtype !== 'float32' && m.dtype !== 'float64') throw new UserError(`checkpoint ${where}: dtype must be float32 or float64, got ${JSON.stringify(m.dtype)}`);
  for (const k of ['batch_size', 'steps'] as const) {
    const v = m[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (k === 'batch_size' && v < 1))
      throw new UserError(`checkpoint ${where}: ${k} must be a ${k === 'batch_size' ? 'positive' : 'non-negative'} integer, got ${JSON.stringify(v)}`);
  }
  if (typeof m.model_sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.model_sha256)) throw new UserError(`checkpoint ${where}: model_sha256 must be a sha256 hex digest`);
  if (m.spec_sha256 !== undefined && (typeof m.spec_sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.spec_sha256))) throw new UserError(`checkpoint ${where}: spec_sha256 must be a sha256 hex digest`);
  for (const k of ['optimizer', 'scheduler', 'average'] as const) {
    const v = m[k];
    if (v !== null && v !== undefined && !isObj(v)) throw new UserError(`checkpoint ${where}: ${k} must be an object or null`);
  }
  if (m.extra !== undefined && !isObj(m.extra)) throw new UserError(`checkpoint ${where}: extra must be an object`);
  return { ...(m as unknown as CheckpointMeta), optimizer: (m.optimizer ?? null) as CheckpointMeta['optimizer'], scheduler: (m.scheduler ?? null) as CheckpointMeta['scheduler'], extra: (m.extra ?? {}) as Record<string, unknown> };
}

function copyInto(name: string, t: SafeTensor | undefined, buf: FBuf, where: string, required: boolean): boolean {
  if (!t) {
    if (required) throw new UserError(`checkpoint ${where}: missing tensor '${name}'`);
    return false;
  }
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n !== buf.n) throw new UserError(`checkpoint ${where}: tensor '${name}' has ${n} values (shape ${JSON.stringify(t.shape)}), the network needs ${buf.n}`);
  if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new UserError(`checkpoint ${where}: tensor '${name}' has dtype ${t.dtype}, expected F32 or F64`);
  const src = t.data as Float32Array | Float64Array;
  for (let i = 0; i < n; i++) {
    const v = src[i];
    if (!Number.isFinite(v)) throw new UserError(`checkpoint ${where}: tensor '${name}' holds a non-finite value at index ${i}`);
  }
  (buf.a as Float64Array).set(src.subarray(0, n));
  return true;
}

/**
 * Load parameters (and, when present and the batch size matches, the dynamic state and optimiser state) into an
 * existing network/learner built from the same spec.
 */
export function applyCheckpoint(ck: LoadedCheckpoint, net: GLENetwork, learner: Learner | null, where = 'checkpoint', opts: { state?: boolean } = {}): void {
  for (const t of net.allTensors()) copyInto(t.name, ck.tensors[t.name], t.buf, where, true);
  const wantState = opts.state ?? true;
  if (wantState && ck.meta && ck.tensors['state.output']) {
    net.setBatchSize(ck.meta.batch_size);
    for (const t of net.stateTensors()) copyInto(t.name, ck.tensors[t.name], t.buf, where, true);
    net.steps = ck.meta.steps;
  }
  if (learner?.opt && ck.meta?.optimizer) {
    for (const t of learner.opt.stateTensors()) copyInto(t.name, ck.tensors[t.name], t.buf, where, true);
    learner.opt.loadScalars(ck.meta.optimizer);
  }
  if (learner?.scheduler && ck.meta?.scheduler) {
    learner.scheduler.setState(Object.fromEntries(Object.entries(ck.meta.scheduler).map(([k, v]) => [k, numJson(v)])));
  }
  if (learner) applyAverage(ck, learner, where);
}

/**
 * The learner's weight average (spec `average`) from the checkpoint (`avg.*` tensors and scalars) when it has one,
 * else restarted at the network's (loaded) parameters. Nothing without averaging.
 */
export function applyAverage(ck: LoadedCheckpoint, learner: Learner, where = 'checkpoint'): void {
  const a = learner.average;
  if (!a) return;
  if (ck.meta?.average && a.stateTensors().every((t) => ck.tensors[t.name])) {
    for (const t of a.stateTensors()) copyInto(t.name, ck.tensors[t.name], t.buf, where, true);
    a.loadScalars(ck.meta.average);
  } else a.reset();
}
