/**
 * Allocation per LE step in a fresh process (test/le-alloc.test.ts): node --import tsx test/helpers/le-alloc-case.ts
 * BACKEND prints {"real": bytes/step, "ctl": bytes/step of a control that allocates one small typed array per step}:
 * median heap growth over chunks, on a conv + max-pool + dense LE net with feedback alignment off and on.
 */
import { JsBackend } from '../../src/kernels/js/index.js';
import type { Backend } from '../../src/kernels/types.js';
import { loadWasmBackend } from '../../src/kernels/wasm/index.js';
import { LENetwork } from '../../src/model/le-network.js';

const which = process.argv[2] as 'js' | 'wasm' | 'native';
const k: Backend =
  which === 'js' ? new JsBackend('float32') : which === 'wasm' ? await loadWasmBackend('float32') : await (await import('../../src/kernels/native/index.js')).loadNativeBackend('float32', { onNotice: () => {} });
const conv = new LENetwork(k, { model: 'le', input_shape: [1, 8, 8], dt: 0.1, tau: 2, seed: 1, layers: [{ type: 'conv2d', channels: 2, kernel: 3, phi: 'sigmoid' }, { type: 'maxpool', kernel: 2 }, { type: 'dense', size: 3 }] }, 4);
const fa = new LENetwork(k, { model: 'le', input_shape: [64], dt: 0.1, tau: 2, tau_m: 3, seed: 1, feedback_alignment: true, layers: [{ type: 'dense', size: 5, phi: 'hard_sigmoid' }, { type: 'dense', size: 3 }] }, 4);
const x = new Float64Array(4 * 64).map((_, i) => (i % 7) / 7), y = new Float64Array(12).map((_, i) => (i % 3 === 0 ? 1 : 0));
let sink: Float32Array | null = null;
// one net per measurement (as a run has one network)
const realConv = (_i: number) => conv.step(x, y);
const realFa = (i: number) => fa.step(x, i % 2 ? y : null);
const ctl = (i: number) => {
  realConv(i);
  sink = new Float32Array(8);
};
function median(step: (i: number) => void): number {
  for (let i = 0; i < 3000; i++) step(i);
  const per: number[] = [];
  // short chunks after a full collection, so that a chunk rarely contains a scavenge (the median drops those)
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let c = 0; c < 15; c++) {
    gc?.();
    const b = process.memoryUsage().heapUsed;
    for (let i = 0; i < 300; i++) step(i);
    per.push((process.memoryUsage().heapUsed - b) / 300);
  }
  return per.sort((a, b) => a - b)[7];
}
const r = Math.max(median(realConv), median(realFa)), c = median(ctl);
void sink;
process.stdout.write(JSON.stringify({ real: r, ctl: c }) + '\n');
