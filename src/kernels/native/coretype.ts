/**
 * OpenBLAS core-type selection for the native backend (pure functions; the loader feeds them /proc/cpuinfo).
 *
 * OpenBLAS's runtime CPU detection misses some CPUs (e.g. recent AMD EPYC under virtualisation) and falls back to
 * the SSE3 "Prescott" kernels, 3-5x slower. When `OPENBLAS_CORETYPE` is unset we choose from the CPU flags:
 * AVX-512 F+DQ+BW+VL -> SkylakeX, AVX2+FMA -> Haswell, otherwise leave it to OpenBLAS. A value already in the
 * environment is never touched (some machines set it because newer kernels compute wrong results there).
 */

export type CoreTypeSource = 'env' | 'cpu' | 'openblas';

export interface CoreTypeChoice {
  /** The value to put in OPENBLAS_CORETYPE, or null to leave the environment as it is. */
  set: string | null;
  /** The core type that is expected to run (env value, our choice, or null when OpenBLAS decides). */
  coreType: string | null;
  source: CoreTypeSource;
}

/** The CPU feature flags of the first processor in a /proc/cpuinfo text (lower-case), or an empty set. */
export function parseCpuFlags(cpuinfo: string): Set<string> {
  const m = /^flags\s*:(.*)$/m.exec(cpuinfo);
  return new Set(m ? m[1].trim().toLowerCase().split(/\s+/).filter(Boolean) : []);
}

/** The OpenBLAS core type these CPU flags support best (among the x86-64 kernels that matter), or null. */
export function coreTypeForFlags(flags: ReadonlySet<string>): string | null {
  if (['avx512f', 'avx512dq', 'avx512bw', 'avx512vl'].every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return null;
}

/**
 * Decide what to do with OPENBLAS_CORETYPE. `env` is the process environment; a non-empty OPENBLAS_CORETYPE there
 * wins and is never changed.
 */
export function chooseCoreType(flags: ReadonlySet<string>, env: Readonly<Record<string, string | undefined>>): CoreTypeChoice {
  const cur = env.OPENBLAS_CORETYPE;
  if (cur !== undefined && cur.trim() !== '') return { set: null, coreType: cur, source: 'env' };
  const pick = coreTypeForFlags(flags);
  if (pick) return { set: pick, coreType: pick, source: 'cpu' };
  return { set: null, coreType: null, source: 'openblas' };
}

/** OpenBLAS core names (lower-case) that run without AVX2+FMA kernels. */
const SLOW_CORES = /^(unknown|prescott|core2|penryn|dunnington|nehalem|atom|katmai|coppermine|northwood|banias|opteron|opteron_sse3|barcelona|bobcat|nano|sandybridge|generic)?$/i;

/**
 * A one-line warning when the running OpenBLAS core is an old SSE/AVX1 kernel on a CPU that has AVX2+FMA
 * (OpenBLAS misdetected the CPU), or null when the core type fits the CPU.
 */
export function slowCoreWarning(corename: string, flags: ReadonlySet<string>): string | null {
  if (!(flags.has('avx2') && flags.has('fma'))) return null;
  const name = corename.trim();
  if (!SLOW_CORES.test(name)) return null;
  return (
    `OpenBLAS runs its '${name || 'unknown'}' kernels on an AVX2 CPU (3-5x slower); ` +
    `set OPENBLAS_CORETYPE=${coreTypeForFlags(flags) ?? 'Haswell'} if that is safe on this machine`
  );
}
