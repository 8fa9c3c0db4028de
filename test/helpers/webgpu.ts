/**
 * A WebGPU engine for the tests: the machine's adapter, else the software one (SwiftShader's Vulkan driver, as
 * Chromium ships it) through VK_ICD_FILENAMES. `skip` holds the reason when neither can be had (printed by the tests).
 */
import { existsSync } from 'node:fs';
import type { WebGpuEngine } from '../../src/kernels/webgpu/engine.js';
import { createNodeEngine, SOFTWARE_ICDS } from '../../src/kernels/webgpu/node.js';

let cached: Promise<{ engine: WebGpuEngine | null; skip: string | null }> | null = null;

export function testEngine(): Promise<{ engine: WebGpuEngine | null; skip: string | null }> {
  cached ??= (async () => {
    try {
      return { engine: await createNodeEngine(), skip: null };
    } catch (e) {
      const icd = SOFTWARE_ICDS.find((f) => existsSync(f));
      if (process.env.VK_ICD_FILENAMES || !icd) return { engine: null, skip: (e as Error).message };
      process.env.VK_ICD_FILENAMES = icd;
      try {
        return { engine: await createNodeEngine(), skip: null };
      } catch (e2) {
        return { engine: null, skip: (e2 as Error).message };
      }
    }
  })();
  return cached;
}
