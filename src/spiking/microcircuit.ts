/**
 * A 1–1–1 spiking cortical microcircuit (SAL §3.3), batched: every batch element is an independent circuit with
 * its own weights and its own feedback variant, so seeds and variants run side by side. Browser-safe.
 *
 * Units as ./units.ts (τ_ref = τ_syn, one remembered spike). Input neuron: membrane = the pattern value x.
 * Hidden pyramid P, interneuron I, output O (v_B = basal potential, ⟨·⟩ = running mean over `avgSteps`):
 *
 *   v_P = W_1 κ_in,   u_P = b + v_P + λ_api (B κ_O + W_pi κ_I)
 *   u_I = b + W_ip κ_P                                  (W_ip = W_2, W_pi = −B every step: "set_sps")
 *   v_O = W_2 κ_P,    u_O = b + v_O + λ_nudge (u_tgt − ⟨v_O⟩ − b)       (λ_nudge only while a target is given)
 *
 * Forward plasticity (after `lag` steps of each pattern), φ(x) = σ(x − ln τ_ref), s = presynaptic spike at t − 1:
 *
 *   ΔW_1 = lr_1 (φ(⟨u_P⟩) − φ(⟨v_P⟩ + b)) s_in,    ΔW_2 = lr_2 (φ(⟨u_O⟩) − φ(⟨v_O⟩ + b)) s_P
 *
 * SAL phase: λ_api = 1, W_pi = W_ip = 0, no target, forward plasticity off; B learns online with the SAL window
 * (A_c = −1, A_a = +1, τ = τ_ref) on the pairs (post P, pre O): B += lr_down · k(Δt) per pair.
 * Variants per element: 'sal' (lr_down as given), 'fa' (B fixed), 'bp' (B := W_2 every step).
 */
import { newSpikingState, pspStep, spikeStep, spikingParams, resetSpikingState, type SpikingParams, type SpikingState } from './units.js';
import { salRule, stdpAccumulate, type StdpRule } from './stdp.js';

export type FeedbackVariant = 'sal' | 'fa' | 'bp';

export interface MicrocircuitOptions {
  variants: FeedbackVariant[];
  tauRef: number;
  lambdaApi: number;
  lambdaNudge: number;
  lrUp: [number, number];
  lrDown: number;
  bias: number;
  avgSteps: number;
  seed: number;
}

export class Microcircuit {
  readonly B: number;
  readonly p: SpikingParams;
  readonly inp: SpikingState;
  readonly P: SpikingState;
  readonly I: SpikingState;
  readonly O: SpikingState;
  readonly W1: Float64Array;
  readonly W2: Float64Array;
  readonly Bfb: Float64Array;
  readonly variant: Uint8Array;
  /** running means of u_P, v_P, u_O, v_O */
  readonly avg: Float64Array[];
  /** sum of the output membrane (without nudging) over the steps of `measure` */
  readonly uOutSum: Float64Array;
  private readonly u: Float64Array;
  private readonly D: Float64Array;
  private readonly rule: StdpRule;
  readonly o: MicrocircuitOptions;

  constructor(o: MicrocircuitOptions) {
    if (!(o.tauRef > 1)) throw new Error('microcircuit: tauRef must be > 1');
    this.o = o;
    const B = (this.B = o.variants.length);
    this.p = spikingParams({ n: 1, batch: B, tauRef: o.tauRef, nLast: 1, dtype: 'float64' });
    this.inp = newSpikingState(this.p, o.seed * 4 + 1);
    this.P = newSpikingState(this.p, o.seed * 4 + 2);
    this.I = newSpikingState(this.p, o.seed * 4 + 3);
    this.O = newSpikingState(this.p, o.seed * 4 + 4);
    this.W1 = new Float64Array(B);
    this.W2 = new Float64Array(B);
    this.Bfb = new Float64Array(B);
    this.variant = Uint8Array.from(o.variants.map((v) => (v === 'sal' ? 0 : v === 'fa' ? 1 : 2)));
    this.avg = [0, 1, 2, 3].map(() => new Float64Array(B));
    this.uOutSum = new Float64Array(B);
    this.u = new Float64Array(B);
    this.D = new Float64Array(B);
    this.rule = salRule(o.tauRef);
  }

  reset(): void {
    for (const s of [this.inp, this.P, this.I, this.O]) resetSpikingState(s);
  }

  /**
   * Present one input value for `steps` steps. mode 'train': target nudging + forward plasticity after `lag`;
   * 'sal': the SAL phase; 'val': no target, no plasticity, the output membrane summed into uOutSum after `lag`.
   * `target` = the teacher's output membrane for this input (ignored in 'sal' and 'val').
   */
  present(x: number, target: number, steps: number, lag: number, mode: 'train' | 'sal' | 'val'): void {
    const { p, inp, P, I, O, W1, W2, Bfb, variant, u, D, rule, o, B } = this;
    const b = o.bias, lt = Math.log(o.tauRef);
    const [aUP, aVP, aUO, aVO] = this.avg;
    const sal = mode === 'sal';
    const lamApi = sal ? 1 : o.lambdaApi;
    const nudge = mode === 'train' ? o.lambdaNudge : 0;
    const alpha = 1 / o.avgSteps;
    const phi = (v: number) => 1 / (1 + Math.exp(lt - v));
    if (mode === 'val') this.uOutSum.fill(0);
    for (let k = 0; k < steps; k++) {
      const t = inp.t;
      pspStep(p, inp);
      pspStep(p, P);
      pspStep(p, I);
      pspStep(p, O);
      const learn = k >= lag;
      // input
      u.fill(x);
      // B = Wᵀ control: copy every step
      for (let e = 0; e < B; e++) if (variant[e] === 2) Bfb[e] = W2[e];
      spikeStep(p, inp, u);
      // hidden pyramid
      for (let e = 0; e < B; e++) {
        const vP = W1[e] * inp.kappa[e];
        const wpi = sal ? 0 : -Bfb[e];
        const uP = b + vP + lamApi * (Bfb[e] * O.kappa[e] + wpi * I.kappa[e]);
        u[e] = uP;
        aUP[e] += alpha * (uP - aUP[e]);
        aVP[e] += alpha * (vP - aVP[e]);
      }
      spikeStep(p, P, u);
      // interneuron (reads κ_P of this step like the output)
      for (let e = 0; e < B; e++) u[e] = b + (sal ? 0 : W2[e]) * P.kappa[e];
      spikeStep(p, I, u);
      // output
      for (let e = 0; e < B; e++) {
        const vO = W2[e] * P.kappa[e];
        const uO = b + vO + nudge * (target - aVO[e] - b);
        u[e] = uO;
        aUO[e] += alpha * (uO - aUO[e]);
        aVO[e] += alpha * (vO - aVO[e]);
        if (mode === 'val' && learn) this.uOutSum[e] += uO;
      }
      spikeStep(p, O, u);
      if (mode === 'train' && learn) {
        for (let e = 0; e < B; e++) {
          // presynaptic spike at t − 1 = the newest remembered spike is one step old (refractoriness, τ_ref > 1,
          // rules out a spike at t that would have replaced it)
          if (inp.hist[e] === t - 1) W1[e] += o.lrUp[0] * (phi(aUP[e]) - phi(aVP[e] + b));
          if (P.hist[e] === t - 1) W2[e] += o.lrUp[1] * (phi(aUO[e]) - phi(aVO[e] + b));
        }
      } else if (sal && learn) {
        D.fill(0);
        stdpAccumulate(rule, D, p, P, p, O, false);
        for (let e = 0; e < B; e++) if (variant[e] === 0) Bfb[e] += o.lrDown * D[e];
      }
      inp.t++;
      P.t++;
      I.t++;
      O.t++;
    }
  }
}

/** The teacher's mean output membrane per input (a spiking 1–1–1 chain with fixed weights, batched over inputs). */
export function teacherTargets(inputs: number[], w: [number, number], bias: number, tauRef: number, steps: number, seed: number): number[] {
  const n = inputs.length;
  const p = spikingParams({ n: 1, batch: n, tauRef, nLast: 1, dtype: 'float64' });
  const inp = newSpikingState(p, seed * 3 + 1), hid = newSpikingState(p, seed * 3 + 2);
  const u = new Float64Array(n), sum = new Float64Array(n);
  for (let k = 0; k < steps; k++) {
    pspStep(p, inp);
    pspStep(p, hid);
    for (let e = 0; e < n; e++) u[e] = inputs[e];
    spikeStep(p, inp, u);
    for (let e = 0; e < n; e++) u[e] = bias + w[0] * inp.kappa[e];
    spikeStep(p, hid, u);
    for (let e = 0; e < n; e++) sum[e] += bias + w[1] * hid.kappa[e];
    inp.t++;
    hid.t++;
  }
  return Array.from(sum, (s) => s / steps);
}
