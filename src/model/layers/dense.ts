/**
 * `dense` layers (the default type): a fully connected projection W (out × in, torch layout) + bias, with the error
 * sent down through
 *   feedback 'transpose'  ĕ W            (backprop-like: B = Wᵀ by construction; today's GLE)
 *            'fixed'      ĕ B            (feedback alignment: B a fixed random out × in matrix, drawn at init)
 *            'learned'    ĕ B            (B `layer_<i>.feedback` learned by a local rule, `feedback_rule`:
 *                                         'vle' (default, docs/vle.md) B_ji → W_ji / G_j with G_j = (1+ω²τ_m²)/(1+ω²τ_r²)
 *                                         the gain GLE's error neuron j applies at the signal's frequency ω, so the error
 *                                         sent down is the adjoint's; B is updated inside the step from forward signals
 *                                         (no optimiser); 'kp' B gets W's gradient, with weight decay B → Wᵀ
 *                                         (Kolen–Pollack). Other rules replace `feedbackPlasticity`)
 * With GLE neurons and 'transpose' the whole layer runs as the fused dense step (one kernel call); with 'fixed' or
 * 'learned' the fused step runs without its error product and this projection's `backward` adds it.
 */
import { z } from 'zod';
import type { Backend, FBuf } from '../../kernels/types.js';
import { getKernel } from '../../kernels/registry.js';
import type { BiasArgs, BiasGradArgs } from '../../kernels/generic.js';
import type { Rng } from '../../util/rng.js';
import { finite, neuronFields, resolveNeurons, type NeuronSpecOut } from './neuron.js';
import { keepBoxed, type Feedback, type Projection, type ProjTensor, type ResolvedLayer, type Workspace } from './types.js';

/** rule 'vle': the ridge of B's delta rule, relative to the mean presynaptic power */
const RIDGE = 0.02;

export const schema = z
  .object({
    type: z.literal('dense'),
    name: z.string().optional(),
    size: z.number().int().positive(),
    bias: z.boolean().default(true),
    /** learn W / b (default true); frozen layers still run and pass errors down */
    trainable: z.boolean().default(true),
    feedback: z.enum(['transpose', 'fixed', 'learned']).default('transpose'),
    /** feedback 'learned': the local rule of B ('vle': gain-matched mirror, B → Wᵀ/G; 'kp': Kolen–Pollack, B → Wᵀ) */
    feedback_rule: z.enum(['vle', 'kp']).default('vle'),
    /** feedback 'learned', rule 'vle': time constant of B's plasticity and of the running means and powers it uses */
    feedback_tau: finite.positive().default(20),
    /**
     * feedback 'learned', rule 'vle': divide the mirror's target by the neuron's gain estimate, B → W/G (default);
     * false: a plain weight mirror, B → W on the rates' explored subspace (the ablation of docs/vle.md §5)
     */
    feedback_gain: z.boolean().default(true),
    init: z
      .object({
        weight: z.array(z.array(finite)).optional(),
        bias: z.array(finite).optional(),
        /** the feedback matrix B (out × in, like the weight) for feedback 'fixed' or 'learned' */
        feedback: z.array(z.array(finite)).optional(),
      })
      .strict()
      .optional(),
    ...neuronFields,
  })
  .strict();
export type DenseSpec = z.output<typeof schema>;

export function resolve(l: DenseSpec, inShape: number[], where: string, ctx: { dt: number; prospective: boolean }, issues: string[]): ResolvedLayer {
  const nIn = inShape.reduce((a, b) => a * b, 1);
  if (l.init?.weight) {
    const w = l.init.weight;
    if (w.length !== l.size || w.some((row) => row.length !== nIn))
      issues.push(`${where}.init.weight: shape is ${w.length} x ${w[0]?.length ?? 0}, expected ${l.size} x ${nIn} (out x in)`);
  }
  if (l.init?.bias) {
    if (!l.bias) issues.push(`${where}.init.bias: given but the layer has bias: false`);
    else if (l.init.bias.length !== l.size) issues.push(`${where}.init.bias: has ${l.init.bias.length} entries, expected ${l.size}`);
  }
  if (l.init?.feedback) {
    const f = l.init.feedback;
    if (l.feedback === 'transpose') issues.push(`${where}.init.feedback: given but the layer has feedback: 'transpose' (no B matrix)`);
    else if (f.length !== l.size || f.some((row) => row.length !== nIn))
      issues.push(`${where}.init.feedback: shape is ${f.length} x ${f[0]?.length ?? 0}, expected ${l.size} x ${nIn} (out x in)`);
  }
  return {
    ...(l as DenseSpec & NeuronSpecOut),
    ...resolveNeurons(l, l.size, 1, where, ctx, issues),
    type: 'dense',
    name: l.name ?? '',
    nIn,
    size: l.size,
    inShape: [nIn],
    outShape: [l.size],
    feedback: l.feedback,
    feedback_rule: l.feedback_rule,
    feedback_tau: l.feedback_tau,
    feedback_gain: l.feedback_gain,
    dt: ctx.dt,
  };
}

interface DenseWs extends Workspace {
  /** −1/B, kept in a field: a double computed at the call would be boxed (allocated) when passed to the backend */
  gradScale: number;
  bias: BiasArgs;
  biasGrad: BiasGradArgs;
}

export class DenseProjection implements Projection {
  readonly type = 'dense' as const;
  readonly nIn: number;
  readonly nOut: number;
  readonly W: FBuf;
  readonly b: FBuf | null;
  readonly gW: FBuf;
  readonly gB: FBuf | null;
  /** the feedback matrix (out × in) for 'fixed' / 'learned'; null for 'transpose' */
  readonly FB: FBuf | null;
  readonly gFB: FBuf | null;
  readonly feedback: Feedback;
  /**
   * learned feedback, rule 'vle': running means and powers [mean I, mean ŭ, power I, power ŭ] (nOut each) of each
   * neuron's input and prospective potential, then [mean r, power r] (nIn each) of the presynaptic rates, then the
   * number of steps averaged so far (the averages are bias-corrected by it, and B is plastic only once it covers τ_B)
   */
  readonly power: FBuf | null;
  /** dt / feedback_tau (rule 'vle') */
  private readonly powerRate: number;
  /** rule 'vle': B → W/G (true) or a plain mirror B → W (false) */
  private readonly useGain: boolean;
  readonly tensors: ProjTensor[];
  private readonly biasAdd;
  private readonly biasGrad;

  constructor(k: Backend, l: ResolvedLayer, rng: Rng, feedbackRng: Rng) {
    const nIn = l.nIn, nOut = l.size;
    this.nIn = nIn;
    this.nOut = nOut;
    this.feedback = l.feedback;
    this.W = k.alloc(nOut * nIn);
    this.b = l.bias ? k.alloc(nOut) : null;
    // PyTorch nn.Linear default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)); drawn in this order from the seeded Rng.
    const bound = 1 / Math.sqrt(nIn);
    for (let i = 0; i < nOut * nIn; i++) this.W.a[i] = rng.range(-bound, bound);
    if (this.b) for (let i = 0; i < nOut; i++) this.b.a[i] = rng.range(-bound, bound);
    const init = l.init;
    if (Array.isArray(init?.weight)) (init.weight as number[][]).forEach((row, o) => row.forEach((x, j) => (this.W.a[o * nIn + j] = x)));
    if (this.b && init?.bias) init.bias.forEach((x, o) => (this.b!.a[o] = x));
    this.gW = k.alloc(nOut * nIn);
    this.gB = l.bias ? k.alloc(nOut) : null;
    this.tensors = [{ suffix: 'weight', buf: this.W, grad: this.gW, shape: [nOut, nIn] }];
    if (this.b) this.tensors.push({ suffix: 'bias', buf: this.b, grad: this.gB, shape: [nOut] });
    if (l.feedback === 'transpose') {
      this.FB = null;
      this.gFB = null;
    } else {
      // B drawn like W from its own stream (so W and b are the same as without feedback alignment)
      this.FB = k.alloc(nOut * nIn);
      for (let i = 0; i < nOut * nIn; i++) this.FB.a[i] = feedbackRng.range(-bound, bound);
      if (init?.feedback) init.feedback.forEach((row, o) => row.forEach((x, j) => (this.FB!.a[o * nIn + j] = x)));
      // rule 'kp' learns B through the optimiser (a gradient); rule 'vle' updates B itself in the step
      const vleRule = l.feedback === 'learned' && (l.feedback_rule ?? 'vle') === 'vle';
      this.gFB = l.feedback === 'learned' && !vleRule ? k.alloc(nOut * nIn) : null;
      this.tensors.push({ suffix: 'feedback', buf: this.FB, grad: this.gFB, shape: [nOut, nIn] });
    }
    const vle = l.feedback === 'learned' && (l.feedback_rule ?? 'vle') === 'vle';
    this.power = vle ? k.alloc(4 * nOut + 2 * nIn + 1) : null;
    this.powerRate = vle ? (l.dt ?? 0) / (l.feedback_tau ?? 20) : 0;
    this.useGain = l.feedback_gain ?? true;
    // the gain estimate is state a resumed run needs: a checkpointed tensor, not learned
    if (this.power) this.tensors.push({ suffix: 'feedback_power', buf: this.power, grad: null, shape: [4 * nOut + 2 * nIn + 1] });
    this.biasAdd = getKernel<BiasArgs>(k, 'bias.add');
    this.biasGrad = getKernel<BiasGradArgs>(k, 'bias.grad');
  }

  workspace(_k: Backend, B: number): DenseWs {
    const F = this.nOut;
    const ws: DenseWs = {
      B,
      gradScale: 0,
      bias: { B, F, P: 1, y: this.W, bias: this.W },
      biasGrad: { B, F, P: 1, y: this.W, g: this.W, scale: -1 / B },
    };
    return keepBoxed(ws, 'gradScale', -1 / B);
  }

  forward(k: Backend, ws: Workspace, rIn: FBuf, drive: FBuf): void {
    const w = ws as DenseWs;
    k.gemm(false, true, w.B, this.nOut, this.nIn, 1, rIn, this.W, 0, drive);
    if (this.b) {
      w.bias.y = drive;
      w.bias.bias = this.b;
      this.biasAdd(k, w.bias);
    }
  }

  grads(k: Backend, ws: Workspace, err: FBuf, rIn: FBuf): void {
    const w = ws as DenseWs;
    k.gemm(true, false, this.nOut, this.nIn, w.B, w.gradScale, err, rIn, 0, this.gW);
    if (this.gB) {
      w.biasGrad.y = err;
      w.biasGrad.g = this.gB;
      this.biasGrad(k, w.biasGrad);
    }
  }

  /**
   * The learned-feedback rule, after this step's gradient gW = −⟨ĕ rᵀ⟩ (docs/vle.md).
   * 'kp': gB = gW (the optimiser applies it).
   * 'vle': from the neuron's own forward signals — its input I = u + τ_m u̇ (= W r + b + γĕ), its prospective
   * potential ŭ and the presynaptic rates r (the input of this step), ˜ removing running means —
   *   gain   Ĝ_j = ⟨Ĩ_j²⟩ / ⟨ŭ̃_j²⟩               (= (1+ω²τ_m²)/(1+ω²τ_r²) = the error neuron's gain at ω)
   *   τ_B Ḃ_ji = ⟨((1+ρ) Ĩ_j / Ĝ_j − Σ_k B_jk r̃_k) r̃_i⟩_b / P̄ − ρ B_ji     (P̄ = mean_k⟨r̃_k²⟩, ρ = 0.02)
   *   a normalised delta rule with a small ridge: fixed point B = (1+ρ) W C (C + ρP̄)⁻¹ / G (C: covariance of the
   *   rates), = W / G for a single input or inputs of equal power, also for correlated rates, since
   *   Ĩ_j = Σ_k W_jk r̃_k + γ ĕ_j; components along directions the rates never explore decay
   * with all averages over `feedback_tau` (τ_B), bias-corrected (rate max(dt/τ_B, 1/n) after n steps, so they start
   * from the data, not from zero); `feedback_gain: false` drops the 1/Ĝ (a plain mirror B → W). Allocates nothing.
   */
  feedbackPlasticity(rIn: FBuf, u: FBuf, uDot: FBuf, prospU: FBuf, tauM: FBuf): void {
    if (!this.power) {
      this.gFB!.a.set(this.gW.a);
      return;
    }
    const P = this.power.a, n = this.nOut, m = this.nIn, Bm = this.FB!.a;
    const uu = u.a, ud = uDot.a, pu = prospU.a, tm = tauM.a, r = rIn.a, B = pu.length / n;
    const oR = 4 * n, oP = 4 * n + m, oC = 4 * n + 2 * m;
    // bias-corrected running averages: rate 1/(count+1) until it falls to dt/τ_B, so that the estimates do not start
    // from zero (a zero mean presynaptic power made the normalised step of B ~1e12 on the first steps)
    const count = P[oC];
    P[oC] = count + 1;
    const a = Math.max(this.powerRate, 1 / (count + 1));
    // presynaptic running means and powers
    for (let i = 0; i < m; i++) {
      let mr = 0, pr = 0;
      const mR = P[oR + i];
      for (let b = 0; b < B; b++) {
        const x = r[b * m + i];
        mr += x;
        pr += (x - mR) * (x - mR);
      }
      P[oR + i] += a * (mr / B - P[oR + i]);
      P[oP + i] += a * (pr / B - P[oP + i]);
    }
    for (let j = 0; j < n; j++) {
      let mi = 0, mu = 0, pi = 0, pp = 0;
      const mI = P[j], mU = P[n + j];
      for (let b = 0; b < B; b++) {
        const i = b * n + j;
        const I = uu[i] + tm[j] * ud[i], U = pu[i];
        mi += I;
        mu += U;
        pi += (I - mI) * (I - mI);
        pp += (U - mU) * (U - mU);
      }
      P[j] += a * (mi / B - P[j]);
      P[n + j] += a * (mu / B - P[n + j]);
      P[2 * n + j] += a * (pi / B - P[2 * n + j]);
      P[3 * n + j] += a * (pp / B - P[3 * n + j]);
    }
    // delta rule of the mirror: each neuron's input (over its gain) is predicted from the presynaptic rates through B;
    // the step is normalised by the mean presynaptic power (normalised LMS: a silent input neither blows it up nor moves)
    let pm = 0;
    for (let i = 0; i < m; i++) pm += P[oP + i];
    const norm = 1 / (pm / m + 1e-12);
    for (let j = 0; j < n; j++) {
      const inv = this.useGain ? 1 / this.gainOf(j) : 1, mI = P[j], o = j * m;
      for (let b = 0; b < B; b++) {
        const ro = b * m, i0 = b * n + j;
        let pred = 0;
        for (let i = 0; i < m; i++) pred += Bm[o + i] * (r[ro + i] - P[oR + i]);
        const d = ((uu[i0] + tm[j] * ud[i0] - mI) * inv * (1 + RIDGE) - pred) * (a / B);
        // ridge: B's components in directions the rates never explore decay (rate ρ = 0.02 of the mean presynaptic power; the
        // target is scaled by 1 + ρ so that a direction explored with the mean power keeps B = W/G exactly)
        for (let i = 0; i < m; i++) Bm[o + i] += d * norm * (r[ro + i] - P[oR + i]) - (a / B) * RIDGE * Bm[o + i];
      }
    }
  }

  private gainOf(j: number): number {
    const P = this.power!.a, n = this.nOut;
    const g = (P[2 * n + j] + 1e-12) / (P[3 * n + j] + 1e-12);
    return g < 1e-3 ? 1e-3 : g > 1e3 ? 1e3 : g;
  }

  /** Each neuron's current error-gain estimate Ĝ_j (rule 'vle'; 1 for 'kp'). */
  gains(): number[] {
    return Array.from({ length: this.nOut }, (_, j) => (this.power ? this.gainOf(j) : 1));
  }

  backward(k: Backend, ws: Workspace, err: FBuf, errDown: FBuf): void {
    k.gemm(false, false, ws.B, this.nIn, this.nOut, 1, err, this.FB ?? this.W, 0, errDown);
  }

  vjpForward(k: Backend, B: number, gDrive: FBuf, rIn: FBuf, gW: FBuf | null, gB: FBuf | null, gIn: FBuf | null): void {
    if (gW) k.gemm(true, false, this.nOut, this.nIn, B, 1, gDrive, rIn, 1, gW);
    if (gB && this.b) {
      const g = gB.a, d = gDrive.a, n = this.nOut;
      for (let b = 0; b < B; b++) for (let j = 0; j < n; j++) g[j] += d[b * n + j];
    }
    if (gIn) k.gemm(false, false, B, this.nIn, this.nOut, 1, gDrive, this.W, 1, gIn);
  }

  vjpBackward(k: Backend, B: number, err: FBuf, gErrDown: FBuf, gErr: FBuf, gW: FBuf): void {
    k.gemm(false, true, B, this.nOut, this.nIn, 1, gErrDown, this.FB ?? this.W, 1, gErr);
    // B (fixed or learned) is not W: the error path then adds nothing to W's gradient
    if (!this.FB) k.gemm(true, false, this.nOut, this.nIn, B, 1, err, gErrDown, 1, gW);
  }
}

export function build(k: Backend, l: ResolvedLayer, rng: Rng, feedbackRng: Rng): DenseProjection {
  return new DenseProjection(k, l, rng, feedbackRng);
}
