/**
 * Online GLE learning on the webgpu backend: a device-resident copy of a dense GLE network and its optimiser, stepped
 * many steps per submitted command buffer with no host round trip per step.
 *
 * The host `GLENetwork` (any float32 backend) supplies the spec, the initial parameters and state; the trainer
 * uploads them into one device heap and plans, per state parity, the operations of one training step exactly as
 * `Learner.trainStep` orders them (network.ts step, then the optimiser, then the τ clamp):
 *   load x[t] · target error + loss of y[t−1] · per layer: drive = r_bottom Wᵀ (gemm), the GLE population step
 *   (gleNeurons: bias, both error and membrane ODEs, r, r'), gW = −ĕᵀ r_bottom / B (gemm), gB / gτ (column
 *   reduction), e_bottom = ĕ W (gemm) · one optimiser dispatch over all learnable tensors (stored contiguously) ·
 *   clamp · the weight average (spec `average`) · tick (the device-side step counters: input/target slot, Adam's t).
 * The learner's lr schedule is followed step by step: each chunk uploads the lr of every one of its steps (and the
 * average's decay of every step), computed by the host's scheduler and average, which then advance by the chunk.
 * A chunk of T steps is one compute pass (or one per step when every field is logged) in one command buffer: one
 * submit, one upload of the chunk's inputs and targets, one read-back of the logged values (the loss of every step;
 * optionally outputs and every traced field). Dense layers with the transpose feedback only (what the fused CPU
 * kernels run); other layers are refused with a message.
 */
/// <reference types="@webgpu/types" preserve="true" />
import { fw, GpuHeap, groups1d, type GpuOp, NONE, type WebGpuEngine } from '../kernels/webgpu/engine.js';
import { stepFlags } from '../model/dynamics.js';
import type { GLENetwork } from '../model/network.js';
import type { Learner } from './learner.js';

interface StateOffs {
  u: number;
  v: number;
  r: number;
  rPrime: number;
  eBottom: number;
}
interface ScratchOffs {
  drive: number;
  instE: number;
  prospU: number;
  prospV: number;
  uDot: number;
}

/** The traced per-layer fields, as the golden schema names them, and where they live (state after the step, or scratch). */
const TRACE_FIELDS: readonly [string, 'state' | 'scratch', keyof StateOffs | keyof ScratchOffs][] = [
  ['u', 'state', 'u'],
  ['v', 'state', 'v'],
  ['r', 'state', 'r'],
  ['r_prime', 'state', 'rPrime'],
  ['prosp_u', 'scratch', 'prospU'],
  ['prosp_v', 'scratch', 'prospV'],
  ['inst_e', 'scratch', 'instE'],
  ['e_bottom', 'state', 'eBottom'],
];

export interface GpuRunOptions {
  /** false: evaluation (no gradients, no optimiser step); default true */
  training?: boolean;
  /** also return the output (previous top rate) of every step */
  outputs?: boolean;
  /** log every traced field, gradient and parameter at every step (golden replays; slow) */
  trace?: boolean;
}

export interface GpuRunResult {
  /** the loss of each step's output against its target (NaN where none) */
  loss: Float32Array;
  /** T × B·n_out when asked */
  outputs: Float32Array | null;
  /** per step: name → values ('output', 'layer_l.field', 'grad NAME', 'param NAME') when `trace` */
  trace: Map<string, Float32Array>[] | null;
}

export interface GpuTrainerOptions {
  /** steps per submitted command buffer (default 100) */
  chunk?: number;
  /** compute the error layer 0 sends to the input (traces) */
  computeInputError?: boolean;
}

/** Why `net` cannot be trained by GpuTrainer (what is not supported on webgpu), or null when it can. */
export function gpuUnsupported(net: GLENetwork): string | null {
  if (net.k.dtype !== 'float32') return 'the webgpu backend runs float32 only';
  for (const [i, l] of net.layers.entries()) {
    if (l.spec.type !== 'dense' || l.population.model !== 'gle')
      return `the webgpu backend runs dense GLE layers only; layer ${i} is ${l.spec.type} (${l.population.model} population)`;
    if (l.projection.feedback !== 'transpose') return `the webgpu backend needs the transpose feedback (B = W^T); layer ${i} has '${l.projection.feedback}'`;
  }
  return null;
}

export class GpuTrainer {
  readonly B: number;
  readonly chunk: number;
  private readonly heap = new GpuHeap();
  private readonly buf: GPUBuffer;
  private readonly ctl: GPUBuffer;
  private readonly st: [StateOffs[], StateOffs[]];
  private readonly sc: ScratchOffs[];
  private readonly x: number;
  private readonly targetErr: number;
  private readonly rowLoss: number;
  private readonly xs: number;
  private readonly tg: number;
  private readonly kinds: number;
  private readonly lossLog: number;
  /** the heap slots of the learning rate of each step of a chunk (the scheduler changes it every step) */
  private readonly lrSlot: number;
  /** the heap slots of the weight average's decay of each step of a chunk */
  private readonly decaySlot: number;
  /** the weight average's block (as the learnable parameters' block), or NONE without averaging */
  private readonly aBlock: number;
  private readonly pBlock: { off: number; n: number; nLearn: number };
  private readonly gBlock: number;
  private readonly mBlock: number;
  private readonly vBlock: number;
  private readonly clampIdx: { off: number; n: number };
  /** name → offset of every parameter tensor (learnable ones first, contiguous) */
  private readonly pOff = new Map<string, { off: number; n: number; learn: boolean }>();
  private readonly plans = new Map<string, { ops: GpuOp[]; opt: GpuOp | null }>();
  private parity: 0 | 1 = 0;
  /** optimiser steps taken on the device (Adam's t) */
  optSteps: number;
  readonly computeInputError: boolean;

  constructor(
    readonly engine: WebGpuEngine,
    readonly learner: Learner,
    opts: GpuTrainerOptions = {},
  ) {
    const net = learner.net;
    const why = gpuUnsupported(net);
    if (why) throw new Error(why);
    const spec = net.spec;
    if (spec.optimizer && learner.opt === null) throw new Error('internal: learner without its optimiser');
    this.B = net.B;
    this.chunk = opts.chunk ?? 100;
    this.computeInputError = opts.computeInputError ?? net.computeInputError;
    this.optSteps = (learner.opt as { stepCount?: number } | null)?.stepCount ?? 0;
    const h = this.heap, B = this.B, L = net.layers.length;
    // parameters: learnable tensors first, in the optimiser's order, then the others
    const learn = net.parameters();
    const all = net.allTensors();
    const rest = all.filter((t) => !learn.some((p) => p.name === t.name));
    const nLearn = learn.reduce((s, p) => s + p.p.n, 0);
    const nAll = nLearn + rest.reduce((s, t) => s + t.buf.n, 0);
    const pOff = h.alloc(nAll);
    this.pBlock = { off: pOff, n: nAll, nLearn };
    let o = pOff;
    for (const p of learn) {
      this.pOff.set(p.name, { off: o, n: p.p.n, learn: true });
      o += p.p.n;
    }
    for (const t of rest) {
      this.pOff.set(t.name, { off: o, n: t.buf.n, learn: false });
      o += t.buf.n;
    }
    this.gBlock = h.alloc(nLearn);
    const opt = spec.optimizer;
    this.mBlock = opt && (opt.type === 'adam' || opt.momentum !== 0) ? h.alloc(nLearn) : NONE;
    this.vBlock = opt && opt.type === 'adam' ? h.alloc(nLearn) : NONE;
    const state = (): StateOffs[] =>
      net.layers.map((l) => ({ u: h.alloc(B * l.nOut), v: h.alloc(B * l.nOut), r: h.alloc(B * l.nOut), rPrime: h.alloc(B * l.nOut), eBottom: h.alloc(B * l.nIn) }));
    this.st = [state(), state()];
    this.sc = net.layers.map((l) => ({ drive: h.alloc(B * l.nOut), instE: h.alloc(B * l.nOut), prospU: h.alloc(B * l.nOut), prospV: h.alloc(B * l.nOut), uDot: h.alloc(B * l.nOut) }));
    this.x = h.alloc(B * net.nIn);
    this.targetErr = h.alloc(B * net.nOut);
    this.rowLoss = h.alloc(B);
    this.xs = h.alloc(this.chunk * B * net.nIn);
    this.tg = h.alloc(this.chunk * B * net.nOut);
    this.kinds = h.alloc(this.chunk);
    this.lossLog = h.alloc(this.chunk);
    this.lrSlot = h.alloc(this.chunk);
    this.decaySlot = h.alloc(this.chunk);
    this.lrs = new Float32Array(this.chunk);
    this.decays = new Float32Array(this.chunk);
    this.aBlock = learner.average ? h.alloc(nLearn) : NONE;
    // τ_m and τ_r of every layer (the learner clamps both)
    const tauIdx: number[] = [];
    net.layers.forEach((l, i) => {
      for (const s of ['tau_m', 'tau_r']) {
        const t = this.pOff.get(`layer_${i}.${s}`)!;
        for (let j = 0; j < t.n; j++) tauIdx.push(t.off + j);
      }
    });
    this.clampIdx = { off: h.alloc(tauIdx.length), n: tauIdx.length };
    this.buf = engine.createHeap(h);
    this.ctl = engine.createCtl();
    engine.write(this.buf, this.clampIdx.off * 4, Float32Array.from(tauIdx));
    this.upload();
    void L;
  }

  private get net(): GLENetwork {
    return this.learner.net;
  }

  /** Copy the host network's parameters, state (current parity) and optimiser moments to the device. */
  upload(): void {
    const net = this.net, e = this.engine;
    for (const t of net.allTensors()) e.write(this.buf, this.pOff.get(t.name)!.off * 4, t.buf.a as Float32Array);
    net.layers.forEach((_, l) => {
      const s = net.state(l) as unknown as Record<string, { a: Float32Array }>;
      const d = this.st[0][l];
      for (const k of ['u', 'v', 'r', 'rPrime', 'eBottom'] as const) e.write(this.buf, d[k] * 4, s[k].a);
    });
    this.parity = 0;
    for (const { off, buf } of this.momentTensors()) e.write(this.buf, off * 4, buf.a);
    for (const { off, buf } of this.averageTensors()) e.write(this.buf, off * 4, buf.a);
    // Adam's t continues from the host optimiser's (a resumed run, or another trainer of the same network)
    this.optSteps = (this.learner.opt as { stepCount?: number } | null)?.stepCount ?? 0;
  }

  /** Copy only the host network's parameters to the device (the device state stays: e.g. a scoring copy's). */
  uploadParams(): void {
    for (const t of this.net.allTensors()) this.engine.write(this.buf, this.pOff.get(t.name)!.off * 4, t.buf.a as Float32Array);
  }

  /** The host optimiser's moment tensors and their device offsets. */
  private momentTensors(): { off: number; buf: { a: Float32Array; n: number } }[] {
    const out: { off: number; buf: { a: Float32Array; n: number } }[] = [];
    const opt = this.learner.opt as unknown as { stateTensors?: () => { name: string; buf: { a: Float32Array; n: number } }[] } | null;
    if (!opt?.stateTensors) return out;
    for (const t of opt.stateTensors()) {
      const m = /^optim\.(.+)\.(exp_avg|exp_avg_sq|momentum_buffer)$/.exec(t.name);
      if (!m) continue;
      const p = this.pOff.get(m[1]);
      if (!p) continue;
      const rel = p.off - this.pBlock.off;
      const base = m[2] === 'exp_avg_sq' ? this.vBlock : this.mBlock;
      if (base !== NONE) out.push({ off: base + rel, buf: t.buf });
    }
    return out;
  }

  /** The host weight average's buffers and their device offsets (laid out as the learnable parameters). */
  private averageTensors(): { off: number; buf: { a: Float32Array; n: number } }[] {
    const a = this.learner.average;
    if (!a) return [];
    return a.params.map((p, i) => ({ off: this.aBlock + (this.pOff.get(p.name)!.off - this.pBlock.off), buf: a.bufs[i] as unknown as { a: Float32Array; n: number } }));
  }

  /**
   * Exchange the parameters and their averages on the device (evaluation with the averaged parameters, and back); the
   * host average's `swapped` flag follows, so a download leaves the host in the same arrangement. No-op without
   * averaging.
   */
  swapAveraged(): void {
    const a = this.learner.average;
    if (!a) return;
    const n = this.pBlock.nLearn;
    const enc = this.engine.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    this.engine.record(pass, [this.swapOp ??= this.engine.op(this.heap, this.ctl, 'swap', [n, this.pBlock.off, this.aBlock], groups1d(n))]);
    pass.end();
    this.engine.device.queue.submit([enc.finish()]);
    a.swapped = !a.swapped;
  }
  private swapOp: GpuOp | null = null;

  /**
   * Copy the device's parameters, state and optimiser moments back into the host network and optimiser (e.g. before
   * a checkpoint or an evaluation on the CPU): one read-back.
   */
  async download(): Promise<void> {
    const net = this.net;
    const tensors = net.allTensors();
    const ranges: [number, number][] = tensors.map((t) => [this.pOff.get(t.name)!.off, t.buf.n]);
    const keys = ['u', 'v', 'r', 'rPrime', 'eBottom'] as const;
    net.layers.forEach((_, l) => {
      for (const k of keys) ranges.push([this.st[this.parity][l][k], (net.state(l) as unknown as Record<string, { n: number }>)[k].n]);
    });
    const moments = [...this.momentTensors(), ...this.averageTensors()];
    for (const m of moments) ranges.push([m.off, m.buf.n]);
    const got = await this.engine.readRanges(this.engine.device.createCommandEncoder(), this.buf, ranges);
    let i = 0;
    for (const t of tensors) t.buf.a.set(got[i++]);
    net.layers.forEach((_, l) => {
      const s = net.state(l) as unknown as Record<string, { a: Float32Array }>;
      for (const k of keys) s[k].a.set(got[i++]);
    });
    for (const m of moments) m.buf.a.set(got[i++]);
    if (this.learner.opt) (this.learner.opt as { stepCount?: number }).stepCount = this.optSteps;
  }

  /** Free the device memory of this trainer (its heap and counters; the engine stays). */
  destroy(): void {
    this.buf.destroy();
    this.ctl.destroy();
  }

  /** The operations of one step reading parity p (planned once per parity, mode and scalar settings). */
  private plan(p: 0 | 1, training: boolean): { ops: GpuOp[]; opt: GpuOp | null } {
    const net = this.net, learner = this.learner, e = this.engine, h = this.heap, ctl = this.ctl;
    const key = [p, training, net.dt, net.beta, net.loss, this.computeInputError, learner.clampMin, learner.clampMax, ...net.layers.map((l) => `${l.hyper.gamma}/${l.hyper.phi}/${l.hyper.prospective}/${l.hyper.learnTau}/${l.trainable}`)].join('|');
    let plan = this.plans.get(key);
    if (plan) return plan;
    const B = this.B, L = net.layers.length, nIn0 = net.nIn, nOut = net.nOut;
    const st = this.st[p], nx = this.st[1 - p];
    const ops: GpuOp[] = [];
    const gemm = (tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: number, Bm: number, C: number) =>
      ops.push(e.op(h, ctl, 'gemm', [M, N, K, (tA ? 1 : 0) | (tB ? 2 : 0), fw(alpha), fw(0), A, Bm, C], [Math.ceil(N / 64), Math.ceil(M / 64), 1]));
    ops.push(e.op(h, ctl, 'loadStep', [B * nIn0, this.xs, B * nIn0, this.x], groups1d(B * nIn0)));
    const lossCode = net.loss === 'mse' ? 0 : net.loss === 'ce' ? 1 : 2;
    ops.push(e.op(h, ctl, 'target', [B, nOut, lossCode, fw(net.beta), st[L - 1].r, this.tg, this.kinds, this.targetErr, this.rowLoss], groups1d(B, 64)));
    ops.push(e.op(h, ctl, 'lossReduce', [B, this.rowLoss, fw(net.loss === 'mse' ? B * nOut : B), this.kinds, this.lossLog], [1, 1, 1]));
    let optimised = false;
    for (let l = 0; l < L; l++) {
      const layer = net.layers[l], s = this.sc[l];
      const nI = layer.nIn, nO = layer.nOut;
      const rIn = l === 0 ? this.x : st[l - 1].r;
      const raw = l === L - 1 ? this.targetErr : st[l + 1].eBottom;
      const W = this.pOff.get(`layer_${l}.weight`)!.off;
      const b = this.pOff.get(`layer_${l}.bias`)?.off ?? NONE;
      const grads = training && (layer.trainable || layer.hyper.learnTau);
      const errDown = l > 0 || this.computeInputError;
      const flags = stepFlags(layer.hyper, grads, errDown);
      gemm(false, true, B, nO, nI, 1, rIn, W, s.drive);
      ops.push(
        e.op(h, ctl, 'gleNeurons', [
          B, nO, flags, layer.hyper.phi, fw(net.dt), fw(layer.hyper.gamma), s.drive, raw, st[l].u, st[l].v, st[l].rPrime, nx[l].u, nx[l].v, nx[l].r,
          nx[l].rPrime, s.instE, s.prospU, s.prospV, s.uDot, b, this.pOff.get(`layer_${l}.tau_m`)!.off, this.pOff.get(`layer_${l}.tau_r`)!.off,
        ], groups1d(B * nO)),
      );
      if (grads) {
        const g = (name: string): number => {
          const t = this.pOff.get(name);
          return t && t.learn ? this.gBlock + (t.off - this.pBlock.off) : NONE;
        };
        const gW = layer.trainable ? g(`layer_${l}.weight`) : NONE;
        if (gW !== NONE) gemm(true, false, nO, nI, B, -1 / B, s.prospV, rIn, gW);
        const gB = layer.trainable ? g(`layer_${l}.bias`) : NONE;
        const gT = layer.hyper.learnTau ? g(`layer_${l}.tau_m`) : NONE;
        if (gB !== NONE || gT !== NONE) ops.push(e.op(h, ctl, 'colGrads', [B, nO, s.prospV, s.uDot, gB, gT], groups1d(nO, 64)));
      }
      if (errDown) gemm(false, false, B, nI, nO, 1, s.prospV, W, nx[l].eBottom);
    }
    let optOp: GpuOp | null = null;
    const o = net.spec.optimizer;
    if (training && o && this.pBlock.nLearn > 0) {
      const n = this.pBlock.nLearn, lr = this.lrSlot;
      optOp =
        o.type === 'adam'
          ? e.op(h, ctl, 'adam', [n, this.pBlock.off, this.gBlock, this.mBlock, this.vBlock, lr, fw(o.betas[0]), fw(o.betas[1]), fw(o.eps), fw(o.weight_decay)], groups1d(n))
          : e.op(h, ctl, 'sgd', [n, this.pBlock.off, this.gBlock, this.mBlock === NONE ? 0 : this.mBlock, lr, fw(o.momentum), fw(o.dampening), o.nesterov ? 1 : 0, fw(o.weight_decay)], groups1d(n));
      ops.push(optOp);
      optimised = true;
    }
    if (learner.clampMin !== null || learner.clampMax !== null)
      ops.push(e.op(h, ctl, 'clamp', [this.clampIdx.n, this.clampIdx.off, fw(learner.clampMin ?? -3.4e38), fw(learner.clampMax ?? 3.4e38)], groups1d(this.clampIdx.n, 64)));
    if (optimised && this.aBlock !== NONE) ops.push(e.op(h, ctl, 'ema', [this.pBlock.nLearn, this.pBlock.off, this.aBlock, this.decaySlot], groups1d(this.pBlock.nLearn)));
    ops.push(e.op(h, ctl, 'tick', [optimised ? 1 : 0], [1, 1, 1]));
    plan = { ops, opt: optOp };
    this.plans.set(key, plan);
    return plan;
  }

  /** Dispatches one step records (for the bench's per-step counts). */
  dispatchesPerStep(training = true): number {
    return this.plan(this.parity, training).ops.length;
  }

  /**
   * Run T steps. x: T × B·n_in inputs; targets: per step null, B·n_out values, or an Int32Array of B labels (as
   * `GLENetwork.step` takes them). Returns the loss of every step (and outputs / the full trace when asked).
   */
  async run(x: Float32Array, targets: (ArrayLike<number> | null)[] | null, opts: GpuRunOptions = {}): Promise<GpuRunResult> {
    const net = this.net, B = this.B, nIn = net.nIn, nOut = net.nOut;
    const T = x.length / (B * nIn);
    if (!Number.isInteger(T) || T < 1) throw new Error(`inputs hold ${x.length} values, not a whole number of steps of B·n_in = ${B * nIn}`);
    if (targets && targets.length !== T) throw new Error(`${targets.length} targets for ${T} steps`);
    const training = opts.training ?? true;
    const loss = new Float32Array(T);
    const outputs = opts.outputs ? new Float32Array(T * B * nOut) : null;
    const trace = opts.trace ? ([] as Map<string, Float32Array>[]) : null;
    const tg = new Float32Array(this.chunk * B * nOut);
    const kinds = new Float32Array(this.chunk);
    // an optimiser step follows every step (as `plan`'s `optimised`)
    const learns = training && net.spec.optimizer !== null && this.pBlock.nLearn > 0;
    for (let t0 = 0; t0 < T; t0 += this.chunk) {
      const n = Math.min(this.chunk, T - t0);
      // the chunk's inputs, targets and step counters: three uploads
      this.engine.write(this.buf, this.xs * 4, x.subarray(t0 * B * nIn, (t0 + n) * B * nIn));
      tg.fill(0);
      for (let i = 0; i < n; i++) {
        const y = targets ? targets[t0 + i] : null;
        const o = i * B * nOut;
        if (!y) kinds[i] = 0;
        else if ((y instanceof Int32Array && y.length === B) || (y.length === B && y.length !== B * nOut && net.loss !== 'mse')) {
          kinds[i] = 2;
          for (let b = 0; b < B; b++) tg[o + b] = y[b];
        } else if (y.length === B * nOut) {
          kinds[i] = 1;
          for (let j = 0; j < B * nOut; j++) tg[o + j] = y[j];
        } else throw new Error(`target of step ${t0 + i} has ${y.length} values, expected B*n_out = ${B * nOut} (or B = ${B} labels as Int32Array)`);
      }
      this.engine.write(this.buf, this.tg * 4, tg.subarray(0, n * B * nOut));
      this.engine.write(this.buf, this.kinds * 4, kinds.subarray(0, n));
      this.ctlWords[1] = this.optSteps;
      this.engine.write(this.ctl, 0, this.ctlWords);
      if (learns) this.scheduleChunk(n);
      const enc = this.engine.device.createCommandEncoder();
      const logRanges: [number, number][] = [[this.lossLog, n]];
      let log: GPUBuffer | null = null;
      const fields: { name: string; n: number }[] = [];
      if (opts.trace || opts.outputs) {
        // per-step copies of the logged values into a log buffer (device side), read back once
        const perStep = this.logLayout(opts.trace ?? false);
        const stride = perStep.reduce((s, f) => s + f.n, 0);
        for (const f of perStep) fields.push({ name: f.name, n: f.n });
        log = this.engine.device.createBuffer({ size: n * stride * 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
        for (let i = 0; i < n; i++) {
          const p = this.parity;
          const plan = this.plan(p, training);
          const pass = enc.beginComputePass();
          this.engine.record(pass, plan.ops);
          pass.end();
          let o = i * stride;
          for (const f of this.logLayout(opts.trace ?? false, p)) {
            enc.copyBufferToBuffer(this.buf, f.off * 4, log, o * 4, f.n * 4);
            this.engine.counters.copies++;
            o += f.n;
          }
          this.parity = (1 - p) as 0 | 1;
        }
      } else {
        const pass = enc.beginComputePass();
        for (let i = 0; i < n; i++) {
          const plan = this.plan(this.parity, training);
          this.engine.record(pass, plan.ops);
          this.parity = (1 - this.parity) as 0 | 1;
        }
        pass.end();
      }
      if (learns) this.optSteps += n;
      // one read-back: the loss log (and the field log)
      const got = await this.engine.readRanges(enc, this.buf, logRanges);
      loss.set(got[0], t0);
      if (log) {
        const stride = fields.reduce((s, f) => s + f.n, 0);
        const [all] = await this.readBuffer(log, n * stride);
        for (let i = 0; i < n; i++) {
          let o = i * stride;
          const m = new Map<string, Float32Array>();
          for (const f of fields) {
            m.set(f.name, all.subarray(o, o + f.n));
            o += f.n;
          }
          if (outputs) outputs.set(m.get('output')!, (t0 + i) * B * nOut);
          trace?.push(m);
        }
        log.destroy();
      }
    }
    if (training && this.learner.opt) (this.learner.opt as { stepCount?: number }).stepCount = this.optSteps;
    net.steps += T;
    return { loss, outputs, trace };
  }

  private async readBuffer(b: GPUBuffer, n: number): Promise<Float32Array[]> {
    return this.engine.readRanges(this.engine.device.createCommandEncoder(), b, [[0, n]]);
  }

  /** the control words uploaded with each chunk: 0 the step in the chunk (0), 1 the optimiser steps so far */
  private readonly ctlWords = new Uint32Array(4);
  /** the lr and the decay of each step of the next chunk (host side, uploaded per chunk) */
  private readonly lrs: Float32Array;
  private readonly decays: Float32Array;

  /**
   * The lr and the average's decay of each of the next n learning steps, as `Learner.trainStep` would set them
   * (`Learner.scheduleStep`, `WeightAverage.advance`), uploaded; the host schedule and average advance by n.
   */
  private scheduleChunk(n: number): void {
    const L = this.learner, avg = L.average;
    avg?.checkRaw();
    for (let i = 0; i < n; i++) {
      L.scheduleStep();
      this.lrs[i] = L.lr;
      if (avg) this.decays[i] = avg.advance();
    }
    this.engine.write(this.buf, this.lrSlot * 4, this.lrs.subarray(0, n));
    if (avg) this.engine.write(this.buf, this.decaySlot * 4, this.decays.subarray(0, n));
  }

  /** What one step logs, in order; with p, the offsets for a step that read parity p. */
  private logLayout(trace: boolean, p: 0 | 1 = 0): { name: string; off: number; n: number }[] {
    const net = this.net, B = this.B, L = net.layers.length;
    const out = [{ name: 'output', off: this.st[p][L - 1].r, n: B * net.nOut }];
    if (!trace) return out;
    const nx = this.st[1 - p];
    net.layers.forEach((layer, l) => {
      for (const [name, where, key] of TRACE_FIELDS) {
        const off = where === 'state' ? nx[l][key as keyof StateOffs] : this.sc[l][key as keyof ScratchOffs];
        out.push({ name: `layer_${l}.${name}`, off, n: B * (name === 'e_bottom' ? layer.nIn : layer.nOut) });
      }
    });
    for (const [name, t] of this.pOff) {
      out.push({ name: `param ${name}`, off: t.off, n: t.n });
      if (t.learn) out.push({ name: `grad ${name}`, off: this.gBlock + (t.off - this.pBlock.off), n: t.n });
    }
    return out;
  }
}
