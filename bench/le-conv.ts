/**
 * LE LeNet cases for `npm run bench` (issue 14): the conv stages of LeNet-5 at batch 128 as an LE step runs them, and
 * the bare matrix products of the same shapes, so the report can say what fraction of the sgemm rate the conv layers
 * reach (patches, bias, col2im and everything else included).
 *   lenet-conv-b128    both conv stages of the CIFAR-10 LeNet (3→20 k5 on 32×32, 20→50 k5 on 14×14), each as the
 *                      projection runs it (kernels conv.forward / conv.backward / conv.grads: per batch row, its
 *                      patches and a product in the maps' layout): forward (+ bias), error sent down (+ col2im),
 *                      weight and bias gradients
 *   lenet-sgemm-b128   only the three products per stage, each as ONE product over the whole batch (F × C·k² times
 *                      C·k² × B·P etc.), same multiply-adds, buffers of their own
 *   lenet-mnist-conv-b128 / lenet-mnist-sgemm-b128   the MNIST LeNet's (1→20 k5 on 28×28, 20→50 k5 on 12×12)
 *   le-lenet-cifar-b128   one whole LE time step of the CIFAR-10 LeNet (every stage, learning on)
 *   le-mlp-mnist-b512     one whole LE time step of the MNIST MLP 784-300-100-10 at the paper's batch 512
 *   le-lenet-mnist-b128   the same for the MNIST LeNet
 * flopsPerStep counts the matrix products only (2·M·N·K each), the same number for a conv case and its sgemm case.
 */
import type { Backend, FBuf } from '../src/kernels/types.js';
import { LENetwork } from '../src/model/le-network.js';
import { leRunSpec, LE_CIFAR10_LENET, LE_MNIST_LENET, LE_MNIST_MLP } from '../src/experiments/le.js';
import { Rng } from '../src/util/rng.js';

interface ConvStage {
  proj: {
    F: number;
    P: number;
    CKK: number;
    W: FBuf;
    forward(k: Backend, ws: unknown, rIn: FBuf, drive: FBuf): void;
    backward(k: Backend, ws: unknown, err: FBuf, errDown: FBuf): void;
    grads(k: Backend, ws: unknown, err: FBuf, rIn: FBuf): void;
    gW: FBuf;
    workspace(k: Backend, B: number): unknown;
  };
  nIn: number;
  n: number;
}

function lenet(k: Backend, which: 'cifar' | 'mnist', B: number): LENetwork {
  const p = which === 'cifar' ? LE_CIFAR10_LENET : LE_MNIST_LENET;
  return new LENetwork(k, leRunSpec(p, 1), B);
}

function convStages(net: LENetwork): ConvStage[] {
  return net.stages.filter((s) => s.kind === 'neurons' && s.spec.type === 'conv2d') as unknown as ConvStage[];
}

const fill = (b: FBuf, rng: Rng) => {
  for (let i = 0; i < b.n; i++) b.a[i] = rng.uniform();
};

function convCase(which: 'cifar' | 'mnist', B: number, gemmOnly: boolean) {
  return (k: Backend) => {
    const net = lenet(k, which, 1);
    const rng = new Rng(2);
    let flopsPerStep = 0;
    const parts = convStages(net).map((st) => {
      const p = st.proj, NP = B * p.P;
      const ws = gemmOnly ? null : p.workspace(k, B);
      // the big products' own matrices (sgemm case only)
      const m = gemmOnly ? { cols: k.alloc(p.CKK * NP), dcols: k.alloc(p.CKK * NP), out: k.alloc(p.F * NP), errT: k.alloc(p.F * NP) } : null;
      const rIn = k.alloc(B * st.nIn), drive = k.alloc(B * st.n), err = k.alloc(B * st.n), down = k.alloc(B * st.nIn);
      for (const b of m ? [m.cols, m.errT] : [rIn, err]) fill(b, rng);
      flopsPerStep += 3 * 2 * p.F * NP * p.CKK;
      return { p, ws, m: m!, rIn, drive, err, down, NP };
    });
    const step = gemmOnly
      ? () => {
          for (const { p, m, NP } of parts) {
            k.gemm(false, false, p.F, NP, p.CKK, 1, p.W, m.cols, 0, m.out);
            k.gemm(true, false, p.CKK, NP, p.F, 1, p.W, m.errT, 0, m.dcols);
            k.gemm(false, true, p.F, p.CKK, NP, -1 / B, m.errT, m.cols, 0, p.gW);
          }
        }
      : () => {
          for (const { p, ws, rIn, drive, err, down } of parts) {
            p.forward(k, ws, rIn, drive);
            p.backward(k, ws, err, down);
            p.grads(k, ws, err, rIn);
          }
        };
    return { step, flopsPerStep };
  };
}

function leStepCase(which: 'cifar' | 'mnist' | 'mlp', B: number) {
  return (k: Backend) => {
    const net = which === 'mlp' ? new LENetwork(k, leRunSpec(LE_MNIST_MLP, 1), B) : lenet(k, which, B);
    const rng = new Rng(3);
    const x = Float64Array.from({ length: B * net.nIn }, () => rng.uniform());
    const y = new Float64Array(B * 10);
    for (let b = 0; b < B; b++) y[b * 10 + (b % 10)] = 1;
    let flopsPerStep = 0;
    for (const s of net.stages) {
      if (s.kind !== 'neurons') continue;
      const c = s.proj as unknown as { F: number; CKK: number; P: number };
      flopsPerStep += 3 * 2 * B * (s.spec.type === 'conv2d' ? c.F * c.CKK * c.P : s.nIn * s.n);
    }
    return { step: () => net.step(x, y), flopsPerStep };
  };
}

export function leConvCases() {
  return [
    { name: 'lenet-conv-b128', make: convCase('cifar', 128, false), steps: { js: 2, wasm: 10, native: 40 } },
    { name: 'lenet-sgemm-b128', make: convCase('cifar', 128, true), steps: { js: 2, wasm: 10, native: 40 } },
    { name: 'lenet-mnist-conv-b128', make: convCase('mnist', 128, false), steps: { js: 2, wasm: 10, native: 40 } },
    { name: 'lenet-mnist-sgemm-b128', make: convCase('mnist', 128, true), steps: { js: 2, wasm: 10, native: 40 } },
    { name: 'le-lenet-cifar-b128', make: leStepCase('cifar', 128), steps: { js: 1, wasm: 5, native: 20 } },
    { name: 'le-lenet-mnist-b128', make: leStepCase('mnist', 128), steps: { js: 1, wasm: 5, native: 20 } },
    { name: 'le-mlp-mnist-b512', make: leStepCase('mlp', 512), steps: { js: 2, wasm: 10, native: 40 } },
  ];
}

/** Pairs (conv case, its sgemm case) the report turns into "conv at X % of the sgemm rate". */
export const CONV_PAIRS: [string, string][] = [
  ['lenet-conv-b128', 'lenet-sgemm-b128'],
  ['lenet-mnist-conv-b128', 'lenet-mnist-sgemm-b128'],
];
