/**
 * The Node loader of the webgpu backend: WebGPU through the optional npm package `webgpu` (Dawn's Node bindings,
 * prebuilt binaries inside; Dawn drives the machine's Vulkan driver on Linux). The only file of src/kernels/webgpu
 * that is Node-specific; it imports nothing from Node itself, the package is loaded on demand.
 */
/// <reference types="@webgpu/types" preserve="true" />
import { WebGpuEngine } from './engine.js';

/** Where a software Vulkan driver Dawn accepts is usually found (SwiftShader, shipped with Chromium). */
export const SOFTWARE_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json', '/opt/google/chrome/vk_swiftshader_icd.json'];

let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> } | null = null;

/** The `GPU` entry object of the `webgpu` package; throws naming the package when it cannot load. */
export async function nodeGpu(): Promise<GPU> {
  if (!mod) {
    const name = 'webgpu';
    try {
      mod = (await import(name)) as typeof mod;
    } catch (e) {
      throw new Error(`the optional package 'webgpu' (Dawn for Node) is not installed or cannot load here (${(e as Error).message.split('\n')[0]}); install it with: npm install webgpu`);
    }
    // GPUBufferUsage, GPUShaderStage, GPUMapMode … as in a browser
    for (const [k, v] of Object.entries(mod!.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  return mod!.create([]);
}

/**
 * A WebGpuEngine on this machine's WebGPU adapter. Throws one line naming what is missing: the package, or an
 * adapter (with how to get a software one).
 */
export async function createNodeEngine(): Promise<WebGpuEngine> {
  const gpu = await nodeGpu();
  try {
    return await WebGpuEngine.create(gpu);
  } catch (e) {
    const vk = typeof process !== 'undefined' ? process.env.VK_ICD_FILENAMES : undefined;
    throw new Error(
      `${(e as Error).message}: Dawn found no Vulkan driver it accepts${vk ? ` (VK_ICD_FILENAMES=${vk})` : ''}. ` +
        `Install the GPU's Vulkan driver, or for a (slow) software adapter set VK_ICD_FILENAMES to SwiftShader's vk_swiftshader_icd.json ` +
        `(Chromium ships one: ${SOFTWARE_ICDS[0]}); Debian 12's lavapipe (mesa-vulkan-drivers 22.3) is refused by Dawn`,
    );
  }
}
