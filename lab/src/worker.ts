/**
 * The simulation worker: runs the LagLine chain and the MNIST-1D stream with the project's core (../../src),
 * and posts decimated records to the page once per tick (~60 Hz) so that the main thread only draws.
 */
import { createBackend, JsBackend, parseNpy, parseSpec, type Backend, type DType } from 'gle/core';
import { CHAIN_NF, ChainSim } from './sim/chain.js';
import { DEFAULT_MNIST_SPEC, type Mnist1dArrays, MnistSim, loadTensors } from './sim/mnist.js';
import type { FromWorker, TensorMsg, ToWorker } from './protocol.js';

interface WorkerScope {
  postMessage(m: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
}
const ctx = self as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []): void => ctx.postMessage(m, transfer);

const backends = new Map<DType, Backend>();
let backendName = 'js';
async function backend(dtype: DType): Promise<Backend> {
  let b = backends.get(dtype);
  if (!b) {
    try {
      b = await createBackend({ backend: 'auto', dtype, onNotice: () => undefined });
    } catch {
      b = new JsBackend(dtype);
    }
    backends.set(dtype, b);
    if (dtype === 'float32') backendName = b.name;
  }
  return b;
}

// ---------------------------------------------------------------- chain
let chain: ChainSim | null = null;
let chainRunning = true;
let stepsPerFrame = 200;
let pendingSteps = 0;
const REC_EVERY_T = 0.05; // record one sample per 0.05 time units
let chainSteps = 0, chainT0 = performance.now(), chainRate = 0;

function runChain(): void {
  if (!chain) return;
  let n = (chainRunning ? stepsPerFrame : 0) + pendingSteps;
  pendingSteps = 0;
  if (n <= 0) return;
  const every = Math.max(1, Math.round(REC_EVERY_T / chain.p.dt));
  const recs = new Float64Array((Math.floor(n / every) + 2) * CHAIN_NF);
  let k = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if ((chain.steps + 1) % every === 0 || i === n - 1) {
      chain.step(recs, k * CHAIN_NF);
      k++;
    } else chain.step();
    if ((i & 1023) === 1023 && performance.now() - t0 > 40) break; // keep ticks short whatever the speed
  }
  chainSteps += n;
  const now = performance.now();
  if (now - chainT0 > 500) {
    chainRate = (chainSteps * 1000) / (now - chainT0);
    chainSteps = 0;
    chainT0 = now;
  }
  post({ type: 'chain:data', recs, n: k, steps: chain.steps, t: chain.t, loss: chain.lossEma, mode: chain.p.mode, stepsPerSec: chainRate, params: chain.p }, [recs.buffer]);
}

// ---------------------------------------------------------------- MNIST-1D
let data: { train: Mnist1dArrays; test: Mnist1dArrays } | null = null;
let mnist: MnistSim | null = null;
let mnistRunning = false;
let mnistPhase: 'train' | 'eval' = 'train';
let evalLimit = 1000;
let mnistSteps = 0, mnistT0 = performance.now(), mnistRate = 0;
let lastMnistPost = 0;

async function loadData(base: string): Promise<void> {
  const get = async (f: string) => {
    const r = await fetch(new URL(f, base));
    if (!r.ok) throw new Error(`could not load ${f}: HTTP ${r.status}`);
    return parseNpy(new Uint8Array(await r.arrayBuffer()), f);
  };
  const [xTr, yTr, xTe, yTe] = await Promise.all([
    get('mnist1d_360_x_train.npy'),
    get('mnist1d_y_train.npy'),
    get('mnist1d_360_x_test.npy'),
    get('mnist1d_y_test.npy'),
  ]);
  const arr = (x: typeof xTr, y: typeof yTr): Mnist1dArrays => ({
    x: x.data instanceof Float32Array ? x.data : Float32Array.from(x.data as ArrayLike<number>),
    y: y.data instanceof Uint8Array ? y.data : Uint8Array.from(y.data as ArrayLike<number>),
    n: y.shape[0],
    length: x.shape[1],
  });
  data = { train: arr(xTr, yTr), test: arr(xTe, yTe) };
}

async function buildMnist(specIn: unknown, tensors?: TensorMsg[]): Promise<void> {
  if (!data) throw new Error('MNIST-1D data not loaded yet');
  const spec = parseSpec(specIn);
  const b = await backend(spec.dtype);
  mnist = new MnistSim(b, spec, data.train, { batch: 8 });
  if (tensors) loadTensors(mnist.net, tensors);
  mnistPhase = 'train';
}

function startEval(limit: number): void {
  if (!mnist || !data) return;
  evalLimit = Math.max(1, Math.min(limit, data.test.n));
  const sub: Mnist1dArrays = { x: data.test.x, y: data.test.y.subarray(0, evalLimit), n: evalLimit, length: data.test.length };
  mnist.learning = false;
  mnist.setData(sub, false);
  mnistPhase = 'eval';
  mnistRunning = true;
  mnistSteps = 0;
  mnistT0 = performance.now();
}

function runMnist(now: number): void {
  if (!mnist || !mnistRunning) return;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 12) {
    for (let i = 0; i < 32; i++) {
      mnist.step();
      n++;
      if (mnistPhase === 'eval' && mnist.samples >= evalLimit) break;
    }
    if (mnistPhase === 'eval' && mnist.samples >= evalLimit) break;
  }
  mnistSteps += n;
  const evalDone = mnistPhase === 'eval' && mnist.samples >= evalLimit;
  if (evalDone) mnistRunning = false;
  if (now - mnistT0 > 500 || mnistRate === 0) {
    mnistRate = (mnistSteps * 1000) / (now - mnistT0);
    mnistSteps = 0;
    mnistT0 = now;
  }
  if (now - lastMnistPost < 100 && !evalDone) return;
  lastMnistPost = now;
  const d = mnist.data;
  const i0 = mnist.idx[0];
  const logits = mnist.lastLogits.slice(0, 10);
  post({
    type: 'mnist:data',
    phase: mnistPhase,
    samples: mnist.samples,
    running: mnist.runningAccuracy,
    prequential: mnist.prequentialAccuracy,
    accuracy: mnist.accuracy,
    loss: mnist.lossN ? mnist.lossSum / mnist.lossN : NaN,
    confusion: mnist.confusion.slice(),
    sample: d.x.slice(i0 * d.length, (i0 + 1) * d.length),
    label: mnist.lastLabels[0],
    pred: mnist.lastPred[0],
    logits,
    stepsPerSec: mnistRate,
    evalDone,
  });
  mnist.lossSum = mnist.lossN = 0;
}

// ---------------------------------------------------------------- export
function exportNet(which: 'chain' | 'mnist'): void {
  const net = which === 'chain' ? chain?.student : mnist?.net;
  if (!net) throw new Error(`no ${which} network to export`);
  const f64 = net.spec.dtype === 'float64';
  const tensors: TensorMsg[] = net.allTensors().map((t) => ({
    name: t.name,
    dtype: f64 ? 'F64' : 'F32',
    shape: t.shape,
    data: f64 ? Float64Array.from(t.buf.a) : Float32Array.from(t.buf.a),
  }));
  const spec = net.specJson();
  if (which === 'chain' && chain) {
    spec.dt = chain.p.dt;
    spec.beta = chain.p.beta;
    spec.prospective_errors = chain.p.mode === 'gle';
    for (const l of spec.layers) delete (l as { init?: unknown }).init;
    if (spec.optimizer) spec.optimizer = { ...spec.optimizer, lr: chain.p.lr };
  }
  post({ type: 'checkpoint', which, spec, tensors });
}

// ---------------------------------------------------------------- loop & messages
function tick(): void {
  const t0 = performance.now();
  try {
    runChain();
    runMnist(t0);
  } catch (e) {
    post({ type: 'error', where: 'worker', message: (e as Error).message });
    chainRunning = mnistRunning = false;
  }
  setTimeout(tick, Math.max(0, 16 - (performance.now() - t0)));
}

// messages are handled one after another (loading the data must finish before a spec is applied)
let queue: Promise<void> = Promise.resolve();
ctx.onmessage = (ev: MessageEvent<ToWorker>) => {
  queue = queue.then(() => handle(ev.data));
};

async function handle(m: ToWorker): Promise<void> {
  try {
    switch (m.type) {
      case 'chain:run': chainRunning = m.running; break;
      case 'chain:step': pendingSteps += m.n; break;
      case 'chain:reset': chain?.reset(); break;
      case 'chain:set': chain?.set(m.params); break;
      case 'chain:speed': stepsPerFrame = Math.max(1, Math.min(20000, Math.round(m.stepsPerFrame))); break;
      case 'mnist:init':
        if (!data) {
          post({ type: 'mnist:status', text: 'loading MNIST-1D…' });
          await loadData(m.dataBase);
          await buildMnist(DEFAULT_MNIST_SPEC);
          post({ type: 'mnist:status', text: `loaded ${data!.train.n} train / ${data!.test.n} test samples` });
        }
        break;
      case 'mnist:run':
        if (mnist && mnistPhase === 'eval' && m.running) {
          mnist.learning = true;
          mnist.setData(data!.train, true);
          mnistPhase = 'train';
        }
        mnistRunning = m.running;
        mnistSteps = 0;
        mnistT0 = performance.now();
        break;
      case 'mnist:spec':
        await buildMnist(m.spec);
        post({ type: 'mnist:status', text: `network rebuilt from the spec (${mnist!.net.layers.length} layers)` });
        break;
      case 'mnist:load':
        await buildMnist(m.spec, m.tensors);
        post({ type: 'mnist:status', text: `checkpoint loaded; evaluating on the test split…` });
        startEval(1000);
        break;
      case 'mnist:eval': startEval(m.limit); break;
      case 'export': exportNet(m.which); break;
    }
  } catch (e) {
    post({ type: 'error', where: m.type, message: (e as Error).message });
  }
}

(async () => {
  const b64 = await backend('float64');
  chain = new ChainSim(b64);
  await backend('float32');
  post({ type: 'ready', backend: backendName });
  tick();
})().catch((e: Error) => post({ type: 'error', where: 'init', message: e.message }));
