/** Checkpoints as the CLI writes them: spec.json + model.safetensors (layer_<i>.weight/bias/tau_m/tau_r). */
import { decodeSafetensors, encodeSafetensors, parseSpec, type NetworkSpecInput, type SafeTensor } from 'gle/core';
import type { TensorMsg } from './protocol.js';

export function encodeCheckpoint(spec: NetworkSpecInput, tensors: TensorMsg[]): { specJson: string; model: Uint8Array } {
  const rec: Record<string, SafeTensor> = {};
  for (const t of tensors) rec[t.name] = { dtype: t.dtype, shape: t.shape, data: t.data };
  return { specJson: JSON.stringify(spec, null, 2) + '\n', model: encodeSafetensors(rec, { format: 'pt', producer: 'gle-lab' }) };
}

/** A chosen JSON file's content; throws naming the file when it is not valid JSON. */
export async function readJsonFile(f: File): Promise<unknown> {
  try {
    return JSON.parse(await f.text()) as unknown;
  } catch (e) {
    throw new Error(`${f.name}: not valid JSON (${(e as Error).message})`);
  }
}

/** The optimiser's scalars from a CLI checkpoint's meta.json (its lr when the run stopped, Adam's step count). */
export type OptimScalars = Record<string, number>;

/**
 * Read a checkpoint from the chosen files (spec.json + model.safetensors, and optionally meta.json); throws with a
 * message naming the file on bad input. The optimiser's moments (`optim.*`) and scalars come along when present, so
 * that training can go on where the CLI stopped (same lr, same Adam state); `state.*` tensors are dropped.
 */
export async function readCheckpoint(files: File[]): Promise<{ spec: NetworkSpecInput; tensors: TensorMsg[]; optim: TensorMsg[]; optimScalars: OptimScalars | null }> {
  const metaFile = files.find((f) => f.name === 'meta.json' || f.name.endsWith('.meta.json'));
  const specFile = files.find((f) => f.name.endsWith('.json') && f !== metaFile);
  const modelFile = files.find((f) => f.name.endsWith('.safetensors'));
  if (!specFile || !modelFile) throw new Error('choose both files of a checkpoint: spec.json and model.safetensors (and meta.json to go on training where the CLI stopped)');
  let optimScalars: OptimScalars | null = null;
  if (metaFile) {
    try {
      const meta = JSON.parse(await metaFile.text()) as { optimizer?: Record<string, unknown> | null };
      if (meta.optimizer && typeof meta.optimizer === 'object') optimScalars = Object.fromEntries(Object.entries(meta.optimizer).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as OptimScalars;
    } catch (e) {
      throw new Error(`${metaFile.name}: not valid JSON (${(e as Error).message})`);
    }
  }
  const specIn = await readJsonFile(specFile);
  try {
    parseSpec(specIn);
  } catch (e) {
    throw new Error(`${specFile.name}: ${(e as Error).message}`);
  }
  const st = decodeSafetensors(new Uint8Array(await modelFile.arrayBuffer()), modelFile.name);
  const tensors: TensorMsg[] = [], optim: TensorMsg[] = [];
  for (const [name, t] of Object.entries(st.tensors)) {
    if (name.startsWith('state.')) continue;
    if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new Error(`${modelFile.name}: tensor '${name}' has dtype ${t.dtype}, expected F32 or F64`);
    (name.startsWith('optim.') ? optim : tensors).push({ name, dtype: t.dtype, shape: t.shape, data: t.data as Float32Array | Float64Array });
  }
  return { spec: specIn as NetworkSpecInput, tensors, optim, optimScalars };
}
