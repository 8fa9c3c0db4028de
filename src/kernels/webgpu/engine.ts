/**
 * The webgpu backend's device layer (browser-safe): one GPUDevice, the WGSL kernels of shaders.ts compiled once,
 * a heap (one storage buffer holding every tensor of a program, addressed by element offsets), operations (a kernel,
 * its fixed parameter words and its workgroup counts; planned once, replayed every step), and counters of what
 * crosses the host boundary (submits, dispatches, uploads, read-backs).
 *
 * Many steps are recorded into one command buffer: a program plans its operations once, `record` appends them to a
 * compute pass as often as asked, and a chunk of steps costs one `submit` plus one read-back of what is logged.
 * Works on any `GPU` object: `navigator.gpu` in browsers, the `webgpu` package's in Node (./node.ts).
 */
/// <reference types="@webgpu/types" preserve="true" />
import { HEADER, KERNELS as GLE_KERNELS } from './shaders.js';
import { LE_KERNELS } from './le-shaders.js';

/** Every kernel the engine compiles: the GLE/dense ones (shaders.ts) and LE's (le-shaders.ts). */
const KERNELS = { ...GLE_KERNELS, ...LE_KERNELS };
export type KernelName = keyof typeof KERNELS;

/** What crossed the host/device boundary (a program reports these per chunk; tests and the bench print them). */
export interface GpuCounters {
  submits: number;
  dispatches: number;
  /** host → device writes (writeBuffer) and their bytes */
  uploads: number;
  uploadBytes: number;
  /** device → host reads (mapAsync) and their bytes */
  readbacks: number;
  readbackBytes: number;
  /** device-side buffer copies (logging) */
  copies: number;
}

/** A planned operation: replayed by `record` without any host work but the encoder calls. */
export interface GpuOp {
  readonly kernel: KernelName;
  readonly groups: readonly [number, number, number];
  readonly bind: GPUBindGroup;
  /** the parameter words' buffer, written once (values that change between chunks live in the heap) */
  readonly params: GPUBuffer;
  readonly words: Uint32Array;
}

const fbits = new Float32Array(1);
const ubits = new Uint32Array(fbits.buffer);
/** The u32 word holding float32 x (parameter words of the kernels are u32; floats are bit-cast). */
export function fw(x: number): number {
  fbits[0] = x;
  return ubits[0];
}
/** The "absent" offset of the kernels (a layer without bias, no gradient wanted). */
export const NONE = 0xffffffff;

/** Workgroup counts covering n threads of groups of `wg`, spilling into y beyond 65535 groups (kernels fold y back). */
export function groups1d(n: number, wg = 256): [number, number, number] {
  const g = Math.max(1, Math.ceil(n / wg));
  if (g <= 65535) return [g, 1, 1];
  return [65535, Math.ceil(g / 65535), 1];
}

/** A storage buffer of float32 slots handed out by offset. Allocate everything first, then `create`. */
export class GpuHeap {
  private size = 0;
  buffer: GPUBuffer | null = null;
  /** Reserve n floats; returns the element offset (aligned to 4 floats). */
  alloc(n: number): number {
    const off = this.size;
    this.size += Math.max(4, Math.ceil(n / 4) * 4);
    return off;
  }
  get floats(): number {
    return this.size;
  }
}

export class WebGpuEngine {
  readonly counters: GpuCounters = { submits: 0, dispatches: 0, uploads: 0, uploadBytes: 0, readbacks: 0, readbackBytes: 0, copies: 0 };
  private readonly pipelines = new Map<KernelName, GPUComputePipeline>();
  private readonly bgl: GPUBindGroupLayout;
  private readonly layout: GPUPipelineLayout;

  private constructor(
    readonly device: GPUDevice,
    /** the adapter in words (vendor, architecture, device, description) */
    readonly adapterName: string,
    readonly isFallback: boolean,
    /** the GPU entry object: kept referenced, since some implementations (Dawn's Node bindings) tear the instance down when it is collected */
    readonly gpu: GPU,
    readonly adapter: GPUAdapter,
  ) {
    this.bgl = device.createBindGroupLayout({
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      ],
    });
    this.layout = device.createPipelineLayout({ bindGroupLayouts: [this.bgl] });
  }


  /**
   * Open the default adapter of `gpu` and a device with its largest buffer limits. Throws an Error saying what is
   * missing when there is no adapter (the caller adds how to get one).
   */
  static async create(gpu: GPU, opts: { powerPreference?: GPUPowerPreference } = {}): Promise<WebGpuEngine> {
    const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
    if (!adapter) throw new Error('no WebGPU adapter was found');
    const lim = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
        maxBufferSize: lim.maxBufferSize,
      },
    });
    const info = adapter.info;
    const name = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s).join(' / ') || 'unnamed adapter';
    const fallback = Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
    const e = new WebGpuEngine(device, name, fallback, gpu, adapter);
    // compile every kernel now, so a shader the driver refuses is one clear error here
    device.pushErrorScope('validation');
    for (const k of Object.keys(KERNELS) as KernelName[]) e.pipeline(k);
    const err = await device.popErrorScope();
    if (err) throw new Error(`the WebGPU adapter (${name}) refused a kernel: ${err.message.split('\n')[0]}`);
    return e;
  }

  /** The largest heap (floats) one binding may address. */
  get maxHeapFloats(): number {
    return Math.floor(Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize) / 4);
  }

  /** Create the heap's buffer (zero-filled). */
  createHeap(h: GpuHeap): GPUBuffer {
    if (h.floats > this.maxHeapFloats)
      throw new Error(`the network needs ${((h.floats * 4) / 2 ** 20).toFixed(0)} MiB of device memory in one buffer; this adapter binds at most ${((this.maxHeapFloats * 4) / 2 ** 20).toFixed(0)} MiB`);
    h.buffer = this.device.createBuffer({ size: h.floats * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    return h.buffer;
  }

  /** A small storage buffer of u32 step counters (see shaders.ts CTL). */
  createCtl(): GPUBuffer {
    return this.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  }

  private pipeline(k: KernelName): GPUComputePipeline {
    let p = this.pipelines.get(k);
    if (!p) {
      const module = this.device.createShaderModule({ code: HEADER + KERNELS[k], label: k });
      p = this.device.createComputePipeline({ layout: this.layout, compute: { module, entryPoint: 'main' }, label: k });
      this.pipelines.set(k, p);
    }
    return p;
  }

  /** Plan one operation of kernel k on heap h with its parameter words (u32; floats through `fw`). */
  op(h: GpuHeap, ctl: GPUBuffer, k: KernelName, words: number[], groups: readonly [number, number, number]): GpuOp {
    if (!h.buffer) throw new Error('the heap must be created before operations are planned');
    if (words.length > 32) throw new Error(`kernel ${k}: at most 32 parameter words`);
    for (const [i, w] of words.entries()) if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) throw new Error(`kernel ${k}: parameter word ${i} is not a u32 (${w})`);
    const u = new Uint32Array(32);
    u.set(words);
    const params = this.device.createBuffer({ size: 128, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(params, 0, u);
    const bind = this.device.createBindGroup({
      layout: this.bgl,
      entries: [
        { binding: 0, resource: { buffer: h.buffer } },
        { binding: 1, resource: { buffer: params } },
        { binding: 2, resource: { buffer: ctl } },
      ],
    });
    this.pipeline(k);
    return { kernel: k, groups, bind, params, words: u };
  }

  /** Append the operations to a compute pass. */
  record(pass: GPUComputePassEncoder, ops: readonly GpuOp[]): void {
    for (const op of ops) {
      pass.setPipeline(this.pipeline(op.kernel));
      pass.setBindGroup(0, op.bind);
      pass.dispatchWorkgroups(op.groups[0], op.groups[1], op.groups[2]);
    }
    this.counters.dispatches += ops.length;
  }

  /** Host → device write (counted). */
  write(buf: GPUBuffer, byteOffset: number, data: Float32Array | Uint32Array): void {
    this.device.queue.writeBuffer(buf, byteOffset, data as Float32Array<ArrayBuffer>);
    this.counters.uploads++;
    this.counters.uploadBytes += data.byteLength;
  }

  submit(enc: GPUCommandEncoder): void {
    this.device.queue.submit([enc.finish()]);
    this.counters.submits++;
  }

  /**
   * Read `ranges` (element offset, count) of `src` back to the host: one copy per range into one staging buffer,
   * appended to `enc` (which is then submitted), one map. Returns one Float32Array per range.
   */
  async readRanges(enc: GPUCommandEncoder, src: GPUBuffer, ranges: readonly (readonly [number, number])[]): Promise<Float32Array[]> {
    const total = ranges.reduce((s, r) => s + r[1], 0);
    const staging = this.device.createBuffer({ size: Math.max(4, total * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    let o = 0;
    for (const [off, n] of ranges) {
      if (n > 0) enc.copyBufferToBuffer(src, off * 4, staging, o * 4, n * 4);
      o += n;
    }
    // validation errors of everything recorded surface here (the encoder is finished inside the scope)
    this.device.pushErrorScope('validation');
    this.submit(enc);
    const err = await this.device.popErrorScope();
    if (err) {
      staging.destroy();
      throw new Error(`WebGPU device error: ${err.message.split('\n')[0]}`);
    }
    await staging.mapAsync(GPUMapMode.READ);
    const all = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    this.counters.readbacks++;
    this.counters.readbackBytes += total * 4;
    const out: Float32Array[] = [];
    o = 0;
    for (const [, n] of ranges) {
      out.push(all.subarray(o, o + n));
      o += n;
    }
    return out;
  }

  destroy(): void {
    this.device.destroy();
  }
}
