/**
 * Where one LE conv stage step spends its time: `node --import tsx bench/le-conv-profile.ts [--backend native]
 * [--reps 5] [--net cifar|mnist] [--batch 128]`. Times ConvProjection.forward / backward / grads of each conv stage of
 * the LE LeNet (the kernels conv.forward / conv.backward / conv.grads), the same products as one big matrix product
 * each, and the whole-batch im2col / col2im / layout changes that the stage needed before, and prints the process CPU
 * time per call (user + system, so the number holds up better on a loaded machine than wall time).
 */
import { createNodeBackend } from '../src/node.js';
import type { Backend, FBuf } from '../src/kernels/types.js';
import { getKernel } from '../src/kernels/registry.js';
import type { Im2colArgs, PermuteArgs } from '../src/kernels/generic.js';
import { LENetwork } from '../src/model/le-network.js';
import { leRunSpec, LE_CIFAR10_LENET, LE_MNIST_LENET } from '../src/experiments/le.js';
import type { ConvProjection } from '../src/model/layers/conv.js';
import { Rng } from '../src/util/rng.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const k: Backend = await createNodeBackend((arg('backend') ?? 'native') as 'native', 'float32');
const reps = Number(arg('reps') ?? 5);
const which = arg('net') ?? 'cifar';
const B = Number(arg('batch') ?? 128);
const net = new LENetwork(k, leRunSpec(which === 'mnist' ? LE_MNIST_LENET : LE_CIFAR10_LENET, 1), 1);
const rng = new Rng(5);
const fill = (b: FBuf) => {
  for (let i = 0; i < b.n; i++) b.a[i] = rng.uniform();
};
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3; // ms
};

process.stdout.write(`LE conv stage profile — ${which} LeNet, B = ${B}, backend ${k.name}, CPU ms per call (median of ${reps})\n`);
for (const st of net.stages) {
  if (st.kind !== 'neurons' || st.spec.type !== 'conv2d') continue;
  const p = st.proj as unknown as ConvProjection;
  const ws = p.workspace(k, B);
  const NP = B * p.P;
  const rIn = k.alloc(B * st.nIn), drive = k.alloc(B * st.n), err = k.alloc(B * st.n), down = k.alloc(B * st.nIn);
  // the whole batch's patches as one matrix and the layout change: the pieces the conv stage used before issue 14's
  // speed work, timed for comparison
  const cols = k.alloc(p.CKK * NP), dcols = k.alloc(p.CKK * NP), out = k.alloc(p.F * NP), errT = k.alloc(p.F * NP);
  fill(rIn);
  fill(err);
  const im: Im2colArgs = { g: p.g, B, x: rIn, cols }, ci: Im2colArgs = { g: p.g, B, x: down, cols: dcols };
  const toB: PermuteArgs = { B, F: p.F, P: p.P, toBatch: true, src: out, dst: drive, bias: p.b };
  const toF: PermuteArgs = { B, F: p.F, P: p.P, toBatch: false, src: err, dst: errT, bias: null };
  const kern = {
    im2col: getKernel<Im2colArgs>(k, 'im2col'),
    col2im: getKernel<Im2colArgs>(k, 'col2im'),
    permute: getKernel<PermuteArgs>(k, 'permute.fbp'),
  };
  const parts: [string, () => void][] = [
    ['conv.forward (as the stage runs)', () => p.forward(k, ws, rIn, drive)],
    ['conv.backward', () => p.backward(k, ws, err, down)],
    ['conv.grads', () => p.grads(k, ws, err, rIn)],
    ['  one big product: forward', () => k.gemm(false, false, p.F, NP, p.CKK, 1, p.W, cols, 0, out)],
    ['  one big product: error down', () => k.gemm(true, false, p.CKK, NP, p.F, 1, p.W, errT, 0, dcols)],
    ['  one big product: weight gradient', () => k.gemm(false, true, p.F, p.CKK, NP, -1 / B, errT, cols, 0, p.gW)],
    ['  im2col (whole batch)', () => kern.im2col(k, im)],
    ['  col2im (whole batch)', () => kern.col2im(k, ci)],
    ['  permute to batch-major + bias', () => kern.permute(k, toB)],
    ['  permute err to feature-major', () => kern.permute(k, toF)],
  ];
  const g = p.g;
  process.stdout.write(`stage ${st.spec.name ?? ''} ${g.C}→${p.F} k${g.kh} on ${g.H}×${g.W} (P = ${p.P}, C·k² = ${p.CKK}):\n`);
  const rows: [string, number][] = [];
  for (const [name, f] of parts) {
    f(); // warm-up
    const t: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = cpu();
      f();
      t.push(cpu() - t0);
    }
    t.sort((a, b) => a - b);
    const med = t[t.length >> 1];
    rows.push([name, med]);
  }
  for (const [name, med] of rows) process.stdout.write(`  ${name.padEnd(36)} ${med.toFixed(2).padStart(9)} ms\n`);
  const conv = rows[0][1] + rows[1][1] + rows[2][1], gemm = rows[3][1] + rows[4][1] + rows[5][1];
  process.stdout.write(`  the stage's three kernels: ${conv.toFixed(2)} ms; the three big products alone: ${gemm.toFixed(2)} ms (${((100 * gemm) / conv).toFixed(0)} %)\n`);
}
