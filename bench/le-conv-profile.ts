/**
 * Where one LE conv stage step spends its time: `node --import tsx bench/le-conv-profile.ts [--backend native]
 * [--reps 5] [--net cifar|mnist] [--batch 128]`. Runs the pieces of ConvProjection.forward / backward / grads of each conv
 * stage of the LE LeNet separately (the same kernels and buffers the projection uses) and prints the process CPU time
 * per call of each (user + system, so the number holds up better on a loaded machine than wall time), and its share.
 */
import { createNodeBackend } from '../src/node.js';
import type { Backend, FBuf } from '../src/kernels/types.js';
import { getKernel } from '../src/kernels/registry.js';
import type { BiasGradArgs, Im2colArgs, PermuteArgs } from '../src/kernels/generic.js';
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
  const ws = p.workspace(k, B) as unknown as {
    cols: FBuf; dcols: FBuf; out: FBuf; errT: FBuf; im: Im2colArgs; ci: Im2colArgs; toBatch: PermuteArgs; toFeature: PermuteArgs; biasGrad: BiasGradArgs;
  };
  const rIn = k.alloc(B * st.nIn), drive = k.alloc(B * st.n), err = k.alloc(B * st.n), down = k.alloc(B * st.nIn);
  fill(rIn);
  fill(err);
  const NP = B * p.P;
  const kern = {
    im2col: getKernel<Im2colArgs>(k, 'im2col'),
    col2im: getKernel<Im2colArgs>(k, 'col2im'),
    permute: getKernel<PermuteArgs>(k, 'permute.fbp'),
    biasGrad: getKernel<BiasGradArgs>(k, 'bias.grad'),
  };
  ws.im.x = rIn;
  ws.toBatch.dst = drive;
  ws.toFeature.src = err;
  ws.ci.x = down;
  ws.biasGrad.y = err;
  const parts: [string, () => void][] = [
    ['im2col', () => kern.im2col(k, ws.im)],
    ['gemm forward', () => k.gemm(false, false, p.F, NP, p.CKK, 1, p.W, ws.cols, 0, ws.out)],
    ['permute to batch-major + bias', () => kern.permute(k, ws.toBatch)],
    ['permute err to feature-major', () => kern.permute(k, ws.toFeature)],
    ['gemm error down', () => k.gemm(true, false, p.CKK, NP, p.F, 1, p.W, ws.errT, 0, ws.dcols)],
    ['col2im', () => kern.col2im(k, ws.ci)],
    ['gemm weight gradient', () => k.gemm(false, true, p.F, p.CKK, NP, -1 / B, ws.errT, ws.cols, 0, p.gW)],
    ['bias.grad', () => kern.biasGrad(k, ws.biasGrad)],
    ['whole forward+backward+grads', () => {
      p.forward(k, ws as never, rIn, drive);
      p.backward(k, ws as never, err, down);
      p.grads(k, ws as never, err, rIn);
    }],
  ];
  const g = p.g;
  process.stdout.write(`stage ${st.spec.name ?? ''} ${g.C}→${p.F} k${g.kh} on ${g.H}×${g.W} (P = ${p.P}, C·k² = ${p.CKK}):\n`);
  let sum = 0;
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
    if (!name.startsWith('whole')) sum += med;
  }
  for (const [name, med] of rows) process.stdout.write(`  ${name.padEnd(32)} ${med.toFixed(2).padStart(9)} ms ${name.startsWith('whole') ? '' : `${((100 * med) / sum).toFixed(0).padStart(4)} %`}\n`);
}
