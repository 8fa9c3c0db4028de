/**
 * MNIST-1D backprop-baseline cases for `npm run bench`: one training step (forward, cross-entropy, backward, Adam) of
 * the experiment `mnist1d-baseline` at batch 100 on 40-point inputs. On the native backend the dense and conv layers
 * use its sgemm (src/baselines/native-gemm.ts), elsewhere the layers' plain loops, as the experiment does.
 *   mnist1d-tcn25    ConvBase, 25 channels (the stock TCN)
 *   mnist1d-tcn64    ConvBase, 64 channels (the wider setting of the super search)
 *   mnist1d-mlp      the stock MLP 40-100-100-10 with its residual
 */
import type { Backend } from '../src/kernels/types.js';
import { Adam, createBaseline, crossEntropy, type BaselineKind } from '../src/baselines/models.js';
import { nativeGemm } from '../src/baselines/native-gemm.js';
import { Rng } from '../src/util/rng.js';

const B = 100, L = 40;

function baselineCase(kind: BaselineKind, channels: number) {
  return (k: Backend) => {
    const model = createBaseline(kind, { L, nClasses: 10, hidden: 100, channels, maxB: B, dtype: 'float32', gemm: nativeGemm(k) }, new Rng(1));
    const opt = new Adam(model.params(), 1e-3);
    const rng = new Rng(2);
    const x = Float32Array.from({ length: B * L }, () => rng.normal());
    const y = Uint8Array.from({ length: B }, (_, i) => i % 10);
    const d = new Float32Array(B * 10);
    // matrix products only, 3 per layer (forward, weight gradient, input gradient; conv1 skips its input gradient)
    const l1 = Math.floor((L + 2 - 5) / 2) + 1, l2 = Math.floor((l1 + 2 - 3) / 2) + 1, l3 = Math.floor((l2 + 2 - 3) / 2) + 1;
    const flopsPerStep =
      kind === 'tcn'
        ? 2 * B * (2 * channels * 5 * l1 + 3 * channels * channels * 3 * (l2 + l3) + 3 * channels * l3 * 10)
        : 2 * B * 3 * (L * 100 + 100 * 100 + 100 * 10);
    return {
      step: () => {
        crossEntropy(model.forward(x, B), y, 0, B, 10, d);
        model.backward(d, B);
        opt.step();
      },
      flopsPerStep,
    };
  };
}

export function baselineCases() {
  return [
    { name: 'mnist1d-tcn25', make: baselineCase('tcn', 25), steps: { js: 50, wasm: 50, native: 400 } },
    { name: 'mnist1d-tcn64', make: baselineCase('tcn', 64), steps: { js: 20, wasm: 20, native: 200 } },
    { name: 'mnist1d-mlp', make: baselineCase('mlp', 25), steps: { js: 200, wasm: 200, native: 1000 } },
  ];
}
