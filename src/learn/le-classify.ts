/**
 * Classification with a layered LE network as the reference trains it (reference-le-pal-sal.md §1.5): each batch is
 * clamped for n_updates steps of dt with nudging β towards the one-hot target and the weights update every step; the
 * network is never reset. Evaluation: nudging off, the same n_updates steps, the prediction is the argmax of the output
 * rates at the last step. And its BP twin: the same architecture (the instantaneous feed-forward function of the same
 * layers) trained by ordinary backpropagation, one SGD step per batch on ½‖y − r‖², with the learning rate LE applies
 * per presentation: summed over n_updates steps LE's update is lr·lr_multiplier·factor_ℓ·β·mean_b(e rᵀ) with
 * e = the backpropagated error of ½‖y − r‖², so the twin's per-layer rate is β·lr·lr_multiplier·factor_ℓ.
 * Browser-safe (no node: imports).
 */
import type { Backend, FBuf, PhiCode } from '../kernels/types.js';
import { PHI } from '../kernels/layout.js';
import { LENetwork, type LeSpec } from '../model/le-network.js';
import { Rng } from '../util/rng.js';

export interface ClassSet {
  x: Float32Array;
  y: Uint8Array;
  n: number;
}

/** a batch of rows (indices) into x (B × d) and one-hot targets (B × classes) */
function fillBatch(set: ClassSet, idx: ArrayLike<number>, start: number, B: number, d: number, classes: number, x: Float64Array, y: Float64Array): void {
  y.fill(0);
  for (let b = 0; b < B; b++) {
    const s = idx[(start + b) % idx.length];
    for (let i = 0; i < d; i++) x[b * d + i] = set.x[s * d + i];
    y[b * classes + set.y[s]] = 1;
  }
}

function argmaxRow(a: ArrayLike<number>, o: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[o + j] > a[o + best]) best = j;
  return best;
}

export interface EpochLog {
  epoch: number;
  trainAcc: number;
  testAcc: number;
  steps: number;
  seconds: number;
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
  constructor(readonly net: LENetwork) {
    this.B = net.B;
  }
  train(x: Float64Array, y: Float64Array): number {
    const n = this.net.spec.n_updates;
    for (let i = 0; i < n; i++) this.net.step(x, y);
    return n;
  }
  predict(x: Float64Array, out: Int32Array): number {
    const n = this.net.spec.n_updates;
    for (let i = 0; i < n; i++) this.net.step(x, null);
    const r = this.net.output().a, c = this.net.nOut;
    for (let b = 0; b < this.B; b++) out[b] = argmaxRow(r, b * c, c);
    return n;
  }
}

/** The BP twin of a dense LE spec: the same layers, instantaneous, SGD on ½‖y − r‖² once per batch. */
export class BpTwin implements Classifier {
  readonly B: number;
  private readonly layers: { W: FBuf; b: FBuf; gW: FBuf; nIn: number; n: number; phi: PhiCode; lr: number; a: FBuf; r: FBuf; rp: FBuf; d: FBuf }[];
  private readonly x: FBuf;
  constructor(private readonly k: Backend, spec: LeSpec, B: number) {
    this.B = B;
    const rng = new Rng(spec.seed);
    let nIn = spec.input_shape.reduce((a, b) => a * b, 1);
    this.x = k.alloc(B * nIn);
    this.layers = spec.layers.map((l, i) => {
      if (l.type !== 'dense') throw new Error(`the BP twin supports dense layers only (layer ${i} is ${l.type})`);
      const n = l.size;
      const W = k.alloc(n * nIn), b = k.alloc(n);
      for (let j = 0; j < W.n; j++) W.a[j] = spec.init_std * rng.normal();
      for (let j = 0; j < n; j++) b.a[j] = spec.init_std * rng.normal();
      const lay = { W, b, gW: k.alloc(n * nIn), nIn, n, phi: PHI[l.phi], lr: spec.beta * spec.learning_rate * spec.lr_multiplier * l.lr_factor, a: k.alloc(B * n), r: k.alloc(B * n), rp: k.alloc(B * n), d: k.alloc(B * n) };
      nIn = n;
      return lay;
    });
  }
  private forward(x: Float64Array): void {
    const k = this.k, B = this.B;
    this.x.a.set(x);
    let rin = this.x;
    for (const l of this.layers) {
      k.gemm(false, true, B, l.n, l.nIn, 1, rin, l.W, 0, l.a);
      const a = l.a.a, bb = l.b.a;
      for (let r = 0; r < B; r++) for (let j = 0; j < l.n; j++) a[r * l.n + j] += bb[j];
      k.activate(l.phi, l.a, l.r, l.rp, B * l.n);
      rin = l.r;
    }
  }
  train(x: Float64Array, y: Float64Array): number {
    const k = this.k, B = this.B, L = this.layers.length;
    this.forward(x);
    // δ_L = r' ⊙ (y − r) (descent direction of ½‖y − r‖²), δ_ℓ = r'_ℓ ⊙ W_{ℓ+1}ᵀ δ_{ℓ+1}
    const top = this.layers[L - 1];
    for (let i = 0; i < B * top.n; i++) top.d.a[i] = top.rp.a[i] * (y[i] - top.r.a[i]);
    for (let l = L - 1; l >= 0; l--) {
      const ly = this.layers[l];
      if (l > 0) {
        const below = this.layers[l - 1];
        k.gemm(false, false, B, below.n, ly.n, 1, ly.d, ly.W, 0, below.d);
        for (let i = 0; i < B * below.n; i++) below.d.a[i] *= below.rp.a[i];
      }
    }
    for (let l = 0; l < L; l++) {
      const ly = this.layers[l], rin = l === 0 ? this.x : this.layers[l - 1].r;
      // W += lr · mean_b(δ rᵀ), b += lr · mean_b(δ)
      k.gemm(true, false, ly.n, ly.nIn, B, ly.lr / B, ly.d, rin, 1, ly.W);
      const bb = ly.b.a, d = ly.d.a;
      for (let j = 0; j < ly.n; j++) {
        let acc = 0;
        for (let r = 0; r < B; r++) acc += d[r * ly.n + j];
        bb[j] += (ly.lr * acc) / B;
      }
    }
    return 1;
  }
  predict(x: Float64Array, out: Int32Array): number {
    this.forward(x);
    const top = this.layers[this.layers.length - 1];
    for (let b = 0; b < this.B; b++) out[b] = argmaxRow(top.r.a, b * top.n, top.n);
    return 1;
  }
}

/** Accuracy of a classifier on a set (batches of its B; the last partial batch wraps around and counts once). */
export function accuracy(c: Classifier, set: ClassSet, classes: number): { acc: number; steps: number } {
  const B = c.B, d = set.x.length / set.n;
  const x = new Float64Array(B * d), y = new Float64Array(B * classes), out = new Int32Array(B);
  const idx = Array.from({ length: set.n }, (_, i) => i);
  let right = 0, steps = 0;
  for (let s = 0; s < set.n; s += B) {
    fillBatch(set, idx, s, B, d, classes, x, y);
    steps += c.predict(x, out);
    for (let b = 0; b < B && s + b < set.n; b++) if (out[b] === set.y[idx[s + b]]) right++;
  }
  return { acc: right / set.n, steps };
}

/**
 * Train for `epochs` epochs (shuffled each epoch with `seed`; drop_last as the reference), evaluating on the test set
 * after each. `now` returns seconds (the caller's clock).
 */
export function trainClassifier(
  c: Classifier,
  data: { train: ClassSet; test: ClassSet },
  o: { epochs: number; classes: number; seed: number; now: () => number; onEpoch?: (e: EpochLog) => void },
): EpochLog[] {
  const B = c.B, d = data.train.x.length / data.train.n;
  const x = new Float64Array(B * d), y = new Float64Array(B * o.classes), out = new Int32Array(B);
  const rng = new Rng(o.seed + 77);
  const idx = Array.from({ length: data.train.n }, (_, i) => i);
  const logs: EpochLog[] = [];
  for (let e = 1; e <= o.epochs; e++) {
    const t0 = o.now();
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    let steps = 0, right = 0, seen = 0;
    for (let s = 0; s + B <= idx.length; s += B) {
      fillBatch(data.train, idx, s, B, d, o.classes, x, y);
      steps += c.train(x, y);
      // training accuracy: the prediction at the end of the presentation (still nudged, as the reference logs it)
      if (c instanceof LeClassifier) {
        const r = c.net.output().a;
        for (let b = 0; b < B; b++) if (argmaxRow(r, b * o.classes, o.classes) === data.train.y[idx[s + b]]) right++;
        seen += B;
      }
    }
    const test = accuracy(c, data.test, o.classes);
    const log = { epoch: e, trainAcc: seen ? right / seen : NaN, testAcc: test.acc, steps: steps + test.steps, seconds: o.now() - t0 };
    logs.push(log);
    o.onEpoch?.(log);
  }
  return logs;
}
