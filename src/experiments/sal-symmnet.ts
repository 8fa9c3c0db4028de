/**
 * `sal-symmnet` (SAL §3.4): the SymmNet conv net (src/baselines/symmnet.ts) on MNIST, trained by SGD with momentum,
 * once per feedback mode (bp, fa, bp_w_fa, sal). In mode `sal`, before every SGD epoch, a spiking SALNet phase
 * (src/spiking/salnet.ts) symmetrises the three FC layers' feedback: their W (and biases) are copied into a layered
 * spiking net [flat, 384, 192, 10] of stochastic units whose feedback projections hold the current B; the net runs
 * `salSteps` steps (`salBatch` independent chains) while the SAL traces of the spike pairs with |Δt| < salSpan (the
 * reference's 20-step spike buffer) accumulate, B += salLr · mean_batch(ΔB) /
 * salNorm, `salRepeats` times, and B is copied back. The conv layers keep fixed random feedback (FA).
 * Per epoch and FC layer: angle(W, B), var(W − B), corrcoef(W, B), sign agreement; test accuracy.
 */
import type { RunContext } from './runner.js';
import type { FArray } from '../spiking/units.js';
import { SalNet, SALNET_ENGINES, type SalNetEngine } from '../spiking/salnet.js';
import { SymmNet, FEEDBACK_MODES, SYMMNET_MNIST, type FeedbackMode } from '../baselines/symmnet.js';
import { alloc, jsGemm, type Arr } from '../baselines/layers.js';
import { nativeGemm } from '../baselines/native-gemm.js';
import { crossEntropy, Sgd } from '../baselines/models.js';
import { alignmentStats, type AlignmentStats } from '../learn/alignment.js';
import { loadMnist } from '../data/mnist-files.js';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { lineChartSvg, paletteColor } from '../report/plot.js';

export interface SalSymmNetParams {
  kind: 'symmnet';
  /** directory with the MNIST IDX files; null: the embedded 10,000 digits (8,000 / 2,000) */
  data: string | null;
  modes: FeedbackMode[];
  epochs: number;
  batch: number;
  lr: number;
  momentum: number;
  /** training samples per epoch (the first n of each epoch's shuffle); null: all */
  trainSamples: number | null;
  /** test samples evaluated (the first n); null: all */
  testSamples: number | null;
  /** SAL phase: steps per run (len_epoch · τ_ref), runs per epoch, independent chains, rate, normaliser */
  salSteps: number;
  salRepeats: number;
  salBatch: number;
  salLr: number;
  salNorm: number;
  /**
   * gain of the copy: the spiking net gets s·W and s·B, and B/s comes back (1 = the reference). The SAL drift
   * toward W is the same at any s while the sampling noise of the traces, in units of W, falls as 1/s: a larger s
   * buys the same symmetry with fewer spiking steps, as long as the units do not saturate
   */
  salScale: number;
  /**
   * SAL pairs kept: |Δt| < salSpan steps — the reference's 20-step spike buffer (20). null: the whole exp window
   * (30 τ_ref) with the nLast remembered spikes, which also pairs spikes older than the buffer; those pairs bias SAL
   * away from B = Wᵀ (RESULTS §36)
   */
  salSpan: number | null;
  tauRef: number;
  nLast: number;
  salDrive: 'event' | 'dense';
  /** the SALNet engine (both give the same spikes and traces; wasm ~3x faster) */
  salEngine: SalNetEngine;
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

function fcStats(net: SymmNet): AlignmentStats[] {
  return net.fc.map((d) => {
    let Bm: ArrayLike<number> | null = d.feedback;
    if (!Bm) {
      // backprop: B = Wᵀ exactly
      const t = new Float64Array(d.nIn * d.nOut), W = d.W.value;
      for (let o = 0; o < d.nOut; o++) for (let j = 0; j < d.nIn; j++) t[j * d.nOut + o] = W[o * d.nIn + j];
      Bm = t;
    }
    return alignmentStats(d.W.value, Bm, d.nOut, d.nIn);
  });
}

/**
 * What one SAL phase did, per SALNet layer ℓ = 0..3 and FC layer: the mean firing rate (spikes per unit and step, all
 * chains; the ceiling is 1/τ_ref), the fraction of units nearly silent (< 1 % of the ceiling) or nearly saturated
 * (> 90 %), from the spike counters (the run's random streams are untouched); the FC layer's rms weight (SALNet
 * units), and how B moved: the cosine between the phase's step ΔB and the way to the target, s·Wᵀ − B, and the
 * step's length relative to that way (1 = all the way).
 */
function salPhaseDiagnostics(sal: SalNet, net: SymmNet, B0: Float64Array[], counts0: Float64Array[], steps: number, scale: number): Record<string, number> {
  const out: Record<string, number> = {};
  const ceiling = 1 / sal.pops[0].p.tauRef;
  sal.pops.forEach((q, l) => {
    const n = q.p.n, chains = q.p.batch, c = q.s.counts, c0 = counts0[l];
    let sum = 0, silent = 0, saturated = 0;
    for (let i = 0; i < n; i++) {
      let k = 0;
      for (let bb = 0; bb < chains; bb++) k += c[bb * n + i] - c0[bb * n + i];
      const r = k / (chains * Math.max(1, steps));
      sum += r;
      if (r < 0.01 * ceiling) silent++;
      if (r > 0.9 * ceiling) saturated++;
    }
    out[`l${l}_rate`] = sum / n;
    out[`l${l}_silent`] = silent / n;
    out[`l${l}_saturated`] = saturated / n;
  });
  net.fc.forEach((d, l) => {
    const W = d.W.value, B1 = sal.fb[l].W, B = B0[l], nIn = d.nIn, nOut = d.nOut;
    let dot = 0, dd = 0, tt = 0, ww = 0;
    for (let o = 0; o < nOut; o++)
      for (let j = 0; j < nIn; j++) {
        const q = j * nOut + o, w = scale * W[o * nIn + j], t = w - B[q], dlt = B1[q] - B[q];
        dot += dlt * t;
        dd += dlt * dlt;
        tt += t * t;
        ww += w * w;
      }
    out[`fc${l + 1}_w_rms`] = Math.sqrt(ww / (nIn * nOut));
    out[`fc${l + 1}_drift_cos`] = dd > 0 && tt > 0 ? dot / Math.sqrt(dd * tt) : NaN;
    out[`fc${l + 1}_step_ratio`] = tt > 0 ? Math.sqrt(dd / tt) : NaN;
  });
  return out;
}

function copyInto(dst: FArray | Arr, src: ArrayLike<number>, scale = 1): void {
  for (let i = 0; i < dst.length; i++) dst[i] = scale * src[i];
}

/** Load the three FC layers into the SALNet: s·W and biases forward, s·B (the layers' current feedback) down. */
export function loadSalNet(sal: SalNet, net: SymmNet, scale: number): void {
  for (let l = 0; l < 3; l++) {
    const d = net.fc[l];
    copyInto(sal.fw[l].W, d.W.value, scale);
    copyInto(sal.fb[l].W, d.feedback!, scale);
    copyInto(sal.bias[l + 1], d.b.value);
    sal.fw[l].changed();
    sal.fb[l].changed();
  }
}

export async function symmnetTask(ctx: RunContext, p: SalSymmNetParams) {
  for (const k of ['epochs', 'batch', 'salSteps', 'salRepeats', 'salBatch', 'tauRef', 'nLast'] as const)
    if (!Number.isInteger(p[k]) || p[k] < 1) throw new UserError(`sal-symmnet: ${k} must be a positive integer, got ${JSON.stringify(p[k])}`);
  for (const k of ['lr', 'salNorm', 'salScale'] as const) if (!(typeof p[k] === 'number' && p[k] > 0 && Number.isFinite(p[k]))) throw new UserError(`sal-symmnet: ${k} must be a positive number, got ${JSON.stringify(p[k])}`);
  for (const k of ['momentum', 'salLr'] as const) if (!(typeof p[k] === 'number' && p[k] >= 0 && Number.isFinite(p[k]))) throw new UserError(`sal-symmnet: ${k} must be a non-negative number, got ${JSON.stringify(p[k])}`);
  if (p.salSpan !== null && !(Number.isInteger(p.salSpan) && p.salSpan >= 1)) throw new UserError(`sal-symmnet: salSpan must be a positive integer (steps) or null, got ${JSON.stringify(p.salSpan)}`);
  for (const k of ['trainSamples', 'testSamples'] as const)
    if (p[k] !== null && !(Number.isInteger(p[k]) && (p[k] as number) > 0)) throw new UserError(`sal-symmnet: ${k} must be a positive integer or null, got ${JSON.stringify(p[k])}`);
  if (!Array.isArray(p.modes) || p.modes.length === 0 || !p.modes.every((m) => FEEDBACK_MODES.includes(m)))
    throw new UserError(`sal-symmnet: modes must be a non-empty list of ${FEEDBACK_MODES.join(', ')}, got ${JSON.stringify(p.modes)}`);
  if (p.salDrive !== 'event' && p.salDrive !== 'dense') throw new UserError(`sal-symmnet: salDrive must be 'event' or 'dense', got ${JSON.stringify(p.salDrive)}`);
  if (!SALNET_ENGINES.includes(p.salEngine)) throw new UserError(`sal-symmnet: salEngine must be one of ${SALNET_ENGINES.join(', ')}, got ${JSON.stringify(p.salEngine)}`);
  const data = loadMnist(p.data);
  const nTrain = Math.min(p.trainSamples ?? data.train.n, data.train.n), nTest = Math.min(p.testSamples ?? data.test.n, data.test.n);
  const gemm = nativeGemm(ctx.backend) ?? jsGemm;
  const dtype = 'float32';
  const B = p.batch, C = 10, D = 784;
  const xb = alloc(dtype, B * D), yb = new Uint8Array(B), dLogits = alloc(dtype, B * C);
  const order = new Int32Array(data.train.n);
  const final: Record<string, number> = {};
  const curves: Record<string, { acc: number[]; angle: number[][] }> = {};
  let steps = 0;
  const batchesPerEpoch = Math.ceil(nTrain / B);
  const prog = ctx.progress(p.modes.length * p.epochs * batchesPerEpoch, 'sal-symmnet', 'batches', 1);
  let done = 0;
  const t0 = performance.now();
  for (const mode of p.modes) {
    if (ctx.stopRequested()) break;
    const net = new SymmNet({ ...SYMMNET_MNIST, maxB: B, dtype }, mode, new Rng(ctx.seed), gemm);
    const opt = new Sgd(net.params(), p.lr, p.momentum);
    const sal = mode === 'sal' ? new SalNet({ sizes: [net.flat, ...SYMMNET_MNIST.fc], batch: p.salBatch, tauRef: p.tauRef, nLast: p.nLast, span: p.salSpan ?? undefined, mode: p.salDrive, engine: p.salEngine, seed: ctx.seed + 1 }) : null;
    const counts0 = sal ? sal.pops.map((q) => new Float64Array(q.s.counts.length)) : [];
    const cv: { acc: number[]; angle: number[][] } = (curves[mode] = { acc: [], angle: [[], [], []] });
    const evaluate = (): { acc: number; loss: number } => {
      net.train(false);
      let correct = 0, loss = 0;
      for (let s0 = 0; s0 < nTest; s0 += B) {
        const n = Math.min(B, nTest - s0);
        xb.set(data.test.x.subarray(s0 * D, (s0 + n) * D));
        const r = crossEntropy(net.forward(xb, n), data.test.y, s0, n, C, null);
        correct += r.correct;
        loss += r.loss * n;
      }
      net.train(true);
      return { acc: correct / nTest, loss: loss / nTest };
    };
    const record = (epoch: number, extra: Record<string, number>) => {
      const st = fcStats(net), ev = evaluate();
      cv.acc.push(ev.acc);
      st.forEach((s, l) => cv.angle[l].push(s.angle));
      ctx.metrics.append({
        kind: 'eval', mode, epoch, split: 'test', acc: ev.acc, loss: ev.loss, ...extra,
        ...Object.fromEntries(st.flatMap((s, l) => [[`fc${l + 1}_angle`, s.angle], [`fc${l + 1}_var_diff`, s.varDiff], [`fc${l + 1}_corr`, s.corr], [`fc${l + 1}_sign_agree`, s.signAgree], [`fc${l + 1}_norm_ratio`, s.normRatio]])),
      });
      return { st, ev };
    };
    record(0, {});
    const rng = new Rng(ctx.seed * 1000 + 17);
    let last = { st: fcStats(net), ev: { acc: NaN, loss: NaN } }, salS = 0, trainS = 0;
    for (let ep = 1; ep <= p.epochs && !ctx.stopRequested(); ep++) {
      let tSal = 0;
      if (sal) {
        const t1 = performance.now();
        loadSalNet(sal, net, p.salScale);
        const B0 = sal.fb.map((f) => Float64Array.from(f.W));
        for (let l = 0; l < sal.sizes.length; l++) counts0[l].set(sal.pops[l].s.counts);
        let ran = 0;
        for (let k = 0; k < p.salRepeats && !ctx.stopRequested(); k++) {
          sal.run(p.salSteps);
          ran += p.salSteps;
          // B += salLr · mean_batch(ΔB) / salNorm (applySal divides by steps / τ_ref)
          sal.applySal((p.salLr * (p.salSteps / p.tauRef)) / p.salNorm, p.salSteps);
          await ctx.breathe();
        }
        for (let l = 0; l < 3; l++) copyInto(net.fc[l].feedback!, sal.fb[l].W, 1 / p.salScale);
        tSal = (performance.now() - t1) / 1000;
        salS += tSal;
        // the symmetry right after the phase (the eval record after the SGD epoch sees W moved on)
        const st = fcStats(net), diag = salPhaseDiagnostics(sal, net, B0, counts0, ran, p.salScale);
        ctx.metrics.append({ kind: 'sal', mode, epoch: ep, sal_s: tSal, ...Object.fromEntries(st.flatMap((q, l) => [[`fc${l + 1}_angle`, q.angle], [`fc${l + 1}_corr`, q.corr], [`fc${l + 1}_norm_ratio`, q.normRatio]])), ...diag });
        ctx.log(`${mode} epoch ${ep}: after the SAL phase FC angles ${st.map((q) => q.angle.toFixed(1)).join(' / ')} deg, rates ${sal.pops.map((_, l) => diag[`l${l}_rate`].toFixed(3)).join(' / ')}, drift cos ${[1, 2, 3].map((l) => diag[`fc${l}_drift_cos`].toFixed(2)).join(' / ')} (${tSal.toFixed(0)} s)`);
      }
      const t2 = performance.now();
      for (let i = 0; i < order.length; i++) order[i] = i;
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      let lossSum = 0, correct = 0, seen = 0;
      for (let s0 = 0; s0 < nTrain && !ctx.stopRequested(); s0 += B) {
        const n = Math.min(B, nTrain - s0);
        for (let i = 0; i < n; i++) {
          const k = order[s0 + i];
          xb.set(data.train.x.subarray(k * D, (k + 1) * D), i * D);
          yb[i] = data.train.y[k];
        }
        const r = crossEntropy(net.forward(xb, n), yb, 0, n, C, dLogits);
        if (!Number.isFinite(r.loss)) throw new UserError(`sal-symmnet (${mode}): training diverged in epoch ${ep} (loss ${r.loss}); try a smaller lr`);
        net.backward(dLogits, n);
        opt.step();
        lossSum += r.loss * n;
        correct += r.correct;
        seen += n;
        steps++;
        prog.update(++done);
        await ctx.breathe();
      }
      if (ctx.stopRequested()) break; // a partial epoch is not recorded
      const tTrain = (performance.now() - t2) / 1000;
      trainS += tTrain;
      last = record(ep, { train_loss: lossSum / seen, train_acc: correct / seen, train_s: tTrain, sal_s: tSal, wall_s: (performance.now() - t0) / 1000 });
      ctx.log(`${mode} epoch ${ep}: test acc ${(100 * last.ev.acc).toFixed(2)} %, FC angles ${last.st.map((s) => s.angle.toFixed(1)).join(' / ')} deg (train ${tTrain.toFixed(0)} s${sal ? `, SAL phase ${tSal.toFixed(0)} s` : ''})`);
    }
    final[`acc_${mode}`] = r4(cv.acc[cv.acc.length - 1]);
    last.st.forEach((s, l) => {
      final[`fc${l + 1}_angle_${mode}`] = r4(s.angle);
      final[`fc${l + 1}_corr_${mode}`] = r4(s.corr);
      final[`fc${l + 1}_sign_agree_${mode}`] = r4(s.signAgree);
      final[`fc${l + 1}_norm_ratio_${mode}`] = r4(s.normRatio);
    });
    final[`train_s_${mode}`] = Math.round(trainS);
    if (sal) final[`sal_s_${mode}`] = Math.round(salS);
  }
  prog.stop();
  const modes = Object.keys(curves);
  const xs = (n: number) => Array.from({ length: n }, (_, i) => i);
  if (modes.length && curves[modes[0]].acc.length > 1) {
    ctx.figure('accuracy', await lineChartSvg({ title: 'SymmNet on MNIST: test accuracy per epoch', xLabel: 'epoch', yLabel: 'accuracy', xInteger: true, series: modes.map((m, k) => ({ name: m, x: xs(curves[m].acc.length), y: curves[m].acc, color: paletteColor(k) })) }));
    ctx.figure(
      'fc-angles',
      await lineChartSvg({
        title: 'angle(W, B) of the FC layers (solid fc1, dashed fc2, dotted fc3)',
        xLabel: 'epoch',
        yLabel: 'angle (degrees)',
        xInteger: true,
        series: modes.flatMap((m, k) => curves[m].angle.map((a, l) => ({ name: `${m} fc${l + 1}`, x: xs(a.length), y: a, color: paletteColor(k), dash: l === 0 ? false : l === 1 ? true : [2, 3] }))),
      }),
    );
  }
  return { final, steps, extra: { data: data.source, train_samples: nTrain, test_samples: nTest, gemm: gemm === jsGemm ? 'js' : 'native (OpenBLAS)', steps_are: 'SGD steps (all modes)' } };
}
