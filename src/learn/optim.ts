/**
 * Optimisers with PyTorch semantics, consuming the gradients the network writes on every step.
 *   SGD:  g ← g + wd p;  momentum: buf ← g (first step) else μ buf + (1 − dampening) g;  g ← nesterov ? g + μ buf : buf;
 *         p ← p − lr g
 *   Adam: t ← t + 1 (from 1);  g ← g + wd p;  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;
 *         p ← p − (lr / (1 − β1^t)) m / (sqrt(v) / sqrt(1 − β2^t) + ε)
 * and ReduceLROnPlateau (PyTorch's rules: rel/abs threshold, patience, cooldown, min_lr, eps), stepped per epoch, and a
 * cosine annealing, stepped per optimiser step: lr(t) = min_lr + (lr₀ − min_lr) · ½ (1 + cos(π · min(1, t / steps))).
 * Optimiser state lives in backend buffers so it can be checkpointed and stepped without allocation.
 * WeightAverage keeps an exponential moving average of the learnable parameters for evaluation (spec `average`).
 */
import type { AdamScalars, Backend, FBuf } from '../kernels/types.js';
import type { AverageSpec, CosineSchedulerSpec, OptimizerSpec, PlateauSchedulerSpec } from '../model/spec.js';

export interface ParamLike {
  readonly name: string;
  readonly p: FBuf;
  readonly g: FBuf;
  readonly shape: number[];
}

export interface Optimizer {
  readonly type: 'sgd' | 'adam';
  lr: number;
  /** number of steps taken */
  stepCount: number;
  step(): void;
  /** named state buffers (for checkpoints) */
  stateTensors(): { name: string; buf: FBuf; shape: number[] }[];
  /** scalars of the state (for checkpoints) */
  stateScalars(): Record<string, number>;
  loadScalars(s: Record<string, number>): void;
}

export class SGD implements Optimizer {
  readonly type = 'sgd' as const;
  stepCount = 0;
  private readonly bufs: FBuf[];
  constructor(
    k: Backend,
    readonly params: ParamLike[],
    public lr: number,
    readonly momentum = 0,
    readonly dampening = 0,
    readonly nesterov = false,
    readonly weightDecay = 0,
  ) {
    if (nesterov && (momentum <= 0 || dampening !== 0)) throw new Error('Nesterov momentum requires a momentum and zero dampening');
    this.bufs = momentum !== 0 ? params.map((p) => k.alloc(p.p.n)) : [];
  }

  step(): void {
    const { lr, momentum: mu, dampening, nesterov, weightDecay: wd } = this;
    const first = this.stepCount === 0;
    for (let i = 0; i < this.params.length; i++) {
      const P = this.params[i];
      const p = P.p.a, g = P.g.a, n = P.p.n;
      if (mu === 0) {
        for (let j = 0; j < n; j++) p[j] -= lr * (g[j] + wd * p[j]);
        continue;
      }
      const buf = this.bufs[i].a;
      for (let j = 0; j < n; j++) {
        const gj = g[j] + wd * p[j];
        const bj = first ? gj : mu * buf[j] + (1 - dampening) * gj;
        buf[j] = bj;
        p[j] -= lr * (nesterov ? gj + mu * bj : bj);
      }
    }
    this.stepCount++;
  }

  stateTensors() {
    return this.bufs.map((b, i) => ({ name: `optim.${this.params[i].name}.momentum_buffer`, buf: b, shape: this.params[i].shape }));
  }
  stateScalars() {
    return { step: this.stepCount, lr: this.lr };
  }
  loadScalars(s: Record<string, number>) {
    this.stepCount = s.step ?? 0;
    if (s.lr !== undefined) this.lr = s.lr;
  }
}

export class Adam implements Optimizer {
  readonly type = 'adam' as const;
  stepCount = 0;
  private readonly m: FBuf[];
  private readonly v: FBuf[];
  private readonly sc: AdamScalars;
  constructor(
    private readonly k: Backend,
    readonly params: ParamLike[],
    public lr: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
    readonly weightDecay = 0,
  ) {
    this.m = params.map((p) => k.alloc(p.p.n));
    this.v = params.map((p) => k.alloc(p.p.n));
    this.sc = { lr, beta1, beta2, eps, bc1: 1, bc2: 1, weightDecay };
  }

  step(): void {
    this.stepCount++;
    const t = this.stepCount;
    const sc = this.sc;
    sc.lr = this.lr;
    sc.bc1 = 1 - Math.pow(this.beta1, t);
    sc.bc2 = 1 - Math.pow(this.beta2, t);
    for (let i = 0; i < this.params.length; i++) {
      const P = this.params[i];
      this.k.adam(P.p, P.g, this.m[i], this.v[i], P.p.n, sc);
    }
  }

  stateTensors() {
    const out: { name: string; buf: FBuf; shape: number[] }[] = [];
    this.params.forEach((p, i) => {
      out.push({ name: `optim.${p.name}.exp_avg`, buf: this.m[i], shape: p.shape });
      out.push({ name: `optim.${p.name}.exp_avg_sq`, buf: this.v[i], shape: p.shape });
    });
    return out;
  }
  stateScalars() {
    return { step: this.stepCount, lr: this.lr };
  }
  loadScalars(s: Record<string, number>) {
    this.stepCount = s.step ?? 0;
    if (s.lr !== undefined) this.lr = s.lr;
  }
}

export function makeOptimizer(k: Backend, params: ParamLike[], spec: OptimizerSpec): Optimizer {
  if (spec.type === 'sgd') return new SGD(k, params, spec.lr, spec.momentum, spec.dampening, spec.nesterov, spec.weight_decay);
  return new Adam(k, params, spec.lr, spec.betas[0], spec.betas[1], spec.eps, spec.weight_decay);
}

/** ReduceLROnPlateau with PyTorch's semantics. `step(metric)` once per epoch; returns true when it reduced the lr. */
export class ReduceLROnPlateau {
  best: number;
  numBad = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  constructor(
    readonly opt: { lr: number },
    readonly s: PlateauSchedulerSpec,
  ) {
    this.best = s.mode === 'min' ? Infinity : -Infinity;
  }

  private isBetter(a: number): boolean {
    const { mode, threshold: th, threshold_mode: tm } = this.s;
    if (mode === 'min') return tm === 'rel' ? a < this.best * (1 - th) : a < this.best - th;
    return tm === 'rel' ? a > this.best * (th + 1) : a > this.best + th;
  }

  step(metric: number): boolean {
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBad = 0;
    } else this.numBad++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBad = 0;
    }
    if (this.numBad > this.s.patience) {
      const old = this.opt.lr;
      const next = Math.max(old * this.s.factor, this.s.min_lr);
      this.cooldownCounter = this.s.cooldown;
      this.numBad = 0;
      if (old - next > this.s.eps) {
        this.opt.lr = next;
        return true;
      }
    }
    return false;
  }

  getState(): Record<string, number> {
    return { best: this.best, num_bad: this.numBad, cooldown_counter: this.cooldownCounter, last_epoch: this.lastEpoch };
  }
  setState(st: Record<string, number>): void {
    this.best = st.best ?? this.best;
    this.numBad = st.num_bad ?? 0;
    this.cooldownCounter = st.cooldown_counter ?? 0;
    this.lastEpoch = st.last_epoch ?? 0;
  }
}

/**
 * Cosine annealing per optimiser step. `base` is lr₀ (the optimiser's lr when built; setting it rescales the rest of
 * the schedule); `t` counts the steps taken. `beforeStep()` sets the optimiser's lr for the coming step.
 */
export class CosineLR {
  t = 0;
  base: number;
  constructor(
    readonly opt: { lr: number },
    readonly s: CosineSchedulerSpec,
  ) {
    this.base = opt.lr;
  }

  /** the lr of step t (0-based) */
  lrAt(t: number): number {
    const { steps, min_lr } = this.s;
    const c = 0.5 * (1 + Math.cos(Math.PI * Math.min(1, t / steps)));
    return min_lr + (this.base - min_lr) * c;
  }

  beforeStep(): void {
    this.opt.lr = this.lrAt(this.t);
    this.t++;
  }

  /** per-epoch hook of the plateau scheduler's interface: nothing to do */
  step(_metric: number): boolean {
    return false;
  }

  /** true once the lr has reached min_lr */
  get done(): boolean {
    return this.t >= this.s.steps;
  }

  getState(): Record<string, number> {
    return { t: this.t, base: this.base };
  }
  setState(st: Record<string, number>): void {
    this.t = st.t ?? 0;
    this.base = st.base ?? this.base;
  }
}

export type Scheduler = ReduceLROnPlateau | CosineLR;

/**
 * Exponential moving average of the learnable parameters (spec `average`), updated after every optimiser step:
 *   d_t = min(decay, (1 + t) / (10 + t)),  a ← a + (1 − d_t)(p − a),  t ← t + 1   (a starts at the initial p)
 * Evaluation swaps the averaged values into the network (`swap`, exact: the two buffers exchange contents) and back;
 * learning always goes on with the raw parameters. The averages live in backend buffers (the network's dtype) and are
 * checkpointed as `avg.<parameter>` tensors with `t` in the scalars.
 */
export class WeightAverage {
  /** updates so far */
  t = 0;
  /** true while the averaged values sit in the network's parameters (and the raw ones in the average buffers) */
  swapped = false;
  readonly bufs: FBuf[];
  constructor(
    k: Backend,
    readonly params: ParamLike[],
    readonly s: AverageSpec,
  ) {
    this.bufs = params.map((p) => {
      const b = k.alloc(p.p.n);
      b.a.set(p.p.a.subarray(0, p.p.n));
      return b;
    });
  }

  /** the decay of update t (0-based) */
  decayAt(t: number): number {
    return Math.min(this.s.decay, (1 + t) / (10 + t));
  }

  /** Restart the average at the network's parameters, after new ones were written into it (e.g. a loaded checkpoint). */
  reset(): void {
    this.swapped = false; // the parameters were just replaced: what the buffers held no longer matters
    for (let i = 0; i < this.params.length; i++) this.bufs[i].a.set(this.params[i].p.a.subarray(0, this.params[i].p.n));
    this.t = 0;
  }

  /** Refuse a learning step while the averaged values sit in the network (it would learn on them). */
  checkRaw(): void {
    if (this.swapped) throw new Error('internal: a learning step while the averaged parameters are swapped in');
  }

  /** The decay of the next update, counted as done (t advances); `update` and the webgpu trainer's chunks use it. */
  advance(): number {
    return this.decayAt(this.t++);
  }

  update(): void {
    this.checkRaw();
    const c = 1 - this.advance();
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i].p.a, a = this.bufs[i].a, n = this.params[i].p.n;
      for (let j = 0; j < n; j++) a[j] += c * (p[j] - a[j]);
    }
  }

  /** Exchange the network's parameters and the averages (twice = unchanged). */
  swap(): void {
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i].p.a, a = this.bufs[i].a, n = this.params[i].p.n;
      for (let j = 0; j < n; j++) {
        const x = p[j];
        p[j] = a[j];
        a[j] = x;
      }
    }
    this.swapped = !this.swapped;
  }

  /** The averaged values of parameter `name`, or null when it is not averaged (not learnable). */
  averageOf(name: string): FBuf | null {
    const i = this.params.findIndex((p) => p.name === name);
    if (i < 0) return null;
    return this.swapped ? this.params[i].p : this.bufs[i];
  }

  stateTensors(): { name: string; buf: FBuf; shape: number[] }[] {
    return this.bufs.map((b, i) => ({ name: `avg.${this.params[i].name}`, buf: b, shape: this.params[i].shape }));
  }
  stateScalars(): Record<string, number> {
    return { t: this.t };
  }
  loadScalars(s: Record<string, number>): void {
    this.t = s.t ?? 0;
  }
}
