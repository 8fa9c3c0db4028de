/*
 * gle_native: the `native` kernel backend of gle (Node N-API addon over OpenBLAS), float32 only.
 *
 * Exports (all buffers are Float32Arrays; lengths are checked, never trusted):
 *   makeLayer(B, nIn, nOut, [buffers in the order of gle_layout.h (W, b|null, tauM, ..., gTau)]) -> handle (external)
 *   layerStep(handle, phi, flags, Float64Array [dt, gamma])
 *   gemm(tA, tB, M, N, K, Float64Array [alpha, beta], A, B, C)
 *   activate(phi, x, r, rp, n)
 *   adam(p, g, m, v, n, Float64Array [lr, beta1, beta2, eps, bc1, bc2, weightDecay])
 *   (scalars travel in a reused Float64Array: passed as arguments, each double is a new heap number per call)
 *   patches(toCols, C, H, W, kh, kw, stride, padH, padW, B, x, cols)   im2col (toCols) / col2im
 *   permuteFBP(B, F, P, toBatch, src, dst, bias | null)                 F x B*P <-> B x F*P (+ bias on the way)
 *   biasGrad(B, F, P, Float64Array [scale], y, g)
 *   conv(mode, C, H, W, kh, kw, stride, padH, padW, B, F, W, x, y, bias, gW, gB, scratch, Float64Array [scale])
 *        a conv stage's products one batch row at a time: mode 0 forward, 1 error down, 2 gradients
 *   leNeurons(B, n, phi, prospRateErrors, Float64Array [dt], drive, e, u, uDot, prospU, prospUm, diff, rN, rPrimeN,
 *             tau, tauM)   the LE population step
 *   (the kernels 'im2col', 'col2im', 'permute.fbp', 'bias.grad', 'conv.*', 'le.neurons' of src/kernels/registry.ts)
 *   setMaxThreads(n) / setThresholds(multiThreadMinWork, blasMinWork, layerThreadMinWork)
 *   info() -> { corename, config, maxThreads, numThreads, multiThreadMinWork, blasMinWork, layerThreadMinWork, ... }
 *
 * Threads: a layer step of at least layerThreadMinWork multiply-adds per product is computed in 2 parts (by batch
 * rows, then by output neurons; OpenBLAS single-threaded inside each part), run on up to 2 threads of a persistent
 * pool; Adam on large tensors is split over maxThreads; a standalone gemm of at least multiThreadMinWork lets
 * OpenBLAS use maxThreads threads itself.
 *
 * The semantics are those of the portable reference backend (src/kernels/js/index.ts) and the doc comments of
 * src/kernels/types.ts. Transcendentals use branch-free float approximations (relative error ~1e-7) so the
 * elementwise loops vectorise.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gle_layout.h"

/* ---- OpenBLAS entry points (declared here so no particular cblas.h location is needed) ---- */
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
extern void cblas_sgemm(int order, int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc);
extern void openblas_set_num_threads(int n);
extern int openblas_get_num_threads(void);
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);

/* ---- threads: a per-product rule, switching the OpenBLAS thread count only when it changes ---- */
static int g_max_threads = 1;       /* upper bound set from JS (default 1 until setMaxThreads) */
static double g_mt_min_work = 16.0e6; /* multiply-adds from which a standalone product (gemm) lets OpenBLAS use
                                         g_max_threads threads */
static int g_cur_threads = -1;

static inline void set_blas_threads(int want) {
  if (want != g_cur_threads) {
    openblas_set_num_threads(want);
    g_cur_threads = want;
  }
}
static inline void use_threads(double work) {
  set_blas_threads((g_max_threads > 1 && work >= g_mt_min_work) ? g_max_threads : 1);
}

/* ---- a small persistent thread pool: the calling (Node main) thread is worker 0 ----
   A task is split into n parts; each thread first claims the part with its own index, then any part still
   unclaimed, so when a worker is not running (another process holds its core), the caller takes its part instead
   of waiting for a time slice. Claims are tagged with the task number, so a worker that wakes late never touches
   a newer task. Idle workers spin for ~POOL_SPIN_NS, then sleep on a condition variable. A wide layer step is
   split by batch rows (drive product, elementwise update, e_bottom product) and then by output neurons (weight
   gradient), with OpenBLAS at 1 thread inside each part. */
#define POOL_MAX 8
#define POOL_SPIN_NS 300000L
static double g_pool_min_work = 50000.0; /* multiply-adds per product (B*nIn*nOut) from which a layer step is
                                            computed in LAYER_PARTS parts (set from JS at load) */
typedef void (*pool_fn)(void *arg, int part, int nparts);
static struct {
  int size;                     /* workers started (excluding the caller) */
  pool_fn fn;                   /* the current task (written before gen is bumped) */
  void *arg;
  int parts;
  atomic_uint gen;              /* bumped once per task */
  atomic_uint claim[POOL_MAX];  /* the task number that last claimed each part */
  atomic_int done;              /* parts of the current task finished */
  atomic_int sleepers;
  unsigned startGen[POOL_MAX];  /* the task count when each worker was created (its first task is the next one) */
  pthread_mutex_t mu;
  pthread_cond_t cv;
} g_pool = {.size = 0, .parts = 1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}
static inline long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* run the unclaimed parts of task g, starting with part `first` */
static void pool_claim_and_run(unsigned g, int first) {
  const pool_fn fn = g_pool.fn;
  void *const arg = g_pool.arg;
  const int n = g_pool.parts;
  for (int k = 0; k < n; k++) {
    const int part = (first + k) % n;
    unsigned c = atomic_load(&g_pool.claim[part]);
    /* claimable only by task g, and only once: tags before g are free, g or later are taken */
    if ((int)(g - c) > 0 && atomic_compare_exchange_strong(&g_pool.claim[part], &c, g)) {
      fn(arg, part, n);
      atomic_fetch_add(&g_pool.done, 1);
    }
  }
}

static void *pool_worker(void *p) {
  const int id = (int)(intptr_t)p;
  unsigned seen = g_pool.startGen[id];
  for (;;) {
    unsigned g = atomic_load(&g_pool.gen);
    if (g == seen) {
      const long t0 = now_ns();
      int spins = 0;
      while ((g = atomic_load(&g_pool.gen)) == seen) {
        cpu_relax();
        if ((++spins & 255) == 0 && now_ns() - t0 > POOL_SPIN_NS) break;
      }
      if (g == seen) {
        pthread_mutex_lock(&g_pool.mu);
        atomic_fetch_add(&g_pool.sleepers, 1);
        while ((g = atomic_load(&g_pool.gen)) == seen) pthread_cond_wait(&g_pool.cv, &g_pool.mu);
        atomic_fetch_sub(&g_pool.sleepers, 1);
        pthread_mutex_unlock(&g_pool.mu);
      }
    }
    seen = g;
    pool_claim_and_run(g, id);
  }
  return NULL;
}

/* start workers so that n threads (caller included) can run; returns the number available */
static int pool_ensure(int n) {
  if (n > POOL_MAX) n = POOL_MAX;
  while (g_pool.size < n - 1) {
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    g_pool.startGen[g_pool.size + 1] = atomic_load(&g_pool.gen);
    int rc = pthread_create(&t, &at, pool_worker, (void *)(intptr_t)(g_pool.size + 1));
    pthread_attr_destroy(&at);
    if (rc != 0) break;
    g_pool.size++;
  }
  return g_pool.size + 1 < n ? g_pool.size + 1 : n;
}

/* Contention back-off: a split task is "late" when the caller, done with its own part, then waited for the
   other threads longer than that part took (a worker waiting for a core that another process holds). When, over a
   window of POOL_WINDOW tasks, more than a quarter were late or the caller waited more than half as long as it
   worked, the next POOL_BACKOFF_NS run every part on the caller, then the pool is tried again. (Idle here, the
   wait is ~2 % of the work, with rare single late tasks from page faults or short preemptions.) The parts are
   the same either way, so results do not depend on it. */
#define POOL_WINDOW 256
#define POOL_BACKOFF_NS 500000000L
static long g_pool_backoff_until = 0, g_pool_win_work = 0, g_pool_win_wait = 0;
static int g_pool_win_n = 0, g_pool_win_late = 0;
static long g_pool_backoffs = 0;

static void run_parts_here(pool_fn fn, void *arg, int n) {
  for (int k = 0; k < n; k++) fn(arg, k, n);
}

/* run fn(arg, part, n) for parts 0..n-1 on the pool (threads > 1) or on the caller alone, and wait for all */
static void pool_run(pool_fn fn, void *arg, int n, int threads) {
  if (n <= 1 || threads <= 1) {
    run_parts_here(fn, arg, n);
    return;
  }
  /* one task at a time: a second caller (the addon loaded in several Node worker threads) runs its parts itself */
  static atomic_int busy = 0;
  int expect = 0;
  if (!atomic_compare_exchange_strong(&busy, &expect, 1)) {
    run_parts_here(fn, arg, n);
    return;
  }
  const long t0 = now_ns();
  if (t0 < g_pool_backoff_until) {
    run_parts_here(fn, arg, n);
    atomic_store(&busy, 0);
    return;
  }
  g_pool.fn = fn;
  g_pool.arg = arg;
  g_pool.parts = n;
  atomic_store(&g_pool.done, 0);
  const unsigned g = atomic_fetch_add(&g_pool.gen, 1) + 1;
  if (atomic_load(&g_pool.sleepers) > 0) {
    pthread_mutex_lock(&g_pool.mu);
    pthread_cond_broadcast(&g_pool.cv);
    pthread_mutex_unlock(&g_pool.mu);
  }
  pool_claim_and_run(g, 0);
  const long t1 = now_ns();
  int spins = 0;
  while (atomic_load(&g_pool.done) < n) {
    cpu_relax();
    if ((++spins & 4095) == 0) sched_yield();
  }
  const long t2 = now_ns();
  if (t2 - t1 > t1 - t0) g_pool_win_late++;
  g_pool_win_work += t1 - t0;
  g_pool_win_wait += t2 - t1;
  if (++g_pool_win_n == POOL_WINDOW) {
    if (4 * g_pool_win_late > POOL_WINDOW || 2 * g_pool_win_wait > g_pool_win_work) {
      g_pool_backoff_until = t2 + POOL_BACKOFF_NS;
      g_pool_backoffs++;
    }
    g_pool_win_n = g_pool_win_late = 0;
    g_pool_win_work = g_pool_win_wait = 0;
  }
  atomic_store(&busy, 0);
}

/* A layer step of at least g_pool_min_work multiply-adds per product is always computed in LAYER_PARTS parts, whatever
   the number of threads that run them: the parts fix the blocking of the products and the order of the batch sums,
   so a run gives bit-identical results on 1 or 2 threads, busy machine or not (and a run resumed with another
   thread count continues exactly). */
#define LAYER_PARTS 2
static inline int layer_parts(const int nOut, const double work) {
  return (nOut > 1 && work >= g_pool_min_work) ? LAYER_PARTS : 1;
}

/* ---- fast, accurate float transcendentals (branch-free so loops vectorise) ---- */
static inline float pow2i(float n) {
  int32_t i = ((int32_t)n + 127) << 23;
  float f;
  memcpy(&f, &i, 4);
  return f;
}

/* e^x, relative error ~1e-7 on [-87, 88]; NaN propagates */
static inline float fexp(float x) {
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.0f ? -87.0f : x;
  const float shifter = 12582912.0f; /* 1.5 * 2^23: rounds to nearest integer */
  float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * pow2i(n);
}

/* e^y - 1 and e^y for y <= 0, both to ~1e-7 relative (no cancellation near 0): with y = n ln2 + r,
   e^y - 1 = 2^n (e^r - 1) + (2^n - 1) and e^r - 1 is a series in r */
static inline float fexpm1_neg(float y, float *ey) {
  y = y < -87.0f ? -87.0f : y;
  const float shifter = 12582912.0f;
  float n = (y * 1.44269504088896341f + shifter) - shifter;
  float r = y - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  float q = p * r; /* e^r - 1 */
  float pn = pow2i(n);
  *ey = pn * q + pn;
  return pn * q + (pn - 1.0f);
}

/* tanh and its derivative: with m = expm1(-2|x|), tanh|x| = -m / (2 + m), tanh' = 4 e^(-2|x|) / (2 + m)^2 */
static inline float ftanh(float x, float *d) {
  float e;
  float m = fexpm1_neg(-2.0f * fabsf(x), &e);
  float q = 1.0f / (2.0f + m);
  float t = -m * q;
  *d = 4.0f * e * q * q;
  t = x < 0.0f ? -t : t;
  return x != x ? x : t;
}

/* logistic sigmoid and its derivative, accurate in both tails */
static inline float fsigmoid(float x, float *d) {
  float e = fexp(-fabsf(x));
  float q = 1.0f / (1.0f + e);
  float s = x >= 0.0f ? q : e * q;
  s = x != x ? x : s;
  *d = e * q * q;
  return s;
}

/* softplus (torch threshold 20) = max(x,0) + log1p(exp(-|x|)); derivative = sigmoid(x).
   log1p(e) = 2 atanh(e / (2 + e)), series in s^2 with s <= 1/3 */
static inline float fsoftplus(float x, float *d) {
  float e = fexp(-fabsf(x));
  float q = 1.0f / (1.0f + e);
  *d = x >= 0.0f ? q : e * q;
  float s = e / (2.0f + e);
  float s2 = s * s;
  float p = 1.0f / 17.0f;
  p = p * s2 + 1.0f / 15.0f;
  p = p * s2 + 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  float l = 2.0f * s * p;
  float y = (x > 0.0f ? x : 0.0f) + l;
  return x > 20.0f ? x : (x != x ? x : y);
}

/* r = f(x), rp = f'(x) over the n entries, for an f(v, &derivative) that returns the value; then return 1 */
#define PHI_LOOP(f)             \
  for (i = 0; i < n; i++) {     \
    float d;                    \
    r[i] = f(x[i], &d);         \
    rp[i] = d;                  \
  }                             \
  return 1

/* r = phi(x), rp = phi'(x) over n entries; returns 0 on an unknown code */
static int phi_apply(int phi, const float *restrict x, float *restrict r, float *restrict rp, int n) {
  int i;
  switch (phi) {
    case PHI_LINEAR:
      for (i = 0; i < n; i++) {
        r[i] = x[i];
        rp[i] = 1.0f;
      }
      return 1;
    case PHI_TANH:
      PHI_LOOP(ftanh);
    case PHI_SIGMOID:
      PHI_LOOP(fsigmoid);
    case PHI_SOFTPLUS:
      PHI_LOOP(fsoftplus);
    case PHI_RELU:
      for (i = 0; i < n; i++) {
        float v = x[i];
        r[i] = v > 0.0f ? v : 0.0f;
        rp[i] = v > 0.0f ? 1.0f : 0.0f;
      }
      return 1;
    case PHI_HARD_SIGMOID:
      for (i = 0; i < n; i++) {
        float v = x[i];
        r[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        rp[i] = (v >= 0.0f && v <= 1.0f) ? 1.0f : 0.0f;
      }
      return 1;
    case PHI_HARD_TANH:
      for (i = 0; i < n; i++) {
        float v = x[i];
        r[i] = v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
        rp[i] = (v >= -1.0f && v <= 1.0f) ? 1.0f : 0.0f;
      }
      return 1;
    default:
      return 0;
  }
}
#undef PHI_LOOP

/* ---- the per-layer handle: buffer indices F_*, field_names, field_size, flags and activation codes come from
   gle_layout.h, generated from src/kernels/layout.ts ---- */
typedef struct {
  int B, nIn, nOut;
  float *f[F_COUNT];
  int G;                /* phi runs over chunks of G rows at once (one vector remainder per chunk, not per row) */
  float *iTauM, *iTauR; /* nOut scratch: reciprocals of the time constants of this step */
  double *accB, *accT;  /* LAYER_PARTS*nOut scratch: gradient batch sums, one row per part */
  double *accW;         /* nOut*nIn scratch of the loop path (no sgemm) */
  float *zeros;         /* nOut zeros: the bias of a layer without one */
  int blas;             /* use sgemm for the three products (otherwise plain loops) */
  double work;          /* B * nIn * nOut multiply-adds per product */
} Layer;

/* layers with fewer multiply-adds per product (B*nIn*nOut) than this use plain loops instead of sgemm (measured:
   the loops win only for tiny products such as B=1 8x8 or B=1 1x53; sgemm wins from B=100 1x1 and 2x2 on) */
static double g_blas_min_work = 100.0;

/* target length of one flat elementwise chunk (entries) */
#define ELEM_CHUNK 1024

static void layer_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Layer *L = (Layer *)data;
  free(L->iTauM);
  free(L->iTauR);
  free(L->accB);
  free(L->accT);
  free(L->accW);
  free(L->zeros);
  free(L);
}

#define NAPI_OK(call)                                   \
  do {                                                  \
    if ((call) != napi_ok) {                            \
      napi_throw_error(env, NULL, "gle_native: " #call); \
      return NULL;                                      \
    }                                                   \
  } while (0)

static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **ptr, size_t *len) {
  napi_typedarray_type t;
  size_t n;
  void *data;
  napi_value ab;
  size_t off;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &t, &n, &data, &ab, &off) != napi_ok) return 0;
  if (t != want) return 0;
  *ptr = data;
  *len = n;
  return 1;
}
static int get_f32(napi_env env, napi_value v, float **ptr, size_t *len) {
  return get_typed(env, v, napi_float32_array, (void **)ptr, len);
}
/* per-call scalars come in a Float64Array: doubles passed as arguments are boxed on the JS heap at every call */
static int get_f64(napi_env env, napi_value v, double **ptr, size_t *len) {
  return get_typed(env, v, napi_float64_array, (void **)ptr, len);
}

static napi_value js_make_layer(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "makeLayer(B, nIn, nOut, buffers)");
    return NULL;
  }
  int32_t B, nIn, nOut;
  NAPI_OK(napi_get_value_int32(env, argv[0], &B));
  NAPI_OK(napi_get_value_int32(env, argv[1], &nIn));
  NAPI_OK(napi_get_value_int32(env, argv[2], &nOut));
  if (B < 1 || nIn < 1 || nOut < 1) {
    napi_throw_range_error(env, NULL, "makeLayer: B, nIn and nOut must be positive");
    return NULL;
  }
  uint32_t count;
  NAPI_OK(napi_get_array_length(env, argv[3], &count));
  if (count != F_COUNT) {
    napi_throw_type_error(env, NULL, "makeLayer: wrong number of buffers (see gle_layout.h)");
    return NULL;
  }
  Layer *L = (Layer *)calloc(1, sizeof(Layer));
  if (!L) {
    napi_throw_error(env, NULL, "makeLayer: out of memory");
    return NULL;
  }
  L->B = B;
  L->nIn = nIn;
  L->nOut = nOut;
  size_t need[F_COUNT];
  const size_t by_class[4] = {(size_t)nOut * nIn, (size_t)nOut, (size_t)B * nOut, (size_t)B * nIn};
  for (int i = 0; i < F_COUNT; i++) need[i] = by_class[field_size[i]];
  for (uint32_t i = 0; i < F_COUNT; i++) {
    napi_value el;
    napi_valuetype vt;
    if (napi_get_element(env, argv[3], i, &el) != napi_ok || napi_typeof(env, el, &vt) != napi_ok) {
      layer_free(env, L, NULL);
      napi_throw_error(env, NULL, "makeLayer: cannot read buffers");
      return NULL;
    }
    if (field_optional[i] && (vt == napi_null || vt == napi_undefined)) {
      L->f[i] = NULL;
      continue;
    }
    float *p;
    size_t n;
    if (!get_f32(env, el, &p, &n) || n < need[i]) {
      char msg[160];
      snprintf(msg, sizeof msg, "makeLayer: buffer '%s' must be a Float32Array of at least %zu floats",
               field_names[i], need[i]);
      layer_free(env, L, NULL);
      napi_throw_type_error(env, NULL, msg);
      return NULL;
    }
    L->f[i] = p;
  }
  L->G = nOut >= ELEM_CHUNK ? 1 : ELEM_CHUNK / nOut;
  if (L->G > B) L->G = B;
  L->iTauM = (float *)malloc(sizeof(float) * nOut);
  L->iTauR = (float *)malloc(sizeof(float) * nOut);
  L->accB = (double *)malloc(sizeof(double) * nOut * LAYER_PARTS);
  L->accT = (double *)malloc(sizeof(double) * nOut * LAYER_PARTS);
  L->zeros = (float *)calloc(nOut, sizeof(float));
  if (!L->iTauM || !L->iTauR || !L->accB || !L->accT || !L->zeros) {
    layer_free(env, L, NULL);
    napi_throw_error(env, NULL, "makeLayer: out of memory");
    return NULL;
  }
  L->work = (double)B * nIn * nOut;
  L->blas = L->work >= g_blas_min_work;
  if (!L->blas && !(L->accW = (double *)malloc(sizeof(double) * (size_t)nOut * nIn))) {
    layer_free(env, L, NULL);
    napi_throw_error(env, NULL, "makeLayer: out of memory");
    return NULL;
  }
  napi_value ext;
  if (napi_create_external(env, L, layer_free, NULL, &ext) != napi_ok) {
    layer_free(env, L, NULL);
    napi_throw_error(env, NULL, "makeLayer: cannot create handle");
    return NULL;
  }
  return ext;
}

/* elementwise update of n neurons (one batch row, or one neuron over the batch when the tau arrays are
   broadcast via stride 0): S (the drive) is in uDot on entry */
static void __attribute__((noinline))
row_update(int n, int prospective, float dt, float gamma, const float *restrict bias, const float *restrict tauM,
           const float *restrict tauR, const float *restrict iTM, const float *restrict iTR,
           const float *restrict raw, const float *restrict rP, const float *restrict u, const float *restrict v,
           float *restrict uN, float *restrict vN, float *restrict instE, float *restrict pU, float *restrict pV,
           float *restrict uDot) {
  if (prospective) {
    for (int j = 0; j < n; j++) {
      float s = uDot[j] + bias[j];
      float ie = raw[j] * rP[j];
      instE[j] = ie;
      float vd = (ie - v[j]) * iTR[j];
      vN[j] = v[j] + dt * vd;
      float pv = v[j] + tauM[j] * vd;
      pV[j] = pv;
      float ud = (s + gamma * pv - u[j]) * iTM[j];
      uDot[j] = ud;
      uN[j] = u[j] + dt * ud;
      pU[j] = u[j] + tauR[j] * ud;
    }
  } else {
    for (int j = 0; j < n; j++) {
      float s = uDot[j] + bias[j];
      float ie = raw[j] * rP[j];
      instE[j] = ie;
      vN[j] = ie;
      pV[j] = ie;
      float ud = (s + gamma * ie - u[j]) * iTM[j];
      uDot[j] = ud;
      uN[j] = u[j] + dt * ud;
      pU[j] = u[j] + tauR[j] * ud;
    }
  }
}

/* the same for a layer of one neuron: the per-neuron constants are scalars, the loop runs over the batch */
static void __attribute__((noinline))
col_update(int n, int prospective, float dt, float gamma, float bias, float tauM, float tauR, float iTM, float iTR,
           const float *restrict raw, const float *restrict rP, const float *restrict u, const float *restrict v,
           float *restrict uN, float *restrict vN, float *restrict instE, float *restrict pU, float *restrict pV,
           float *restrict uDot) {
  for (int j = 0; j < n; j++) {
    float s = uDot[j] + bias;
    float ie = raw[j] * rP[j];
    instE[j] = ie;
    float vd = (ie - v[j]) * iTR;
    float pv = prospective ? v[j] + tauM * vd : ie;
    vN[j] = prospective ? v[j] + dt * vd : ie;
    pV[j] = pv;
    float ud = (s + gamma * pv - u[j]) * iTM;
    uDot[j] = ud;
    uN[j] = u[j] + dt * ud;
    pU[j] = u[j] + tauR * ud;
  }
}

/* elementwise part of the step for batch rows [r0, r1): membrane/error updates, phi, and the batch sums of the
   gradients (added into accB/accT, nOut doubles each), in chunks of G rows that stay in L1 between the passes */
static void layer_elementwise(Layer *L, int phi, int prospective, float dt, float gamma, int grads, int learnTau,
                              int r0, int r1, double *restrict accB, double *restrict accT) {
  const int nOut = L->nOut, G = L->G;
  const float *bias = L->f[F_b] ? L->f[F_b] : L->zeros;
  float *const *f = L->f;
  if (nOut == 1) {
    const int n = r1 - r0;
    col_update(n, prospective, dt, gamma, bias[0], f[F_tauM][0], f[F_tauR][0], L->iTauM[0], L->iTauR[0],
               f[F_raw] + r0, f[F_rP] + r0, f[F_u] + r0, f[F_v] + r0, f[F_uN] + r0, f[F_vN] + r0, f[F_instE] + r0,
               f[F_pU] + r0, f[F_pV] + r0, f[F_uDot] + r0);
    phi_apply(phi, f[F_pU] + r0, f[F_rN] + r0, f[F_rPN] + r0, n);
    if (grads) {
      const float *restrict pV = f[F_pV], *restrict uDot = f[F_uDot];
      double sb = 0.0, st = 0.0;
      for (int bi = r0; bi < r1; bi++) {
        sb += (double)pV[bi];
        st += (double)pV[bi] * (double)uDot[bi];
      }
      accB[0] += sb;
      accT[0] += st;
    }
    return;
  }
  for (int c0 = r0; c0 < r1; c0 += G) {
    const int rows = r1 - c0 < G ? r1 - c0 : G;
    for (int bi = c0; bi < c0 + rows; bi++) {
      const size_t o = (size_t)bi * nOut;
      row_update(nOut, prospective, dt, gamma, bias, f[F_tauM], f[F_tauR], L->iTauM, L->iTauR, f[F_raw] + o,
                 f[F_rP] + o, f[F_u] + o, f[F_v] + o, f[F_uN] + o, f[F_vN] + o, f[F_instE] + o, f[F_pU] + o,
                 f[F_pV] + o, f[F_uDot] + o);
      if (grads) {
        const float *restrict pV = f[F_pV] + o, *restrict uDot = f[F_uDot] + o;
        for (int j = 0; j < nOut; j++) accB[j] += (double)pV[j];
        if (learnTau)
          for (int j = 0; j < nOut; j++) accT[j] += (double)pV[j] * (double)uDot[j];
      }
    }
    const size_t o = (size_t)c0 * nOut;
    phi_apply(phi, f[F_pU] + o, f[F_rN] + o, f[F_rPN] + o, rows * nOut);
  }
}

/* the products of a step with plain C loops (double accumulation), for layers too small for sgemm */
static void loop_drive(const Layer *L) {
  const int B = L->B, nIn = L->nIn, nOut = L->nOut;
  const float *W = L->f[F_W], *rB = L->f[F_rB];
  float *uDot = L->f[F_uDot];
  if (nIn == 1) {
    for (int bi = 0; bi < B; bi++) {
      const float x = rB[bi];
      float *restrict s = uDot + (size_t)bi * nOut;
      for (int j = 0; j < nOut; j++) s[j] = W[j] * x;
    }
    return;
  }
  for (int bi = 0; bi < B; bi++) {
    const float *restrict x = rB + (size_t)bi * nIn;
    float *restrict s = uDot + (size_t)bi * nOut;
    for (int j = 0; j < nOut; j++) {
      const float *restrict w = W + (size_t)j * nIn;
      double acc = 0.0;
      for (int k = 0; k < nIn; k++) acc += (double)w[k] * x[k];
      s[j] = (float)acc;
    }
  }
}
static void loop_grad_w(const Layer *L, double invB) {
  const int B = L->B, nIn = L->nIn, nOut = L->nOut;
  const float *pV = L->f[F_pV], *rB = L->f[F_rB];
  float *gW = L->f[F_gW];
  double *restrict acc = L->accW;
  memset(acc, 0, sizeof(double) * (size_t)nOut * nIn);
  for (int bi = 0; bi < B; bi++) {
    const float *restrict p = pV + (size_t)bi * nOut, *restrict x = rB + (size_t)bi * nIn;
    if (nIn == 1) {
      const double xb = x[0];
      for (int j = 0; j < nOut; j++) acc[j] += (double)p[j] * xb;
    } else {
      for (int j = 0; j < nOut; j++) {
        const double pj = p[j];
        double *restrict a = acc + (size_t)j * nIn;
        for (int k = 0; k < nIn; k++) a[k] += pj * x[k];
      }
    }
  }
  for (size_t i = 0; i < (size_t)nOut * nIn; i++) gW[i] = (float)(-acc[i] * invB);
}
static void loop_err_down(const Layer *L) {
  const int B = L->B, nIn = L->nIn, nOut = L->nOut;
  const float *pV = L->f[F_pV], *W = L->f[F_W];
  float *eB = L->f[F_eB];
  if (nIn == 1) {
    for (int bi = 0; bi < B; bi++) {
      const float *restrict p = pV + (size_t)bi * nOut;
      double acc = 0.0;
      for (int j = 0; j < nOut; j++) acc += (double)p[j] * W[j];
      eB[bi] = (float)acc;
    }
    return;
  }
  for (int bi = 0; bi < B; bi++) {
    const float *restrict p = pV + (size_t)bi * nOut;
    float *restrict e = eB + (size_t)bi * nIn;
    for (int k = 0; k < nIn; k++) e[k] = 0.0f;
    for (int j = 0; j < nOut; j++) {
      const float pj = p[j];
      const float *restrict w = W + (size_t)j * nIn;
      for (int k = 0; k < nIn; k++) e[k] += pj * w[k];
    }
  }
}

/* one sgemm layer step in P parts (layer_parts), run on the pool or one after the other on the caller:
   phase 1, by batch rows:      S = r_bottom Wᵀ, the elementwise update, e_bottom = prosp_v W
   phase 2, by output neurons:  gW = -(prosp_vᵀ r_bottom)/B, and gB/gTau from the per-part batch sums */
typedef struct {
  Layer *L;
  int phi, prospective, grads, learnTau, errDown;
  float dt, gamma;
} StepTask;

static void step_rows(void *arg, int t, int T) { /* part t of T */
  const StepTask *s = (const StepTask *)arg;
  Layer *L = s->L;
  const int B = L->B, nIn = L->nIn, nOut = L->nOut;
  const int r0 = (int)((long)B * t / T), r1 = (int)((long)B * (t + 1) / T), n = r1 - r0;
  double *accB = L->accB + (size_t)t * nOut, *accT = L->accT + (size_t)t * nOut;
  if (s->grads) {
    memset(accB, 0, sizeof(double) * nOut);
    if (s->learnTau) memset(accT, 0, sizeof(double) * nOut);
  }
  if (n <= 0) return;
  const float *W = L->f[F_W];
  cblas_sgemm(RowMajor, NoTrans, Trans, n, nOut, nIn, 1.0f, L->f[F_rB] + (size_t)r0 * nIn, nIn, W, nIn, 0.0f,
              L->f[F_uDot] + (size_t)r0 * nOut, nOut);
  layer_elementwise(L, s->phi, s->prospective, s->dt, s->gamma, s->grads, s->learnTau, r0, r1, accB, accT);
  if (s->errDown)
    cblas_sgemm(RowMajor, NoTrans, NoTrans, n, nIn, nOut, 1.0f, L->f[F_pV] + (size_t)r0 * nOut, nOut, W, nIn, 0.0f,
                L->f[F_eB] + (size_t)r0 * nIn, nIn);
}

static void step_cols(void *arg, int t, int T) { /* part t of T */
  const StepTask *s = (const StepTask *)arg;
  Layer *L = s->L;
  const int B = L->B, nIn = L->nIn, nOut = L->nOut;
  const int j0 = (int)((long)nOut * t / T), j1 = (int)((long)nOut * (t + 1) / T);
  if (j1 <= j0) return;
  const double invB = 1.0 / B;
  cblas_sgemm(RowMajor, Trans, NoTrans, j1 - j0, nIn, B, (float)(-invB), L->f[F_pV] + j0, nOut, L->f[F_rB], nIn,
              0.0f, L->f[F_gW] + (size_t)j0 * nIn, nIn);
  float *gB = L->f[F_gB], *gTau = L->f[F_gTau];
  for (int j = j0; j < j1; j++) {
    double sb = 0.0, st = 0.0;
    for (int tt = 0; tt < T; tt++) {
      sb += L->accB[(size_t)tt * nOut + j];
      if (s->learnTau) st += L->accT[(size_t)tt * nOut + j];
    }
    if (gB) gB[j] = (float)(-sb * invB);
    if (s->learnTau) gTau[j] = (float)(st * invB);
  }
}

static void layer_step(Layer *L, int phi, int flags, float dt, float gamma) {
  const int nOut = L->nOut;
  StepTask s = {L, phi, (flags & STEP_PROSPECTIVE) != 0, (flags & STEP_GRADS) != 0, 0, (flags & STEP_ERR_DOWN) != 0, dt, gamma};
  s.learnTau = s.grads && (flags & STEP_LEARN_TAU) != 0;
  for (int j = 0; j < nOut; j++) {
    L->iTauM[j] = 1.0f / L->f[F_tauM][j];
    L->iTauR[j] = 1.0f / L->f[F_tauR][j];
  }
  if (L->blas) {
    /* products of one layer never use OpenBLAS's own threads: the pool splits the layer instead */
    set_blas_threads(1);
    const int P = layer_parts(nOut, L->work);
    const int T = P > 1 && g_max_threads > 1 ? pool_ensure(g_max_threads < P ? g_max_threads : P) : 1;
    pool_run(step_rows, &s, P, T);
    if (s.grads) pool_run(step_cols, &s, P, T);
    return;
  }
  if (s.grads) {
    memset(L->accB, 0, sizeof(double) * nOut);
    if (s.learnTau) memset(L->accT, 0, sizeof(double) * nOut);
  }
  loop_drive(L);
  layer_elementwise(L, phi, s.prospective, dt, gamma, s.grads, s.learnTau, 0, L->B, L->accB, L->accT);
  if (s.grads) {
    const double invB = 1.0 / L->B;
    loop_grad_w(L, invB);
    if (L->f[F_gB])
      for (int j = 0; j < nOut; j++) L->f[F_gB][j] = (float)(-L->accB[j] * invB);
    if (s.learnTau)
      for (int j = 0; j < nOut; j++) L->f[F_gTau][j] = (float)(L->accT[j] * invB);
  }
  if (s.errDown) loop_err_down(L);
}

static napi_value js_layer_step(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Layer *L;
  int32_t phi, flags;
  double *sc;
  size_t nsc;
  if (argc < 4 || napi_get_value_external(env, argv[0], (void **)&L) != napi_ok ||
      napi_get_value_int32(env, argv[1], &phi) != napi_ok || napi_get_value_int32(env, argv[2], &flags) != napi_ok ||
      !get_f64(env, argv[3], &sc, &nsc) || nsc < 2) {
    napi_throw_type_error(env, NULL, "layerStep(handle, phi, flags, Float64Array [dt, gamma])");
    return NULL;
  }
  const double dt = sc[0], gamma = sc[1];
  if (phi < 0 || phi >= PHI_COUNT) {
    napi_throw_range_error(env, NULL, "unknown activation code");
    return NULL;
  }
  layer_step(L, phi, flags, (float)dt, (float)gamma);
  return NULL;
}

static napi_value js_gemm(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool tA, tB;
  int32_t M, N, K;
  double *sc;
  float *A, *Bm, *C;
  size_t nA, nB, nC, nsc;
  if (argc < 9 || napi_get_value_bool(env, argv[0], &tA) != napi_ok ||
      napi_get_value_bool(env, argv[1], &tB) != napi_ok || napi_get_value_int32(env, argv[2], &M) != napi_ok ||
      napi_get_value_int32(env, argv[3], &N) != napi_ok || napi_get_value_int32(env, argv[4], &K) != napi_ok ||
      !get_f64(env, argv[5], &sc, &nsc) || nsc < 2 || !get_f32(env, argv[6], &A, &nA) ||
      !get_f32(env, argv[7], &Bm, &nB) || !get_f32(env, argv[8], &C, &nC)) {
    napi_throw_type_error(env, NULL, "gemm(tA, tB, M, N, K, Float64Array [alpha, beta], A, B, C) with Float32Arrays");
    return NULL;
  }
  const double alpha = sc[0], beta = sc[1];
  if (M < 0 || N < 0 || K < 0 || nA < (size_t)M * K || nB < (size_t)K * N || nC < (size_t)M * N) {
    napi_throw_range_error(env, NULL, "gemm: a buffer is smaller than its matrix");
    return NULL;
  }
  if (M == 0 || N == 0) return NULL;
  if (K == 0) {
    for (size_t i = 0; i < (size_t)M * N; i++) C[i] = beta == 0.0 ? 0.0f : (float)(beta * C[i]);
    return NULL;
  }
  use_threads((double)M * N * K);
  cblas_sgemm(RowMajor, tA ? Trans : NoTrans, tB ? Trans : NoTrans, M, N, K, (float)alpha, A, tA ? M : K, Bm,
              tB ? K : N, (float)beta, C, N);
  return NULL;
}

static napi_value js_activate(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t phi, n;
  float *x, *r, *rp;
  size_t nx, nr, np;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &phi) != napi_ok || !get_f32(env, argv[1], &x, &nx) ||
      !get_f32(env, argv[2], &r, &nr) || !get_f32(env, argv[3], &rp, &np) ||
      napi_get_value_int32(env, argv[4], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "activate(phi, x, r, rp, n) with Float32Arrays");
    return NULL;
  }
  if (n < 0 || nx < (size_t)n || nr < (size_t)n || np < (size_t)n) {
    napi_throw_range_error(env, NULL, "activate: a buffer is smaller than n");
    return NULL;
  }
  if (!phi_apply(phi, x, r, rp, n)) napi_throw_range_error(env, NULL, "unknown activation code");
  return NULL;
}

/* PyTorch Adam over n entries, in float32 arithmetic as torch.optim.Adam on float32 tensors (the js backend uses
   double; the two agree to float32 rounding). Float keeps the loop 16 lanes wide: double made Adam ~10 % of a
   750-wide training step. */
static void adam_update(int n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                        double lr, double b1, double b2, double eps, double bc1, double bc2, double wd) {
  const float stepSize = (float)(lr / bc1), invSqrtBc2 = (float)(1.0 / sqrt(bc2));
  const float fb1 = (float)b1, fb2 = (float)b2, c1 = (float)(1.0 - b1), c2 = (float)(1.0 - b2);
  const float feps = (float)eps, fwd = (float)wd;
  for (int i = 0; i < n; i++) {
    float gi = g[i] + fwd * p[i];
    float mi = fb1 * m[i] + c1 * gi;
    float vi = fb2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] - stepSize * mi / (sqrtf(vi) * invSqrtBc2 + feps);
  }
}

/* Adam over at least this many entries is split across the pool (when it has more than one thread) */
#define ADAM_POOL_MIN 65536
typedef struct {
  int n;
  float *p;
  const float *g;
  float *m, *v;
  double s[7];
} AdamTask;
static void adam_part(void *arg, int t, int T) {
  const AdamTask *a = (const AdamTask *)arg;
  /* parts aligned to 16 entries (one cache line) */
  const int i0 = (int)(((long)a->n * t / T) & ~15L), i1 = t == T - 1 ? a->n : (int)(((long)a->n * (t + 1) / T) & ~15L);
  if (i1 > i0)
    adam_update(i1 - i0, a->p + i0, a->g + i0, a->m + i0, a->v + i0, a->s[0], a->s[1], a->s[2], a->s[3], a->s[4],
                a->s[5], a->s[6]);
}

static napi_value js_adam(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *p, *g, *m, *v;
  size_t np, ng, nm, nv, ns;
  int32_t n;
  double *s;
  if (argc < 6 || !get_f32(env, argv[0], &p, &np) || !get_f32(env, argv[1], &g, &ng) ||
      !get_f32(env, argv[2], &m, &nm) || !get_f32(env, argv[3], &v, &nv) ||
      napi_get_value_int32(env, argv[4], &n) != napi_ok || !get_f64(env, argv[5], &s, &ns) || ns < 7) {
    napi_throw_type_error(env, NULL, "adam(p, g, m, v, n, Float64Array [lr, beta1, beta2, eps, bc1, bc2, weightDecay])");
    return NULL;
  }
  if (n < 0 || np < (size_t)n || ng < (size_t)n || nm < (size_t)n || nv < (size_t)n) {
    napi_throw_range_error(env, NULL, "adam: a buffer is smaller than n");
    return NULL;
  }
  const int T = n >= ADAM_POOL_MIN ? pool_ensure(g_max_threads) : 1;
  AdamTask a = {n, p, g, m, v, {s[0], s[1], s[2], s[3], s[4], s[5], s[6]}};
  pool_run(adam_part, &a, T, T); /* elementwise: the same result in any number of parts */
  return NULL;
}

static napi_value js_set_max_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_type_error(env, NULL, "setMaxThreads(n >= 1)");
    return NULL;
  }
  g_max_threads = n;
  g_cur_threads = -1;
  use_threads(0.0);
  return NULL;
}

/* setThresholds(multiThreadMinWork, blasMinWork, layerThreadMinWork): negative values leave a threshold unchanged */
static napi_value js_set_thresholds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  double a, b, c = -1.0;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_double(env, argv[0], &a) != napi_ok ||
      napi_get_value_double(env, argv[1], &b) != napi_ok ||
      (argc >= 3 && napi_get_value_double(env, argv[2], &c) != napi_ok)) {
    napi_throw_type_error(env, NULL, "setThresholds(multiThreadMinWork, blasMinWork[, layerThreadMinWork])");
    return NULL;
  }
  if (a >= 0) g_mt_min_work = a;
  if (b >= 0) g_blas_min_work = b;
  if (c >= 0) g_pool_min_work = c;
  return NULL;
}

/* ---- convolution helpers: the named kernels 'im2col', 'col2im', 'permute.fbp' and 'bias.grad' (contracts in
   src/kernels/generic.ts, their oracle). Maps of one batch row are C x H x W, row-major; cols are
   (C*kh*kw) x (B*Ho*Wo): row (c, p, q), column (b, i, j). Loops run over (batch row, channel) so that one input
   plane stays in L1 while its kh*kw shifted copies are written (or summed back); the stride-1, no-padding case
   (every LE layer) copies contiguous runs without bounds tests. ---- */
typedef struct {
  int C, H, W, kh, kw, stride, padH, padW, B, Ho, Wo;
} ConvGeom;

static void im2col_f32(const ConvGeom *g, const float *restrict x, float *restrict cols) {
  const int Ho = g->Ho, Wo = g->Wo, W = g->W, H = g->H, s = g->stride;
  const size_t P = (size_t)Ho * Wo, NP = (size_t)g->B * P, HW = (size_t)H * W;
  const int fast = s == 1 && g->padH == 0 && g->padW == 0;
  for (int b = 0; b < g->B; b++)
    for (int c = 0; c < g->C; c++) {
      const float *restrict plane = x + ((size_t)b * g->C + c) * HW;
      for (int p = 0; p < g->kh; p++)
        for (int q = 0; q < g->kw; q++) {
          float *restrict d = cols + ((size_t)(c * g->kh + p) * g->kw + q) * NP + (size_t)b * P;
          if (fast) {
            for (int i = 0; i < Ho; i++) {
              const float *restrict src = plane + (size_t)(i + p) * W + q;
              float *restrict dst = d + (size_t)i * Wo;
              for (int j = 0; j < Wo; j++) dst[j] = src[j];
            }
            continue;
          }
          for (int i = 0; i < Ho; i++) {
            const int y = i * s + p - g->padH;
            float *restrict dst = d + (size_t)i * Wo;
            if (y < 0 || y >= H) {
              memset(dst, 0, sizeof(float) * (size_t)Wo);
              continue;
            }
            const float *restrict src = plane + (size_t)y * W;
            for (int j = 0; j < Wo; j++) {
              const int xx = j * s + q - g->padW;
              dst[j] = xx >= 0 && xx < W ? src[xx] : 0.0f;
            }
          }
        }
    }
}

/* the adjoint: x = the sum of the cols entries over every patch covering each input position (x overwritten) */
static void col2im_f32(const ConvGeom *g, float *restrict x, const float *restrict cols) {
  const int Ho = g->Ho, Wo = g->Wo, W = g->W, H = g->H, s = g->stride;
  const size_t P = (size_t)Ho * Wo, NP = (size_t)g->B * P, HW = (size_t)H * W;
  const int fast = s == 1 && g->padH == 0 && g->padW == 0;
  for (int b = 0; b < g->B; b++)
    for (int c = 0; c < g->C; c++) {
      float *restrict plane = x + ((size_t)b * g->C + c) * HW;
      memset(plane, 0, sizeof(float) * HW);
      for (int p = 0; p < g->kh; p++)
        for (int q = 0; q < g->kw; q++) {
          const float *restrict d = cols + ((size_t)(c * g->kh + p) * g->kw + q) * NP + (size_t)b * P;
          if (fast) {
            for (int i = 0; i < Ho; i++) {
              float *restrict dst = plane + (size_t)(i + p) * W + q;
              const float *restrict src = d + (size_t)i * Wo;
              for (int j = 0; j < Wo; j++) dst[j] += src[j];
            }
            continue;
          }
          for (int i = 0; i < Ho; i++) {
            const int y = i * s + p - g->padH;
            if (y < 0 || y >= H) continue;
            float *restrict dst = plane + (size_t)y * W;
            const float *restrict src = d + (size_t)i * Wo;
            for (int j = 0; j < Wo; j++) {
              const int xx = j * s + q - g->padW;
              if (xx >= 0 && xx < W) dst[xx] += src[j];
            }
          }
        }
    }
}

/* F x (B*P) <-> B x (F*P); toBatch with a bias adds bias[f] on the way (the conv drive's bias, one pass) */
static void permute_fbp_f32(int B, int F, int P, int toBatch, const float *restrict src, float *restrict dst,
                            const float *restrict bias) {
  for (int b = 0; b < B; b++)
    for (int f = 0; f < F; f++) {
      const size_t fbp = ((size_t)f * B + b) * P, bfp = ((size_t)b * F + f) * P;
      if (!toBatch) {
        for (int p = 0; p < P; p++) dst[fbp + p] = src[bfp + p];
      } else if (bias) {
        const float bf = bias[f];
        for (int p = 0; p < P; p++) dst[bfp + p] = src[fbp + p] + bf;
      } else {
        for (int p = 0; p < P; p++) dst[bfp + p] = src[fbp + p];
      }
    }
}

/* g[f] = scale * sum over b, p of y[b, f, p] (y is B x F*P), accumulated in double */
static void bias_grad_f32(int B, int F, int P, double scale, const float *restrict y, float *restrict g) {
  for (int f = 0; f < F; f++) {
    double acc = 0.0;
    for (int b = 0; b < B; b++) {
      const float *restrict r = y + ((size_t)b * F + f) * P;
      float part = 0.0f;
      for (int p = 0; p < P; p++) part += r[p];
      acc += part;
    }
    g[f] = (float)(scale * acc);
  }
}

/* A conv stage's products one batch row at a time (the kernels 'conv.forward' / 'conv.backward' / 'conv.grads'):
   row b's patches (C*kh*kw x P) live in `scratch` (in cache), and the products read and write row b's F x P block of
   the B x F*P maps directly, so no layout change and no C*kh*kw x B*P matrix in memory is needed.
     mode 0: y_b = W patches(x_b) + bias      mode 1: x_b = col2im(W^T y_b)
     mode 2: gW = scale sum_b y_b patches(x_b)^T, gB = scale sum_{b,p} y_b (accumulated in double) */
static double *g_conv_acc = NULL;
static size_t g_conv_acc_n = 0;

static int conv_run(int mode, const ConvGeom *g, int F, const float *W, float *x, float *y, const float *bias,
                    float *gW, float *gB, float *scratch, double scale) {
  ConvGeom g1 = *g;
  g1.B = 1;
  const int P = g->Ho * g->Wo, CKK = g->C * g->kh * g->kw;
  const size_t CHW = (size_t)g->C * g->H * g->W, FP = (size_t)F * P;
  if (mode == 2 && gB) {
    if (g_conv_acc_n < (size_t)F) {
      double *a = realloc(g_conv_acc, sizeof(double) * (size_t)F);
      if (!a) return 0;
      g_conv_acc = a;
      g_conv_acc_n = (size_t)F;
    }
    memset(g_conv_acc, 0, sizeof(double) * (size_t)F);
  }
  use_threads((double)F * P * CKK);
  for (int b = 0; b < g->B; b++) {
    float *xb = x + (size_t)b * CHW, *yb = y + (size_t)b * FP;
    if (mode == 0) {
      im2col_f32(&g1, xb, scratch);
      cblas_sgemm(RowMajor, NoTrans, NoTrans, F, P, CKK, 1.0f, W, CKK, scratch, P, 0.0f, yb, P);
      if (bias)
        for (int f = 0; f < F; f++) {
          float *restrict r = yb + (size_t)f * P;
          const float bf = bias[f];
          for (int p = 0; p < P; p++) r[p] += bf;
        }
    } else if (mode == 1) {
      cblas_sgemm(RowMajor, Trans, NoTrans, CKK, P, F, 1.0f, W, CKK, yb, P, 0.0f, scratch, P);
      col2im_f32(&g1, xb, scratch);
    } else {
      im2col_f32(&g1, xb, scratch);
      cblas_sgemm(RowMajor, NoTrans, Trans, F, CKK, P, (float)scale, yb, P, scratch, P, b == 0 ? 0.0f : 1.0f, gW, CKK);
      if (gB)
        for (int f = 0; f < F; f++) {
          const float *restrict r = yb + (size_t)f * P;
          float part = 0.0f;
          for (int p = 0; p < P; p++) part += r[p];
          g_conv_acc[f] += part;
        }
    }
  }
  if (mode == 2 && gB)
    for (int f = 0; f < F; f++) gB[f] = (float)(scale * g_conv_acc[f]);
  return 1;
}

static int get_f32_or_null(napi_env env, napi_value v, float **ptr, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) {
    *ptr = NULL;
    *len = 0;
    return 1;
  }
  return get_f32(env, v, ptr, len);
}

/* conv(mode, C, H, W, kh, kw, stride, padH, padW, B, F, Wt, x, y, bias | null, gW | null, gB | null, scratch,
        Float64Array [scale]) */
static napi_value js_conv(napi_env env, napi_callback_info info) {
  size_t argc = 19;
  napi_value argv[19];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t d[11];
  float *Wt, *x, *y, *bias, *gW, *gB, *scratch;
  size_t nW, nx, ny, nb, ngW, ngB, ns, nsc;
  double *sc;
  int ok = argc >= 19;
  for (int i = 0; ok && i < 11; i++) ok = napi_get_value_int32(env, argv[i], &d[i]) == napi_ok;
  if (!ok || !get_f32(env, argv[11], &Wt, &nW) || !get_f32(env, argv[12], &x, &nx) || !get_f32(env, argv[13], &y, &ny) ||
      !get_f32_or_null(env, argv[14], &bias, &nb) || !get_f32_or_null(env, argv[15], &gW, &ngW) ||
      !get_f32_or_null(env, argv[16], &gB, &ngB) || !get_f32(env, argv[17], &scratch, &ns) ||
      !get_f64(env, argv[18], &sc, &nsc) || nsc < 1) {
    napi_throw_type_error(env, NULL, "conv(mode, C, H, W, kh, kw, stride, padH, padW, B, F, W, x, y, bias, gW, gB, scratch, Float64Array [scale]) with Float32Arrays");
    return NULL;
  }
  const int mode = d[0], F = d[10];
  ConvGeom g = {d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], 0, 0};
  if (mode < 0 || mode > 2 || F < 1 || g.C < 1 || g.H < 1 || g.W < 1 || g.kh < 1 || g.kw < 1 || g.stride < 1 ||
      g.padH < 0 || g.padW < 0 || g.B < 0 || g.H + 2 * g.padH < g.kh || g.W + 2 * g.padW < g.kw) {
    napi_throw_range_error(env, NULL, "conv: bad mode or geometry");
    return NULL;
  }
  g.Ho = (g.H + 2 * g.padH - g.kh) / g.stride + 1;
  g.Wo = (g.W + 2 * g.padW - g.kw) / g.stride + 1;
  const size_t P = (size_t)g.Ho * g.Wo, CKK = (size_t)g.C * g.kh * g.kw;
  if (nW < (size_t)F * CKK || nx < (size_t)g.B * g.C * g.H * g.W || ny < (size_t)g.B * F * P || ns < CKK * P ||
      (mode == 0 && bias && nb < (size_t)F) || (mode == 2 && (!gW || ngW < (size_t)F * CKK)) ||
      (mode == 2 && gB && ngB < (size_t)F)) {
    napi_throw_range_error(env, NULL, "conv: a buffer is smaller than its matrix");
    return NULL;
  }
  if (!conv_run(mode, &g, F, Wt, x, y, mode == 0 ? bias : NULL, gW, mode == 2 ? gB : NULL, scratch, sc[0]))
    napi_throw_error(env, NULL, "conv: out of memory");
  return NULL;
}

/* The LE population step (kernel 'le.neurons'; equations in src/model/layers/le.ts, whose generic version is the
   oracle) over B rows of n neurons, per-neuron tau and tau_m of length n:
     u_dot = (a - u + e) / tau_m,  u_p = u + tau u_dot,  u_pm = u + tau_m u_dot,  u <- u + dt u_dot,
     diff = (prosp_rate_errors ? u_p : u_pm) - a,  r = phi(u_p),  r' = phi'(u_p) */
static napi_value js_le_neurons(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t B, n, phi;
  bool pre;
  double *sc;
  size_t nsc, len[11];
  float *f[11]; /* drive, e, u, uDot, prospU, prospUm, diff, rN, rPrimeN, tau, tauM */
  int ok = argc >= 16 && napi_get_value_int32(env, argv[0], &B) == napi_ok && napi_get_value_int32(env, argv[1], &n) == napi_ok &&
           napi_get_value_int32(env, argv[2], &phi) == napi_ok && napi_get_value_bool(env, argv[3], &pre) == napi_ok &&
           get_f64(env, argv[4], &sc, &nsc) && nsc >= 1;
  for (int i = 0; ok && i < 11; i++) ok = get_f32(env, argv[5 + i], &f[i], &len[i]);
  if (!ok) {
    napi_throw_type_error(env, NULL, "leNeurons(B, n, phi, prospRateErrors, Float64Array [dt], drive, e, u, uDot, prospU, prospUm, diff, rN, rPrimeN, tau, tauM) with Float32Arrays");
    return NULL;
  }
  if (B < 0 || n < 0 || phi < 0 || phi >= PHI_COUNT) {
    napi_throw_range_error(env, NULL, "leNeurons: bad sizes or activation code");
    return NULL;
  }
  const size_t N = (size_t)B * n;
  for (int i = 0; i < 11; i++)
    if (len[i] < (i >= 9 ? (size_t)n : N)) {
      napi_throw_range_error(env, NULL, "leNeurons: a buffer is smaller than B*n (tau, tau_m: n)");
      return NULL;
    }
  const float dt = (float)sc[0];
  const float *restrict s = f[0], *restrict e = f[1], *restrict tau = f[9], *restrict tauM = f[10];
  float *restrict u = f[2], *restrict uD = f[3], *restrict pU = f[4], *restrict pUm = f[5], *restrict df = f[6];
  for (int b = 0; b < B; b++) {
    const size_t o = (size_t)b * n;
    for (int j = 0; j < n; j++) {
      const size_t i = o + j;
      const float ui = u[i], si = s[i];
      const float ud = (1.0f / tauM[j]) * (si - ui + e[i]);
      const float pu = ui + tau[j] * ud, pum = ui + tauM[j] * ud;
      uD[i] = ud;
      pU[i] = pu;
      pUm[i] = pum;
      u[i] = ui + dt * ud;
      df[i] = (pre ? pu : pum) - si;
    }
  }
  phi_apply(phi, pU, f[7], f[8], (int)N);
  return NULL;
}

/* patches(toCols, C, H, W, kh, kw, stride, padH, padW, B, x, cols): im2col (toCols) or col2im */
static napi_value js_patches(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool toCols;
  int32_t d[9];
  float *x, *cols;
  size_t nx, ncols;
  int ok = argc >= 12 && napi_get_value_bool(env, argv[0], &toCols) == napi_ok;
  for (int i = 0; ok && i < 9; i++) ok = napi_get_value_int32(env, argv[1 + i], &d[i]) == napi_ok;
  if (!ok || !get_f32(env, argv[10], &x, &nx) || !get_f32(env, argv[11], &cols, &ncols)) {
    napi_throw_type_error(env, NULL, "patches(toCols, C, H, W, kh, kw, stride, padH, padW, B, x, cols) with Float32Arrays");
    return NULL;
  }
  ConvGeom g = {d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], 0, 0};
  if (g.C < 1 || g.H < 1 || g.W < 1 || g.kh < 1 || g.kw < 1 || g.stride < 1 || g.padH < 0 || g.padW < 0 || g.B < 0) {
    napi_throw_range_error(env, NULL, "patches: bad geometry");
    return NULL;
  }
  g.Ho = (g.H + 2 * g.padH - g.kh) / g.stride + 1;
  g.Wo = (g.W + 2 * g.padW - g.kw) / g.stride + 1;
  if (g.H + 2 * g.padH < g.kh || g.W + 2 * g.padW < g.kw) {
    napi_throw_range_error(env, NULL, "patches: the window does not fit the input");
    return NULL;
  }
  const size_t needX = (size_t)g.B * g.C * g.H * g.W;
  const size_t needCols = (size_t)g.C * g.kh * g.kw * g.B * g.Ho * g.Wo;
  if (nx < needX || ncols < needCols) {
    napi_throw_range_error(env, NULL, "patches: a buffer is smaller than its map");
    return NULL;
  }
  if (toCols) im2col_f32(&g, x, cols);
  else col2im_f32(&g, x, cols);
  return NULL;
}

/* permuteFBP(B, F, P, toBatch, src, dst, bias | null) */
static napi_value js_permute_fbp(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t B, F, P;
  bool toBatch;
  float *src, *dst, *bias = NULL;
  size_t ns, nd, nb = 0;
  napi_valuetype bt = napi_null;
  if (argc < 7 || napi_get_value_int32(env, argv[0], &B) != napi_ok || napi_get_value_int32(env, argv[1], &F) != napi_ok ||
      napi_get_value_int32(env, argv[2], &P) != napi_ok || napi_get_value_bool(env, argv[3], &toBatch) != napi_ok ||
      !get_f32(env, argv[4], &src, &ns) || !get_f32(env, argv[5], &dst, &nd) ||
      napi_typeof(env, argv[6], &bt) != napi_ok || (bt != napi_null && bt != napi_undefined && !get_f32(env, argv[6], &bias, &nb))) {
    napi_throw_type_error(env, NULL, "permuteFBP(B, F, P, toBatch, src, dst, bias | null) with Float32Arrays");
    return NULL;
  }
  const size_t n = (size_t)B * F * P;
  if (B < 0 || F < 0 || P < 0 || ns < n || nd < n || (bias && nb < (size_t)F)) {
    napi_throw_range_error(env, NULL, "permuteFBP: a buffer is smaller than B*F*P (or the bias than F)");
    return NULL;
  }
  permute_fbp_f32(B, F, P, toBatch, src, dst, bias);
  return NULL;
}

/* biasGrad(B, F, P, Float64Array [scale], y, g) */
static napi_value js_bias_grad(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t B, F, P;
  double *sc;
  float *y, *g;
  size_t nsc, ny, ng;
  if (argc < 6 || napi_get_value_int32(env, argv[0], &B) != napi_ok || napi_get_value_int32(env, argv[1], &F) != napi_ok ||
      napi_get_value_int32(env, argv[2], &P) != napi_ok || !get_f64(env, argv[3], &sc, &nsc) || nsc < 1 ||
      !get_f32(env, argv[4], &y, &ny) || !get_f32(env, argv[5], &g, &ng)) {
    napi_throw_type_error(env, NULL, "biasGrad(B, F, P, Float64Array [scale], y, g) with Float32Arrays");
    return NULL;
  }
  if (B < 0 || F < 0 || P < 0 || ny < (size_t)B * F * P || ng < (size_t)F) {
    napi_throw_range_error(env, NULL, "biasGrad: a buffer is smaller than B*F*P (or g than F)");
    return NULL;
  }
  bias_grad_f32(B, F, P, sc[0], y, g);
  return NULL;
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value s;
  if (napi_create_string_utf8(env, val ? val : "", NAPI_AUTO_LENGTH, &s) == napi_ok)
    napi_set_named_property(env, obj, key, s);
}
static void set_num(napi_env env, napi_value obj, const char *key, double val) {
  napi_value s;
  if (napi_create_double(env, val, &s) == napi_ok) napi_set_named_property(env, obj, key, s);
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  NAPI_OK(napi_create_object(env, &obj));
  set_str(env, obj, "corename", openblas_get_corename());
  set_str(env, obj, "config", openblas_get_config());
  set_num(env, obj, "maxThreads", g_max_threads);
  set_num(env, obj, "numThreads", openblas_get_num_threads());
  set_num(env, obj, "multiThreadMinWork", g_mt_min_work);
  set_num(env, obj, "blasMinWork", g_blas_min_work);
  set_num(env, obj, "layerThreadMinWork", g_pool_min_work);
  set_num(env, obj, "poolThreads", g_pool.size + 1);
  set_num(env, obj, "poolBackoffs", (double)g_pool_backoffs);
  return obj;
}

#include "gle_microcircuit.c" /* microPresent: the dendritic microcircuit (src/model/microcircuit.ts) */

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"makeLayer", NULL, js_make_layer, NULL, NULL, NULL, napi_default, NULL},
    {"layerStep", NULL, js_layer_step, NULL, NULL, NULL, napi_default, NULL},
    {"gemm", NULL, js_gemm, NULL, NULL, NULL, napi_default, NULL},
    {"activate", NULL, js_activate, NULL, NULL, NULL, napi_default, NULL},
    {"adam", NULL, js_adam, NULL, NULL, NULL, napi_default, NULL},
    {"setMaxThreads", NULL, js_set_max_threads, NULL, NULL, NULL, napi_default, NULL},
    {"setThresholds", NULL, js_set_thresholds, NULL, NULL, NULL, napi_default, NULL},
    {"info", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
    {"patches", NULL, js_patches, NULL, NULL, NULL, napi_default, NULL},
    {"permuteFBP", NULL, js_permute_fbp, NULL, NULL, NULL, napi_default, NULL},
    {"biasGrad", NULL, js_bias_grad, NULL, NULL, NULL, napi_default, NULL},
    {"conv", NULL, js_conv, NULL, NULL, NULL, napi_default, NULL},
    {"leNeurons", NULL, js_le_neurons, NULL, NULL, NULL, napi_default, NULL},
    {"microPresent", NULL, js_micro_present, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  /* start single-threaded: multi-threading is opted into per product by the rule above */
  openblas_set_num_threads(1);
  g_cur_threads = 1;
  return exports;
}
