/**
 * Classification with a layered LE network as the reference trains it (reference-le-pal-sal.md §1.5): each batch is
 * clamped for n_updates steps of dt with nudging β towards the one-hot target and the weights update every step; the
 * network is never reset. Evaluation: nudging off, the same n_updates steps, the prediction is the argmax of the output
 * rates at the last step. And its BP twin: the same architecture (the instantaneous feed-forward function of the same
 * layers, the same initial parameters) trained by ordinary backpropagation, one SGD step per batch on ½‖y − r‖², with
 * the learning rate LE applies per presentation: summed over n_updates steps LE's update is
 * lr·lr_multiplier·factor_ℓ·β·mean_b(e rᵀ) with e = the backpropagated error of ½‖y − r‖², so the twin's per-layer
 * rate is β·lr·lr_multiplier·factor_ℓ (or cross-entropy with one given rate, as the paper's BP scripts).
 * Browser-safe (no node: imports).
 */
import type { Backend, FBuf, PhiCode } from '../kernels/types.js';
import type { Workspace } from '../model/layers/types.js';
import { LENetwork } from '../model/le-network.js';

export interface ClassSet {
  /** n × d inputs (times `scale` when given: byte images) */
  x: Float32Array | Uint8Array;
  scale?: number;
  y: Uint8Array;
  n: number;
}

/** a batch of rows (indices) into x (B × d) and one-hot targets (B × classes) */
export function fillBatch(set: ClassSet, idx: ArrayLike<number>, start: number, B: number, d: number, classes: number, x: Float64Array, y: Float64Array): void {
  y.fill(0);
  const sc = set.scale ?? 1;
  for (let b = 0; b < B; b++) {
    const s = idx[(start + b) % idx.length];
    for (let i = 0; i < d; i++) x[b * d + i] = set.x[s * d + i] * sc;
    y[b * classes + set.y[s]] = 1;
  }
}

export function argmaxRow(a: ArrayLike<number>, o: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[o + j] > a[o + best]) best = j;
  return best;
}

/** A classifier the epoch loop drives: LE (dynamics) or its BP twin. */
export interface Classifier {
  readonly B: number;
  /** learn from one batch (x: B × d, y: B × classes one-hot); returns the number of network steps it took */
  train(x: Float64Array, y: Float64Array): number;
  /** predictions of one batch into out (B labels); returns the network steps */
  predict(x: Float64Array, out: Int32Array): number;
}

export class LeClassifier implements Classifier {
  readonly B: number;
  /** the low-passed target (target_filter), or null */
  readonly yBar: Float64Array | null;
  private readonly yc: number;
  /**
   * `targetFilter`: the coefficient c of the target low-pass ȳ ← ȳ + c·(y − ȳ) applied every step before nudging
   * (the reference's Fig. 4c: c = dt/(L·τ_s), L the number of layers); 0 = the target itself.
   */
  constructor(readonly net: LENetwork, opts: { targetFilter?: number } = {}) {
    this.B = net.B;
    this.yc = opts.targetFilter ?? 0;
    this.yBar = this.yc > 0 ? new Float64Array(net.B * net.nOut) : null;
  }
  train(x: Float64Array, y: Float64Array): number {
    const n = this.net.spec.n_updates, yb = this.yBar, c = this.yc;
    for (let i = 0; i < n; i++) {
      if (yb) for (let j = 0; j < yb.length; j++) yb[j] += c * (y[j] - yb[j]);
      this.net.step(x, yb ?? y);
    }
    return n;
  }
  predict(x: Float64Array, out: Int32Array): number {
    const n = this.net.spec.n_updates;
    for (let i = 0; i < n; i++) this.net.step(x, null);
    const r = this.net.output().a, c = this.net.nOut;
    for (let b = 0; b < this.B; b++) out[b] = argmaxRow(r, b * c, c);
    return n;
  }
  /** One presentation of τ adaptation (nudging off); returns mean |τ_m − τ| over all neurons afterwards. */
  adaptTau(x: Float64Array): number {
    const n = this.net.spec.n_updates;
    for (let i = 0; i < n; i++) this.net.step(x, null, { adaptTau: true });
    let acc = 0, cnt = 0;
    for (const st of this.net.stages) {
      if (st.kind !== 'neurons') continue;
      for (let j = 0; j < st.n; j++) acc += Math.abs(st.tauM.a[j] - st.tau.a[j]);
      cnt += st.n;
    }
    return acc / cnt;
  }
}

/** Options of the BP twin: its loss, and one learning rate for every stage instead of LE's per-presentation rates. */
export interface BpTwinOptions {
  /** 'mse': ½‖y − r‖² (LE's objective); 'ce': cross-entropy of softmax(r) (the paper's BP scripts) */
  loss?: 'mse' | 'ce';
  /** null: each stage's rate is the one LE applies per presentation, β·learning_rate·lr_multiplier·factor_ℓ */
  lr?: number | null;
}

interface TwinStage {
  net: LENetwork['stages'][number];
  ws: Workspace;
  n: number;
  nIn: number;
  phi: PhiCode | null;
  lr: number;
  a: FBuf;
  r: FBuf;
  rp: FBuf;
  /** descent direction of the loss: w.r.t. the drive a (neuron stages) or the output (pooling) */
  d: FBuf;
  /** what the stage sends down (B × nIn) */
  down: FBuf;
}

/**
 * The BP twin of an LE network: the same stages with the same parameters (the projections of `net` itself: dense,
 * conv2d, maxpool), run as the instantaneous feed-forward function r_ℓ = φ(W_ℓ r_{ℓ−1} + b_ℓ) and trained by ordinary
 * backpropagation, one SGD step per batch. Feedback alignment is not used (errors go down through Wᵀ). `net` is only
 * the holder of the parameters: build it with batch 1 and `feedback_alignment: false`.
 */
export class BpTwin implements Classifier {
  readonly B: number;
  readonly loss: 'mse' | 'ce';
  private readonly st: TwinStage[];
  private readonly x: FBuf;
  constructor(private readonly k: Backend, readonly net: LENetwork, B: number, opts: BpTwinOptions = {}) {
    this.B = B;
    this.loss = opts.loss ?? 'mse';
    const spec = net.spec;
    if (spec.feedback_alignment) throw new Error('the BP twin backpropagates through Wᵀ: build its network without feedback_alignment');
    this.x = k.alloc(B * net.nIn);
    this.st = net.stages.map((s) => {
      const phi = s.kind === 'neurons' ? s.phi : null;
      const lr = s.kind === 'neurons' ? opts.lr ?? spec.beta * spec.learning_rate * spec.lr_multiplier * (s.spec as { lr_factor: number }).lr_factor : 0;
      const buf = () => k.alloc(B * s.n);
      return { net: s, ws: s.proj.workspace(k, B), n: s.n, nIn: s.nIn, phi, lr, a: buf(), r: buf(), rp: buf(), d: buf(), down: k.alloc(B * s.nIn) };
    });
  }
  private forward(x: Float64Array): void {
    const k = this.k, B = this.B;
    this.x.a.set(x);
    let rin = this.x;
    for (const s of this.st) {
      if (s.phi === null) s.net.proj.forward(k, s.ws, rin, s.r);
      else {
        s.net.proj.forward(k, s.ws, rin, s.a);
        k.activate(s.phi, s.a, s.r, s.rp, B * s.n);
      }
      rin = s.r;
    }
  }
  train(x: Float64Array, y: Float64Array): number {
    const k = this.k, B = this.B, S = this.st.length;
    this.forward(x);
    const top = this.st[S - 1], d = top.d.a, r = top.r.a, rp = top.rp.a, c = top.n;
    if (this.loss === 'mse') for (let i = 0; i < B * c; i++) d[i] = rp[i] * (y[i] - r[i]);
    else
      for (let b = 0; b < B; b++) {
        // −∂CE/∂r = y − softmax(r) (the output stage's φ is taken as the logits' identity)
        let m = -Infinity, z = 0;
        for (let j = 0; j < c; j++) m = Math.max(m, r[b * c + j]);
        for (let j = 0; j < c; j++) z += Math.exp(r[b * c + j] - m);
        for (let j = 0; j < c; j++) d[b * c + j] = (y[b * c + j] - Math.exp(r[b * c + j] - m) / z) * rp[b * c + j];
      }
    for (let s = S - 1; s >= 0; s--) {
      const st = this.st[s], rin = s === 0 ? this.x : this.st[s - 1].r;
      if (st.phi !== null) st.net.proj.grads(k, st.ws, st.d, rin);
      if (s === 0) break;
      st.net.proj.backward(k, st.ws, st.d, st.down);
      const below = this.st[s - 1], bd = below.d.a, dn = st.down.a;
      if (below.phi === null) bd.set(dn);
      else for (let i = 0; i < B * below.n; i++) bd[i] = dn[i] * below.rp.a[i];
    }
    // W ← W − lr·∇ (∇ = −mean_b(δ rᵀ); conv: summed over positions, bias too: the gradient of the loss)
    for (const st of this.st) {
      if (st.phi === null) continue;
      const p = st.net.proj, W = p.W!.a, gW = p.gW!.a, lr = st.lr;
      for (let i = 0; i < W.length; i++) W[i] -= lr * gW[i];
      if (p.b) {
        const b = p.b.a, gB = p.gB!.a;
        for (let i = 0; i < b.length; i++) b[i] -= lr * gB[i];
      }
    }
    return 1;
  }
  predict(x: Float64Array, out: Int32Array): number {
    this.forward(x);
    const top = this.st[this.st.length - 1];
    for (let b = 0; b < this.B; b++) out[b] = argmaxRow(top.r.a, b * top.n, top.n);
    return 1;
  }
  /** the twin's prediction of the last batch (B × classes) */
  output(): FBuf {
    return this.st[this.st.length - 1].r;
  }
}

/**
 * One pass of `accuracy` over a set in batches of B: while `next()` (x holds the next batch), the caller predicts
 * into `out` and hands the steps it took to `tally`; the last partial batch wraps around and counts once.
 */
class AccuracyPass {
  readonly x: Float64Array;
  readonly out: Int32Array;
  private readonly y: Float64Array;
  private readonly d: number;
  private readonly idx: number[];
  private s = 0;
  private right = 0;
  private steps = 0;
  constructor(private readonly B: number, private readonly set: ClassSet, private readonly classes: number) {
    this.d = set.x.length / set.n;
    this.x = new Float64Array(B * this.d);
    this.y = new Float64Array(B * classes);
    this.out = new Int32Array(B);
    this.idx = Array.from({ length: set.n }, (_, i) => i);
  }
  next(): boolean {
    if (this.s >= this.set.n) return false;
    fillBatch(this.set, this.idx, this.s, this.B, this.d, this.classes, this.x, this.y);
    return true;
  }
  tally(steps: number): void {
    const { B, s, set, out, idx } = this;
    this.steps += steps;
    for (let b = 0; b < B && s + b < set.n; b++) if (out[b] === set.y[idx[s + b]]) this.right++;
    this.s += B;
  }
  result(): { acc: number; steps: number } {
    return { acc: this.right / this.set.n, steps: this.steps };
  }
}

/** Accuracy of a classifier on a set (batches of its B; the last partial batch wraps around and counts once). */
export function accuracy(c: Classifier, set: ClassSet, classes: number): { acc: number; steps: number } {
  const p = new AccuracyPass(c.B, set, classes);
  while (p.next()) p.tally(c.predict(p.x, p.out));
  return p.result();
}

/** `accuracy` for a classifier whose prediction is asynchronous (the webgpu LE classifier). */
export async function accuracyAsync(c: { B: number; predict(x: Float64Array, out: Int32Array): Promise<number> }, set: ClassSet, classes: number): Promise<{ acc: number; steps: number }> {
  const p = new AccuracyPass(c.B, set, classes);
  while (p.next()) p.tally(await c.predict(p.x, p.out));
  return p.result();
}
