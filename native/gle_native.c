/*
 * gle_native: the `native` kernel backend of gle (Node N-API addon over OpenBLAS), float32 only.
 *
 * Exports (all buffers are Float32Arrays; lengths are checked, never trusted):
 *   makeLayer(B, nIn, nOut, [W, b|null, tauM, tauR, rBottom, rawErr, u, v, rPrime, uN, vN, rN, rPrimeN,
 *             eBottomN, instE, prospU, prospV, uDot, gW, gB|null, gTau]) -> handle (external)
 *   layerStep(handle, phi, dt, gamma, flags)
 *   gemm(tA, tB, M, N, K, alpha, A, B, beta, C)
 *   activate(phi, x, r, rp, n)
 *   adam(p, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay)
 *   setMaxThreads(n) / setThreadRule(minWork) / info() -> { corename, config, maxThreads, numThreads, ... }
 *
 * The semantics are those of the portable reference backend (src/kernels/js/index.ts) and the doc comments of
 * src/kernels/types.ts. Transcendentals use branch-free float approximations (relative error ~1e-7) so the
 * elementwise loops vectorise.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static double g_mt_min_work = 16.0e6; /* multiply-adds from which a product uses g_max_threads */
static int g_cur_threads = -1;

static inline void use_threads(double work) {
  int want = (g_max_threads > 1 && work >= g_mt_min_work) ? g_max_threads : 1;
  if (want != g_cur_threads) {
    openblas_set_num_threads(want);
    g_cur_threads = want;
  }
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

/* r = phi(x), rp = phi'(x) over n entries; returns 0 on an unknown code */
static int phi_apply(int phi, const float *restrict x, float *restrict r, float *restrict rp, int n) {
  int i;
  switch (phi) {
    case 0:
      for (i = 0; i < n; i++) {
        r[i] = x[i];
        rp[i] = 1.0f;
      }
      return 1;
    case 1:
      for (i = 0; i < n; i++) {
        float d;
        r[i] = ftanh(x[i], &d);
        rp[i] = d;
      }
      return 1;
    case 2:
      for (i = 0; i < n; i++) {
        float d;
        r[i] = fsigmoid(x[i], &d);
        rp[i] = d;
      }
      return 1;
    case 3:
      for (i = 0; i < n; i++) {
        float d;
        r[i] = fsoftplus(x[i], &d);
        rp[i] = d;
      }
      return 1;
    case 4:
      for (i = 0; i < n; i++) {
        float v = x[i];
        r[i] = v > 0.0f ? v : 0.0f;
        rp[i] = v > 0.0f ? 1.0f : 0.0f;
      }
      return 1;
    case 5:
      for (i = 0; i < n; i++) {
        float v = x[i];
        r[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        rp[i] = (v >= 0.0f && v <= 1.0f) ? 1.0f : 0.0f;
      }
      return 1;
    case 6:
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

/* ---- the per-layer handle ---- */
enum {
  F_W, F_b, F_tauM, F_tauR, F_rB, F_raw, F_u, F_v, F_rP, F_uN, F_vN, F_rN, F_rPN, F_eB, F_instE, F_pU, F_pV,
  F_uDot, F_gW, F_gB, F_gTau, F_COUNT
};
static const char *const field_names[F_COUNT] = {
  "W", "b", "tauM", "tauR", "rBottom", "rawErr", "u", "v", "rPrime", "uN", "vN", "rN", "rPrimeN", "eBottomN",
  "instE", "prospU", "prospV", "uDot", "gW", "gB", "gTau"};

typedef struct {
  int B, nIn, nOut;
  float *f[F_COUNT];
  int G;                /* phi runs over chunks of G rows at once (one vector remainder per chunk, not per row) */
  float *iTauM, *iTauR; /* nOut scratch: reciprocals of the time constants of this step */
  double *accB, *accT;  /* nOut scratch: gradient accumulators */
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

static int get_f32(napi_env env, napi_value v, float **ptr, size_t *len) {
  napi_typedarray_type t;
  size_t n;
  void *data;
  napi_value ab;
  size_t off;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &t, &n, &data, &ab, &off) != napi_ok) return 0;
  if (t != napi_float32_array) return 0;
  *ptr = (float *)data;
  *len = n;
  return 1;
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
    napi_throw_type_error(env, NULL, "makeLayer: expected 21 buffers");
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
  size_t bo = (size_t)B * nOut, bi = (size_t)B * nIn;
  need[F_W] = (size_t)nOut * nIn;
  need[F_b] = nOut;
  need[F_tauM] = nOut;
  need[F_tauR] = nOut;
  need[F_rB] = bi;
  need[F_raw] = bo;
  need[F_u] = bo;
  need[F_v] = bo;
  need[F_rP] = bo;
  need[F_uN] = bo;
  need[F_vN] = bo;
  need[F_rN] = bo;
  need[F_rPN] = bo;
  need[F_eB] = bi;
  need[F_instE] = bo;
  need[F_pU] = bo;
  need[F_pV] = bo;
  need[F_uDot] = bo;
  need[F_gW] = (size_t)nOut * nIn;
  need[F_gB] = nOut;
  need[F_gTau] = nOut;
  for (uint32_t i = 0; i < F_COUNT; i++) {
    napi_value el;
    napi_valuetype vt;
    if (napi_get_element(env, argv[3], i, &el) != napi_ok || napi_typeof(env, el, &vt) != napi_ok) {
      layer_free(env, L, NULL);
      napi_throw_error(env, NULL, "makeLayer: cannot read buffers");
      return NULL;
    }
    if ((i == F_b || i == F_gB) && (vt == napi_null || vt == napi_undefined)) {
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
  L->accB = (double *)malloc(sizeof(double) * nOut);
  L->accT = (double *)malloc(sizeof(double) * nOut);
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

/* elementwise part of the step: membrane/error updates, phi, and the batch sums of the gradients, in chunks of G
   rows that stay in L1 between the passes */
static void layer_elementwise(Layer *L, int phi, int prospective, float dt, float gamma, int grads, int learnTau) {
  const int B = L->B, nOut = L->nOut, G = L->G;
  const float *bias = L->f[F_b] ? L->f[F_b] : L->zeros;
  float *const *f = L->f;
  double *restrict accB = L->accB, *restrict accT = L->accT;
  if (nOut == 1) {
    col_update(B, prospective, dt, gamma, bias[0], f[F_tauM][0], f[F_tauR][0], L->iTauM[0], L->iTauR[0], f[F_raw],
               f[F_rP], f[F_u], f[F_v], f[F_uN], f[F_vN], f[F_instE], f[F_pU], f[F_pV], f[F_uDot]);
    phi_apply(phi, f[F_pU], f[F_rN], f[F_rPN], B);
    if (grads) {
      const float *restrict pV = f[F_pV], *restrict uDot = f[F_uDot];
      double sb = 0.0, st = 0.0;
      for (int bi = 0; bi < B; bi++) {
        sb += (double)pV[bi];
        st += (double)pV[bi] * (double)uDot[bi];
      }
      accB[0] = sb;
      accT[0] = st;
    }
    return;
  }
  for (int r0 = 0; r0 < B; r0 += G) {
    const int rows = B - r0 < G ? B - r0 : G;
    for (int bi = r0; bi < r0 + rows; bi++) {
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
    const size_t o = (size_t)r0 * nOut;
    phi_apply(phi, f[F_pU] + o, f[F_rN] + o, f[F_rPN] + o, rows * nOut);
  }
}

static napi_value js_layer_step(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Layer *L;
  int32_t phi, flags;
  double dt, gamma;
  if (argc < 5 || napi_get_value_external(env, argv[0], (void **)&L) != napi_ok ||
      napi_get_value_int32(env, argv[1], &phi) != napi_ok || napi_get_value_double(env, argv[2], &dt) != napi_ok ||
      napi_get_value_double(env, argv[3], &gamma) != napi_ok || napi_get_value_int32(env, argv[4], &flags) != napi_ok) {
    napi_throw_type_error(env, NULL, "layerStep(handle, phi, dt, gamma, flags)");
    return NULL;
  }
  if (phi < 0 || phi > 6) {
    napi_throw_range_error(env, NULL, "unknown activation code");
    return NULL;
  }
  const int B = L->B, nIn = L->nIn, nOut = L->nOut;
  const int prospective = (flags & 1) != 0, grads = (flags & 2) != 0, learnTau = grads && (flags & 4) != 0;
  const int errDown = (flags & 8) != 0;
  const float *W = L->f[F_W], *rB = L->f[F_rB];
  float *uDot = L->f[F_uDot], *pV = L->f[F_pV];

  for (int j = 0; j < nOut; j++) {
    L->iTauM[j] = 1.0f / L->f[F_tauM][j];
    L->iTauR[j] = 1.0f / L->f[F_tauR][j];
  }
  if (grads) {
    memset(L->accB, 0, sizeof(double) * nOut);
    if (learnTau) memset(L->accT, 0, sizeof(double) * nOut);
  }

  /* drive S = rB W^T (B x nOut) into uDot */
  if (L->blas) {
    use_threads(L->work);
    cblas_sgemm(RowMajor, NoTrans, Trans, B, nOut, nIn, 1.0f, rB, nIn, W, nIn, 0.0f, uDot, nOut);
  } else if (nIn == 1) {
    for (int bi = 0; bi < B; bi++) {
      const float x = rB[bi];
      float *restrict s = uDot + (size_t)bi * nOut;
      for (int j = 0; j < nOut; j++) s[j] = W[j] * x;
    }
  } else {
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

  layer_elementwise(L, phi, prospective, (float)dt, (float)gamma, grads, learnTau);

  if (grads) {
    const double invB = 1.0 / B;
    float *gW = L->f[F_gW];
    if (L->blas) {
      use_threads(L->work);
      cblas_sgemm(RowMajor, Trans, NoTrans, nOut, nIn, B, (float)(-invB), pV, nOut, rB, nIn, 0.0f, gW, nIn);
    } else {
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
    if (L->f[F_gB])
      for (int j = 0; j < nOut; j++) L->f[F_gB][j] = (float)(-L->accB[j] * invB);
    if (learnTau)
      for (int j = 0; j < nOut; j++) L->f[F_gTau][j] = (float)(L->accT[j] * invB);
  }

  if (errDown) {
    float *eB = L->f[F_eB];
    if (L->blas) {
      use_threads(L->work);
      cblas_sgemm(RowMajor, NoTrans, NoTrans, B, nIn, nOut, 1.0f, pV, nOut, W, nIn, 0.0f, eB, nIn);
    } else if (nIn == 1) {
      for (int bi = 0; bi < B; bi++) {
        const float *restrict p = pV + (size_t)bi * nOut;
        double acc = 0.0;
        for (int j = 0; j < nOut; j++) acc += (double)p[j] * W[j];
        eB[bi] = (float)acc;
      }
    } else {
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
  }
  return NULL;
}

static napi_value js_gemm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool tA, tB;
  int32_t M, N, K;
  double alpha, beta;
  float *A, *Bm, *C;
  size_t nA, nB, nC;
  if (argc < 10 || napi_get_value_bool(env, argv[0], &tA) != napi_ok ||
      napi_get_value_bool(env, argv[1], &tB) != napi_ok || napi_get_value_int32(env, argv[2], &M) != napi_ok ||
      napi_get_value_int32(env, argv[3], &N) != napi_ok || napi_get_value_int32(env, argv[4], &K) != napi_ok ||
      napi_get_value_double(env, argv[5], &alpha) != napi_ok || !get_f32(env, argv[6], &A, &nA) ||
      !get_f32(env, argv[7], &Bm, &nB) || napi_get_value_double(env, argv[8], &beta) != napi_ok ||
      !get_f32(env, argv[9], &C, &nC)) {
    napi_throw_type_error(env, NULL, "gemm(tA, tB, M, N, K, alpha, A, B, beta, C) with Float32Arrays");
    return NULL;
  }
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

static napi_value js_adam(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *p, *g, *m, *v;
  size_t np, ng, nm, nv;
  int32_t n;
  double s[7];
  int ok = argc >= 12 && get_f32(env, argv[0], &p, &np) && get_f32(env, argv[1], &g, &ng) &&
           get_f32(env, argv[2], &m, &nm) && get_f32(env, argv[3], &v, &nv) &&
           napi_get_value_int32(env, argv[4], &n) == napi_ok;
  for (int i = 0; ok && i < 7; i++) ok = napi_get_value_double(env, argv[5 + i], &s[i]) == napi_ok;
  if (!ok) {
    napi_throw_type_error(env, NULL, "adam(p, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay)");
    return NULL;
  }
  if (n < 0 || np < (size_t)n || ng < (size_t)n || nm < (size_t)n || nv < (size_t)n) {
    napi_throw_range_error(env, NULL, "adam: a buffer is smaller than n");
    return NULL;
  }
  adam_update(n, p, g, m, v, s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
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

/* setThresholds(multiThreadMinWork, blasMinWork): negative values leave a threshold unchanged */
static napi_value js_set_thresholds(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double a, b;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_double(env, argv[0], &a) != napi_ok ||
      napi_get_value_double(env, argv[1], &b) != napi_ok) {
    napi_throw_type_error(env, NULL, "setThresholds(multiThreadMinWork, blasMinWork)");
    return NULL;
  }
  if (a >= 0) g_mt_min_work = a;
  if (b >= 0) g_blas_min_work = b;
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
  return obj;
}

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
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  /* start single-threaded: multi-threading is opted into per product by the rule above */
  openblas_set_num_threads(1);
  g_cur_threads = 1;
  return exports;
}
