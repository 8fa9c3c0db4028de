/**
 * Backend selection. `js` is always available. Compiled backends register a loader: the WebAssembly backend is
 * registered by this browser-safe module itself; the native (Node addon) backend is registered by the Node
 * entry point (`src/node.ts`), so browser bundles never see it.
 */
import type { Backend, DType } from './types.js';
import { JsBackend } from './js/index.js';
import { loadWasmBackend } from './wasm/index.js';
import { UserError } from '../util/errors.js';

export * from './types.js';
export { JsBackend } from './js/index.js';

export type BackendName = 'auto' | 'js' | 'wasm' | 'native';

/** A loader returns a backend, or throws an Error whose message says why it is unavailable. */
export type BackendLoader = (dtype: DType) => Promise<Backend>;

const loaders = new Map<'wasm' | 'native', BackendLoader>();

export function registerBackendLoader(name: 'wasm' | 'native', loader: BackendLoader): void {
  loaders.set(name, loader);
}
registerBackendLoader('wasm', loadWasmBackend);

export function availableBackendLoaders(): string[] {
  return ['js', ...loaders.keys()];
}

export interface CreateBackendOptions {
  backend?: BackendName;
  dtype?: DType;
  /** Receives one-line notices (e.g. a fallback from native to wasm). Defaults to console.error. */
  onNotice?: (msg: string) => void;
}

/**
 * Create a backend. `auto` tries native, then wasm, then js (float32); float64 runs on js unless a compiled
 * backend supports it. An explicitly requested backend that cannot load is an error.
 */
export async function createBackend(opts: CreateBackendOptions = {}): Promise<Backend> {
  const name = opts.backend ?? 'auto';
  const dtype = opts.dtype ?? 'float32';
  const notice = opts.onNotice ?? ((m: string) => console.error(m));
  if (name === 'js') return new JsBackend(dtype);
  if (name === 'wasm' || name === 'native') {
    const loader = loaders.get(name);
    if (!loader) throw new UserError(`backend '${name}' is not available in this build (available: ${availableBackendLoaders().join(', ')})`);
    try {
      return await loader(dtype);
    } catch (e) {
      // the user asked for this backend: one line saying why it cannot run (not built, float64, a bad setting)
      if (e instanceof UserError) throw e;
      throw new UserError(`backend '${name}' cannot run ${dtype} here: ${(e as Error).message}`);
    }
  }
  if (name !== 'auto') throw new UserError(`unknown backend '${name as string}' (expected auto, js, wasm or native)`);
  const failures: string[] = [];
  for (const cand of ['native', 'wasm'] as const) {
    const loader = loaders.get(cand);
    if (!loader) continue;
    try {
      const b = await loader(dtype);
      if (failures.length > 0 && dtype === 'float32') notice(`gle: using the ${cand} backend (${failures.join('; ')})`);
      return b;
    } catch (e) {
      if (e instanceof UserError) throw e; // a bad setting (e.g. GLE_NATIVE_THREADS) is an error, not a reason to fall back
      failures.push(`${cand}: ${(e as Error).message}`);
    }
  }
  if (failures.length > 0 && dtype === 'float32') notice(`gle: using the js backend (${failures.join('; ')})`);
  return new JsBackend(dtype);
}
