/**
 * What truncated BPTT and the adjoint method share: run the network without local gradients, record each step of a
 * window into buffers preallocated for the current batch size, and at the end of every window compute the window's
 * gradients (subclass), step the optimiser and clamp the time constants. `step` has the contract of
 * `Learner.trainStep`. Allocation happens only when the batch size changes at a window boundary.
 */
import type { Backend, FBuf } from '../kernels/types.js';
import type { GLENetwork } from '../model/network.js';
import type { Learner } from './learner.js';
import { decodeTarget } from '../model/losses.js';

/** Copy one step's target (values, or Int32Array labels one-hot encoded) into dst; false when there is none. */
export function recordTarget(target: ArrayLike<number> | null | undefined, dst: Float64Array, off: number, B: number, n: number, labels: Int32Array): boolean {
  const kind = decodeTarget(target, dst, labels, B, n, 'mse', off);
  if (kind === 'labels') for (let b = 0; b < B; b++) for (let j = 0; j < n; j++) dst[off + b * n + j] = j === labels[b] ? 1 : 0;
  return kind !== 'none';
}

/** A layer's window gradients, accumulated by the projections' VJPs (gW, gB) and the population's (gTau). */
export interface GradRec {
  gW: FBuf;
  gB: FBuf;
  gTau: Float64Array;
  /** float64 views of the three, for `writeGradients` */
  views: { gW: Float64Array; gB: Float64Array; gTau: Float64Array };
}

/** Gradient buffers on backend k (float64) shaped as the layer's own gradients (weights, bias, τ_m). */
export function gradRec(k: Backend, layer: { grads: { W: FBuf; b: FBuf | null; tauM: FBuf } }): GradRec {
  const gW = k.alloc(layer.grads.W.n), gB = k.alloc(layer.grads.b?.n ?? 0), gTau = new Float64Array(layer.grads.tauM.n);
  return { gW, gB, gTau, views: { gW: gW.a as Float64Array, gB: gB.a as Float64Array, gTau } };
}

export interface WindowOptions {
  /** called after every window with the window's loss sum Σ_t ℓ_t (before the optimiser step) */
  onWindow?: (info: { window: number; lossSum: number; steps: number }) => void;
}

export abstract class WindowedRule {
  readonly net: GLENetwork;
  readonly windowSteps: number;
  /** loss sum Σ_t mse of the last completed window */
  lastWindowLoss = NaN;
  /** completed windows */
  windows = 0;

  protected B = 0;
  protected t = 0;
  /** outputs returned (T × B × n_out) and targets (T × B × n_out) of the window; hasT[t] = 1 where a target was given */
  protected y = new Float64Array(0);
  protected tgt = new Float64Array(0);
  protected hasT = new Uint8Array(0);
  private labels = new Int32Array(0);

  constructor(
    readonly learner: Learner,
    windowSteps: number,
    readonly opts: WindowOptions,
    private readonly ruleName: string,
  ) {
    if (!Number.isInteger(windowSteps) || windowSteps < 1) throw new Error(`${ruleName} window must be a positive integer number of steps, got ${windowSteps}`);
    this.net = learner.net;
    if (this.net.loss !== 'mse') throw new Error(`${ruleName} supports the mse loss only (the network uses '${this.net.loss}')`);
    // every projection type has its VJPs; the populations the reverse sweeps know are GLE neurons and relays
    this.net.layers.forEach((l, i) => {
      if (l.population.model !== 'gle' && l.population.model !== 'relay')
        throw new Error(`${ruleName} supports GLE and relay (pooling) populations only (layer ${i} is ${String(l.population.model)})`);
    });
    this.windowSteps = windowSteps;
  }

  /** Steps recorded in the current (unfinished) window. */
  get stepInWindow(): number {
    return this.t;
  }

  /** (Re)allocate every window buffer for batch size B. */
  protected allocate(B: number): void {
    const T = this.windowSteps, nO = this.net.nOut;
    this.B = B;
    this.y = new Float64Array(T * B * nO);
    this.tgt = new Float64Array(T * B * nO);
    this.hasT = new Uint8Array(T);
    this.labels = new Int32Array(B);
    this.allocateLayers(B);
  }

  protected abstract allocateLayers(B: number): void;
  /** record what step t reads (values committed at t−1); the target of step t is already in `tgt` */
  protected abstract recordBefore(t: number, hasTarget: boolean): void;
  /** record what step t computed; its output is already in `y` */
  protected abstract recordAfter(t: number): void;
  /** gradients of the recorded steps into the network's gradient buffers; returns the loss sum. Does not end the window. */
  abstract computeGradients(): number;

  /** One simulation step (same contract as `Learner.trainStep`); the update happens at every window end. */
  step(x?: ArrayLike<number> | null, target?: ArrayLike<number> | null): FBuf {
    const net = this.net;
    const B = net.B;
    if (B !== this.B) {
      if (this.t > 0) throw new Error(`${this.ruleName}: the batch size changed from ${this.B} to ${B} in the middle of a window (step ${this.t} of ${this.windowSteps})`);
      this.allocate(B);
    }
    if (x && x.length !== B * net.nIn) throw new Error(`input has ${x.length} values, expected B*n_in = ${B}*${net.nIn}`);
    const t = this.t, nO = net.nOut;
    const has = recordTarget(target, this.tgt, t * B * nO, B, nO, this.labels);
    this.hasT[t] = has ? 1 : 0;
    this.recordBefore(t, has);
    const wasTraining = net.training;
    net.training = false;
    let out: FBuf;
    try {
      out = net.step(x, target);
    } finally {
      net.training = wasTraining;
    }
    const o = t * B * nO, a = out.a;
    for (let i = 0; i < B * nO; i++) this.y[o + i] = a[i];
    this.recordAfter(t);
    this.t++;
    if (this.t === this.windowSteps) this.flush();
    return out;
  }

  /** Write the window's gradients (float64 records per layer) into the network's gradient buffers. */
  protected writeGradients(recs: readonly { gW: Float64Array; gB: Float64Array; gTau: Float64Array }[]): void {
    this.net.layers.forEach((layer, l) => {
      const R = recs[l];
      if (layer.trainable) {
        layer.grads.W.a.set(R.gW);
        if (layer.grads.b) layer.grads.b.a.set(R.gB);
      }
      if (layer.hyper.learnTau) layer.grads.tauM.a.set(R.gTau);
    });
  }

  /** End the current window now: gradients, optimiser step, clamp. A no-op on an empty window. */
  flush(): void {
    if (this.t === 0) return;
    const lossSum = this.computeGradients();
    const steps = this.t;
    this.t = 0;
    this.windows++;
    this.lastWindowLoss = lossSum;
    this.opts.onWindow?.({ window: this.windows, lossSum, steps });
    if (this.learner.opt) this.learner.opt.step();
    this.net.clampTaus(this.learner.clampMin, this.learner.clampMax);
  }
}
