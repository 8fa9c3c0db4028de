/**
 * Dendritic cortical microcircuits (Sacramento et al. 2018), with and without Latent Equilibrium (Haider et al. 2021),
 * and Phaseless Alignment Learning of their top-down weights (PAL, Max et al. 2024). Rate neurons, one hidden layer:
 * input r_in → hidden pyramidal cells P (basal, apical, soma) with one interneuron I per output neuron → output
 * pyramidal cells O (basal, soma, teacher nudging). Reference notes: docs/microcircuits.md; the shared spec §1.7, §2.
 *
 * Notation (paper): conductances g_l (leak), g_b (basal), g_a (apical), g_d (interneuron dendrite), g_som (interneuron
 * nudging by its output partner), g_t (teacher → output); φ the transfer function (sigmoid, or soft-ReLU: 0 below −15, x above 15, log(1 + eˣ) between). Weights are
 * stored row = postsynaptic neuron: W_up1 (n_h × n_in), W_up2 (n_out × n_h), B (n_h × n_out, top-down), W_ip (n_out × n_h,
 * P → I), W_pi (n_h × n_out, I → P). One step dt; every connection reads the value its presynaptic population had at the
 * end of the previous step (one dt of delay per connection):
 *
 *   hidden P   v_B = W_up1 r_in          v_A = B r_O + W_pi r_I
 *              ξ  ← ξ + (σ √(dt τ_ξ) N(0,1) − dt ξ)/τ_ξ                         OU noise, injected in the apical term
 *              u^ss = (g_b v_B + g_a (v_A + ξ)) / g_P,   g_P = g_l + g_b + g_a
 *   interneuron v_D = W_ip r_P           u^ss = (g_d v_D + g_som ŭ_O) / g_I,   g_I = g_l + g_d + g_som
 *   output O   v_B = W_up2 r_P           u^ss = (g_b v_B + g_t u_tgt) / g_O   with a target,  g_b v_B / (g_l + g_b) without;
 *                                         g_O = g_l + g_b + g_t (the rate constant keeps g_t also without a target)
 *   each       u̇ = g (u^ss − u);   LE: ŭ = u + u̇/g (= u^ss), then u ← u + dt u̇;   original: u ← u + dt u̇, ŭ := u
 *              r = φ(ŭ)
 *   basal predictions  r̂_P = φ(g_b/g_P · v_B),  r̂_I = φ(g_d/(g_l+g_d) · v_D),  r̂_O = φ(g_b/(g_l+g_b) · v_B)
 *   high-pass  r̃_O ← r̃_O + (r_O − r_O,last) − (dt/τ_hp) r̃_O
 *
 * Plasticity (Urbanczik–Senn, while learning; pre = the rate read this step):
 *   Δ_up1 = dt η_up[0] (r_P − r̂_P) r_inᵀ     Δ_up2 = dt η_up[1] (r_O − r̂_O) r_Pᵀ
 *   Δ_ip  = dt η_ip (r_I − r̂_I) r_Pᵀ          Δ_pi  = dt η_pi (−v_A) r_Iᵀ
 *   low-pass τ_w: δ ← δ + (dt/τ_w)(Δ − δ), W ← W + δ (the previous δ); τ_w = dt applies Δ directly. Optional clipping
 *   of W_up1 to ±clip[0] and W_up2 to ±clip[1].
 * Top-down weights B, by `feedback`:
 *   'fixed'      B never changes (feedback alignment, FA)
 *   'pal'        Ḃ = η_B (ξ r̃_Oᵀ − α B)      the hidden neuron's own noise × the high-passed rate of the upper neuron
 *   'transpose'  B = W_up2ᵀ and W_pi = −W_up2ᵀ after every step (the "BP" control)
 *   'transpose-scaled'  B = c W_up2ᵀ, W_pi = −B after every step, c = ‖B₀‖_F / ‖W_up2‖_F per network: the
 *                BP control with the feedback magnitude of the random B₀ it replaces (`bNorm` holds ‖B₀‖_F)
 *
 * Self-predicting start (`selfPredict`): W_pi = −B and W_ip = W_up2 · g_b/(g_l+g_b) · (g_l+g_d)/g_d; then, without a
 * target and without noise, ŭ_I = ŭ_O and v_A = 0 once the one-step delays have flushed, so no weight changes.
 *
 * Inputs and targets reach the circuit through a low-pass with τ_0 (τ_0 = dt: immediate): r_in ← r_in + (dt/τ_0)(x − r_in).
 * Ensembles: the state may hold N independent networks of the same parameters (`createMicrocircuitState(p, seeds)`,
 * one seed each). Every buffer then has a leading network dimension (network k's block of a buffer of per-network
 * size m is [k·m, (k+1)·m)), inputs and targets are N × n_in and N × n_out, and each network has its own noise
 * generator. Network k runs exactly the arithmetic of the same network alone (bit for bit, float32 and float64);
 * a step costs less per network because the per-step overhead is shared.
 *
 * The hot loop allocates nothing; float32 state by default, float64 on request. Browser-safe.
 */
import { Rng } from '../util/rng.js';
import { alignmentAngle } from '../learn/alignment.js';

export type MicroPhi = 'softrelu' | 'sigmoid';
export type MicroFeedback = 'fixed' | 'pal' | 'transpose' | 'transpose-scaled';

export interface MicrocircuitParams {
  /** [n_in, n_hidden, n_out] */
  dims: [number, number, number];
  phi: MicroPhi;
  /** Latent Equilibrium (prospective ŭ = u^ss) or the original circuit (rates from u) */
  le: boolean;
  dt: number;
  tau0: number;
  gl: number; gb: number; ga: number; gsom: number; gd: number; gt: number;
  /** learning rates [input → hidden, hidden → output] */
  etaUp: [number, number];
  etaIp: number;
  etaPi: number;
  etaB: number;
  feedback: MicroFeedback;
  sigmaXi: number;
  tauXi: number;
  tauHp: number;
  alpha: number;
  /** low-pass time constants of the updates [up, ip, pi]; a value ≤ dt applies each update at once */
  tauW: [number, number, number];
  /** |W_up1| ≤ clip[0], |W_up2| ≤ clip[1]; null = no clipping */
  clip: [number, number] | null;
  dtype: 'float32' | 'float64';
}

export const MICROCIRCUIT_DEFAULTS: Omit<MicrocircuitParams, 'dims'> = {
  phi: 'softrelu', le: true, dt: 0.1, tau0: 0.1,
  gl: 0.03, gb: 0.1, ga: 0.06, gsom: 0.06, gd: 0.1, gt: 0.06,
  etaUp: [0, 0], etaIp: 0, etaPi: 0, etaB: 0, feedback: 'fixed',
  sigmaXi: 0, tauXi: 0.1, tauHp: 0.1, alpha: 0, tauW: [0, 0, 0], clip: null, dtype: 'float32',
};

type F = Float32Array | Float64Array;

/** Everything that changes while the circuit runs. */
export interface MicrocircuitState {
  /** networks in the ensemble (every buffer below holds `n` blocks, one per network) */
  n: number;
  W_up1: F; W_up2: F; B: F; W_ip: F; W_pi: F;
  /** update low-pass buffers (same shapes as the weights) */
  d_up1: F; d_up2: F; d_ip: F; d_pi: F;
  rIn: F; tgt: F;
  /** ŭ (LE: u^ss; original: u after the step) of each population, u its membrane, r = φ(ŭ) its rate */
  uP: F; upP: F; rP: F; rHatP: F; vA: F; vB: F; xi: F;
  /** this step's N(0, 1) draws for the noise (scratch of one network's n_hidden, reused by each network in turn) */
  gauss: Float64Array;
  /** the noise generators' states (xoshiro128**, four words per network) */
  noise: Uint32Array;
  uI: F; upI: F; rI: F; rHatI: F;
  uO: F; rO: F; rHatO: F; upO: F; hpO: F;
  /** previous step's rates (what the connections read) */
  rPold: F; rIold: F; rOold: F; upOold: F;
  /** per network: the Frobenius norm 'transpose-scaled' keeps B at (set by `matchFeedbackNorm`; unused otherwise) */
  bNorm: Float64Array;
}

export function checkMicrocircuitParams(p: MicrocircuitParams): void {
  const bad = (m: string) => { throw new Error(`microcircuit: ${m}`); };
  if (!Array.isArray(p.dims) || p.dims.length !== 3 || !p.dims.every((n) => Number.isInteger(n) && n >= 1)) bad(`dims must be three positive integers, got ${JSON.stringify(p.dims)}`);
  if (p.phi !== 'softrelu' && p.phi !== 'sigmoid') bad(`phi must be 'softrelu' or 'sigmoid', got ${JSON.stringify(p.phi)}`);
  if (!['fixed', 'pal', 'transpose', 'transpose-scaled'].includes(p.feedback)) bad(`feedback must be 'fixed', 'pal', 'transpose' or 'transpose-scaled', got ${JSON.stringify(p.feedback)}`);
  for (const k of ['dt', 'tau0', 'tauXi', 'tauHp', 'gl', 'gb', 'gd'] as const) if (!(p[k] > 0)) bad(`${k} must be > 0, got ${p[k]}`);
  for (const k of ['ga', 'gsom', 'gt', 'sigmaXi', 'alpha', 'etaIp', 'etaPi', 'etaB'] as const) if (!(p[k] >= 0) || !Number.isFinite(p[k])) bad(`${k} must be a finite number >= 0, got ${p[k]}`);
  if (p.tau0 < p.dt) bad(`tau0 must be >= dt (${p.dt}), got ${p.tau0}`);
  if (p.tauXi < p.dt || p.tauHp < p.dt) bad(`tauXi and tauHp must be >= dt`);
  if (!Array.isArray(p.etaUp) || p.etaUp.length !== 2 || !p.etaUp.every(Number.isFinite)) bad(`etaUp must be two numbers`);
  if (!Array.isArray(p.tauW) || p.tauW.length !== 3 || !p.tauW.every((t) => t >= 0)) bad(`tauW must be three numbers >= 0`);
  if (p.clip !== null && (!Array.isArray(p.clip) || p.clip.length !== 2 || !p.clip.every((c) => c > 0))) bad(`clip must be null or two positive numbers`);
  if (p.dtype !== 'float32' && p.dtype !== 'float64') bad(`dtype must be 'float32' or 'float64'`);
}

/**
 * The state of one network (`seed` a number) or of an ensemble of networks (`seed` a list: one network per seed, each
 * seeded exactly as if it were alone).
 */
export function createMicrocircuitState(p: MicrocircuitParams, seed: number | readonly number[] = 0): MicrocircuitState {
  const seeds = typeof seed === 'number' ? [seed] : seed;
  const N = seeds.length;
  if (N < 1) throw new Error('microcircuit: an ensemble needs at least one seed');
  const noise = new Uint32Array(4 * N);
  seeds.forEach((sd, k) => {
    const seeder = new Rng(sd);
    noise.set([seeder.nextU32(), seeder.nextU32(), seeder.nextU32(), seeder.nextU32() | 1], 4 * k);
  });
  const [nIn, nH, nO] = p.dims;
  const A = p.dtype === 'float64' ? Float64Array : Float32Array;
  const z = (n: number) => new A(N * n);
  return {
    n: N,
    W_up1: z(nH * nIn), W_up2: z(nO * nH), B: z(nH * nO), W_ip: z(nO * nH), W_pi: z(nH * nO),
    d_up1: z(nH * nIn), d_up2: z(nO * nH), d_ip: z(nO * nH), d_pi: z(nH * nO),
    rIn: z(nIn), tgt: z(nO),
    uP: z(nH), upP: z(nH), rP: z(nH), rHatP: z(nH), vA: z(nH), vB: z(nH), xi: z(nH), gauss: new Float64Array(nH), noise,
    uI: z(nO), upI: z(nO), rI: z(nO), rHatI: z(nO),
    uO: z(nO), rO: z(nO), rHatO: z(nO), upO: z(nO), hpO: z(nO),
    rPold: z(nH), rIold: z(nO), rOold: z(nO), upOold: z(nO),
    bNorm: new Float64Array(N),
  };
}

/**
 * Draw every weight U(−range, range) (ranges: [up1, up2, B, ip, pi]). An ensemble takes one generator per network
 * (or one for all, drawn network after network); each network draws in the order a lone network would.
 */
export function initMicrocircuitWeights(s: MicrocircuitState, rng: Rng | readonly Rng[], ranges: [number, number, number, number, number]): void {
  const rngs = Array.isArray(rng) ? rng : Array.from({ length: s.n }, () => rng as Rng);
  if (rngs.length !== s.n) throw new Error(`microcircuit: ${s.n} networks need ${s.n} generators, got ${rngs.length}`);
  for (let e = 0; e < s.n; e++) {
    const r = rngs[e];
    const fill = (a: F, g: number) => {
      const m = a.length / s.n;
      for (let i = e * m; i < (e + 1) * m; i++) a[i] = r.range(-g, g);
    };
    fill(s.W_up1, ranges[0]);
    fill(s.W_up2, ranges[1]);
    fill(s.B, ranges[2]);
    fill(s.W_ip, ranges[3]);
    fill(s.W_pi, ranges[4]);
  }
}

/** The self-predicting start: W_pi = −B, W_ip = W_up2 · g_b/(g_l+g_b) · (g_l+g_d)/g_d (every network). */
export function selfPredict(p: MicrocircuitParams, s: MicrocircuitState): void {
  const [, nH, nO] = p.dims;
  const f = (p.gb / (p.gl + p.gb)) * ((p.gl + p.gd) / p.gd);
  for (let e = 0, o = 0; e < s.n; e++, o += nH * nO)
    for (let k = 0; k < nO; k++)
      for (let i = 0; i < nH; i++) {
        s.W_ip[o + k * nH + i] = s.W_up2[o + k * nH + i] * f;
        s.W_pi[o + i * nO + k] = -s.B[o + i * nO + k];
      }
}

/** bNorm = ‖B‖_F of every network now (the magnitude 'transpose-scaled' keeps). */
export function matchFeedbackNorm(p: MicrocircuitParams, s: MicrocircuitState): void {
  const m = p.dims[1] * p.dims[2];
  for (let e = 0; e < s.n; e++) {
    let q = 0;
    for (let i = e * m; i < (e + 1) * m; i++) q += s.B[i] * s.B[i];
    s.bNorm[e] = Math.sqrt(q);
  }
}

/**
 * B = c W_up2ᵀ and W_pi = −B (every network); c = 1 for 'transpose', c = bNorm / ‖W_up2‖_F for 'transpose-scaled'
 * (c = 1 while W_up2 is zero).
 */
export function transposeFeedback(p: MicrocircuitParams, s: MicrocircuitState): void {
  const [, nH, nO] = p.dims;
  const scaled = p.feedback === 'transpose-scaled';
  for (let e = 0, o = 0; e < s.n; e++, o += nH * nO) {
    let c = 1;
    if (scaled) {
      let q = 0;
      for (let i = o; i < o + nH * nO; i++) q += s.W_up2[i] * s.W_up2[i];
      if (q > 0) c = s.bNorm[e] / Math.sqrt(q);
    }
    for (let k = 0; k < nO; k++)
      for (let i = 0; i < nH; i++) {
        const w = c * s.W_up2[o + k * nH + i];
        s.B[o + i * nO + k] = w;
        s.W_pi[o + i * nO + k] = -w;
      }
  }
}

/** Network k's block of an ensemble buffer (a view, no copy). */
export function networkSlice<T extends F>(s: MicrocircuitState, a: T, k: number): T {
  const m = a.length / s.n;
  return a.subarray(k * m, (k + 1) * m) as T;
}

/** Clear the neuron state (weights kept). */
export function resetMicrocircuitActivity(s: MicrocircuitState): void {
  for (const k of ['rIn', 'tgt', 'uP', 'upP', 'uI', 'upI', 'rP', 'rHatP', 'vA', 'vB', 'xi', 'rI', 'rHatI', 'uO', 'rO', 'rHatO', 'upO', 'hpO', 'rPold', 'rIold', 'rOold', 'upOold'] as const) s[k].fill(0);
}

/**
 * n standard normal draws into `out`: xoshiro128** (state `st`, advanced in place) and Box–Muller, all in locals so
 * that nothing is boxed.
 */
function fillNormal(st: Uint32Array, at: number, out: Float64Array): void {
  let a = st[at] | 0, b = st[at + 1] | 0, c = st[at + 2] | 0, d = st[at + 3] | 0;
  for (let i = 0; i < out.length; i += 2) {
    let r1 = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)), 9) >>> 0;
    let t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = (d << 11) | (d >>> 21);
    const r2 = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)), 9) >>> 0;
    t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = (d << 11) | (d >>> 21);
    r1 = (r1 + 0.5) / 4294967296;
    const rad = Math.sqrt(-2 * Math.log(r1)), ph = (2 * Math.PI * r2) / 4294967296;
    out[i] = rad * Math.cos(ph);
    if (i + 1 < out.length) out[i + 1] = rad * Math.sin(ph);
  }
  st[at] = a; st[at + 1] = b; st[at + 2] = c; st[at + 3] = d;
}

/** What the step reports back (preallocated by the caller, reused). */
export interface StepFlags {
  /** teacher nudging of the output on */
  teach: boolean;
  /** plasticity on */
  learn: boolean;
}

/**
 * One step dt of the circuit (of every network of an ensemble): x the input (n_in per network, network after
 * network), target the output target (n_out per network, read when `flags.teach`). Mutates `s` (the noise comes from
 * each network's generator state, drawn only when σ > 0). Allocation-free.
 */
export function stepMicrocircuit(p: MicrocircuitParams, s: MicrocircuitState, x: ArrayLike<number>, target: ArrayLike<number> | null, flags: StepFlags): void {
  const nIn = p.dims[0], nH = p.dims[1], nO = p.dims[2], N = s.n;
  const dt = p.dt, le = p.le;
  const sgm = p.phi === 'sigmoid';
  const { W_up1, W_up2, B, W_ip, W_pi, rIn, tgt, uP, upP, rP, rHatP, vA, vB, xi, uI, upI, rI, rHatI, uO, rO, rHatO, upO, hpO, rPold, rIold, rOold, upOold } = s;
  // the previous step's values, read by every connection
  rPold.set(rP);
  rIold.set(rI);
  rOold.set(rO);
  upOold.set(upO);
  const gb = p.gb, ga = p.ga, gd = p.gd, gsom = p.gsom, gt = p.gt;
  const gP = p.gl + gb + ga, gI = p.gl + gd + gsom, gO = p.gl + gb + gt;
  const fBP = gb / gP, fDI = gd / (p.gl + gd), fBO = gb / (p.gl + gb);
  const sig = p.sigmaXi, ouA = dt / p.tauXi, ouB = (sig * Math.sqrt(dt * p.tauXi)) / p.tauXi;
  const gauss = s.gauss;
  const teach = flags.teach && target !== null;
  const hpDecay = dt / p.tauHp;
  for (let e = 0; e < N; e++) {
    // network e's blocks start at e × (per-network size)
    const eH = e * nH, eO = e * nO, eIn = e * nIn, eHIn = eH * nIn, eHO = eH * nO;
    if (sig > 0) fillNormal(s.noise, 4 * e, gauss);
    // hidden pyramidal cells  (φ written out in place: a call returning a double would allocate)
    for (let i = 0; i < nH; i++) {
      let b = 0;
      const o1 = eHIn + i * nIn;
      for (let j = 0; j < nIn; j++) b += W_up1[o1 + j] * rIn[eIn + j];
      let a = 0;
      const o2 = eHO + i * nO;
      for (let k = 0; k < nO; k++) a += B[o2 + k] * rOold[eO + k] + W_pi[o2 + k] * rIold[eO + k];
      const q = eH + i;
      vB[q] = b;
      vA[q] = a;
      let n = xi[q];
      if (sig > 0) n = xi[q] = n + ouB * gauss[i] - ouA * n;
      const uss = (gb * b + ga * (a + n)) / gP;
      const u = uP[q], ud = gP * (uss - u);
      const up = le ? u + ud / gP : u + dt * ud;
      uP[q] = u + dt * ud;
      upP[q] = up;
      rP[q] = sgm ? 1 / (1 + Math.exp(-up)) : up < -15 ? 0 : up > 15 ? up : Math.log1p(Math.exp(up));
      const hb = fBP * b;
      rHatP[q] = sgm ? 1 / (1 + Math.exp(-hb)) : hb < -15 ? 0 : hb > 15 ? hb : Math.log1p(Math.exp(hb));
    }
    // interneurons (one per output neuron)
    for (let k = 0; k < nO; k++) {
      let d = 0;
      const o = eHO + k * nH;
      for (let i = 0; i < nH; i++) d += W_ip[o + i] * rPold[eH + i];
      const q = eO + k;
      const uss = (gd * d + gsom * upOold[q]) / gI;
      const u = uI[q], ud = gI * (uss - u);
      const up = le ? u + ud / gI : u + dt * ud;
      uI[q] = u + dt * ud;
      upI[q] = up;
      rI[q] = sgm ? 1 / (1 + Math.exp(-up)) : up < -15 ? 0 : up > 15 ? up : Math.log1p(Math.exp(up));
      const hd = fDI * d;
      rHatI[q] = sgm ? 1 / (1 + Math.exp(-hd)) : hd < -15 ? 0 : hd > 15 ? hd : Math.log1p(Math.exp(hd));
    }
    // output pyramidal cells
    for (let k = 0; k < nO; k++) {
      let b = 0;
      const o = eHO + k * nH;
      for (let i = 0; i < nH; i++) b += W_up2[o + i] * rPold[eH + i];
      const q = eO + k;
      const uss = teach ? (gb * b + gt * tgt[q]) / gO : fBO * b;
      const u = uO[q], ud = gO * (uss - u);
      const up = le ? u + ud / gO : u + dt * ud;
      uO[q] = u + dt * ud;
      upO[q] = up;
      const r = sgm ? 1 / (1 + Math.exp(-up)) : up < -15 ? 0 : up > 15 ? up : Math.log1p(Math.exp(up));
      rO[q] = r;
      const hb = fBO * b;
      rHatO[q] = sgm ? 1 / (1 + Math.exp(-hb)) : hb < -15 ? 0 : hb > 15 ? hb : Math.log1p(Math.exp(hb));
      hpO[q] += r - rOold[q] - hpDecay * hpO[q];
    }
  }
  if (flags.learn) plasticity(p, s);
  // inputs and targets (read from the next step on)
  const lp = dt / p.tau0;
  for (let j = 0, m = N * nIn; j < m; j++) rIn[j] += lp * (x[j] - rIn[j]);
  if (target !== null) for (let k = 0, m = N * nO; k < m; k++) tgt[k] += lp * (target[k] - tgt[k]);
}

function plasticity(p: MicrocircuitParams, s: MicrocircuitState): void {
  const nIn = p.dims[0], nH = p.dims[1], nO = p.dims[2], N = s.n;
  const dt = p.dt;
  const { W_up1, W_up2, B, W_ip, W_pi, d_up1, d_up2, d_ip, d_pi, rIn, rP, rHatP, vA, xi, rI, rHatI, rO, rHatO, hpO, rPold, rIold } = s;
  const lpUp = p.tauW[0] > dt ? dt / p.tauW[0] : 1, lpIp = p.tauW[1] > dt ? dt / p.tauW[1] : 1, lpPi = p.tauW[2] > dt ? dt / p.tauW[2] : 1;
  const c1 = p.clip ? p.clip[0] : Infinity, c2 = p.clip ? p.clip[1] : Infinity;
  const e1 = dt * p.etaUp[0], e2 = dt * p.etaUp[1], eIp = dt * p.etaIp, ePi = dt * p.etaPi;
  const pal = p.feedback === 'pal' && p.etaB !== 0, eB = dt * p.etaB, al = p.alpha;
  // B and W_pi follow W_up2 (set after the loop) instead of learning
  const transposed = p.feedback === 'transpose' || p.feedback === 'transpose-scaled';
  for (let e = 0; e < N; e++) {
    const eH = e * nH, eO = e * nO, eIn = e * nIn, eHIn = eH * nIn, eHO = eH * nO;
    if (e1 !== 0 || lpUp < 1)
      for (let i = 0; i < nH; i++) {
        const g = e1 * (rP[eH + i] - rHatP[eH + i]);
        const o = eHIn + i * nIn;
        for (let j = 0; j < nIn; j++) {
          const q = o + j;
          if (lpUp >= 1) W_up1[q] += g * rIn[eIn + j];
          else {
            W_up1[q] += d_up1[q];
            d_up1[q] += lpUp * (g * rIn[eIn + j] - d_up1[q]);
          }
          const w = W_up1[q];
          if (w > c1) W_up1[q] = c1;
          else if (w < -c1) W_up1[q] = -c1;
        }
      }
    for (let k = 0; k < nO; k++) {
      const g = e2 * (rO[eO + k] - rHatO[eO + k]), gi = eIp * (rI[eO + k] - rHatI[eO + k]);
      const o = eHO + k * nH;
      for (let i = 0; i < nH; i++) {
        const q = o + i, pre = rPold[eH + i];
        if (e2 !== 0 || lpUp < 1) {
          if (lpUp >= 1) W_up2[q] += g * pre;
          else {
            W_up2[q] += d_up2[q];
            d_up2[q] += lpUp * (g * pre - d_up2[q]);
          }
          const w = W_up2[q];
          if (w > c2) W_up2[q] = c2;
          else if (w < -c2) W_up2[q] = -c2;
        }
        if (lpIp >= 1) W_ip[q] += gi * pre;
        else {
          W_ip[q] += d_ip[q];
          d_ip[q] += lpIp * (gi * pre - d_ip[q]);
        }
      }
    }
    if (transposed) continue;
    if (ePi !== 0 || lpPi < 1)
      for (let i = 0; i < nH; i++) {
        const g = -ePi * vA[eH + i];
        const o = eHO + i * nO;
        for (let k = 0; k < nO; k++) {
          const q = o + k;
          if (lpPi >= 1) W_pi[q] += g * rIold[eO + k];
          else {
            W_pi[q] += d_pi[q];
            d_pi[q] += lpPi * (g * rIold[eO + k] - d_pi[q]);
          }
        }
      }
    if (pal)
      for (let i = 0; i < nH; i++) {
        const n = xi[eH + i], o = eHO + i * nO;
        for (let k = 0; k < nO; k++) B[o + k] += eB * (n * hpO[eO + k] - al * B[o + k]);
      }
  }
  if (transposed) transposeFeedback(p, s);
}

/**
 * Present one pattern to every network for `steps` steps (x: N × n_in, target: N × n_out or null = no nudging) and
 * average each network's output ŭ over the steps from `from` on into `acc` (N × n_out, cleared first). Returns how
 * many steps were averaged.
 */
export function presentMicrocircuit(p: MicrocircuitParams, s: MicrocircuitState, x: ArrayLike<number>, target: ArrayLike<number> | null, steps: number, learn: boolean, from: number, acc: Float64Array, flags: StepFlags): number {
  acc.fill(0);
  flags.teach = target !== null;
  flags.learn = learn;
  const up = s.upO, m = acc.length;
  let n = 0;
  for (let t = 0; t < steps; t++) {
    stepMicrocircuit(p, s, x, target, flags);
    if (t >= from) {
      for (let k = 0; k < m; k++) acc[k] += up[k];
      n++;
    }
  }
  if (n > 0) for (let k = 0; k < m; k++) acc[k] /= n;
  return n;
}

/** A microcircuit with its parameters, state and noise source. */
export class Microcircuit {
  readonly p: MicrocircuitParams;
  readonly s: MicrocircuitState;
  private readonly flags: StepFlags = { teach: false, learn: false };

  /** `seed` a number: one network; a list: an ensemble, one network per seed */
  constructor(params: Partial<MicrocircuitParams> & { dims: [number, number, number] }, seed: number | readonly number[] = 0) {
    this.p = { ...MICROCIRCUIT_DEFAULTS, ...params } as MicrocircuitParams;
    checkMicrocircuitParams(this.p);
    this.s = createMicrocircuitState(this.p, seed);
  }

  step(x: ArrayLike<number>, target: ArrayLike<number> | null, learn: boolean): void {
    this.flags.teach = target !== null;
    this.flags.learn = learn;
    stepMicrocircuit(this.p, this.s, x, target, this.flags);
  }

  /** Present a pattern for `steps` steps and average the output ŭ from step `from` on (presentMicrocircuit). */
  present(x: ArrayLike<number>, target: ArrayLike<number> | null, steps: number, learn: boolean, from: number, acc: Float64Array): number {
    return presentMicrocircuit(this.p, this.s, x, target, steps, learn, from, acc, this.flags);
  }

  /** ∠(W_up2, Bᵀ) in degrees of network k (src/learn/alignment.ts). */
  angle(k = 0): number {
    return alignmentAngle(networkSlice(this.s, this.s.W_up2, k), networkSlice(this.s, this.s.B, k), this.p.dims[2], this.p.dims[1]);
  }
}
