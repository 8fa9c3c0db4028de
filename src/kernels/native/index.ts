/**
 * The `native` backend: a Node N-API addon (native/gle_native.c) over OpenBLAS, float32 only. Node-only module:
 * the Node entry point calls `registerNative()`; browser bundles never import it.
 *
 * Loading: OPENBLAS_CORETYPE is chosen from the CPU flags when the environment leaves it unset (never overridden
 * when set), then the addon (and with it libopenblas) is loaded, a self-test sgemm is checked against a plain
 * loop, and the running core type is reported in `info`.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { AdamScalars, Backend, DType, FBuf, LayerStepArgs, PhiCode } from '../types.js';
import { DENSE_STEP_FIELDS } from '../layout.js';
import { registerBackendLoader } from '../index.js';
import { registerKernel } from '../registry.js';
import type { BiasGradArgs, ConvArgs, Im2colArgs, PermuteArgs } from '../generic.js';
import type { LeNeuronArgs } from '../../model/layers/le.js';
import { UserError } from '../../util/errors.js';
import { chooseCoreType, parseCpuFlags, slowCoreWarning, type CoreTypeChoice } from './coretype.js';

export { chooseCoreType, coreTypeForFlags, parseCpuFlags, slowCoreWarning } from './coretype.js';

/** The addon's exports (see native/gle_native.c). */
interface Addon {
  /** bufs: one per DENSE_STEP_FIELDS entry, in that order (null for an absent optional one) */
  makeLayer(B: number, nIn: number, nOut: number, bufs: (Float32Array | null)[]): object;
  /** scalars: [dt, gamma] */
  layerStep(h: object, phi: number, flags: number, scalars: Float64Array): void;
  /** scalars: [alpha, beta] */
  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, scalars: Float64Array, A: Float32Array, B: Float32Array, C: Float32Array): void;
  activate(phi: number, x: Float32Array, r: Float32Array, rp: Float32Array, n: number): void;
  /** scalars: [lr, beta1, beta2, eps, bc1, bc2, weightDecay] */
  adam(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, n: number, scalars: Float64Array): void;
  /** im2col (toCols) or col2im over B maps C × H × W; cols (C·kh·kw) × (B·Ho·Wo) */
  patches(toCols: boolean, C: number, H: number, W: number, kh: number, kw: number, stride: number, padH: number, padW: number, B: number, x: Float32Array, cols: Float32Array): void;
  permuteFBP(B: number, F: number, P: number, toBatch: boolean, src: Float32Array, dst: Float32Array, bias: Float32Array | null): void;
  /** scalars: [scale] */
  biasGrad(B: number, F: number, P: number, scalars: Float64Array, y: Float32Array, g: Float32Array): void;
  /** mode 0 forward, 1 error down, 2 gradients (see 'conv.forward' etc. in generic.ts); scalars: [scale] */
  conv(
    mode: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, padH: number, padW: number, B: number, F: number,
    Wt: Float32Array, x: Float32Array, y: Float32Array, bias: Float32Array | null, gW: Float32Array | null, gB: Float32Array | null,
    scratch: Float32Array, scalars: Float64Array,
  ): void;
  /** the LE population step; scalars: [dt] */
  leNeurons(
    B: number, n: number, phi: number, prospRateErrors: boolean, scalars: Float64Array, drive: Float32Array, e: Float32Array, u: Float32Array,
    uDot: Float32Array, prospU: Float32Array, prospUm: Float32Array, diff: Float32Array, rN: Float32Array, rPrimeN: Float32Array,
    tau: Float32Array, tauM: Float32Array,
  ): void;
  setMaxThreads(n: number): void;
  setThresholds(multiThreadMinWork: number, blasMinWork: number, layerThreadMinWork?: number): void;
  info(): {
    corename: string;
    config: string;
    maxThreads: number;
    numThreads: number;
    multiThreadMinWork: number;
    blasMinWork: number;
    layerThreadMinWork: number;
    poolThreads: number;
    /** how often the pool fell back to the calling thread for 0.5 s because its workers waited for a core */
    poolBackoffs: number;
  };
}

/** A standalone gemm (M*N*K multiply-adds) lets OpenBLAS use its own extra thread from this size on (measured). */
export const MULTI_THREAD_MIN_WORK = 16_000_000;
/** Multiply-adds per product (B*nIn*nOut) from which a layer step is computed in 2 parts, on up to 2 threads (measured). */
export const LAYER_THREAD_MIN_WORK = 50_000;

const NOT_BUILT = 'native addon not built (install libopenblas-dev and run npm run build:native)';

interface Loaded {
  addon: Addon;
  choice: CoreTypeChoice;
  flags: Set<string>;
  warning: string | null;
  threadsWhy: string;
}
let loaded: Loaded | null = null;
let loadError: Error | null = null;
let warned = false;

function addonCandidates(): string[] {
  const env = process.env.GLE_NATIVE_ADDON;
  const rel = 'native/build/Release/gle_native.node';
  // from src/kernels/native (tsx) or dist/src/kernels/native (compiled)
  const c = [`../../../${rel}`, `../../../../${rel}`].map((r) => fileURLToPath(new URL(r, import.meta.url)));
  return env ? [env, ...c] : c;
}

function readCpuFlags(): Set<string> {
  try {
    return parseCpuFlags(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return new Set();
  }
}

/** C = op(A) op(B) in float64 plain loops, the reference of the self-test. */
function refGemm(tA: boolean, tB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += (tA ? A[k * M + i] : A[i * K + k]) * (tB ? B[j * K + k] : B[k * N + j]);
      C[i * N + j] = acc;
    }
  return C;
}

/** Throws when OpenBLAS sgemm disagrees with a plain loop (a broken core type for this CPU). */
function selfTest(addon: Addon, threads: number): void {
  let seed = 12345;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  const shapes: [number, number, number][] = [[67, 61, 53], [5, 3, 7], [130, 96, 160]];
  for (const th of threads > 1 ? [1, threads] : [1]) {
    addon.setThresholds(th > 1 ? 0 : MULTI_THREAD_MIN_WORK, -1);
    for (const [M, N, K] of shapes)
      for (const tA of [false, true])
        for (const tB of [false, true]) {
          const A = Float32Array.from({ length: M * K }, rnd);
          const B = Float32Array.from({ length: K * N }, rnd);
          const C = new Float32Array(M * N).fill(Number.NaN);
          addon.gemm(tA, tB, M, N, K, Float64Array.of(1, 0), A, B, C);
          const R = refGemm(tA, tB, M, N, K, A, B);
          for (let i = 0; i < C.length; i++) {
            if (!(Math.abs(C[i] - R[i]) <= 1e-5 * Math.sqrt(K) + 1e-4 * Math.abs(R[i]))) {
              throw new Error(
                `OpenBLAS self-test failed (core ${addon.info().corename}, ${th} thread(s), sgemm ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}x${N}x${K}: ${C[i]} vs ${R[i]}); set OPENBLAS_CORETYPE to a core type that works here`,
              );
            }
          }
        }
  }
  addon.setThresholds(MULTI_THREAD_MIN_WORK, -1, LAYER_THREAD_MIN_WORK);
}

/**
 * GLE_NATIVE_THREADS, else min(2, cores) — but 1 when other work already occupies the cores: OpenBLAS's helper
 * thread must then wait for a time slice at every product, which made a 750-wide step up to 25x slower here (measured
 * with OpenBLAS threads; the pool of layer steps waits at two barriers per layer step in the same way).
 */
function defaultMaxThreads(): { n: number; why: string } {
  const env = process.env.GLE_NATIVE_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (Number.isInteger(n) && n >= 1) return { n, why: 'GLE_NATIVE_THREADS' };
    throw new UserError(`GLE_NATIVE_THREADS must be a positive integer (got '${env}')`);
  }
  const cores = availableParallelism();
  const n = Math.max(1, Math.min(2, cores));
  const load = loadavg()[0];
  if (n > 1 && load > cores - 1.25)
    return { n: 1, why: `machine busy (1-min load ${load.toFixed(2)} on ${cores} cores); set GLE_NATIVE_THREADS=2 to override` };
  return { n, why: `min(2, ${cores} cores)` };
}

function loadOnce(): Loaded {
  if (loaded) return loaded;
  if (loadError) throw loadError;
  try {
    const path = addonCandidates().find((p) => existsSync(p));
    if (!path) throw new Error(NOT_BUILT);
    const flags = readCpuFlags();
    const choice = chooseCoreType(flags, process.env);
    // must happen before libopenblas is loaded: it reads the variable once, in its constructor
    if (choice.set) process.env.OPENBLAS_CORETYPE = choice.set;
    let addon: Addon;
    try {
      addon = createRequire(import.meta.url)(path) as Addon;
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      throw new Error(`native addon failed to load (${msg}); rebuild with npm run build:native`);
    }
    const threads = defaultMaxThreads();
    addon.setMaxThreads(threads.n);
    selfTest(addon, threads.n);
    const warning = slowCoreWarning(addon.info().corename, flags);
    loaded = { addon, choice, flags, warning, threadsWhy: threads.why };
    return loaded;
  } catch (e) {
    loadError = e as Error;
    throw loadError;
  }
}

interface Registered {
  h: object;
  /** keeps the typed arrays the native handle points into alive */
  keep: (Float32Array | null)[];
}

class NativeBuf implements FBuf {
  readonly ptr = 0;
  a: Float32Array;
  constructor(readonly n: number) {
    this.a = new Float32Array(n);
  }
}

function f32(buf: FBuf | null, name: string): Float32Array | null {
  if (buf === null) return null;
  if (!(buf.a instanceof Float32Array)) throw new Error(`native backend: buffer ${name} is not float32`);
  return buf.a;
}

const ruleText = (i: { maxThreads: number; layerThreadMinWork: number }): string =>
  `layer steps of >= ${i.layerThreadMinWork} multiply-adds per product (B*nIn*nOut) in 2 parts (batch rows, then output neurons) on ${Math.min(2, i.maxThreads)} thread${i.maxThreads > 1 ? 's' : ''}; results do not depend on the thread count`;
const smallText = (i: { blasMinWork: number }): string => `plain C loops when B*nIn*nOut < ${i.blasMinWork}; sgemm otherwise`;

export class NativeBackend implements Backend {
  readonly name = 'native' as const;
  readonly dtype = 'float32' as const;
  readonly info: Record<string, string | number | boolean>;
  private readonly handles = new WeakMap<LayerStepArgs, Registered>();
  /** per-call scalars for the addon, reused: doubles passed as arguments would be boxed at every call */
  private readonly scalars = new Float64Array(7);

  constructor(private readonly ld: Loaded) {
    const i = ld.addon.info();
    this.info = {
      backend: 'native',
      dtype: 'float32',
      blas: 'OpenBLAS',
      coreType: i.corename,
      coreTypeSource: ld.choice.source,
      openblasConfig: i.config,
      threads: i.maxThreads,
      threadsWhy: ld.threadsWhy,
      threadRule: ruleText(i),
      layerThreadMinWork: i.layerThreadMinWork,
      smallLayerRule: smallText(i),
    };
    if (ld.warning) this.info.warning = ld.warning;
  }

  /** The addon (for this backend's named kernels, registered below). */
  get addon(): Addon {
    return this.ld.addon;
  }

  /** Threads a wide layer step (and Adam on large tensors) may use (default min(2, cores), or GLE_NATIVE_THREADS). Process-wide. */
  setMaxThreads(n: number): void {
    this.tune({ maxThreads: n });
  }

  /**
   * Process-wide tuning (benchmarks, tests): the thread bound; the product size (B*nIn*nOut multiply-adds) from
   * which a layer step is split over the threads (layerThreadMinWork) and from which a standalone gemm lets
   * OpenBLAS thread (multiThreadMinWork); the size below which layers use plain C loops instead of sgemm (read
   * when a layer is first stepped).
   */
  tune(t: { maxThreads?: number; multiThreadMinWork?: number; blasMinWork?: number; layerThreadMinWork?: number }): void {
    const a = this.ld.addon;
    if (t.maxThreads !== undefined) {
      if (!Number.isInteger(t.maxThreads) || t.maxThreads < 1) throw new Error('maxThreads must be a positive integer');
      a.setMaxThreads(t.maxThreads);
    }
    a.setThresholds(t.multiThreadMinWork ?? -1, t.blasMinWork ?? -1, t.layerThreadMinWork ?? -1);
    const i = a.info();
    this.info.threads = i.maxThreads;
    if (t.maxThreads !== undefined) this.info.threadsWhy = 'set by the caller';
    this.info.threadRule = ruleText(i);
    this.info.layerThreadMinWork = i.layerThreadMinWork;
    this.info.smallLayerRule = smallText(i);
  }

  alloc(n: number): FBuf {
    return new NativeBuf(n);
  }

  private register(L: LayerStepArgs): Registered {
    const rec = L as unknown as Record<string, FBuf | null>;
    const keep = DENSE_STEP_FIELDS.map((f) => f32(rec[f.key], f.key));
    const r: Registered = { h: this.ld.addon.makeLayer(L.B, L.nIn, L.nOut, keep), keep };
    this.handles.set(L, r);
    return r;
  }

  layerStep(a: LayerStepArgs, phi: PhiCode, dt: number, gamma: number, flags: number): void {
    const r = this.handles.get(a) ?? this.register(a);
    const sc = this.scalars;
    sc[0] = dt;
    sc[1] = gamma;
    this.ld.addon.layerStep(r.h, phi, flags, sc);
  }

  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: FBuf, B: FBuf, beta: number, C: FBuf): void {
    const sc = this.scalars;
    sc[0] = alpha;
    sc[1] = beta;
    this.ld.addon.gemm(tA, tB, M, N, K, sc, A.a as Float32Array, B.a as Float32Array, C.a as Float32Array);
  }

  activate(phi: PhiCode, x: FBuf, r: FBuf, rp: FBuf, n: number): void {
    this.ld.addon.activate(phi, x.a as Float32Array, r.a as Float32Array, rp.a as Float32Array, n);
  }

  adam(p: FBuf, g: FBuf, m: FBuf, v: FBuf, n: number, s: AdamScalars): void {
    const sc = this.scalars;
    sc[0] = s.lr;
    sc[1] = s.beta1;
    sc[2] = s.beta2;
    sc[3] = s.eps;
    sc[4] = s.bc1;
    sc[5] = s.bc2;
    sc[6] = s.weightDecay;
    this.ld.addon.adam(p.a as Float32Array, g.a as Float32Array, m.a as Float32Array, v.a as Float32Array, n, sc);
  }
}

// ---- this backend's own named kernels (src/kernels/registry.ts; the generic versions are their test oracle) ----
const kScale = new Float64Array(1);
const patches = (toCols: boolean) => (k: Backend, a: Im2colArgs): void => {
  const g = a.g;
  (k as NativeBackend).addon.patches(toCols, g.C, g.H, g.W, g.kh, g.kw, g.stride, g.padH, g.padW, a.B, a.x.a as Float32Array, a.cols.a as Float32Array);
};
registerKernel<Im2colArgs>('im2col', 'native', patches(true));
registerKernel<Im2colArgs>('col2im', 'native', patches(false));
registerKernel<PermuteArgs>('permute.fbp', 'native', (k, a) => {
  (k as NativeBackend).addon.permuteFBP(a.B, a.F, a.P, a.toBatch, a.src.a as Float32Array, a.dst.a as Float32Array, a.toBatch && a.bias ? (a.bias.a as Float32Array) : null);
});
registerKernel<BiasGradArgs>('bias.grad', 'native', (k, a) => {
  kScale[0] = a.scale;
  (k as NativeBackend).addon.biasGrad(a.B, a.F, a.P, kScale, a.y.a as Float32Array, a.g.a as Float32Array);
});
const conv = (mode: 0 | 1 | 2) => (k: Backend, a: ConvArgs): void => {
  const g = a.g;
  kScale[0] = a.scale;
  (k as NativeBackend).addon.conv(
    mode, g.C, g.H, g.W, g.kh, g.kw, g.stride, g.padH, g.padW, a.B, a.F, a.W.a as Float32Array, a.x.a as Float32Array, a.y.a as Float32Array,
    mode === 0 && a.bias ? (a.bias.a as Float32Array) : null, mode === 2 ? (a.gW.a as Float32Array) : null, mode === 2 && a.gB ? (a.gB.a as Float32Array) : null,
    a.scratch.a as Float32Array, kScale,
  );
};
registerKernel<ConvArgs>('conv.forward', 'native', conv(0));
registerKernel<ConvArgs>('conv.backward', 'native', conv(1));
registerKernel<ConvArgs>('conv.grads', 'native', conv(2));
const kDt = new Float64Array(1);
registerKernel<LeNeuronArgs>('le.neurons', 'native', (k, a) => {
  kDt[0] = a.dt;
  (k as NativeBackend).addon.leNeurons(
    a.B, a.n, a.phi, a.prospRateErrors, kDt, a.drive.a as Float32Array, a.e.a as Float32Array, a.u.a as Float32Array, a.uDot.a as Float32Array,
    a.prospU.a as Float32Array, a.prospUm.a as Float32Array, a.diff.a as Float32Array, a.rN.a as Float32Array, a.rPrimeN.a as Float32Array,
    a.tau.a as Float32Array, a.tauM.a as Float32Array,
  );
});

export interface LoadNativeOptions {
  /** Receives the one-line warning when OpenBLAS runs slow kernels (default: console.error, once per process). */
  onNotice?: (msg: string) => void;
}

/** Load the native backend, or throw an Error with a one-line reason (addon not built, float64, self-test...). */
export async function loadNativeBackend(dtype: DType, opts: LoadNativeOptions = {}): Promise<Backend> {
  if (dtype !== 'float32') throw new Error('native backend supports float32 only');
  const ld = loadOnce();
  if (ld.warning && !warned) {
    warned = true;
    (opts.onNotice ?? ((m: string) => console.error(m)))(`gle: native backend: ${ld.warning}`);
  }
  return new NativeBackend(ld);
}

/** Make `createBackend({ backend: 'native' | 'auto' })` able to use this backend (called by the Node entry point). */
export function registerNative(): void {
  registerBackendLoader('native', (dtype) => loadNativeBackend(dtype));
}
