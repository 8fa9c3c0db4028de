/**
 * MNIST-1D online learning settings explored in Node (docs/RESULTS.md §23): a plain copy of the classify loop (one
 * Adam step per dt with the label as target, logits summed per sample, state carried between batches) with knobs:
 *   B=100 lr=1e-3 N=16000 (training samples) seed=0 net=lab|15k
 *   sched=const|cos|lin|exp|inv|isq|cyc (lr over the N samples; cos = cosine to floor= (default 0) at H= samples
 *   (default N), then floor; inv/isq: s0=…; cyc: H=… pk=…)
 *   stride=1 (feed every k-th of the 360 points), win=1 (fraction of each sample's last steps with a target and
 *   learning), rwin=1 (fraction summed for the readout), opt=adam|sgd b1= b2= mom=, bal=1 (class-balanced batches),
 *   nob=1 (no output bias), ema=0.97 (evaluate an exponential average of the weights, per batch), avg=0.9999 (the
 *   spec's `average`: the Learner's average per optimiser step, evaluated through `withAveraged`)
 *   evalEvery=4000 or at=4000,8000,16000 ntest=500 (test samples per evaluation; evaluations carry the state on into
 *   training). Prints the process's CPU time with each evaluation.
 * Usage: node --import tsx bench/lab-mnist-explore.ts sched=cos N=16000 ntest=1000
 */
import { join } from 'node:path';
import { createBackend } from '../src/kernels/index.js';
import { loadMnist1d } from '../src/data/mnist1d-files.js';
import { DEFAULT_MNIST_SPEC } from '../lab/src/sim/mnist.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { Rng } from '../src/util/rng.js';
import { findExperiment } from '../src/experiments/registry.js';
import type { NetworkSpecInput } from '../src/model/spec.js';

const a: Record<string, string> = Object.fromEntries(process.argv.slice(2).map((s) => s.split('=') as [string, string]));
const B = +(a.B ?? 100), lr = +(a.lr ?? 1e-3), N = +(a.N ?? 16000), stride = +(a.stride ?? 1), win = +(a.win ?? 1), rwin = +(a.rwin ?? 1);
const evalEvery = +(a.evalEvery ?? 4000), nTestMax = +(a.ntest ?? 500), sched = a.sched ?? 'const', warm = +(a.warm ?? 0);
const s0 = +(a.s0 ?? 4000);
const net = a.net ?? 'lab', dt = +(a.dt ?? 0.2), seed = +(a.seed ?? 0);
const be = await createBackend({ backend: 'wasm', dtype: 'float32', onNotice: () => undefined });
const d = loadMnist1d({ dir: join(process.cwd(), 'data', 'mnist1d'), length: 360 });
let base: NetworkSpecInput = net === '15k' ? (findExperiment('mnist1d-15k')!.params as { network: NetworkSpecInput }).network : DEFAULT_MNIST_SPEC;
if (a.nob === '1') base = { ...base, layers: base.layers.map((l, i, A) => (i === A.length - 1 ? { ...l, bias: false } : l)) } as NetworkSpecInput;
const spec: NetworkSpecInput = { ...base, dt, seed, dtype: 'float32', scheduler: null, average: a.avg ? { decay: +a.avg } : null, optimizer: (a.opt === 'sgd' ? { type: 'sgd' as const, lr, momentum: +(a.mom ?? 0.9) } : { type: 'adam' as const, lr, betas: [+(a.b1 ?? 0.9), +(a.b2 ?? 0.999)] as [number, number] }) as never };
const g = new GLENetwork(spec, be, { batchSize: B });
const L = new Learner(g);
const steps = Math.floor(360 / stride);
const t0w = Math.floor(steps * (1 - win)), t0r = Math.floor(steps * (1 - rwin));
const x = new Float32Array(B * 1);
const labels = new Int32Array(B);
const sums = new Float64Array(B * 10);
const rng = new Rng(seed);
const order = Int32Array.from({ length: d.nTrain }, (_, i) => i);
let cur = d.nTrain;
function shuffle() { for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rng.uniform() * (i + 1)); const t = order[i]; order[i] = order[j]; order[j] = t; } cur = 0;
  if (a.bal === '1') { const byC: number[][] = Array.from({ length: 10 }, () => []); for (const i of order) byC[d.yTrain[i]].push(i); let k = 0; const ptr = new Array(10).fill(0);
    while (k < order.length) { for (let c = 0; c < 10; c++) { if (ptr[c] < byC[c].length) order[k++] = byC[c][ptr[c]++]; } } } }
function runBatch(xs: Float32Array, idx: Int32Array, ys: Uint8Array, learn: boolean, frac: number): number {
  const Bn = idx.length;
  g.setBatchSize(Bn);
  for (let i = 0; i < Bn; i++) labels[i] = ys[idx[i]];
  sums.fill(0);
  const lab = labels.subarray(0, Bn);
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < Bn; i++) x[i] = xs[idx[i] * 360 + t * stride];
    const xin = x.subarray(0, Bn);
    let y;
    if (learn && t >= t0w) { L.lr = lrAt(frac); y = L.trainStep(xin, lab).a; }
    else { g.training = false; y = g.step(xin, null).a; }
    if (t >= t0r) for (let i = 0; i < Bn * 10; i++) sums[i] += y[i];
  }
  let c = 0;
  for (let i = 0; i < Bn; i++) { let b = 0; for (let j = 1; j < 10; j++) if (sums[i * 10 + j] > sums[i * 10 + b]) b = j; if (b === labels[i]) c++; }
  return c;
}
function lrAt(frac: number): number {
  let f = 1;
  if (sched === 'cos') { const fl = +(a.floor ?? 0) / lr; f = fl + (1 - fl) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, (frac * N) / +(a.H ?? N)))); }
  if (sched === 'lin') f = 1 - 0.9 * Math.min(1, frac);
  if (sched === 'exp') f = Math.pow(0.1, Math.min(1, frac));
  if (sched === 'cyc') { const s = frac * N, H = +(a.H ?? 16000), pk = +(a.pk ?? 0.25); f = s < H ? 0.5 * (1 + Math.cos(Math.PI * s / H)) : pk * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, (s - H) / (2 * H)))); }
  if (sched === 'inv') f = 1 / (1 + frac * N / s0);
  if (sched === 'isq') f = 1 / Math.sqrt(1 + frac * N / s0);
  if (warm > 0 && frac < warm) f *= frac / warm;
  return lr * f;
}
const ema = +(a.ema ?? 0);
const T = g.allTensors();
const E = T.map((t) => Float64Array.from(t.buf.a));
const S = T.map((t) => new Float64Array(t.buf.a.length));
function emaUpdate() { if (!ema) return; for (let k = 0; k < T.length; k++) { const w = T[k].buf.a, e = E[k]; for (let i = 0; i < e.length; i++) e[i] = ema * e[i] + (1 - ema) * w[i]; } }
function evalTest(): number {
  if (ema) for (let k = 0; k < T.length; k++) { S[k].set(T[k].buf.a); T[k].buf.a.set(E[k]); }
  const r = L.withAveraged(evalTest0);
  if (ema) for (let k = 0; k < T.length; k++) T[k].buf.a.set(S[k]);
  return r;
}
function evalTest0(): number {
  let c = 0;
  for (let s = 0; s < nTestMax; s += 100) { const idx = Int32Array.from({ length: Math.min(100, nTestMax - s) }, (_, i) => s + i); c += runBatch(d.xTest, idx, d.yTest, false, 0); }
  return c / nTestMax;
}
const at = a.at ? a.at.split(',').map(Number) : null;
const due = (s: number) => (at ? at.includes(s) : s - lastEval >= evalEvery || s >= N);
let seen = 0, corr = 0, lastEval = 0;
const t0 = performance.now();
let trainMs = 0;
const out: string[] = [];
while (seen < N) {
  if (cur + B > d.nTrain) shuffle();
  const idx = order.subarray(cur, cur + B); cur += B;
  const ts = performance.now();
  corr += runBatch(d.xTrain, idx, d.yTrain, true, seen / N);
  trainMs += performance.now() - ts;
  seen += B;
  emaUpdate();
  if (due(seen)) { lastEval = seen; const acc = evalTest(); const cpu = process.cpuUsage(); out.push(`${seen}:${(100 * acc).toFixed(1)}`); console.log(`  ${seen} test ${(100 * acc).toFixed(1)} % train-in-stream ${(100 * corr / seen).toFixed(1)} % train ${(trainMs / 1000).toFixed(0)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s`); }
}
console.log(`RESULT ${process.argv.slice(2).join(' ')} | ${out.join(' ')} | train ${(trainMs / 1000).toFixed(0)} s total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
