/**
 * The baselines' {@link Gemm} on a kernel backend's matrix product: the native backend's OpenBLAS sgemm for
 * float32 layers (src/baselines/layers.ts takes any Gemm; null here means "keep the layers' plain loops").
 * Browser-safe (type imports only).
 */
import type { Backend, FBuf } from '../kernels/types.js';
import type { DType, Gemm } from './layers.js';

/** The native backend's float32 sgemm as a {@link Gemm}; null on other backends or for float64 layers. */
export function nativeGemm(be: Backend, dtype: DType = 'float32'): Gemm | null {
  if (be.name !== 'native' || be.dtype !== 'float32' || dtype !== 'float32') return null;
  // views handed to the backend without copying (it reads .a and .n); reused, so a product allocates nothing
  const view = (): { n: number; a: Float32Array; ptr: number } => ({ n: 0, a: new Float32Array(0), ptr: 0 });
  const A = view(), B = view(), C = view();
  return (tA, tB, M, N, K, a, b, beta, c) => {
    A.a = a as Float32Array;
    B.a = b as Float32Array;
    C.a = c as Float32Array;
    be.gemm(tA, tB, M, N, K, 1, A as FBuf, B as FBuf, beta, C as FBuf);
  };
}
