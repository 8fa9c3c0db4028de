/**
 * The five GLE golden traces (test/fixtures/golden/) and the backends they are checked on, with the golden
 * tolerances: js float64 (atol 1e-10), js float32, wasm and native float32 (atol 5e-5, rtol 1e-4). Backends that
 * cannot load here are left out (the backend tests report why).
 */
import { readFileSync } from 'node:fs';
import { createNodeBackend } from '../../src/node.js';
import type { Backend } from '../../src/kernels/types.js';
import { JsBackend } from '../../src/kernels/js/index.js';
import { validateTrace } from '../../src/io/trace.js';

const GOLDEN = new URL('../fixtures/golden/', import.meta.url);
export const GLE_GOLDEN_FILES = ['lagline.json', 'lagline_sgd.json', 'dense_pe.json', 'dense_le.json', 'dense_pe_adam.json'];
export const gleGoldens = GLE_GOLDEN_FILES.map((f) => validateTrace(JSON.parse(readFileSync(new URL(f, GOLDEN), 'utf8')), f));

export async function goldenBackends(): Promise<{ name: string; k: Backend; atol: number; rtol: number }[]> {
  const out = [
    { name: 'js float64', k: new JsBackend('float64') as Backend, atol: 1e-10, rtol: 1e-9 },
    { name: 'js float32', k: new JsBackend('float32') as Backend, atol: 5e-5, rtol: 1e-4 },
  ];
  for (const name of ['wasm', 'native'] as const) {
    try {
      out.push({ name, k: await createNodeBackend(name, 'float32', () => {}), atol: 5e-5, rtol: 1e-4 });
    } catch {
      // not available here: the backend tests report that
    }
  }
  return out;
}
