/**
 * The `wasm` backend: the kernels of wasm/assembly/kernels.ts (AssemblyScript, WebAssembly SIMD128) behind the
 * Backend interface. Browser-safe: the module bytes are embedded (kernels-binary.ts), no fs / fetch.
 *
 * Memory: one WebAssembly.Memory per backend instance, owned here. `alloc` bump-allocates 16-byte aligned,
 * zero-filled buffers (nothing is ever freed) and grows the memory when needed; after a grow every FBuf handed
 * out gets a fresh `a` view (the old views are detached by the grow).
 *
 * Fusion: `layerStep` is one call into wasm. Per LayerStepArgs object a small i32 struct (dims + buffer
 * pointers + pointers into a shared transient scratch region) is written into wasm memory once and cached in
 * a WeakMap; each call then passes only (struct, phi, dt, gamma, flags).
 *
 * float32 only: the loader rejects float64 so `createBackend({ backend: 'auto' })` falls back to js.
 * Two builds are embedded: plain SIMD128, and relaxed SIMD (FMA in the matrix products), preferred when the
 * engine validates it (`info.relaxedSimd` says which one runs).
 * Registration with createBackend happens in src/kernels/index.ts (this module does not import it, so there
 * is no import cycle).
 */
import type { AdamScalars, Backend, DType, FBuf, LayerStepArgs, PhiCode } from '../types.js';
import { DENSE_STEP_FIELDS, PHI_COUNT, WASM_STRUCT, sizeOf } from '../layout.js';
import { WASM_KERNELS_BASE64, WASM_KERNELS_RELAXED_BASE64 } from './kernels-binary.js';
import { registerKernel } from '../registry.js';
import type { BiasGradArgs, ConvArgs, Im2colArgs, PermuteArgs } from '../generic.js';

/** The functions the kernel module exports (pointers are byte offsets into its memory). */
export interface KernelExports {
  heapBase(): number;
  gemm(tA: number, tB: number, M: number, N: number, K: number, alpha: number, A: number, B: number, beta: number, C: number, scratch: number): void;
  activate(phi: number, x: number, r: number, rp: number, n: number): void;
  adam(
    p: number, g: number, m: number, v: number, n: number,
    stepSize: number, beta1: number, beta2: number, b1c: number, b2c: number, eps: number, isqrtBc2: number, wd: number,
  ): void;
  layerStep(sp: number, phi: number, dt: number, gamma: number, flags: number): void;
  /** im2col (toCols 1) or col2im (0) over B maps C × H × W; cols (C·kh·kw) × (B·Ho·Wo) */
  patches(toCols: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, padH: number, padW: number, B: number, x: number, cols: number): void;
  /** bias: 0 = none */
  permuteFBP(B: number, F: number, P: number, toBatch: number, src: number, dst: number, bias: number): void;
  biasGrad(B: number, F: number, P: number, scale: number, y: number, g: number): void;
  /** mode 0 forward, 1 error down, 2 gradients (see 'conv.forward' etc. in generic.ts); 0 = no bias / gB */
  conv(
    mode: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, padH: number, padW: number, B: number, F: number,
    Wt: number, x: number, y: number, bias: number, gW: number, gB: number, scale: number, scratch: number, tscratch: number,
  ): void;
}

const PAGE = 65536;

/** Smallest module using a v128 instruction (i32.const 0; i8x16.splat): validates only with SIMD support. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0x0b, // code: i32.const 0, i8x16.splat, end
]);

export function wasmSimdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let relaxedBytes: Uint8Array<ArrayBuffer> | null = null;

/** Whether the engine accepts relaxed SIMD (checked by validating the relaxed kernel module itself). */
export function wasmRelaxedSimdSupported(): boolean {
  try {
    relaxedBytes ??= decodeBase64(WASM_KERNELS_RELAXED_BASE64);
    return WebAssembly.validate(relaxedBytes);
  } catch {
    return false;
  }
}

const modulePromises: [Promise<WebAssembly.Module> | null, Promise<WebAssembly.Module> | null] = [null, null];

function compiledModule(relaxed: boolean): Promise<WebAssembly.Module> {
  const i = relaxed ? 1 : 0;
  let p = modulePromises[i];
  if (!p) {
    p = WebAssembly.compile(relaxed ? (relaxedBytes ??= decodeBase64(WASM_KERNELS_RELAXED_BASE64)) : decodeBase64(WASM_KERNELS_BASE64));
    p.catch(() => {
      modulePromises[i] = null;
    });
    modulePromises[i] = p;
  }
  return p;
}

export interface WasmBackendOptions {
  /**
   * Use the relaxed-SIMD build (fused multiply-add in the matrix products) when the engine supports it.
   * Default true; false forces the plain SIMD128 build (bit-identical results on every machine).
   */
  relaxedSimd?: boolean;
}

class WasmBuf implements FBuf {
  constructor(
    readonly owner: WasmBackend,
    readonly n: number,
    readonly ptr: number,
    public a: Float32Array,
  ) {}
}

export class WasmBackend implements Backend {
  readonly name = 'wasm' as const;
  readonly dtype: DType = 'float32';
  readonly info: Record<string, string | number | boolean>;

  private top: number;
  private readonly bufs: WasmBuf[] = [];
  private readonly structs = new WeakMap<LayerStepArgs, number>();
  private i32: Int32Array;
  private scratchPtr = 0;
  private scratchN = 0;

  /** Use `loadWasmBackend`; this takes an instantiated kernel module and its (imported) memory. */
  constructor(
    private readonly ex: KernelExports,
    private readonly mem: WebAssembly.Memory,
    relaxedSimd = false,
  ) {
    this.info = { backend: 'wasm', simd: true, relaxedSimd, dtype: 'float32' };
    this.top = (ex.heapBase() + 15) & ~15;
    this.i32 = new Int32Array(mem.buffer);
  }

  /** Bytes of wasm memory in use (for diagnostics). */
  get bytesUsed(): number {
    return this.top;
  }

  private reserve(bytes: number): number {
    const ptr = this.top;
    const end = ptr + ((bytes + 15) & ~15);
    if (end > 0xffff0000) throw new Error(`wasm backend: out of memory (need ${end} bytes, wasm32 limit is 4 GiB)`);
    const have = this.mem.buffer.byteLength;
    if (end > have) {
      const want = Math.max(end, Math.min(have * 2, 0xffff0000));
      const pages = Math.ceil((want - have) / PAGE);
      try {
        this.mem.grow(pages);
      } catch {
        try {
          this.mem.grow(Math.ceil((end - have) / PAGE)); // doubling was too much: grow just enough
        } catch (e) {
          throw new Error(`wasm backend: cannot grow memory to ${end} bytes (${(e as Error).message})`);
        }
      }
      const buf = this.mem.buffer;
      for (const b of this.bufs) b.a = new Float32Array(buf, b.ptr, b.n);
      this.i32 = new Int32Array(buf);
    }
    this.top = end;
    return ptr;
  }

  /**
   * A region of at least n floats for data that lives only during one wasm call (W^T, 1/tau, op(B)). Calls are
   * sequential, so one region serves everyone; when a larger one is needed it is reserved anew, and the older
   * (smaller) regions stay valid for the structs that already point at them.
   */
  private scratch(n: number): number {
    if (this.scratchN < n) {
      this.scratchN = Math.max(n, 2 * this.scratchN);
      this.scratchPtr = this.reserve(this.scratchN * 4);
    }
    return this.scratchPtr;
  }

  alloc(n: number): FBuf {
    if (!Number.isInteger(n) || n < 0) throw new Error(`wasm backend: bad buffer length ${n}`);
    const ptr = this.reserve(n * 4);
    const b = new WasmBuf(this, n, ptr, new Float32Array(this.mem.buffer, ptr, n));
    this.bufs.push(b);
    return b;
  }

  private ptrOf(b: FBuf, need: number, what: string): number {
    if (!(b instanceof WasmBuf) || b.owner !== this) throw new Error(`wasm backend: buffer ${what} was not allocated by this backend`);
    if (b.n < need) throw new Error(`wasm backend: buffer ${what} has ${b.n} floats, needs ${need}`);
    return b.ptr;
  }

  private makeStruct(L: LayerStepArgs): number {
    const { B, nIn, nOut } = L;
    for (const [k, x] of [['B', B], ['nIn', nIn], ['nOut', nOut]] as const) {
      if (!Number.isInteger(x) || x < 1) throw new Error(`wasm backend: layerStep ${k} must be a positive integer, got ${x}`);
    }
    const w = nOut * nIn;
    const rec = L as unknown as Record<string, FBuf | null>;
    const fields = DENSE_STEP_FIELDS.map((f) => {
      const buf = rec[f.key];
      if (buf === null && 'optional' in f && f.optional) return 0;
      return this.ptrOf(buf as FBuf, sizeOf(f.size, B, nIn, nOut), f.key);
    });
    // transient scratch (W^T, then 1/tauM, 1/tauR), shared with every other struct and with gemm
    const wt = this.scratch(w + 2 * nOut + 4);
    const inv = wt + (((w * 4) + 15) & ~15);
    const sp = this.reserve(WASM_STRUCT.INTS * 4);
    const i32 = this.i32;
    const o = sp >> 2;
    i32[o] = B;
    i32[o + 1] = nIn;
    i32[o + 2] = nOut;
    for (let i = 0; i < fields.length; i++) i32[o + WASM_STRUCT.FIELDS + i] = fields[i];
    i32[o + WASM_STRUCT.SCRATCH_WT] = wt;
    i32[o + WASM_STRUCT.SCRATCH_INV] = inv;
    this.structs.set(L, sp);
    return sp;
  }

  layerStep(L: LayerStepArgs, phi: PhiCode, dt: number, gamma: number, flags: number): void {
    if (!(phi >= 0 && phi < PHI_COUNT)) throw new Error(`unknown activation code ${phi as number}`);
    let sp = this.structs.get(L);
    if (sp === undefined) sp = this.makeStruct(L);
    this.ex.layerStep(sp, phi, dt, gamma, flags);
  }

  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: FBuf, Bm: FBuf, beta: number, C: FBuf): void {
    const pa = this.ptrOf(A, M * K, 'A');
    const pb = this.ptrOf(Bm, K * N, 'B');
    const pc = this.ptrOf(C, M * N, 'C');
    const scratch = tB && K * N > 0 ? this.scratch(K * N) : 0;
    this.ex.gemm(tA ? 1 : 0, tB ? 1 : 0, M, N, K, alpha, pa, pb, beta, pc, scratch);
  }

  /** the named kernels 'im2col' (toCols) and 'col2im' of this backend (registered below) */
  patches(toCols: boolean, a: Im2colArgs): void {
    const g = a.g, nx = a.B * g.C * g.H * g.W, nc = g.C * g.kh * g.kw * a.B * g.Ho * g.Wo;
    this.ex.patches(toCols ? 1 : 0, g.C, g.H, g.W, g.kh, g.kw, g.stride, g.padH, g.padW, a.B, this.ptrOf(a.x, nx, 'x'), this.ptrOf(a.cols, nc, 'cols'));
  }

  /** the named kernel 'permute.fbp' */
  permuteFBP(a: PermuteArgs): void {
    const n = a.B * a.F * a.P, bias = a.toBatch && a.bias ? this.ptrOf(a.bias, a.F, 'bias') : 0;
    this.ex.permuteFBP(a.B, a.F, a.P, a.toBatch ? 1 : 0, this.ptrOf(a.src, n, 'src'), this.ptrOf(a.dst, n, 'dst'), bias);
  }

  /** the named kernel 'bias.grad' */
  biasGrad(a: BiasGradArgs): void {
    this.ex.biasGrad(a.B, a.F, a.P, a.scale, this.ptrOf(a.y, a.B * a.F * a.P, 'y'), this.ptrOf(a.g, a.F, 'g'));
  }

  /** the named kernels 'conv.forward' (mode 0), 'conv.backward' (1), 'conv.grads' (2) */
  conv(mode: 0 | 1 | 2, a: ConvArgs): void {
    const g = a.g, P = g.Ho * g.Wo, CKK = g.C * g.kh * g.kw;
    const W = this.ptrOf(a.W, a.F * CKK, 'W'), x = this.ptrOf(a.x, a.B * g.C * g.H * g.W, 'x'), y = this.ptrOf(a.y, a.B * a.F * P, 'y');
    const scratch = this.ptrOf(a.scratch, CKK * P, 'scratch');
    const bias = mode === 0 && a.bias ? this.ptrOf(a.bias, a.F, 'bias') : 0;
    const gW = mode === 2 ? this.ptrOf(a.gW, a.F * CKK, 'gW') : 0;
    const gB = mode === 2 && a.gB ? this.ptrOf(a.gB, a.F, 'gB') : 0;
    const tscratch = this.scratch(CKK * P);
    this.ex.conv(mode, g.C, g.H, g.W, g.kh, g.kw, g.stride, g.padH, g.padW, a.B, a.F, W, x, y, bias, gW, gB, a.scale, scratch, tscratch);
  }

  activate(phi: PhiCode, x: FBuf, r: FBuf, rp: FBuf, n: number): void {
    if (!(phi >= 0 && phi < PHI_COUNT)) throw new Error(`unknown activation code ${phi as number}`);
    this.ex.activate(phi, this.ptrOf(x, n, 'x'), this.ptrOf(r, n, 'r'), this.ptrOf(rp, n, 'rp'), n);
  }

  adam(p: FBuf, g: FBuf, m: FBuf, v: FBuf, n: number, s: AdamScalars): void {
    this.ex.adam(
      this.ptrOf(p, n, 'p'), this.ptrOf(g, n, 'g'), this.ptrOf(m, n, 'm'), this.ptrOf(v, n, 'v'), n,
      s.lr / s.bc1, s.beta1, s.beta2, 1 - s.beta1, 1 - s.beta2, s.eps, 1 / Math.sqrt(s.bc2), s.weightDecay,
    );
  }
}

// this backend's own named kernels (src/kernels/registry.ts; the generic versions are their test oracle)
registerKernel<Im2colArgs>('im2col', 'wasm', (k, a) => (k as WasmBackend).patches(true, a));
registerKernel<Im2colArgs>('col2im', 'wasm', (k, a) => (k as WasmBackend).patches(false, a));
registerKernel<PermuteArgs>('permute.fbp', 'wasm', (k, a) => (k as WasmBackend).permuteFBP(a));
registerKernel<BiasGradArgs>('bias.grad', 'wasm', (k, a) => (k as WasmBackend).biasGrad(a));
registerKernel<ConvArgs>('conv.forward', 'wasm', (k, a) => (k as WasmBackend).conv(0, a));
registerKernel<ConvArgs>('conv.backward', 'wasm', (k, a) => (k as WasmBackend).conv(1, a));
registerKernel<ConvArgs>('conv.grads', 'wasm', (k, a) => (k as WasmBackend).conv(2, a));

/** Load a fresh wasm backend (own memory). Throws an Error saying why when unavailable. */
export async function loadWasmBackend(dtype: DType = 'float32', opts: WasmBackendOptions = {}): Promise<Backend> {
  if (dtype !== 'float32') throw new Error('wasm backend supports float32 only');
  if (typeof WebAssembly !== 'object') throw new Error('WebAssembly is not available');
  if (!wasmSimdSupported()) throw new Error('WebAssembly SIMD is not supported by this engine');
  const relaxed = (opts.relaxedSimd ?? true) && wasmRelaxedSimdSupported();
  const mod = await compiledModule(relaxed);
  const need = WebAssembly.Module.imports(mod).length; // only env.memory
  if (need !== 1) throw new Error('wasm backend: unexpected kernel module imports');
  const memory = new WebAssembly.Memory({ initial: 16 });
  const inst = await WebAssembly.instantiate(mod, { env: { memory } });
  return new WasmBackend(inst.exports as unknown as KernelExports, memory, relaxed);
}
