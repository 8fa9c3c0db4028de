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
 *
 * Self-predicting start (`selfPredict`): W_pi = −B and W_ip = W_up2 · g_b/(g_l+g_b) · (g_l+g_d)/g_d; then, without a
 * target and without noise, ŭ_I = ŭ_O and v_A = 0 once the one-step delays have flushed, so no weight changes.
 *
 * Inputs and targets reach the circuit through a low-pass with τ_0 (τ_0 = dt: immediate): r_in ← r_in + (dt/τ_0)(x − r_in).
 * The hot loop allocates nothing; float32 state by default, float64 on request. Browser-safe.
 */
import { Rng } from '../util/rng.js';
import { alignmentAngle } from '../learn/alignment.js';

export type MicroPhi = 'softrelu' | 'sigmoid';
export type MicroFeedback = 'fixed' | 'pal' | 'transpose';

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
  W_up1: F; W_up2: F; B: F; W_ip: F; W_pi: F;
  /** update low-pass buffers (same shapes as the weights) */
  d_up1: F; d_up2: F; d_ip: F; d_pi: F;
  rIn: F; tgt: F;
  /** ŭ (LE: u^ss; original: u after the step) of each population, u its membrane, r = φ(ŭ) its rate */
  uP: F; upP: F; rP: F; rHatP: F; vA: F; vB: F; xi: F;
  /** this step's N(0, 1) draws for the noise */
  gauss: Float64Array;
  /** the noise generator's state (xoshiro128**) */
  noise: Uint32Array;
  uI: F; upI: F; rI: F; rHatI: F;
  uO: F; rO: F; rHatO: F; upO: F; hpO: F;
  /** previous step's rates (what the connections read) */
  rPold: F; rIold: F; rOold: F; upOold: F;
}

export function checkMicrocircuitParams(p: MicrocircuitParams): void {
  const bad = (m: string) => { throw new Error(`microcircuit: ${m}`); };
  if (!Array.isArray(p.dims) || p.dims.length !== 3 || !p.dims.every((n) => Number.isInteger(n) && n >= 1)) bad(`dims must be three positive integers, got ${JSON.stringify(p.dims)}`);
  if (p.phi !== 'softrelu' && p.phi !== 'sigmoid') bad(`phi must be 'softrelu' or 'sigmoid', got ${JSON.stringify(p.phi)}`);
  if (!['fixed', 'pal', 'transpose'].includes(p.feedback)) bad(`feedback must be 'fixed', 'pal' or 'transpose', got ${JSON.stringify(p.feedback)}`);
  for (const k of ['dt', 'tau0', 'tauXi', 'tauHp', 'gl', 'gb', 'gd'] as const) if (!(p[k] > 0)) bad(`${k} must be > 0, got ${p[k]}`);
  for (const k of ['ga', 'gsom', 'gt', 'sigmaXi', 'alpha', 'etaIp', 'etaPi', 'etaB'] as const) if (!(p[k] >= 0) || !Number.isFinite(p[k])) bad(`${k} must be a finite number >= 0, got ${p[k]}`);
  if (p.tau0 < p.dt) bad(`tau0 must be >= dt (${p.dt}), got ${p.tau0}`);
  if (p.tauXi < p.dt || p.tauHp < p.dt) bad(`tauXi and tauHp must be >= dt`);
  if (!Array.isArray(p.etaUp) || p.etaUp.length !== 2 || !p.etaUp.every(Number.isFinite)) bad(`etaUp must be two numbers`);
  if (!Array.isArray(p.tauW) || p.tauW.length !== 3 || !p.tauW.every((t) => t >= 0)) bad(`tauW must be three numbers >= 0`);
  if (p.clip !== null && (!Array.isArray(p.clip) || p.clip.length !== 2 || !p.clip.every((c) => c > 0))) bad(`clip must be null or two positive numbers`);
  if (p.dtype !== 'float32' && p.dtype !== 'float64') bad(`dtype must be 'float32' or 'float64'`);
}

export function createMicrocircuitState(p: MicrocircuitParams, seed = 0): MicrocircuitState {
  const seeder = new Rng(seed);
  const noise = Uint32Array.from([seeder.nextU32(), seeder.nextU32(), seeder.nextU32(), seeder.nextU32() | 1]);
  const [nIn, nH, nO] = p.dims;
  const A = p.dtype === 'float64' ? Float64Array : Float32Array;
  const z = (n: number) => new A(n);
  return {
    W_up1: z(nH * nIn), W_up2: z(nO * nH), B: z(nH * nO), W_ip: z(nO * nH), W_pi: z(nH * nO),
    d_up1: z(nH * nIn), d_up2: z(nO * nH), d_ip: z(nO * nH), d_pi: z(nH * nO),
    rIn: z(nIn), tgt: z(nO),
    uP: z(nH), upP: z(nH), rP: z(nH), rHatP: z(nH), vA: z(nH), vB: z(nH), xi: z(nH), gauss: new Float64Array(nH), noise,
    uI: z(nO), upI: z(nO), rI: z(nO), rHatI: z(nO),
    uO: z(nO), rO: z(nO), rHatO: z(nO), upO: z(nO), hpO: z(nO),
    rPold: z(nH), rIold: z(nO), rOold: z(nO), upOold: z(nO),
  };
}

/** Draw every weight U(−range, range) (ranges: [up1, up2, B, ip, pi]). */
export function initMicrocircuitWeights(s: MicrocircuitState, rng: Rng, ranges: [number, number, number, number, number]): void {
  const fill = (a: F, g: number) => { for (let i = 0; i < a.length; i++) a[i] = rng.range(-g, g); };
  fill(s.W_up1, ranges[0]);
  fill(s.W_up2, ranges[1]);
  fill(s.B, ranges[2]);
  fill(s.W_ip, ranges[3]);
  fill(s.W_pi, ranges[4]);
}

/** The self-predicting start: W_pi = −B, W_ip = W_up2 · g_b/(g_l+g_b) · (g_l+g_d)/g_d. */
export function selfPredict(p: MicrocircuitParams, s: MicrocircuitState): void {
  const [, nH, nO] = p.dims;
  const f = (p.gb / (p.gl + p.gb)) * ((p.gl + p.gd) / p.gd);
  for (let k = 0; k < nO; k++)
    for (let i = 0; i < nH; i++) {
      s.W_ip[k * nH + i] = s.W_up2[k * nH + i] * f;
      s.W_pi[i * nO + k] = -s.B[i * nO + k];
    }
}

/** B = W_up2ᵀ and W_pi = −W_up2ᵀ. */
export function transposeFeedback(p: MicrocircuitParams, s: MicrocircuitState): void {
  const [, nH, nO] = p.dims;
  for (let k = 0; k < nO; k++)
    for (let i = 0; i < nH; i++) {
      const w = s.W_up2[k * nH + i];
      s.B[i * nO + k] = w;
      s.W_pi[i * nO + k] = -w;
    }
}

/** Clear the neuron state (weights kept). */
export function resetMicrocircuitActivity(s: MicrocircuitState): void {
  for (const k of ['rIn', 'tgt', 'uP', 'upP', 'uI', 'upI', 'rP', 'rHatP', 'vA', 'vB', 'xi', 'rI', 'rHatI', 'uO', 'rO', 'rHatO', 'upO', 'hpO', 'rPold', 'rIold', 'rOold', 'upOold'] as const) s[k].fill(0);
}

/**
 * n standard normal draws into `out`: xoshiro128** (state `st`, advanced in place) and Box–Muller, all in locals so
 * that nothing is boxed.
 */
function fillNormal(st: Uint32Array, out: Float64Array): void {
  let a = st[0] | 0, b = st[1] | 0, c = st[2] | 0, d = st[3] | 0;
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
  st[0] = a; st[1] = b; st[2] = c; st[3] = d;
}

/** What the step reports back (preallocated by the caller, reused). */
export interface StepFlags {
  /** teacher nudging of the output on */
  teach: boolean;
  /** plasticity on */
  learn: boolean;
}

/**
 * One step dt of the circuit: x the input (length n_in), target the output target (length n_out, read when
 * `flags.teach`). Mutates `s` (the noise comes from its generator state, drawn only when σ > 0). Allocation-free.
 */
export function stepMicrocircuit(p: MicrocircuitParams, s: MicrocircuitState, x: ArrayLike<number>, target: ArrayLike<number> | null, flags: StepFlags): void {
  const nIn = p.dims[0], nH = p.dims[1], nO = p.dims[2];
  const dt = p.dt, le = p.le;
  const sgm = p.phi === 'sigmoid';
  const { W_up1, W_up2, B, W_ip, W_pi, rIn, tgt, uP, upP, rP, rHatP, vA, vB, xi, uI, upI, rI, rHatI, uO, rO, rHatO, upO, hpO, rPold, rIold, rOold, upOold } = s;
  // the previous step's values, read by every connection
  rPold.set(rP);
  rIold.set(rI);
  rOold.set(rO);
  upOold.set(upO);
  const gP = p.gl + p.gb + p.ga, gI = p.gl + p.gd + p.gsom, gO = p.gl + p.gb + p.gt;
  const fBP = p.gb / gP, fDI = p.gd / (p.gl + p.gd), fBO = p.gb / (p.gl + p.gb);
  const sig = p.sigmaXi, ouA = dt / p.tauXi, ouB = (sig * Math.sqrt(dt * p.tauXi)) / p.tauXi;
  const gauss = s.gauss;
  if (sig > 0) fillNormal(s.noise, gauss);
  // hidden pyramidal cells  (φ written out in place: a call returning a double would allocate)
  for (let i = 0; i < nH; i++) {
    let b = 0;
    const o1 = i * nIn;
    for (let j = 0; j < nIn; j++) b += W_up1[o1 + j] * rIn[j];
    let a = 0;
    const o2 = i * nO;
    for (let k = 0; k < nO; k++) a += B[o2 + k] * rOold[k] + W_pi[o2 + k] * rIold[k];
    vB[i] = b;
    vA[i] = a;
    let n = xi[i];
    if (sig > 0) n = xi[i] = n + ouB * gauss[i] - ouA * n;
    const uss = (p.gb * b + p.ga * (a + n)) / gP;
    const u = uP[i], ud = gP * (uss - u);
    const up = le ? u + ud / gP : u + dt * ud;
    uP[i] = u + dt * ud;
    upP[i] = up;
    rP[i] = sgm ? 1 / (1 + Math.exp(-up)) : up < -15 ? 0 : up > 15 ? up : Math.log1p(Math.exp(up));
    const hb = fBP * b;
    rHatP[i] = sgm ? 1 / (1 + Math.exp(-hb)) : hb < -15 ? 0 : hb > 15 ? hb : Math.log1p(Math.exp(hb));
  }
  // interneurons (one per output neuron)
  for (let k = 0; k < nO; k++) {
    let d = 0;
    const o = k * nH;
    for (let i = 0; i < nH; i++) d += W_ip[o + i] * rPold[i];
    const uss = (p.gd * d + p.gsom * upOold[k]) / gI;
    const u = uI[k], ud = gI * (uss - u);
    const up = le ? u + ud / gI : u + dt * ud;
    uI[k] = u + dt * ud;
    upI[k] = up;
    rI[k] = sgm ? 1 / (1 + Math.exp(-up)) : up < -15 ? 0 : up > 15 ? up : Math.log1p(Math.exp(up));
    const hd = fDI * d;
    rHatI[k] = sgm ? 1 / (1 + Math.exp(-hd)) : hd < -15 ? 0 : hd > 15 ? hd : Math.log1p(Math.exp(hd));
  }
  // output pyramidal cells
  const teach = flags.teach && target !== null;
  const hpDecay = dt / p.tauHp;
  for (let k = 0; k < nO; k++) {
    let b = 0;
    const o = k * nH;
    for (let i = 0; i < nH; i++) b += W_up2[o + i] * rPold[i];
    const uss = teach ? (p.gb * b + p.gt * tgt[k]) / gO : fBO * b;
    const u = uO[k], ud = gO * (uss - u);
    const up = le ? u + ud / gO : u + dt * ud;
    uO[k] = u + dt * ud;
    upO[k] = up;
    const r = sgm ? 1 / (1 + Math.exp(-up)) : up < -15 ? 0 : up > 15 ? up : Math.log1p(Math.exp(up));
    rO[k] = r;
    const hb = fBO * b;
    rHatO[k] = sgm ? 1 / (1 + Math.exp(-hb)) : hb < -15 ? 0 : hb > 15 ? hb : Math.log1p(Math.exp(hb));
    hpO[k] += r - rOold[k] - hpDecay * hpO[k];
  }
  if (flags.learn) plasticity(p, s);
  // inputs and targets (read from the next step on)
  const lp = dt / p.tau0;
  for (let j = 0; j < nIn; j++) rIn[j] += lp * (x[j] - rIn[j]);
  if (target !== null) for (let k = 0; k < nO; k++) tgt[k] += lp * (target[k] - tgt[k]);
}

function plasticity(p: MicrocircuitParams, s: MicrocircuitState): void {
  const nIn = p.dims[0], nH = p.dims[1], nO = p.dims[2];
  const dt = p.dt;
  const { W_up1, W_up2, B, W_ip, W_pi, d_up1, d_up2, d_ip, d_pi, rIn, rP, rHatP, vA, xi, rI, rHatI, rO, rHatO, hpO, rPold, rIold } = s;
  const lpUp = p.tauW[0] > dt ? dt / p.tauW[0] : 1, lpIp = p.tauW[1] > dt ? dt / p.tauW[1] : 1, lpPi = p.tauW[2] > dt ? dt / p.tauW[2] : 1;
  const c1 = p.clip ? p.clip[0] : Infinity, c2 = p.clip ? p.clip[1] : Infinity;
  const e1 = dt * p.etaUp[0], e2 = dt * p.etaUp[1], eIp = dt * p.etaIp, ePi = dt * p.etaPi;
  if (e1 !== 0 || lpUp < 1)
    for (let i = 0; i < nH; i++) {
      const g = e1 * (rP[i] - rHatP[i]);
      const o = i * nIn;
      for (let j = 0; j < nIn; j++) {
        const q = o + j;
        if (lpUp >= 1) W_up1[q] += g * rIn[j];
        else {
          W_up1[q] += d_up1[q];
          d_up1[q] += lpUp * (g * rIn[j] - d_up1[q]);
        }
        const w = W_up1[q];
        if (w > c1) W_up1[o + j] = c1;
        else if (w < -c1) W_up1[o + j] = -c1;
      }
    }
  for (let k = 0; k < nO; k++) {
    const g = e2 * (rO[k] - rHatO[k]), gi = eIp * (rI[k] - rHatI[k]);
    const o = k * nH;
    for (let i = 0; i < nH; i++) {
      const q = o + i;
      if (e2 !== 0 || lpUp < 1) {
        if (lpUp >= 1) W_up2[q] += g * rPold[i];
        else {
          W_up2[q] += d_up2[q];
          d_up2[q] += lpUp * (g * rPold[i] - d_up2[q]);
        }
        const w = W_up2[q];
        if (w > c2) W_up2[o + i] = c2;
        else if (w < -c2) W_up2[o + i] = -c2;
      }
      if (lpIp >= 1) W_ip[q] += gi * rPold[i];
      else {
        W_ip[q] += d_ip[q];
        d_ip[q] += lpIp * (gi * rPold[i] - d_ip[q]);
      }
    }
  }
  if (p.feedback === 'transpose') {
    transposeFeedback(p, s);
    return;
  }
  if (ePi !== 0 || lpPi < 1)
    for (let i = 0; i < nH; i++) {
      const g = -ePi * vA[i];
      const o = i * nO;
      for (let k = 0; k < nO; k++) {
        const q = o + k;
        if (lpPi >= 1) W_pi[q] += g * rIold[k];
        else {
          W_pi[q] += d_pi[q];
          d_pi[q] += lpPi * (g * rIold[k] - d_pi[q]);
        }
      }
    }
  if (p.feedback === 'pal' && p.etaB !== 0) {
    const eB = dt * p.etaB, al = p.alpha;
    for (let i = 0; i < nH; i++) {
      const n = xi[i], o = i * nO;
      for (let k = 0; k < nO; k++) B[o + k] += eB * (n * hpO[k] - al * B[o + k]);
    }
  }
}

/** A microcircuit with its parameters, state and noise source. */
export class Microcircuit {
  readonly p: MicrocircuitParams;
  readonly s: MicrocircuitState;
  private readonly flags: StepFlags = { teach: false, learn: false };

  constructor(params: Partial<MicrocircuitParams> & { dims: [number, number, number] }, seed = 0) {
    this.p = { ...MICROCIRCUIT_DEFAULTS, ...params } as MicrocircuitParams;
    checkMicrocircuitParams(this.p);
    this.s = createMicrocircuitState(this.p, seed);
  }

  step(x: ArrayLike<number>, target: ArrayLike<number> | null, learn: boolean): void {
    this.flags.teach = target !== null;
    this.flags.learn = learn;
    stepMicrocircuit(this.p, this.s, x, target, this.flags);
  }

  /** ∠(W_up2, Bᵀ) in degrees (src/learn/alignment.ts). */
  angle(): number {
    return alignmentAngle(this.s.W_up2, this.s.B, this.p.dims[2], this.p.dims[1]);
  }
}
