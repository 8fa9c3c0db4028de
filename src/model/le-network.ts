/**
 * A layered Latent Equilibrium network (equations: layers/le.ts): a stack of stages, each a projection (dense, conv2d
 * or maxpool from ./layers) feeding LE neurons (pooling stages have none), stepped in the reference's order:
 *   1. target error from the previous step's top rates;  2. forward sweep from the input (vanilla: each stage reads
 *   the previous step's r, r' of the stage below, one dt of delay per stage, pooling included; full forward pass: the
 *   values just produced);  3. backward sweep from the top (own errors ← the errors sent down this step; pooling
 *   stages scatter to this step's argmax), then every parameterised stage updates with its new own error and the
 *   input it read in 2.
 * Dense and projection stages are `dense` projections (a dense stage on a C×H×W map reads it flattened row-major);
 * conv is im2col + the backend's gemm; the weight update is W ← W − (dt·∇W)·η (conv bias: ∇b averaged over positions,
 * the reference's asymmetry; conv weight: summed). Buffers are allocated once at construction (batch size fixed, as
 * the reference); a step allocates nothing on js.
 */
import { z } from 'zod';
import type { Backend, FBuf, PhiCode } from '../kernels/types.js';
import { PHI, type PhiName } from '../kernels/layout.js';
import { getKernel } from '../kernels/registry.js';
import { Rng } from '../util/rng.js';
import * as dense from './layers/dense.js';
import * as conv from './layers/conv.js';
import * as pool from './layers/pool.js';
import type { Projection, Workspace } from './layers/types.js';
import type { LeNeuronArgs } from './layers/le.js';

const finite = z.number().finite();
const posInt = z.number().int().positive();
const phiName = z.enum(Object.keys(PHI) as [PhiName, ...PhiName[]]);
/** a time constant: one value for the layer, or one per neuron */
const TauList = z.union([finite.positive(), z.array(finite.positive()).min(1)]);
/** τ may be 0 (no prospective coding: ŭ = u) */
const TauRList = z.union([finite.min(0), z.array(finite.min(0)).min(1)]);

const leNeuron = {
  name: z.string().optional(),
  phi: phiName.default('linear'),
  /** prospective time constant τ (τ_r); default: the network's tau */
  tau: TauRList.optional(),
  /** membrane time constant τ_m; default: the network's tau_m */
  tau_m: TauList.optional(),
  /** per-stage factor on the learning rate */
  lr_factor: finite.default(1),
  bias: z.boolean().default(true),
};

export const leLayerSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('dense'),
      size: posInt,
      ...leNeuron,
      init: z.object({ weight: z.array(z.array(finite)).optional(), bias: z.array(finite).optional(), feedback: z.array(z.array(finite)).optional() }).strict().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('conv2d'),
      channels: posInt,
      kernel: posInt,
      ...leNeuron,
      init: z.object({ weight: z.array(z.unknown()).optional(), bias: z.array(finite).optional() }).strict().optional(),
    })
    .strict(),
  z.object({ type: z.literal('maxpool'), name: z.string().optional(), kernel: posInt }).strict(),
]);
export type LeLayerSpec = z.output<typeof leLayerSchema>;

export const leSpecSchema = z
  .object({
    model: z.literal('le'),
    /** [n] for a vector input, [C, H, W] for images */
    input_shape: z.array(posInt).min(1).max(3),
    dt: finite.positive(),
    tau: finite.min(0),
    /** default: tau (the τ_r = τ_m corner) */
    tau_m: finite.positive().optional(),
    beta: finite.default(0.1),
    variant: z.enum(['vanilla', 'full_forward_pass']).default('vanilla'),
    target: z.literal('rate').default('rate'),
    learning_rate: finite.default(0.125),
    lr_multiplier: finite.default(128),
    n_updates: posInt.default(100),
    /** 'none': the plain LE update every step; 'adam': ∇ = dt·(−mean_b(e rᵀ)) into a default Adam step every dt */
    optimizer: z.enum(['none', 'adam']).default('none'),
    adam_lr: finite.positive().default(1e-3),
    /** fixed random feedback matrices B ~ N(0, init_std²) in the dense stages' error path */
    feedback_alignment: z.boolean().default(false),
    /** per-neuron τ mismatch width w: τ·N(1, w²), τ_m·N(1, w²), clipped to [1, 1000] (not where per-neuron lists are given) */
    tau_width: finite.min(0).default(0),
    /** Gaussian rate noise σ_r on the rate sent forward */
    noise_width: finite.min(0).default(0),
    forward_filter: z.boolean().default(false),
    backward_filter: z.boolean().default(false),
    /** synaptic filter time constant τ_s */
    tau_s: finite.min(0).default(0),
    prosp_rate_errors: z.boolean().default(false),
    /** τ adaptation learning-rate factor (λ_τ = learning_rate · lr_multiplier · this) */
    adapt_tau_factor: finite.default(10),
    init_std: finite.positive().default(0.05),
    seed: z.number().int().default(0),
    layers: z.array(leLayerSchema).min(1),
  })
  .strict();
export type LeSpec = z.output<typeof leSpecSchema>;
export type LeSpecInput = z.input<typeof leSpecSchema>;

/** Parse and check a spec: one message per problem (throws an Error listing them). */
export function parseLeSpec(raw: unknown): LeSpec {
  const r = leSpecSchema.safeParse(raw);
  if (!r.success) throw new Error(`bad LE spec: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const s = r.data;
  if (s.tau_s === 0 && (s.forward_filter || s.backward_filter)) throw new Error('bad LE spec: forward_filter/backward_filter need tau_s > 0');
  const top = s.layers[s.layers.length - 1];
  if (top.type === 'maxpool') throw new Error('bad LE spec: the top stage must have neurons (dense or conv2d)');
  return s;
}

interface NeuronStage {
  kind: 'neurons';
  spec: LeLayerSpec;
  proj: Projection;
  ws: Workspace;
  nIn: number;
  n: number;
  phi: PhiCode;
  eta: number;
  /** bias step factor (conv: 1/P, the mean over positions) */
  biasScale: number;
  tau: FBuf;
  tauM: FBuf;
  u: FBuf;
  e: FBuf;
  drive: FBuf;
  uDot: FBuf;
  prospU: FBuf;
  prospUm: FBuf;
  diff: FBuf;
  eBottom: FBuf;
  args: LeNeuronArgs;
  adam: { m: FBuf; v: FBuf; mb: FBuf | null; vb: FBuf | null } | null;
}
interface PoolStage {
  kind: 'pool';
  spec: LeLayerSpec;
  proj: pool.MaxPoolProjection;
  ws: Workspace & { argmax: Int32Array };
  nIn: number;
  n: number;
  eBottom: FBuf;
}
type Stage = (NeuronStage | PoolStage) & {
  /** rate and r' at the two parities (step t writes parity t mod 2) */
  r: [FBuf, FBuf];
  rp: [FBuf, FBuf];
  /** the rate sent forward (noise / forward filter), or r itself */
  out: [FBuf, FBuf];
  outShape: number[];
  /** the input rate this step read (for the update) */
  rIn: FBuf;
  rpIn: FBuf;
};

export class LENetwork {
  readonly spec: LeSpec;
  readonly k: Backend;
  readonly B: number;
  readonly stages: Stage[];
  readonly nIn: number;
  readonly nOut: number;
  /** steps taken (the parity of the next write is t mod 2) */
  t = 0;
  private readonly x: FBuf;
  private readonly zerosIn: FBuf;
  private readonly eTop: FBuf;
  private readonly neurons;
  private readonly noiseRng: Rng;
  private adamT = 0;

  constructor(k: Backend, specIn: LeSpecInput | LeSpec, batchSize: number) {
    const spec = parseLeSpec(specIn);
    this.spec = spec;
    this.k = k;
    this.B = batchSize;
    const B = batchSize;
    const rng = new Rng(spec.seed);
    const fbRng = new Rng(spec.seed + 0x5bd1e995);
    const tauRng = new Rng(spec.seed + 0x27d4eb2d);
    this.noiseRng = new Rng(spec.seed + 0x165667b1);
    this.neurons = getKernel<LeNeuronArgs>(k, 'le.neurons');
    let shape = spec.input_shape.slice();
    this.nIn = shape.reduce((a, b) => a * b, 1);
    this.x = k.alloc(B * this.nIn);
    this.zerosIn = k.alloc(B * this.nIn);
    const etaBase = (spec.learning_rate * spec.lr_multiplier) / spec.dt / spec.n_updates;
    const tauM0 = spec.tau_m ?? spec.tau;
    const useOut = spec.noise_width > 0 || spec.forward_filter;
    this.stages = spec.layers.map((l, i) => {
      const nIn = shape.reduce((a, b) => a * b, 1);
      const where = `layers[${i}]`;
      const issues: string[] = [];
      const ctx = { dt: spec.dt, prospective: false };
      let st: NeuronStage | PoolStage;
      if (l.type === 'maxpool') {
        const res = pool.resolve(pool.schema.parse({ type: 'maxpool', kernel: l.kernel }), shape, where, issues);
        if (res.geom && (res.geom.H % l.kernel !== 0 || res.geom.W % l.kernel !== 0)) issues.push(`${where}: maxpool ${l.kernel} does not tile the ${res.geom.H}x${res.geom.W} map`);
        fail(issues);
        const proj = pool.build(k, res);
        const ws = proj.workspace(k, B);
        st = { kind: 'pool', spec: l, proj, ws, nIn, n: res.size, eBottom: k.alloc(B * nIn) };
        shape = res.outShape;
      } else {
        const neuronPart = { phi: l.phi, tau_m: Math.max(1, spec.dt) };
        const res =
          l.type === 'dense'
            ? dense.resolve(
                dense.schema.parse({ type: 'dense', size: l.size, bias: l.bias, feedback: spec.feedback_alignment ? 'fixed' : 'transpose', init: l.init, ...neuronPart }),
                shape,
                where,
                ctx,
                issues,
              )
            : conv.resolve(conv.schema2d.parse({ type: 'conv2d', channels: l.channels, kernel: l.kernel, bias: l.bias, init: l.init, ...neuronPart }), shape, where, ctx, issues);
        const n = res.size;
        const units = l.type === 'dense' ? l.size : l.channels;
        const rep = n / units;
        const tauV = perNeuron(l.tau ?? spec.tau, units, rep, `${where}.tau`, issues);
        const tauMV = perNeuron(l.tau_m ?? tauM0, units, rep, `${where}.tau_m`, issues);
        fail(issues);
        const proj = l.type === 'dense' ? dense.build(k, res, rng, fbRng) : conv.build(k, res, rng);
        // the reference's initialisation: W, b ~ N(0, init_std²), B (feedback alignment) likewise; given values win
        const std = spec.init_std;
        if (!l.init?.weight) for (let j = 0; j < proj.W!.n; j++) proj.W!.a[j] = std * rng.normal();
        if (proj.b && !l.init?.bias) for (let j = 0; j < proj.b.n; j++) proj.b.a[j] = std * rng.normal();
        if (proj instanceof dense.DenseProjection && proj.FB && !(l.type === 'dense' && l.init?.feedback))
          for (let j = 0; j < proj.FB.n; j++) proj.FB.a[j] = std * fbRng.normal();
        // per-neuron mismatch draws (only where the layer gives no per-neuron lists)
        if (spec.tau_width > 0) {
          const w = spec.tau_width;
          const clip = (x: number) => Math.min(1000, Math.max(1, x));
          if (!Array.isArray(l.tau)) for (let j = 0; j < n; j++) tauV[j] = clip(tauV[j] * (1 + w * tauRng.normal()));
          if (!Array.isArray(l.tau_m)) for (let j = 0; j < n; j++) tauMV[j] = clip(tauMV[j] * (1 + w * tauRng.normal()));
        }
        const tau = k.alloc(n), tauM = k.alloc(n);
        tau.a.set(tauV);
        tauM.a.set(tauMV);
        const buf = () => k.alloc(B * n);
        const u = buf(), e = buf(), drive = buf(), uDot = buf(), prospU = buf(), prospUm = buf(), diff = buf();
        const args: LeNeuronArgs = {
          B, n, drive, e, u, uDot, prospU, prospUm, diff, rN: drive, rPrimeN: drive, tau, tauM,
          phi: PHI[l.phi], dt: spec.dt, prospRateErrors: spec.prosp_rate_errors,
        };
        const P = l.type === 'conv2d' ? rep : 1;
        const adam =
          spec.optimizer === 'adam'
            ? { m: k.alloc(proj.W!.n), v: k.alloc(proj.W!.n), mb: proj.b ? k.alloc(proj.b.n) : null, vb: proj.b ? k.alloc(proj.b.n) : null }
            : null;
        st = {
          kind: 'neurons', spec: l, proj, ws: proj.workspace(k, B), nIn, n, phi: PHI[l.phi], eta: etaBase * l.lr_factor, biasScale: 1 / P,
          tau, tauM, u, e, drive, uDot, prospU, prospUm, diff, eBottom: k.alloc(B * nIn), args, adam,
        };
        shape = res.outShape;
      }
      const n = st.n;
      const r: [FBuf, FBuf] = [k.alloc(B * n), k.alloc(B * n)];
      // noise and the forward filter act on neurons' rates (a pooling stage forwards what it pooled)
      const out: [FBuf, FBuf] = useOut && st.kind === 'neurons' ? [k.alloc(B * n), k.alloc(B * n)] : r;
      return { ...st, r, rp: [k.alloc(B * n), k.alloc(B * n)], out, outShape: shape.slice(), rIn: this.x, rpIn: this.zerosIn } as Stage;
    });
    this.nOut = this.stages[this.stages.length - 1].n;
    this.eTop = k.alloc(B * this.nOut);
  }

  /**
   * Every buffer that carries state from one step to the next, named (checkpoints: saving and restoring these and
   * {@link scalarState} resumes the stream exactly): parameters, per-neuron τ and τ_m, membranes, own errors, the rates
   * and derivatives of both parities, the filtered rates sent forward, and the Adam moments.
   */
  stateBuffers(): [string, FBuf][] {
    const out: [string, FBuf][] = [];
    this.stages.forEach((st, i) => {
      const at = `layer_${i}`;
      if (st.kind === 'neurons') {
        for (const t of st.proj.tensors) out.push([`${at}.${t.suffix}`, t.buf]);
        out.push([`${at}.tau`, st.tau], [`${at}.tau_m`, st.tauM], [`${at}.u`, st.u], [`${at}.e`, st.e]);
        if (st.adam) {
          out.push([`${at}.adam_m`, st.adam.m], [`${at}.adam_v`, st.adam.v]);
          if (st.adam.mb) out.push([`${at}.adam_mb`, st.adam.mb], [`${at}.adam_vb`, st.adam.vb!]);
        }
      }
      out.push([`${at}.r0`, st.r[0]], [`${at}.r1`, st.r[1]], [`${at}.rp0`, st.rp[0]], [`${at}.rp1`, st.rp[1]]);
      if (st.out !== st.r) out.push([`${at}.out0`, st.out[0]], [`${at}.out1`, st.out[1]]);
    });
    return out;
  }

  /** The scalar state: steps taken, Adam's step count, the noise generator. */
  get scalarState(): { t: number; adamT: number; noise: number[] } {
    return { t: this.t, adamT: this.adamT, noise: this.noiseRng.getState() };
  }
  set scalarState(s: { t: number; adamT: number; noise: number[] }) {
    this.t = s.t;
    this.adamT = s.adamT;
    this.noiseRng.setState(s.noise);
  }

  /** The learning rate η of stage i (null for pooling). */
  eta(i: number): number | null {
    const s = this.stages[i];
    return s.kind === 'neurons' ? s.eta : null;
  }

  /** The rate, r' and sent rate of stage i written by the last step. */
  rate(i: number): FBuf {
    return this.stages[i].r[(this.t + 1) & 1];
  }
  ratePrime(i: number): FBuf {
    return this.stages[i].rp[(this.t + 1) & 1];
  }
  /** The network's prediction: the top stage's rate after the last step. */
  output(): FBuf {
    return this.rate(this.stages.length - 1);
  }

  /**
   * One time step dt. `x`: B × nIn input; `y`: B × nOut target (null: no nudging, as in evaluation). `learn`: apply the
   * weight update (default: when a target is given). `adaptTau`: τ adaptation step instead (needs y = null).
   */
  step(x: ArrayLike<number>, y: ArrayLike<number> | null, opts?: { learn?: boolean; adaptTau?: boolean }): void {
    const k = this.k, spec = this.spec, B = this.B, S = this.stages.length;
    const learn = opts?.learn ?? y !== null;
    const cur = this.t & 1, prev = cur ^ 1;
    this.x.a.set(x as ArrayLike<number>);
    // 1. target error from the previous step's top rates
    const top = this.stages[S - 1];
    const eT = this.eTop.a;
    if (y) {
      const beta = spec.beta, rT = top.r[prev].a, rpT = top.rp[prev].a;
      for (let i = 0; i < B * this.nOut; i++) eT[i] = beta * rpT[i] * (y[i] - rT[i]);
    } else eT.fill(0);
    // 2. forward sweep
    const ff = spec.variant === 'full_forward_pass';
    for (let s = 0; s < S; s++) {
      const st = this.stages[s];
      if (s === 0) {
        st.rIn = this.x;
        st.rpIn = this.zerosIn;
      } else {
        const below = this.stages[s - 1];
        const p = ff ? cur : prev;
        st.rIn = below.out[p];
        st.rpIn = below.rp[p];
      }
      if (st.kind === 'pool') {
        st.proj.forward(k, st.ws, st.rIn, st.r[cur]);
        // r' at the argmax, not a pooled derivative
        const am = st.ws.argmax, rpI = st.rpIn.a, rpO = st.rp[cur].a, g = st.proj.g;
        const planeIn = g.H * g.W, planeOut = g.Ho * g.Wo;
        for (let bc = 0; bc < B * g.C; bc++) for (let o = 0; o < planeOut; o++) rpO[bc * planeOut + o] = rpI[bc * planeIn + am[bc * planeOut + o]];
      } else {
        st.proj.forward(k, st.ws, st.rIn, st.drive);
        const a = st.args;
        a.rN = st.r[cur];
        a.rPrimeN = st.rp[cur];
        this.neurons(k, a);
        // ε = r'_in ⊙ W_ℓᵀ (ŭᵐ − a), W before this step's update
        if (s > 0) {
          st.proj.backward(k, st.ws, st.diff, st.eBottom);
          const eb = st.eBottom.a, rpI = st.rpIn.a;
          for (let i = 0; i < B * st.nIn; i++) eb[i] *= rpI[i];
        }
      }
      if (st.out !== st.r) this.sendForward(st, cur, prev);
    }
    // 3. backward sweep: new own errors, then updates
    const decay = spec.backward_filter ? spec.dt / spec.tau_s : 1;
    for (let s = S - 1; s >= 0; s--) {
      const st = this.stages[s];
      const from = s === S - 1 ? this.eTop : this.stages[s + 1].eBottom;
      if (st.kind === 'pool') st.proj.backward(k, st.ws, from, st.eBottom);
      else {
        const e = st.e.a, src = from.a, n = B * st.n;
        if (s === S - 1 || !spec.backward_filter) for (let i = 0; i < n; i++) e[i] = src[i];
        else for (let i = 0; i < n; i++) e[i] += decay * (src[i] - e[i]);
      }
    }
    if (opts?.adaptTau) this.adaptTau();
    else if (learn)
      for (let s = 0; s < S; s++) {
        const st = this.stages[s];
        if (st.kind === 'neurons') this.update(st);
      }
    this.t++;
  }

  /** the rate sent forward: r + N(0, σ_r²), low-passed by the forward filter */
  private sendForward(st: Stage, cur: number, prev: number): void {
    const spec = this.spec, n = this.B * st.n, r = st.r[cur].a, o = st.out[cur].a, op = st.out[prev].a;
    const sd = spec.noise_width, rng = this.noiseRng;
    const c = spec.forward_filter ? spec.dt / spec.tau_s : 1;
    for (let i = 0; i < n; i++) {
      const x = sd > 0 ? r[i] + sd * rng.normal() : r[i];
      o[i] = spec.forward_filter ? op[i] + c * (x - op[i]) : x;
    }
  }

  private update(st: NeuronStage & { rIn: FBuf }): void {
    const k = this.k, dt = this.spec.dt, eta = st.eta;
    st.proj.grads(k, st.ws, st.e, st.rIn);
    const W = st.proj.W!.a, gW = st.proj.gW!.a;
    if (st.adam) {
      // the reference's optimizer option: .grad = dt·∇ (∇ = −mean_b(e rᵀ)), one default Adam step per dt
      const t = ++this.adamT;
      for (let i = 0; i < gW.length; i++) gW[i] *= dt;
      const sc = { lr: this.spec.adam_lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc1: 1 - 0.9 ** t, bc2: 1 - 0.999 ** t, weightDecay: 0 };
      k.adam(st.proj.W!, st.proj.gW!, st.adam.m, st.adam.v, gW.length, sc);
      if (st.proj.b) {
        const gB = st.proj.gB!.a;
        for (let i = 0; i < gB.length; i++) gB[i] *= dt * st.biasScale;
        k.adam(st.proj.b, st.proj.gB!, st.adam.mb!, st.adam.vb!, gB.length, sc);
      }
      return;
    }
    for (let i = 0; i < W.length; i++) W[i] -= dt * gW[i] * eta;
    if (st.proj.b) {
      const b = st.proj.b.a, gB = st.proj.gB!.a, s = st.biasScale;
      for (let i = 0; i < b.length; i++) b[i] -= dt * (s * gB[i]) * eta;
    }
  }

  /** τ adaptation (nudging off): τ_m ← τ_m + λ_τ · mean_b((ŭ − a) ⊙ u̇) */
  private adaptTau(): void {
    const spec = this.spec, B = this.B;
    const lam = spec.learning_rate * spec.lr_multiplier * spec.adapt_tau_factor;
    for (const st of this.stages) {
      if (st.kind !== 'neurons') continue;
      const n = st.n, pu = st.prospU.a, a = st.drive.a, ud = st.uDot.a, tm = st.tauM.a;
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let b = 0; b < B; b++) acc += (pu[b * n + j] - a[b * n + j]) * ud[b * n + j];
        tm[j] += (lam * acc) / B;
      }
    }
  }
}

function fail(issues: string[]): void {
  if (issues.length) throw new Error(`bad LE spec: ${issues.join('; ')}`);
}

function perNeuron(t: number | number[], units: number, rep: number, where: string, issues: string[]): number[] {
  let v: number[];
  if (typeof t === 'number') v = new Array<number>(units).fill(t);
  else {
    if (t.length !== units) issues.push(`${where}: has ${t.length} entries, expected ${units}`);
    v = t.slice(0, units);
  }
  return rep === 1 ? v : v.flatMap((x) => new Array<number>(rep).fill(x));
}
