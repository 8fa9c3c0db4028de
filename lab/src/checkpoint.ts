/** Checkpoints as the CLI writes them: spec.json + model.safetensors (layer_<i>.weight/bias/tau_m/tau_r). */
import { decodeSafetensors, encodeSafetensors, parseSpec, type NetworkSpecInput, type SafeTensor } from 'gle/core';
import type { TensorMsg } from './protocol.js';

export function encodeCheckpoint(spec: NetworkSpecInput, tensors: TensorMsg[]): { specJson: string; model: Uint8Array } {
  const rec: Record<string, SafeTensor> = {};
  for (const t of tensors) rec[t.name] = { dtype: t.dtype, shape: t.shape, data: t.data };
  return { specJson: JSON.stringify(spec, null, 2) + '\n', model: encodeSafetensors(rec, { format: 'pt', producer: 'gle-lab' }) };
}

/** Read a checkpoint from the two chosen files; throws with a message naming the file on bad input. */
export async function readCheckpoint(files: File[]): Promise<{ spec: NetworkSpecInput; tensors: TensorMsg[] }> {
  const specFile = files.find((f) => f.name.endsWith('.json'));
  const modelFile = files.find((f) => f.name.endsWith('.safetensors'));
  if (!specFile || !modelFile) throw new Error('choose both files of a checkpoint: spec.json and model.safetensors');
  let specIn: unknown;
  try {
    specIn = JSON.parse(await specFile.text());
  } catch (e) {
    throw new Error(`${specFile.name}: not valid JSON (${(e as Error).message})`);
  }
  try {
    parseSpec(specIn);
  } catch (e) {
    throw new Error(`${specFile.name}: ${(e as Error).message}`);
  }
  const st = decodeSafetensors(new Uint8Array(await modelFile.arrayBuffer()), modelFile.name);
  const tensors: TensorMsg[] = [];
  for (const [name, t] of Object.entries(st.tensors)) {
    if (name.startsWith('state.') || name.startsWith('optim.')) continue;
    if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new Error(`${modelFile.name}: tensor '${name}' has dtype ${t.dtype}, expected F32 or F64`);
    tensors.push({ name, dtype: t.dtype, shape: t.shape, data: t.data as Float32Array | Float64Array });
  }
  return { spec: specIn as NetworkSpecInput, tensors };
}
