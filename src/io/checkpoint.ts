/**
 * Checkpoints: a directory holding
 *   spec.json          the network spec (JSON, as `gle simulate` and the lab accept it)
 *   model.safetensors  parameters (layer_0.weight, layer_0.bias, layer_0.tau_m, layer_0.tau_r, ...), the dynamic
 *                      state (state.layer_0.u, ...), and the optimiser state (optim.layer_0.weight.exp_avg, ...)
 *   meta.json          scalars: steps, batch size, optimiser step/lr, scheduler state, and whatever the caller adds
 *                      (epoch, RNG state); it records the sha256 of model.safetensors so a torn pair is detected.
 * Every file is written atomically (temp file + rename), model first and meta last. Loading a checkpoint and going on
 * gives bit-identical results to not stopping (the state is stored exactly, in the network's dtype).
 * The safetensors file loads with PyTorch's `safetensors.torch.load_file`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FBuf } from '../kernels/types.js';
import { GLENetwork } from '../model/network.js';
import { parseSpec, type ResolvedSpec } from '../model/spec.js';
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
  optimizer: Record<string, number> | null;
  scheduler: Record<string, number | string> | null;
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

/** Save network (+ optional learner state) to `dir`. `extra` goes to meta.json. */
export function saveCheckpoint(dir: string, net: GLENetwork, learner: Learner | null, extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, SafeTensor> = {};
  for (const t of net.allTensors()) tensors[t.name] = tensorOf(t.buf, t.shape);
  for (const t of net.stateTensors()) tensors[t.name] = tensorOf(t.buf, t.shape);
  if (learner?.opt) for (const t of learner.opt.stateTensors()) tensors[t.name] = tensorOf(t.buf, t.shape);
  const bytes = encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, dtype: net.k.dtype });
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    dtype: net.k.dtype,
    batch_size: net.B,
    steps: net.steps,
    model_sha256: createHash('sha256').update(bytes).digest('hex'),
    optimizer: learner?.opt ? learner.opt.stateScalars() : null,
    scheduler: learner?.scheduler
      ? Object.fromEntries(Object.entries(learner.scheduler.getState()).map(([k, v]) => [k, jsonNum(v)]))
      : null,
    extra,
  };
  writeFileAtomic(join(dir, 'spec.json'), JSON.stringify(net.specJson(), null, 2) + '\n');
  writeFileAtomic(join(dir, 'model.safetensors'), bytes);
  writeFileAtomic(join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
}

export interface LoadedCheckpoint {
  spec: ResolvedSpec;
  tensors: Record<string, SafeTensor>;
  meta: CheckpointMeta | null;
}

/** Read and validate a checkpoint directory (spec.json + model.safetensors [+ meta.json]). */
export function readCheckpoint(dir: string): LoadedCheckpoint {
  if (!existsSync(dir)) throw new UserError(`checkpoint ${dir}: no such directory`);
  const specPath = join(dir, 'spec.json');
  const modelPath = join(dir, 'model.safetensors');
  if (!existsSync(specPath)) throw new UserError(`checkpoint ${dir}: missing spec.json`);
  if (!existsSync(modelPath)) throw new UserError(`checkpoint ${dir}: missing model.safetensors`);
  let spec: ResolvedSpec;
  try {
    spec = parseSpec(readJsonFile(specPath));
  } catch (e) {
    throw new UserError(`checkpoint ${specPath}: ${(e as Error).message}`);
  }
  const bytes = readFileBytes(modelPath, 'checkpoint model');
  const metaPath = join(dir, 'meta.json');
  let meta: CheckpointMeta | null = null;
  if (existsSync(metaPath)) {
    meta = readJsonFile(metaPath) as CheckpointMeta;
    if (meta.format !== CHECKPOINT_FORMAT) throw new UserError(`checkpoint ${metaPath}: unknown format '${String(meta.format)}'`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (meta.model_sha256 && meta.model_sha256 !== sha)
      throw new UserError(`checkpoint ${dir}: model.safetensors does not match meta.json (sha256 differs): the checkpoint is torn or was edited`);
  }
  const { tensors } = decodeSafetensors(bytes, modelPath);
  return { spec, tensors, meta };
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
}
