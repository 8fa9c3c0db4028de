/*
 * The dendritic microcircuit (src/model/microcircuit.ts) stepped in C: presentMicrocircuit for an ensemble of N
 * networks in float64, the same equations and the same order of operations as the TypeScript step (see the model
 * module's header for the equations); only the libm functions (exp, log, log1p, sin, cos) are glibc's instead of
 * V8's, so results agree with the TypeScript path to rounding, not bit for bit. Included by gle_native.c.
 *
 * microPresent(params: Float64Array, bufs: Float64Array[32], noise: Uint32Array, gauss: Float64Array,
 *              x: Float64Array, target: Float64Array | null, steps, learn, from, acc: Float64Array) -> steps averaged
 * params: see MC_P_* below; bufs in the order of MC_B_* below.
 */
enum { MC_P_NIN, MC_P_NH, MC_P_NO, MC_P_N, MC_P_DT, MC_P_LE, MC_P_SGM, MC_P_GL, MC_P_GB, MC_P_GA, MC_P_GSOM, MC_P_GD, MC_P_GT,
       MC_P_SIGMA, MC_P_TAUXI, MC_P_TAUHP, MC_P_ALPHA, MC_P_TAU0, MC_P_ETAUP0, MC_P_ETAUP1, MC_P_ETAIP, MC_P_ETAPI, MC_P_ETAB,
       MC_P_TAUW0, MC_P_TAUW1, MC_P_TAUW2, MC_P_CLIP0, MC_P_CLIP1, MC_P_FEEDBACK, MC_P_COUNT };
enum { MC_B_WUP1, MC_B_WUP2, MC_B_B, MC_B_WIP, MC_B_WPI, MC_B_DUP1, MC_B_DUP2, MC_B_DIP, MC_B_DPI, MC_B_RIN, MC_B_TGT,
       MC_B_UP, MC_B_UPP, MC_B_RP, MC_B_RHATP, MC_B_VA, MC_B_VB, MC_B_XI, MC_B_UI, MC_B_UPI, MC_B_RI, MC_B_RHATI,
       MC_B_UO, MC_B_RO, MC_B_RHATO, MC_B_UPO, MC_B_HPO, MC_B_RPOLD, MC_B_RIOLD, MC_B_ROOLD, MC_B_UPOOLD, MC_B_BNORM, MC_B_COUNT };

static inline double mc_phi(int sgm, double u) {
  return sgm ? 1 / (1 + exp(-u)) : u < -15 ? 0 : u > 15 ? u : log1p(exp(u));
}

/* one step dt of the compartment u[q] relaxing to uss with conductance g; up[q] = its prospective potential (le)
   or its next one, returned */
static inline double mc_relax(double *u, double *up, int q, double uss, double g, double dt, int le) {
  const double u0 = u[q], ud = g * (uss - u0);
  const double p = le ? u0 + ud / g : u0 + dt * ud;
  u[q] = u0 + dt * ud;
  up[q] = p;
  return p;
}

static inline uint32_t mc_rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

/* xoshiro128** + Box-Muller, as fillNormal in the TypeScript module */
static void mc_fill_normal(uint32_t *st, double *out, int n) {
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
  for (int i = 0; i < n; i += 2) {
    uint32_t r1 = mc_rotl(b * 5u, 7) * 9u;
    uint32_t t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = mc_rotl(d, 11);
    uint32_t r2 = mc_rotl(b * 5u, 7) * 9u;
    t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = mc_rotl(d, 11);
    double u1 = ((double)r1 + 0.5) / 4294967296.0;
    double rad = sqrt(-2 * log(u1)), ph = (2 * 3.141592653589793 * (double)r2) / 4294967296.0;
    out[i] = rad * cos(ph);
    if (i + 1 < n) out[i + 1] = rad * sin(ph);
  }
  st[0] = a; st[1] = b; st[2] = c; st[3] = d;
}

typedef struct { double *b[MC_B_COUNT]; } McBufs;

/* feedback 2: B = W_up2ᵀ; 3: B = c W_up2ᵀ with c = bNorm / ‖W_up2‖_F per network; W_pi = −B */
static void mc_transpose(const double *P, McBufs *S) {
  const int nH = (int)P[MC_P_NH], nO = (int)P[MC_P_NO], N = (int)P[MC_P_N];
  const int scaled = (int)P[MC_P_FEEDBACK] == 3;
  double *W_up2 = S->b[MC_B_WUP2], *B = S->b[MC_B_B], *W_pi = S->b[MC_B_WPI];
  const double *bNorm = S->b[MC_B_BNORM];
  for (int e = 0, o = 0; e < N; e++, o += nH * nO) {
    double c = 1;
    if (scaled) {
      double q = 0;
      for (int i = o; i < o + nH * nO; i++) q += W_up2[i] * W_up2[i];
      if (q > 0) c = bNorm[e] / sqrt(q);
    }
    for (int k = 0; k < nO; k++)
      for (int i = 0; i < nH; i++) {
        const double w = c * W_up2[o + k * nH + i];
        B[o + i * nO + k] = w;
        W_pi[o + i * nO + k] = -w;
      }
  }
}

/* a weight update dw: applied at once (lp >= 1), or low-passed: W[q] += d[q], then d[q] moves by lp toward dw */
static inline void mc_update(double *W, double *d, int q, double dw, double lp) {
  if (lp >= 1) W[q] += dw;
  else {
    W[q] += d[q];
    d[q] += lp * (dw - d[q]);
  }
}

static void mc_plasticity(const double *P, McBufs *S) {
  const int nIn = (int)P[MC_P_NIN], nH = (int)P[MC_P_NH], nO = (int)P[MC_P_NO], N = (int)P[MC_P_N];
  const double dt = P[MC_P_DT];
  double *W_up1 = S->b[MC_B_WUP1], *W_up2 = S->b[MC_B_WUP2], *B = S->b[MC_B_B], *W_ip = S->b[MC_B_WIP], *W_pi = S->b[MC_B_WPI];
  double *d_up1 = S->b[MC_B_DUP1], *d_up2 = S->b[MC_B_DUP2], *d_ip = S->b[MC_B_DIP], *d_pi = S->b[MC_B_DPI];
  const double *rIn = S->b[MC_B_RIN], *rP = S->b[MC_B_RP], *rHatP = S->b[MC_B_RHATP], *vA = S->b[MC_B_VA], *xi = S->b[MC_B_XI];
  const double *rI = S->b[MC_B_RI], *rHatI = S->b[MC_B_RHATI], *rO = S->b[MC_B_RO], *rHatO = S->b[MC_B_RHATO], *hpO = S->b[MC_B_HPO];
  const double *rPold = S->b[MC_B_RPOLD], *rIold = S->b[MC_B_RIOLD];
  const double lpUp = P[MC_P_TAUW0] > dt ? dt / P[MC_P_TAUW0] : 1, lpIp = P[MC_P_TAUW1] > dt ? dt / P[MC_P_TAUW1] : 1, lpPi = P[MC_P_TAUW2] > dt ? dt / P[MC_P_TAUW2] : 1;
  const double c1 = P[MC_P_CLIP0], c2 = P[MC_P_CLIP1];
  const int clip1 = c1 < INFINITY, clip2 = c2 < INFINITY; /* clipping to ±∞ changes nothing */
  const double e1 = dt * P[MC_P_ETAUP0], e2 = dt * P[MC_P_ETAUP1], eIp = dt * P[MC_P_ETAIP], ePi = dt * P[MC_P_ETAPI];
  const int fb = (int)P[MC_P_FEEDBACK];
  const int pal = fb == 1 && P[MC_P_ETAB] != 0;
  const double eB = dt * P[MC_P_ETAB], al = P[MC_P_ALPHA];
  for (int e = 0; e < N; e++) {
    const int eH = e * nH, eO = e * nO, eIn = e * nIn, eHIn = eH * nIn, eHO = eH * nO;
    if (e1 != 0 || lpUp < 1)
      for (int i = 0; i < nH; i++) {
        const double g = e1 * (rP[eH + i] - rHatP[eH + i]);
        const int o = eHIn + i * nIn;
        for (int j = 0; j < nIn; j++) {
          const int q = o + j;
          mc_update(W_up1, d_up1, q, g * rIn[eIn + j], lpUp);
          if (clip1) W_up1[q] = fmin(fmax(W_up1[q], -c1), c1);
        }
      }
    for (int k = 0; k < nO; k++) {
      const double g = e2 * (rO[eO + k] - rHatO[eO + k]), gi = eIp * (rI[eO + k] - rHatI[eO + k]);
      const int o = eHO + k * nH;
      for (int i = 0; i < nH; i++) {
        const int q = o + i;
        const double pre = rPold[eH + i];
        if (e2 != 0 || lpUp < 1) {
          mc_update(W_up2, d_up2, q, g * pre, lpUp);
          if (clip2) W_up2[q] = fmin(fmax(W_up2[q], -c2), c2);
        }
        mc_update(W_ip, d_ip, q, gi * pre, lpIp);
      }
    }
    if (fb >= 2) continue;
    if (ePi != 0 || lpPi < 1)
      for (int i = 0; i < nH; i++) {
        const double g = -ePi * vA[eH + i];
        const int o = eHO + i * nO;
        for (int k = 0; k < nO; k++) {
          const int q = o + k;
          mc_update(W_pi, d_pi, q, g * rIold[eO + k], lpPi);
        }
      }
    if (pal)
      for (int i = 0; i < nH; i++) {
        const double n = xi[eH + i];
        const int o = eHO + i * nO;
        for (int k = 0; k < nO; k++) B[o + k] += eB * (n * hpO[eO + k] - al * B[o + k]);
      }
  }
  if (fb >= 2) mc_transpose(P, S);
}

static void mc_step(const double *P, McBufs *S, uint32_t *noise, double *gauss, const double *x, const double *target, int learn) {
  const int nIn = (int)P[MC_P_NIN], nH = (int)P[MC_P_NH], nO = (int)P[MC_P_NO], N = (int)P[MC_P_N];
  const double dt = P[MC_P_DT];
  const int le = P[MC_P_LE] != 0, sgm = P[MC_P_SGM] != 0;
  const double *W_up1 = S->b[MC_B_WUP1], *W_up2 = S->b[MC_B_WUP2], *B = S->b[MC_B_B], *W_ip = S->b[MC_B_WIP], *W_pi = S->b[MC_B_WPI];
  double *rIn = S->b[MC_B_RIN], *tgt = S->b[MC_B_TGT], *uP = S->b[MC_B_UP], *upP = S->b[MC_B_UPP], *rP = S->b[MC_B_RP], *rHatP = S->b[MC_B_RHATP];
  double *vA = S->b[MC_B_VA], *vB = S->b[MC_B_VB], *xi = S->b[MC_B_XI], *uI = S->b[MC_B_UI], *upI = S->b[MC_B_UPI], *rI = S->b[MC_B_RI];
  double *rHatI = S->b[MC_B_RHATI], *uO = S->b[MC_B_UO], *rO = S->b[MC_B_RO], *rHatO = S->b[MC_B_RHATO], *upO = S->b[MC_B_UPO], *hpO = S->b[MC_B_HPO];
  double *rPold = S->b[MC_B_RPOLD], *rIold = S->b[MC_B_RIOLD], *rOold = S->b[MC_B_ROOLD], *upOold = S->b[MC_B_UPOOLD];
  memcpy(rPold, rP, sizeof(double) * N * nH);
  memcpy(rIold, rI, sizeof(double) * N * nO);
  memcpy(rOold, rO, sizeof(double) * N * nO);
  memcpy(upOold, upO, sizeof(double) * N * nO);
  const double gl = P[MC_P_GL], gb = P[MC_P_GB], ga = P[MC_P_GA], gd = P[MC_P_GD], gsom = P[MC_P_GSOM], gt = P[MC_P_GT];
  const double gP = gl + gb + ga, gI = gl + gd + gsom, gO = gl + gb + gt;
  const double fBP = gb / gP, fDI = gd / (gl + gd), fBO = gb / (gl + gb);
  const double sig = P[MC_P_SIGMA], tauXi = P[MC_P_TAUXI], ouA = dt / tauXi, ouB = (sig * sqrt(dt * tauXi)) / tauXi;
  const int teach = target != NULL;
  const double hpDecay = dt / P[MC_P_TAUHP];
  for (int e = 0; e < N; e++) {
    const int eH = e * nH, eO = e * nO, eIn = e * nIn, eHIn = eH * nIn, eHO = eH * nO;
    if (sig > 0) mc_fill_normal(noise + 4 * e, gauss, nH);
    for (int i = 0; i < nH; i++) {
      double b = 0;
      const int o1 = eHIn + i * nIn;
      for (int j = 0; j < nIn; j++) b += W_up1[o1 + j] * rIn[eIn + j];
      double a = 0;
      const int o2 = eHO + i * nO;
      for (int k = 0; k < nO; k++) a += B[o2 + k] * rOold[eO + k] + W_pi[o2 + k] * rIold[eO + k];
      const int q = eH + i;
      vB[q] = b;
      vA[q] = a;
      double n = xi[q];
      if (sig > 0) n = xi[q] = n + ouB * gauss[i] - ouA * n;
      const double uss = (gb * b + ga * (a + n)) / gP;
      const double up = mc_relax(uP, upP, q, uss, gP, dt, le);
      rP[q] = mc_phi(sgm, up);
      rHatP[q] = mc_phi(sgm, fBP * b);
    }
    /* the interneurons' and the output cells' sums over the hidden rates, accumulated for all k at once (each sum
       still adds its terms in the order i = 0, 1, …: the same result as one sum after the other) */
    double dI[nO], bO[nO];
    for (int k = 0; k < nO; k++) dI[k] = 0, bO[k] = 0;
    for (int i = 0; i < nH; i++) {
      const double r = rPold[eH + i];
      for (int k = 0; k < nO; k++) {
        dI[k] += W_ip[eHO + k * nH + i] * r;
        bO[k] += W_up2[eHO + k * nH + i] * r;
      }
    }
    for (int k = 0; k < nO; k++) {
      const double d = dI[k];
      const int q = eO + k;
      const double uss = (gd * d + gsom * upOold[q]) / gI;
      const double up = mc_relax(uI, upI, q, uss, gI, dt, le);
      rI[q] = mc_phi(sgm, up);
      rHatI[q] = mc_phi(sgm, fDI * d);
    }
    for (int k = 0; k < nO; k++) {
      const double b = bO[k];
      const int q = eO + k;
      const double uss = teach ? (gb * b + gt * tgt[q]) / gO : fBO * b;
      const double up = mc_relax(uO, upO, q, uss, gO, dt, le);
      const double r = mc_phi(sgm, up);
      rO[q] = r;
      rHatO[q] = mc_phi(sgm, fBO * b);
      hpO[q] += r - rOold[q] - hpDecay * hpO[q];
    }
  }
  if (learn) mc_plasticity(P, S);
  const double lp = dt / P[MC_P_TAU0];
  for (int j = 0, m = N * nIn; j < m; j++) rIn[j] += lp * (x[j] - rIn[j]);
  if (target != NULL) for (int k = 0, m = N * nO; k < m; k++) tgt[k] += lp * (target[k] - tgt[k]);
}

static napi_value js_micro_present(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 10) {
    napi_throw_type_error(env, NULL, "microPresent: 10 arguments expected");
    return NULL;
  }
  double *P, *gauss, *x, *target = NULL, *acc;
  size_t nP, nGauss, nX, nT = 0, nAcc;
  uint32_t *noise;
  size_t nNoise;
  if (!get_f64(env, argv[0], &P, &nP) || nP < MC_P_COUNT) { napi_throw_type_error(env, NULL, "microPresent: params must be a Float64Array"); return NULL; }
  const int nIn = (int)P[MC_P_NIN], nH = (int)P[MC_P_NH], nO = (int)P[MC_P_NO], N = (int)P[MC_P_N];
  const size_t sz[MC_B_COUNT] = {
    (size_t)nH * nIn, (size_t)nO * nH, (size_t)nH * nO, (size_t)nO * nH, (size_t)nH * nO,
    (size_t)nH * nIn, (size_t)nO * nH, (size_t)nO * nH, (size_t)nH * nO, (size_t)nIn, (size_t)nO,
    nH, nH, nH, nH, nH, nH, nH, nO, nO, nO, nO, nO, nO, nO, nO, nO, nH, nO, nO, nO, 1 };
  McBufs S;
  for (int i = 0; i < MC_B_COUNT; i++) {
    napi_value el;
    size_t len;
    if (napi_get_element(env, argv[1], (uint32_t)i, &el) != napi_ok || !get_f64(env, el, &S.b[i], &len) || len != sz[i] * (size_t)N) {
      napi_throw_type_error(env, NULL, "microPresent: state buffers must be float64 arrays of the ensemble's sizes");
      return NULL;
    }
  }
  if (!get_typed(env, argv[2], napi_uint32_array, (void **)&noise, &nNoise) || nNoise < (size_t)4 * N) { napi_throw_type_error(env, NULL, "microPresent: noise must be a Uint32Array of 4 N"); return NULL; }
  if (!get_f64(env, argv[3], &gauss, &nGauss) || nGauss < (size_t)nH) { napi_throw_type_error(env, NULL, "microPresent: gauss must be a Float64Array of n_hidden"); return NULL; }
  if (!get_f64(env, argv[4], &x, &nX) || nX < (size_t)N * nIn) { napi_throw_type_error(env, NULL, "microPresent: x must be a Float64Array of N n_in"); return NULL; }
  napi_valuetype tt;
  napi_typeof(env, argv[5], &tt);
  if (tt != napi_null && (!get_f64(env, argv[5], &target, &nT) || nT < (size_t)N * nO)) { napi_throw_type_error(env, NULL, "microPresent: target must be null or a Float64Array of N n_out"); return NULL; }
  int32_t steps, learn, from;
  napi_get_value_int32(env, argv[6], &steps);
  bool lb = false;
  napi_get_value_bool(env, argv[7], &lb);
  learn = lb;
  napi_get_value_int32(env, argv[8], &from);
  if (!get_f64(env, argv[9], &acc, &nAcc) || nAcc < (size_t)N * nO) { napi_throw_type_error(env, NULL, "microPresent: acc must be a Float64Array of N n_out"); return NULL; }
  const int m = N * nO;
  for (int k = 0; k < m; k++) acc[k] = 0;
  const double *upO = S.b[MC_B_UPO];
  int n = 0;
  for (int t = 0; t < steps; t++) {
    mc_step(P, &S, noise, gauss, x, target, learn);
    if (t >= from) {
      for (int k = 0; k < m; k++) acc[k] += upO[k];
      n++;
    }
  }
  if (n > 0) for (int k = 0; k < m; k++) acc[k] /= n;
  napi_value out;
  napi_create_int32(env, n, &out);
  return out;
}
