/**
 * LagLine teacher–student chain (paper Fig. 5): a 1→1→1 softplus chain without bias. The teacher (gle/core's
 * LAGLINE_TEACHER, instantaneous errors, no target; its τ_m adjustable here) produces the target; the student starts from
 * random w, τ_m ~ U[0,1) (clamped to ≥ 0.1) and learns w and τ_m online with Adam, using prospective errors (GLE)
 * or instantaneous errors (BP). Browser-safe; used by the lab's worker and by tests.
 */
import { GLENetwork, LAGLINE_TEACHER, Learner, Rng, TruncatedBPTT, lagLineSpec, type Backend, type NetworkSpecInput } from 'gle/core';

/** gle: prospective errors; bp: instantaneous errors; bptt: truncated BPTT through the exact dynamics over a window */
export type ChainMode = 'gle' | 'bp' | 'bptt';
/** BPTT window in time units (its lr is the chain's lr times the window's steps, as in the teacher–student task) */
export const BPTT_WINDOW_T = 1;
export type ChainInput = 'square' | 'sines';

export interface ChainParams {
  mode: ChainMode;
  lr: number;
  beta: number;
  dt: number;
  teacherTau0: number;
  teacherTau1: number;
  input: ChainInput;
  seed: number;
}

export const CHAIN_DEFAULTS: ChainParams = {
  mode: 'gle',
  lr: 1e-4,
  beta: 0.01,
  dt: 0.01,
  teacherTau0: LAGLINE_TEACHER.tauM[0],
  teacherTau1: LAGLINE_TEACHER.tauM[1],
  input: 'square',
  seed: 0,
};

export const TAU_MIN = 0.1;

/** Fields of one recorded sample (the order of values in a record). */
export const CHAIN_FIELDS = ['t', 'x', 'target', 'output', 'u0', 'u1', 'e0', 'e1', 'w0', 'w1', 'tau0', 'tau1', 'loss'] as const;
export const CHAIN_NF = CHAIN_FIELDS.length;

export function chainSpec(p: { dt: number; beta: number; lr: number }, teacher: boolean, w: [number, number], tau: [number, number], prospective: boolean): NetworkSpecInput {
  return {
    ...lagLineSpec({ name: teacher ? 'lagline-teacher' : 'lagline-student', dt: p.dt, beta: p.beta, weight: w, tauM: tau, prospective, learnTau: !teacher }),
    dtype: 'float64',
    seed: 0,
    optimizer: teacher ? null : { type: 'adam', lr: p.lr },
    clamp_tau_min: teacher ? null : TAU_MIN,
  };
}

/** erf (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7). */
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

/** Gaussian-smoothed ±1 square wave of period 4 (σ = 0.05), or a sum of three sines; t in time units. */
export function chainInput(kind: ChainInput, t: number): number {
  if (kind === 'sines') return (Math.sin(0.49 * t) + Math.sin(1.07 * t) + Math.sin(1.98 * t)) / 1.5;
  const P = 4, sig = 0.05 * Math.SQRT2;
  const ph = ((t % P) + P) % P; // high on [0, 2), low on [2, 4)
  // sum of the nearest rising/falling edges, each an erf step
  let v = -1;
  for (let k = -1; k <= 1; k++) {
    const up = k * P, down = k * P + 2;
    v += erf((ph - up) / sig) - erf((ph - down) / sig);
  }
  return v;
}

export class ChainSim {
  teacher!: GLENetwork;
  student!: GLENetwork;
  learner!: Learner;
  /** the truncated-BPTT rule when mode is 'bptt' */
  bptt: TruncatedBPTT | null = null;
  p: ChainParams;
  t = 0;
  steps = 0;
  /** exponential moving average of the squared error (time constant ~ one input period) */
  lossEma = 0;
  private x = new Float64Array(1);
  private tgt = new Float64Array(1);

  constructor(
    private readonly backend: Backend,
    params: Partial<ChainParams> = {},
  ) {
    this.p = { ...CHAIN_DEFAULTS, ...params };
    this.reset();
  }

  reset(): void {
    const p = this.p;
    let w: [number, number] = [0.49, 0.896];
    let tau: [number, number] = [0.307, 0.634];
    if (p.seed !== 0) {
      // seed 0 = the reference's student start (its torch.rand draws); other seeds draw w, τ_m ~ U[0,1)
      const rng = new Rng(p.seed);
      w = [rng.uniform(), rng.uniform()];
      tau = [Math.max(TAU_MIN, rng.uniform()), Math.max(TAU_MIN, rng.uniform())];
    }
    this.teacher = new GLENetwork(chainSpec(p, true, [...LAGLINE_TEACHER.weight], [p.teacherTau0, p.teacherTau1], false), this.backend);
    this.teacher.training = false;
    this.student = new GLENetwork(chainSpec(p, false, w, tau, p.mode === 'gle'), this.backend);
    this.learner = new Learner(this.student);
    this.bptt = null;
    this.setRule();
    this.t = 0;
    this.steps = 0;
    this.lossEma = 0;
  }

  /** Apply changed parameters without resetting (dt, β, lr, teacher τ, mode, input). */
  set(q: Partial<ChainParams>): void {
    const p = { ...this.p, ...q };
    p.dt = Math.min(Math.max(p.dt, 1e-4), 0.05);
    p.teacherTau0 = Math.max(p.teacherTau0, TAU_MIN);
    p.teacherTau1 = Math.max(p.teacherTau1, TAU_MIN);
    this.p = p;
    for (const net of [this.teacher, this.student]) net.dt = p.dt;
    this.student.beta = p.beta;
    this.learner.lr = p.lr;
    this.teacher.layers[0].params.tauM.a[0] = p.teacherTau0;
    this.teacher.layers[1].params.tauM.a[0] = p.teacherTau1;
    for (const l of this.student.layers) l.hyper.prospective = p.mode === 'gle';
    this.setRule();
  }

  private bpttSteps(): number {
    return Math.max(1, Math.round(BPTT_WINDOW_T / this.p.dt));
  }

  private setRule(): void {
    const p = this.p;
    if (p.mode === 'bptt') {
      const win = this.bpttSteps();
      if (this.bptt) this.bptt.flush();
      this.bptt = new TruncatedBPTT(this.learner, win);
      this.learner.lr = p.lr * win;
    } else {
      if (this.bptt) this.bptt.flush();
      this.bptt = null;
      this.learner.lr = p.lr;
    }
  }

  /** per layer: τ_m sits at the clamp τ_min */
  clamped(): boolean[] {
    return this.student.layers.map((l) => l.params.tauM.a[0] <= TAU_MIN * (1 + 1e-9));
  }

  /** Advance one dt; if `rec` is given, write one record (CHAIN_FIELDS order) at rec[off..]. */
  step(rec?: Float64Array, off = 0): void {
    const dt = this.p.dt;
    this.x[0] = chainInput(this.p.input, this.t);
    this.tgt[0] = this.teacher.step(this.x).a[0];
    const y = (this.bptt ? this.bptt.step(this.x, this.tgt) : this.learner.trainStep(this.x, this.tgt)).a[0];
    const d = y - this.tgt[0];
    const se = d * d;
    const a = Math.min(1, dt / 4);
    this.lossEma = this.steps === 0 ? se : this.lossEma + a * (se - this.lossEma);
    this.t += dt;
    this.steps++;
    if (rec) {
      const s = this.student;
      rec[off] = this.t;
      rec[off + 1] = this.x[0];
      rec[off + 2] = this.tgt[0];
      rec[off + 3] = y;
      rec[off + 4] = s.state(0).u.a[0];
      rec[off + 5] = s.state(1).u.a[0];
      rec[off + 6] = s.scratch(0).prospV.a[0];
      rec[off + 7] = s.scratch(1).prospV.a[0];
      rec[off + 8] = s.layers[0].params.W.a[0];
      rec[off + 9] = s.layers[1].params.W.a[0];
      rec[off + 10] = s.layers[0].params.tauM.a[0];
      rec[off + 11] = s.layers[1].params.tauM.a[0];
      rec[off + 12] = this.lossEma;
    }
  }
}

/** Fields of one record of the side-by-side comparison: t, then loss, w₀, w₁, τ₀, τ₁ for each of COMPARE_MODES. */
export const COMPARE_MODES: ChainMode[] = ['gle', 'bp', 'bptt'];
export const COMPARE_NF = 1 + 5 * COMPARE_MODES.length;

/** GLE, BP and BPTT students from the same initial state against the same teacher and input. */
export class ChainCompare {
  readonly sims: ChainSim[];
  private rec = new Float64Array(CHAIN_NF);
  constructor(backend: Backend, params: Partial<ChainParams>) {
    this.sims = COMPARE_MODES.map((mode) => new ChainSim(backend, { ...params, mode }));
  }
  set(q: Partial<ChainParams>): void {
    for (const s of this.sims) s.set({ ...q, mode: s.p.mode });
  }
  reset(): void {
    for (const s of this.sims) s.reset();
  }
  /** Advance all students one dt; with `out`, write one COMPARE_FIELDS record at out[off..]. */
  step(out?: Float64Array, off = 0): void {
    for (let k = 0; k < this.sims.length; k++) {
      const s = this.sims[k];
      if (!out) {
        s.step();
        continue;
      }
      s.step(this.rec, 0);
      const r = this.rec;
      if (k === 0) out[off] = r[0];
      const o = off + 1 + 5 * k;
      out[o] = r[12];
      out[o + 1] = r[8];
      out[o + 2] = r[9];
      out[o + 3] = r[10];
      out[o + 4] = r[11];
    }
  }
}
