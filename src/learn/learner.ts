/**
 * Online learning as the reference does it: one optimiser step per simulation step.
 *   out = net.step(x, target)   (writes gradients)
 *   optimizer.step()            (consumes them)
 *   clamp τ_m, τ_r              (if the spec asks)
 *   average.update()            (if the spec asks for weight averaging: evaluation then uses `withAveraged`)
 */
import type { FBuf } from '../kernels/types.js';
import type { GLENetwork } from '../model/network.js';
import { CosineLR, makeOptimizer, type Optimizer, ReduceLROnPlateau, type Scheduler, WeightAverage } from './optim.js';
import type { AverageSpec, OptimizerSpec, SchedulerSpec } from '../model/spec.js';

export class Learner {
  readonly opt: Optimizer | null;
  readonly scheduler: Scheduler | null;
  /** the moving average of the parameters that evaluation uses (spec `average`), or null */
  readonly average: WeightAverage | null;
  clampMin: number | null;
  clampMax: number | null;

  constructor(
    readonly net: GLENetwork,
    opts: { optimizer?: OptimizerSpec | null; scheduler?: SchedulerSpec | null; average?: AverageSpec | null; clampMin?: number | null; clampMax?: number | null } = {},
  ) {
    const spec = net.spec;
    const o = opts.optimizer === undefined ? spec.optimizer : opts.optimizer;
    this.opt = o ? makeOptimizer(net.k, net.parameters(), o) : null;
    const s = opts.scheduler === undefined ? spec.scheduler : opts.scheduler;
    this.scheduler = s && this.opt ? (s.type === 'cosine' ? new CosineLR(this.opt, s) : new ReduceLROnPlateau(this.opt, s)) : null;
    const a = opts.average === undefined ? spec.average : opts.average;
    this.average = a && this.opt ? new WeightAverage(net.k, net.parameters(), a) : null;
    this.clampMin = opts.clampMin === undefined ? spec.clamp_tau_min : opts.clampMin;
    this.clampMax = opts.clampMax === undefined ? spec.clamp_tau_max : opts.clampMax;
  }

  /** One online training step: dynamics + gradients, optimiser step, clamp. Returns the network output. */
  trainStep(x?: ArrayLike<number> | null, target?: ArrayLike<number> | null): FBuf {
    this.average?.checkRaw();
    this.net.training = true;
    const out = this.net.step(x, target);
    this.scheduleStep();
    if (this.opt) this.opt.step();
    this.net.clampTaus(this.clampMin, this.clampMax);
    if (this.average) this.average.update();
    return out;
  }

  /**
   * The schedule's part of one optimiser step: a cosine schedule sets the step's lr (a plateau schedule steps per
   * epoch). `trainStep` calls it; the webgpu trainer calls it for every step of a chunk it runs on the device.
   */
  scheduleStep(): void {
    if (this.scheduler instanceof CosineLR) this.scheduler.beforeStep();
  }

  /** Run fn with the averaged parameters in the network (without averaging: the raw ones), then restore the raw ones. */
  withAveraged<T>(fn: () => T): T {
    const a = this.average;
    if (!a || a.swapped) return fn();
    a.swap();
    try {
      return fn();
    } finally {
      a.swap();
    }
  }

  /** which parameters evaluation reads: 'averaged' (spec `average`) or 'raw' */
  get evaluated(): 'averaged' | 'raw' {
    return this.average ? 'averaged' : 'raw';
  }

  /** One step without learning (gradient work skipped entirely). The target still nudges if given. */
  evalStep(x?: ArrayLike<number> | null, target?: ArrayLike<number> | null): FBuf {
    this.net.training = false;
    const out = this.net.step(x, target);
    this.net.training = true;
    return out;
  }

  /** the optimiser's current lr */
  get lr(): number {
    return this.opt ? this.opt.lr : 0;
  }
  /** sets the lr; under a cosine schedule it sets lr₀ (the schedule goes on from its step count at the new scale) */
  set lr(v: number) {
    if (!this.opt) return;
    if (this.scheduler instanceof CosineLR) {
      this.scheduler.base = v;
      this.opt.lr = this.scheduler.lrAt(this.scheduler.t);
    } else this.opt.lr = v;
  }
}
