/**
 * Layered Latent Equilibrium on the webgpu backend: a device-resident copy of an `LENetwork` (dense, conv2d and
 * maxpool stages; vanilla or full forward pass; transpose or fixed feedback; per-neuron τ and τ_m) stepped many steps
 * per submitted command buffer with no host round trip per step. The equations and their order are those of
 * model/le-network.ts and model/layers/le.ts (the host network is the oracle; the golden rules are
 * test/fixtures/golden/le/README.md). One step, planned once per parity (the step writing parity c reads c ⊕ 1):
 *   load x (the chunk's pattern CTL[0] / hold) · target error ê[c] = β r'_top[c⊕1] ⊙ (y − r_top[c⊕1])
 *   · forward sweep per stage (input: vanilla r, r' of the stage below at c⊕1, full forward pass at c):
 *       dense  drive gemm · LE population step (bias, u̇, ŭ, ŭᵐ, u, r, r', ŭᵐ − a) · error down gemm (W or the fixed B)
 *              · ⊙ r'_in
 *       conv   im2col · drive gemm (feature-major) · population step (reads it feature-major, writes ŭᵐ − a so) ·
 *              error down gemm (Wᵀ) · col2im ⊙ r'_in
 *       pool   max + argmax (ties to the first in row-major order) + r' gathered at the argmax
 *   · pooling stages scatter the error from above to this step's argmax (top down)
 *   · updates (training): W ← W + (dt·η/B)·eᵀ r_in (one gemm with β = 1; conv: e permuted feature-major, r_in the
 *     step's im2col columns, a sum over positions), b ← b + dt·mean(e)·η (conv: mean over batch and positions)
 *   · store the top rate at the last step of a pattern (when outputs are asked) · tick.
 * Own errors are not copied: a stage's own error e is the buffer the stage above writes its error sent down into
 * (the pooling stage's scatter for a conv under a pool); it is read by the stage's population step before the stage
 * above overwrites it in the same sweep. The top stage's e is ê of the other parity.
 * Not on the device (refused with a message): Adam, rate noise, synaptic filters (these change the error buffers'
 * aliasing or need a device RNG), τ adaptation; conv stride ≠ 1 or padding (LE's conv has neither).
 */
/// <reference types="@webgpu/types" preserve="true" />
import { fw, GpuHeap, groups1d, type GpuOp, NONE, type KernelName, type WebGpuEngine } from '../kernels/webgpu/engine.js';
import type { LENetwork } from '../model/le-network.js';
import { ConvProjection } from '../model/layers/conv.js';
import { DenseProjection } from '../model/layers/dense.js';

type HostStage = LENetwork['stages'][number];

interface DevStage {
  kind: 'dense' | 'conv' | 'pool';
  nIn: number;
  n: number;
  r: [number, number];
  rp: [number, number];
  /** the error this stage sends down (B × nIn); stage 0: stays zero */
  eBottom: number;
  // neuron stages
  W?: number;
  b?: number;
  FB?: number;
  tau?: number;
  tauM?: number;
  u?: number;
  basal?: number;
  uDot?: number;
  prospU?: number;
  prospUm?: number;
  /** ŭᵐ − a (conv: feature-major F × B·P) */
  diff?: number;
  // conv
  cols?: number;
  out?: number;
  dcols?: number;
  errT?: number;
  // pool
  argmax?: number;
}

export interface GpuLeRunOptions {
  /** false: no nudging and no update (evaluation); default: true when targets are given */
  training?: boolean;
  /** return the top rates at the last step of each pattern (K × B·n_out) */
  outputs?: boolean;
  /** log every recorded quantity at every step (golden replays; one compute pass per step) */
  trace?: boolean;
}

export interface GpuLeRunResult {
  outputs: Float32Array | null;
  /** per step: name ('layer_i.FIELD') → values, when `trace` */
  trace: Map<string, Float32Array>[] | null;
}

export class GpuLeNetwork {
  readonly B: number;
  /** steps per submitted command buffer (a whole number of patterns, at least one) */
  readonly chunk: number;
  private readonly heap = new GpuHeap();
  private readonly buf: GPUBuffer;
  private readonly ctl: GPUBuffer;
  private readonly st: DevStage[];
  private readonly x: number;
  private readonly zeros: number;
  private readonly eT: [number, number];
  private readonly xs: number;
  private readonly ys: number;
  private readonly outLog: number;
  private readonly maxPatterns: number;
  private readonly plans = new Map<string, GpuOp[]>();
  /** the parity the next step writes */
  private parity: 0 | 1;

  constructor(
    readonly engine: WebGpuEngine,
    readonly net: LENetwork,
    opts: { chunk?: number; hold?: number } = {},
  ) {
    const spec = net.spec;
    if (net.k.dtype !== 'float32') throw new Error('the webgpu backend runs float32 only');
    const refuse: string[] = [];
    if (spec.optimizer !== 'none') refuse.push(`optimizer '${spec.optimizer}'`);
    if (spec.noise_width > 0) refuse.push('rate noise (noise_width > 0)');
    if (spec.forward_filter || spec.backward_filter) refuse.push('synaptic filters');
    if (refuse.length) throw new Error(`the webgpu backend does not run LE with ${refuse.join(', ')}; use js, wasm or native`);
    const B = net.B, h = this.heap;
    this.B = B;
    const hold = Math.max(1, opts.hold ?? 1);
    const chunk = Math.max(1, opts.chunk ?? 100);
    this.maxPatterns = Math.max(1, Math.floor(chunk / hold));
    this.chunk = this.maxPatterns * hold;
    const pair = (n: number): [number, number] => [h.alloc(n), h.alloc(n)];
    this.st = net.stages.map((s, i) => {
      const base = { nIn: s.nIn, n: s.n, r: pair(B * s.n), rp: pair(B * s.n), eBottom: h.alloc(B * s.nIn) };
      if (s.kind === 'pool') {
        const g = s.proj.g;
        if (g.padH || g.padW) throw new Error(`the webgpu backend: stage ${i} (maxpool) has padding`);
        return { ...base, kind: 'pool', argmax: h.alloc(B * s.n) } as DevStage;
      }
      const proj = s.proj;
      const neur = {
        W: h.alloc(proj.W!.n), b: proj.b ? h.alloc(proj.b.n) : NONE, tau: h.alloc(s.n), tauM: h.alloc(s.n), u: h.alloc(B * s.n), basal: h.alloc(B * s.n),
        uDot: h.alloc(B * s.n), prospU: h.alloc(B * s.n), prospUm: h.alloc(B * s.n), diff: h.alloc(B * s.n),
      };
      if (proj instanceof ConvProjection) {
        const g = proj.g, NP = B * proj.P;
        if (g.stride !== 1 || g.padH || g.padW) throw new Error(`the webgpu backend: stage ${i} (conv) needs stride 1 and no padding`);
        return { ...base, ...neur, kind: 'conv', cols: h.alloc(proj.CKK * NP), out: h.alloc(proj.F * NP), dcols: i > 0 ? h.alloc(proj.CKK * NP) : NONE, errT: h.alloc(proj.F * NP) } as DevStage;
      }
      if (!(proj instanceof DenseProjection)) throw new Error(`the webgpu backend: stage ${i} is not dense, conv2d or maxpool`);
      if (proj.feedback === 'learned') throw new Error(`the webgpu backend: stage ${i} has learned feedback`);
      return { ...base, ...neur, kind: 'dense', FB: proj.FB ? h.alloc(proj.FB.n) : NONE } as DevStage;
    });
    this.x = h.alloc(B * net.nIn);
    this.zeros = h.alloc(B * net.nIn);
    this.eT = pair(B * net.nOut);
    this.xs = h.alloc(this.maxPatterns * B * net.nIn);
    this.ys = h.alloc(this.maxPatterns * B * net.nOut);
    this.outLog = h.alloc(this.maxPatterns * B * net.nOut);
    this.buf = engine.createHeap(h);
    this.ctl = engine.createCtl();
    this.parity = (net.t & 1) as 0 | 1;
    this.upload();
  }

  /** The buffers of stage i shared with the host network: host buffer → device offset (parameters and state). */
  private pairs(): [Float32Array, number][] {
    const net = this.net, out: [Float32Array, number][] = [];
    const S = net.stages.length;
    net.stages.forEach((s: HostStage, i) => {
      const d = this.st[i];
      for (const p of [0, 1] as const) out.push([s.r[p].a as Float32Array, d.r[p]], [s.rp[p].a as Float32Array, d.rp[p]]);
      if (s.kind !== 'neurons') return;
      out.push([s.proj.W!.a as Float32Array, d.W!], [s.tau.a as Float32Array, d.tau!], [s.tauM.a as Float32Array, d.tauM!], [s.u.a as Float32Array, d.u!]);
      if (s.proj.b) out.push([s.proj.b.a as Float32Array, d.b!]);
      const fb = s.proj instanceof DenseProjection ? s.proj.FB : null;
      if (fb) out.push([fb.a as Float32Array, d.FB!]);
      // own error: the next step reads it where the stage above writes its error down (top: ê of the other parity)
      out.push([s.e.a as Float32Array, i === S - 1 ? this.eT[this.parity ^ 1] : this.st[i + 1].eBottom]);
    });
    return out;
  }

  /** Copy the host network's parameters and state to the device. */
  upload(): void {
    this.parity = (this.net.t & 1) as 0 | 1;
    for (const [a, off] of this.pairs()) this.engine.write(this.buf, off * 4, a);
  }

  /** Copy the device's parameters and state back into the host network (checkpoints, evaluation on the CPU). */
  async download(): Promise<void> {
    const pairs = this.pairs();
    const got = await this.engine.readRanges(this.engine.device.createCommandEncoder(), this.buf, pairs.map(([a, off]) => [off, a.length] as [number, number]));
    pairs.forEach(([a], i) => a.set(got[i]));
  }

  /** The operations of one step writing parity c. */
  private plan(c: 0 | 1, training: boolean, hold: number, outputs: boolean): GpuOp[] {
    const key = `${c}|${training}|${hold}|${outputs}`;
    const have = this.plans.get(key);
    if (have) return have;
    const net = this.net, spec = net.spec, e = this.engine, h = this.heap, ctl = this.ctl, B = this.B, S = this.st.length, p = (c ^ 1) as 0 | 1;
    const ff = spec.variant === 'full_forward_pass';
    const ops: GpuOp[] = [];
    const op = (k: KernelName, words: number[], groups: readonly [number, number, number]) => ops.push(e.op(h, ctl, k, words, groups));
    const gemm = (tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, beta: number, A: number, Bm: number, C: number) =>
      op('gemm', [M, N, K, (tA ? 1 : 0) | (tB ? 2 : 0), fw(alpha), fw(beta), A, Bm, C], [Math.ceil(N / 64), Math.ceil(M / 64), 1]);
    const nIn0 = net.nIn, nOut = net.nOut, top = this.st[S - 1];
    op('leLoad', [B * nIn0, this.xs, B * nIn0, this.x, hold], groups1d(B * nIn0));
    op('leTarget', [B * nOut, fw(spec.beta), this.ys, B * nOut, hold, top.r[p], top.rp[p], this.eT[c], training ? 1 : 0], groups1d(B * nOut));
    const rIn = (i: number) => (i === 0 ? this.x : this.st[i - 1].r[ff ? c : p]);
    const rpIn = (i: number) => (i === 0 ? NONE : this.st[i - 1].rp[ff ? c : p]);
    /** stage i's own error: read (previous) by its population step, then overwritten (new) by the stage above */
    const ownErr = (i: number, fresh: boolean) => (i === S - 1 ? this.eT[fresh ? c : p] : this.st[i + 1].eBottom);
    // forward sweep
    for (let i = 0; i < S; i++) {
      const d = this.st[i], hs = net.stages[i];
      if (hs.kind === 'pool') {
        const g = hs.proj.g;
        op('lePool', [B * g.C, g.H, g.W, g.kh, g.kw, g.stride, g.Ho, g.Wo, rIn(i), rpIn(i), d.r[c], d.rp[c], d.argmax!], groups1d(B * d.n));
        continue;
      }
      const neurons = (src: number, P: number, featureMajor: boolean) =>
        op('leNeurons', [
          B, d.n, P, featureMajor ? 1 : 0, hs.phi, fw(spec.dt), spec.prosp_rate_errors ? 1 : 0, src, d.b!, d.basal!, ownErr(i, false), d.u!, d.uDot!, d.prospU!,
          d.prospUm!, d.diff!, d.r[c], d.rp[c], d.tau!, d.tauM!,
        ], groups1d(B * d.n));
      if (d.kind === 'dense') {
        gemm(false, true, B, d.n, d.nIn, 1, 0, rIn(i), d.W!, d.basal!);
        neurons(d.basal!, 1, false);
        if (i > 0) {
          gemm(false, false, B, d.nIn, d.n, 1, 0, d.diff!, d.FB !== NONE ? d.FB! : d.W!, d.eBottom);
          op('leMul', [B * d.nIn, d.eBottom, rpIn(i)], groups1d(B * d.nIn));
        }
      } else {
        const pr = hs.proj as ConvProjection, g = pr.g, NP = B * pr.P;
        op('im2col', [B, g.C, g.H, g.W, g.kh, g.kw, 1, 0, 0, g.Ho, g.Wo, rIn(i), d.cols!], groups1d(pr.CKK * NP));
        gemm(false, false, pr.F, NP, pr.CKK, 1, 0, d.W!, d.cols!, d.out!);
        neurons(d.out!, pr.P, true);
        if (i > 0) {
          gemm(true, false, pr.CKK, NP, pr.F, 1, 0, d.W!, d.diff!, d.dcols!);
          op('leCol2im', [B, g.C, g.H, g.W, g.kh, g.kw, g.Ho, g.Wo, d.dcols!, d.eBottom, rpIn(i)], groups1d(B * d.nIn));
        }
      }
    }
    // pooling stages pass the error from above down to this step's argmax
    for (let i = S - 1; i > 0; i--) {
      const hs = net.stages[i];
      if (hs.kind !== 'pool') continue;
      const g = hs.proj.g, d = this.st[i];
      op('leUnpool', [B * g.C, g.H, g.W, g.kh, g.kw, g.stride, g.Ho, g.Wo, ownErr(i, true), d.argmax!, d.eBottom], groups1d(B * d.nIn));
    }
    if (training)
      for (let i = 0; i < S; i++) {
        const d = this.st[i], hs = net.stages[i];
        if (hs.kind !== 'neurons') continue;
        const err = ownErr(i, true), dt = spec.dt, eta = hs.eta;
        if (d.kind === 'dense') {
          gemm(true, false, d.n, d.nIn, B, (dt * eta) / B, 1, err, rIn(i), d.W!);
          if (d.b !== NONE) op('leBias', [d.n, B, 1, d.n, err, d.b!, fw(dt), fw(eta)], [d.n, 1, 1]);
        } else {
          const pr = hs.proj as ConvProjection, NP = B * pr.P;
          op('lePermute', [B, pr.F, pr.P, err, d.errT!], groups1d(pr.F * NP));
          gemm(false, true, pr.F, pr.CKK, NP, (dt * eta) / B, 1, d.errT!, d.cols!, d.W!);
          if (d.b !== NONE) op('leBias', [pr.F, NP, NP, 1, d.errT!, d.b!, fw(dt), fw(eta)], [pr.F, 1, 1]);
        }
      }
    if (outputs) op('leStore', [B * nOut, top.r[c], this.outLog, hold], groups1d(B * nOut));
    op('tick', [0], [1, 1, 1]);
    this.plans.set(key, ops);
    return ops;
  }

  /** Dispatches one step records (training, no output log). */
  dispatchesPerStep(training = true): number {
    return this.plan(this.parity, training, 1, false).length;
  }

  /**
   * Run K patterns, each held `hold` steps: xs K × B·n_in, ys K × B·n_out (null: no nudging, no update). The state
   * carries over from the previous run (never reset, as the reference). One submit per chunk.
   */
  async run(xs: Float32Array, ys: Float32Array | null, hold: number, opts: GpuLeRunOptions = {}): Promise<GpuLeRunResult> {
    const net = this.net, B = this.B, nIn = net.nIn, nOut = net.nOut, e = this.engine;
    if (!Number.isInteger(hold) || hold < 1) throw new Error(`hold must be a positive integer, got ${hold}`);
    const K = xs.length / (B * nIn);
    if (!Number.isInteger(K) || K < 1) throw new Error(`inputs hold ${xs.length} values, not a whole number of patterns of B·n_in = ${B * nIn}`);
    if (ys && ys.length !== K * B * nOut) throw new Error(`targets hold ${ys.length} values, expected ${K} patterns of B·n_out = ${B * nOut}`);
    const training = (opts.training ?? true) && ys !== null;
    // whole patterns per command buffer: about `chunk` steps, at most the heap's pattern slots, at least one pattern
    const perChunk = Math.max(1, Math.min(this.maxPatterns, Math.floor(this.chunk / hold)));
    const outputs = opts.outputs ? new Float32Array(K * B * nOut) : null;
    const trace = opts.trace ? ([] as Map<string, Float32Array>[]) : null;
    for (let k0 = 0; k0 < K; k0 += perChunk) {
      const kn = Math.min(perChunk, K - k0), steps = kn * hold;
      e.write(this.buf, this.xs * 4, xs.subarray(k0 * B * nIn, (k0 + kn) * B * nIn));
      if (ys && training) e.write(this.buf, this.ys * 4, ys.subarray(k0 * B * nOut, (k0 + kn) * B * nOut));
      e.write(this.ctl, 0, new Uint32Array([0, 0, 0, 0]));
      const enc = e.device.createCommandEncoder();
      let log: GPUBuffer | null = null, layout: { name: string; off: number; n: number }[] = [], stride = 0;
      if (trace) {
        layout = this.logLayout(0);
        stride = layout.reduce((s, f) => s + f.n, 0);
        log = e.device.createBuffer({ size: steps * stride * 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
        for (let s = 0; s < steps; s++) {
          const c = this.parity;
          const pass = enc.beginComputePass();
          e.record(pass, this.plan(c, training, hold, outputs !== null));
          pass.end();
          let o = s * stride;
          for (const f of this.logLayout(c)) {
            enc.copyBufferToBuffer(this.buf, f.off * 4, log, o * 4, f.n * 4);
            e.counters.copies++;
            o += f.n;
          }
          this.parity = (c ^ 1) as 0 | 1;
        }
      } else {
        const pass = enc.beginComputePass();
        for (let s = 0; s < steps; s++) {
          e.record(pass, this.plan(this.parity, training, hold, outputs !== null));
          this.parity = (this.parity ^ 1) as 0 | 1;
        }
        pass.end();
      }
      net.t += steps;
      if (outputs) {
        const [got] = await e.readRanges(enc, this.buf, [[this.outLog, kn * B * nOut]]);
        outputs.set(got, k0 * B * nOut);
      } else if (!log) {
        e.submit(enc);
      }
      if (log) {
        if (!outputs) e.submit(enc);
        const [all] = await e.readRanges(e.device.createCommandEncoder(), log, [[0, steps * stride]]);
        for (let s = 0; s < steps; s++) {
          let o = s * stride;
          const m = new Map<string, Float32Array>();
          for (const f of layout) {
            m.set(f.name, all.subarray(o, o + f.n));
            o += f.n;
          }
          trace!.push(m);
        }
        log.destroy();
      }
    }
    if (!outputs && !trace) await e.device.queue.onSubmittedWorkDone();
    return { outputs, trace };
  }

  /** What a traced step logs (the golden's quantities, after a step that wrote parity c). */
  private logLayout(c: 0 | 1): { name: string; off: number; n: number }[] {
    const net = this.net, B = this.B, S = this.st.length, out: { name: string; off: number; n: number }[] = [];
    net.stages.forEach((hs, i) => {
      const d = this.st[i], at = `layer_${i}.`, n = B * d.n;
      out.push({ name: at + 'r', off: d.r[c], n }, { name: at + 'r_prime', off: d.rp[c], n }, { name: at + 'e_bottom', off: d.eBottom, n: B * d.nIn });
      if (hs.kind === 'pool') {
        out.push({ name: at + 'argmax', off: d.argmax!, n });
        return;
      }
      out.push(
        { name: at + 'u', off: d.u!, n }, { name: at + 'u_dot', off: d.uDot!, n }, { name: at + 'basal', off: d.basal!, n }, { name: at + 'prosp_u', off: d.prospU!, n },
        { name: at + 'prosp_u_m', off: d.prospUm!, n }, { name: at + 'e', off: i === S - 1 ? this.eT[c] : this.st[i + 1].eBottom, n },
        { name: at + 'weight', off: d.W!, n: hs.proj.W!.n },
      );
      if (d.b !== NONE) out.push({ name: at + 'bias', off: d.b!, n: hs.proj.b!.n });
    });
    return out;
  }
}

/**
 * LE classification on the device, as `LeClassifier` (le-classify.ts) presents batches: each batch is held for
 * n_updates steps with nudging (training) or without (prediction); one submit and one read-back (the top rates at
 * the presentation's last step) per presentation. No target filter, no τ adaptation.
 */
export class GpuLeClassifier {
  readonly B: number;
  /** the top rates at the end of the last presentation (B × n_out) */
  readonly lastOutput: Float32Array;
  private readonly x: Float32Array;
  private readonly y: Float32Array;

  constructor(readonly dev: GpuLeNetwork) {
    this.B = dev.B;
    this.x = new Float32Array(dev.B * dev.net.nIn);
    this.y = new Float32Array(dev.B * dev.net.nOut);
    this.lastOutput = new Float32Array(dev.B * dev.net.nOut);
  }

  /** One nudged presentation of batch x (B × d) with one-hot targets y; returns the steps taken. */
  async train(x: ArrayLike<number>, y: ArrayLike<number>): Promise<number> {
    const n = this.dev.net.spec.n_updates;
    this.x.set(x);
    this.y.set(y);
    const r = await this.dev.run(this.x, this.y, n, { outputs: true });
    this.lastOutput.set(r.outputs!);
    return n;
  }

  /** One presentation without nudging; the argmax of the final rates into out (B labels); returns the steps. */
  async predict(x: ArrayLike<number>, out: Int32Array): Promise<number> {
    const n = this.dev.net.spec.n_updates, c = this.dev.net.nOut;
    this.x.set(x);
    const r = await this.dev.run(this.x, null, n, { outputs: true });
    this.lastOutput.set(r.outputs!);
    for (let b = 0; b < this.B; b++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (this.lastOutput[b * c + j] > this.lastOutput[b * c + best]) best = j;
      out[b] = best;
    }
    return n;
  }
}
