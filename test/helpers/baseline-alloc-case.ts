/**
 * One allocation measurement in a fresh process (used by test/baselines-alloc.test.ts): node --import tsx
 * test/helpers/baseline-alloc-case.ts BACKEND KIND prints {"real": bytes/step, "ctl": bytes/step of an allocating
 * control}. The step is the backprop task's own (createTrainStep: batch copy, forward, cross-entropy, backward,
 * Adam) on an MNIST-1D-shaped random set; the method is test/alloc.test.ts's (test/helpers/heap.ts).
 */
import { JsBackend } from '../../src/kernels/js/index.js';
import type { Backend } from '../../src/kernels/types.js';
import { createNodeBackend } from '../../src/node.js';
import { Adam, createBaseline, type BaselineKind } from '../../src/baselines/models.js';
import { nativeGemm } from '../../src/baselines/native-gemm.js';
import { createTrainStep } from '../../src/baselines/task.js';
import { Rng } from '../../src/util/rng.js';
import { printAllocCase } from './heap.js';

const [backend, kind] = process.argv.slice(2) as ['js' | 'native', BaselineKind];
const k: Backend = backend === 'js' ? new JsBackend('float32') : await createNodeBackend(backend, 'float32', () => {});
const gemm = nativeGemm(k, 'float32');
if (backend === 'native' && !gemm) throw new Error('the native backend gave no sgemm');
const L = kind === 'gru' ? 10 : 40, C = 10, B = 8, N = 200; // the GRU's cost grows with L (a loop per point)
const rng = new Rng(3);
const x = new Float32Array(N * L).map(() => rng.normal());
const y = Uint8Array.from({ length: N }, (_, i) => i % C);
const model = createBaseline(kind, { L, nClasses: C, hidden: kind === 'gru' ? 6 : 16, channels: 4, maxB: B, dtype: 'float32', gemm }, rng);
const opt = new Adam(model.params(), 1e-3);
const step = createTrainStep(model, opt, x, y, N - 7, L, B, 'float32'); // N − 7: batches wrap around the set's end
// the hits go to a typed array: a number kept in a closure variable would be boxed (16 bytes) at every store
const hits = new Float64Array(1);
printAllocCase((i) => {
  hits[0] += step(i).correct;
}, 1500, 1000, 9);
if (!(hits[0] > 0)) throw new Error('no step scored a hit');
