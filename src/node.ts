/**
 * Node entry helpers: backend creation with the native (OpenBLAS) loader registered. Browser code uses
 * `createBackend` from src/kernels instead (js and wasm only).
 */
import { createBackend, type BackendName } from './kernels/index.js';
import type { Backend, DType } from './kernels/types.js';
import { totalmem } from 'node:os';
import { setMemoryLimit } from './model/memory.js';
import { UserError } from './util/errors.js';

// networks are checked against this machine's memory before allocating (src/model/memory.ts)
setMemoryLimit(totalmem());

let registered = false;
async function ensureNative(): Promise<void> {
  if (registered) return;
  registered = true;
  try {
    const m = await import('./kernels/native/index.js');
    m.registerNative();
  } catch {
    // the native loader itself is missing: auto falls back to wasm/js
  }
}

export async function createNodeBackend(name: BackendName = 'auto', dtype: DType = 'float32', onNotice?: (m: string) => void): Promise<Backend> {
  await ensureNative();
  return createBackend({ backend: name, dtype, onNotice });
}

/**
 * The webgpu backend's device in Node (issue 19): Dawn through the optional package `webgpu`. Dense GLE training
 * runs on it through `GpuTrainer` (src/learn/gpu-trainer.ts). Asked for by name, it never falls back: when the
 * package or an adapter is missing this throws a UserError naming what is missing.
 */
export async function createWebGpuEngine(): Promise<import('./kernels/webgpu/engine.js').WebGpuEngine> {
  const { createNodeEngine } = await import('./kernels/webgpu/node.js');
  try {
    return await createNodeEngine();
  } catch (e) {
    throw new UserError(`backend 'webgpu' cannot run here: ${(e as Error).message}`);
  }
}
