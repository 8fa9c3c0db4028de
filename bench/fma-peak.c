/*
 * The machine's float32 FMA peak per core: 12 independent chains of vector FMAs (enough to cover the latency),
 * nothing else in the loop. The ceiling any sgemm (OpenBLAS's or ours) can approach on this CPU.
 *   cc -O2 -march=native bench/fma-peak.c -o /tmp/fma-peak && /tmp/fma-peak
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#define ISA "AVX-512"
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#define ISA "AVX2+FMA"
#endif

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  vec a0 = SET1(1.0f), a1 = SET1(1.1f), a2 = SET1(1.2f), a3 = SET1(1.3f), a4 = SET1(1.4f), a5 = SET1(1.5f);
  vec a6 = SET1(1.6f), a7 = SET1(1.7f), a8 = SET1(1.8f), a9 = SET1(1.9f), a10 = SET1(2.0f), a11 = SET1(2.1f);
  const vec m = SET1(0.999999f), c = SET1(1e-7f);
  const long n = 100000000L;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    const double t0 = seconds();
    for (long i = 0; i < n; i++) {
      a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);
      a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);
      a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);
      __asm__ volatile("");
    }
    const double gf = n * 12.0 * LANES * 2 / (seconds() - t0) * 1e-9;
    if (gf > best) best = gf;
  }
  vec s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));
  s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));
  float out[LANES];
  STORE(out, s);
  printf("%s float32 FMA peak, 1 core: %.1f GFLOP/s (checksum %g)\n", ISA, best, out[0]);
  return 0;
}
