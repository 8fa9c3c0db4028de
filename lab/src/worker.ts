/**
 * The simulation worker: runs the LagLine chain and the MNIST-1D stream with the project's core (../../src),
 * and posts decimated records to the page once per tick (~60 Hz) so that the main thread only draws.
 *
 * Backends: the MNIST-1D network (views MNIST-1D and Network spec) runs on webgpu when `navigator.gpu` gives an
 * adapter and the network is one the device path runs (dense GLE, float32), on wasm (else js) otherwise; the page
 * may ask for one by name ('backend' message: auto, webgpu, wasm, js; a webgpu that cannot be had is an error, not a
 * fallback). The chain is a float64 network and stays on wasm/js. `ready` and every MNIST-1D record name the backend
 * in use.
 */
import { createBackend, JsBackend, WebGpuEngine, gpuUnsupported, GLENetwork, parseNpy, parseSpec, type Backend, type DType } from 'gle/core';
import { GpuMnistSim } from './sim/mnist-gpu.js';
import { CHAIN_NF, COMPARE_NF, ChainCompare, ChainSim } from './sim/chain.js';
import { measure, simulate } from './operators.js';
import { DEFAULT_MNIST_BATCH, DEFAULT_MNIST_SPEC, type Mnist1dArrays, MnistSim, loadTensors } from './sim/mnist.js';
import type { BackendChoice, FromWorker, OpData, TensorMsg, ToWorker } from './protocol.js';

interface WorkerScope {
  postMessage(m: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
}
const ctx = self as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []): void => ctx.postMessage(m, transfer);

const backends = new Map<DType, Backend>();
/** the page's backend choice for the MNIST-1D network */
let choice: BackendChoice = 'auto';
let engine: WebGpuEngine | null = null;
let engineError = '';
/** The WebGPU device of this worker, or null with `engineError` saying why there is none. */
async function gpuEngine(): Promise<WebGpuEngine | null> {
  if (engine || engineError) return engine;
  const gpu = (self as unknown as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) engineError = 'this browser exposes no WebGPU (navigator.gpu is missing)';
  else {
    try {
      engine = await WebGpuEngine.create(gpu);
    } catch (e) {
      engineError = (e as Error).message;
    }
  }
  return engine;
}
/** A CPU backend by the page's choice ('auto' and 'webgpu' → the best CPU one: wasm, else js). */
async function cpuBackend(dtype: DType): Promise<Backend> {
  if (choice === 'js') return new JsBackend(dtype);
  if (choice === 'wasm') return createBackend({ backend: 'wasm', dtype });
  return backend(dtype);
}
let backendName = 'js';
let chainBackend: Backend | null = null;
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
let compare: ChainCompare | null = null;
let chainRunning = true;
let stepsPerFrame = 200;
let pendingSteps = 0;
/** the view the page shows: only its simulation runs (hidden views are paused) */
let visible = 'chain';
const REC_EVERY_T = 0.05; // record one sample per 0.05 time units

/** Steps per second over windows of at least one second, smoothed (a steady rate reads steady). */
class Rate {
  private n = 0;
  private t0 = performance.now();
  value = 0;
  add(steps: number, now: number): void {
    this.n += steps;
    const dt = now - this.t0;
    if (dt >= 1000) {
      const r = (this.n * 1000) / dt;
      this.value = this.value === 0 ? r : 0.5 * this.value + 0.5 * r;
      this.n = 0;
      this.t0 = now;
    }
  }
  restart(): void {
    this.n = 0;
    this.t0 = performance.now();
    this.value = 0;
  }
}
const chainRate = new Rate();

function runChain(): void {
  if (!chain) return;
  let n = (chainRunning && visible === 'chain' ? stepsPerFrame : 0) + pendingSteps;
  pendingSteps = 0;
  if (n <= 0) return;
  const every = Math.max(1, Math.round(REC_EVERY_T / chain.p.dt));
  const recs = new Float64Array((Math.floor(n / every) + 2) * CHAIN_NF);
  const crecs = compare ? new Float64Array((Math.floor(n / every) + 2) * COMPARE_NF) : null;
  let k = 0, done = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if ((chain.steps + 1) % every === 0 || i === n - 1) {
      chain.step(recs, k * CHAIN_NF);
      if (compare) compare.step(crecs!, k * COMPARE_NF);
      k++;
    } else {
      chain.step();
      if (compare) compare.step();
    }
    done++;
    if ((i & 255) === 255 && performance.now() - t0 > 40) break; // keep ticks short whatever the speed
  }
  chainRate.add(done, performance.now());
  post({ type: 'chain:data', recs, n: k, steps: chain.steps, t: chain.t, loss: chain.lossEma, mode: chain.p.mode, stepsPerSec: chainRate.value, params: chain.p, compare: crecs, clamped: chain.clamped() }, crecs ? [recs.buffer, crecs.buffer] : [recs.buffer]);
}

// ---------------------------------------------------------------- operator explorer
let opRequest: Extract<ToWorker, { type: 'op:measure' }> | null = null;
function runOperators(): void {
  const m = opRequest;
  if (!m) return;
  opRequest = null;
  const t0 = performance.now();
  const { tauM, tauR, w } = m;
  const dt = Math.min(0.01, tauM / 10, tauR / 10, 0.05 / w);
  const meas = measure(m.freqs, tauM, tauR, dt);
  const periods = 4;
  const keep = Math.ceil((periods * 2 * Math.PI) / w / dt);
  const steps = Math.min(200000, keep + Math.ceil((8 * Math.max(tauM, tauR)) / dt));
  const sim = simulate(w, tauM, tauR, dt, steps);
  const kk = Math.min(keep, steps);
  const every = Math.max(1, Math.floor(kk / 1000));
  const pick = (a: Float64Array) => a.subarray(steps - kk).filter((_, i) => i % every === 0);
  const out: OpData = { type: 'op:data', id: m.id, meas, sim: { t: pick(sim.t), x: pick(sim.x), u: pick(sim.u), neuron: pick(sim.neuron), error: pick(sim.error) }, ms: performance.now() - t0 };
  post(out);
}

// ---------------------------------------------------------------- MNIST-1D
let data: { train: Mnist1dArrays; test: Mnist1dArrays } | null = null;
let mnist: MnistSim | GpuMnistSim | null = null;
/** a device batch in flight (webgpu: runMnist starts one and posts when it is done) */
let gpuBusy = false;
let mnistRunning = false;
let mnistPhase: 'train' | 'eval' = 'train';
let evalLimit = 1000;
const mnistRate = new Rate();
let lastMnistPost = 0;
let mnistBatch = DEFAULT_MNIST_BATCH;
/** an lr chosen in the page (applies to every network built after it, too) */
let mnistLr: number | null = null;
/** pause learning at this many training samples (0: never) */
let stopAt = 0;
let mnistBackend = '';
/** training samples since the network was built (the accuracy history's x axis; not reset by an evaluation) */
let trainSamplesBefore = 0;
/** what loading the last checkpoint chose for training on (shown when learning starts) */
let loadNote = '';

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

/** The lr a params-only checkpoint trains on at, relative to its spec's lr when the spec has an lr schedule. */
const TRAIN_ON_LR_FACTOR = 1e-3;

/** Why the MNIST-1D network of `spec` does not run on webgpu (float64, layers), or null. */
function notOnDevice(spec: ReturnType<typeof parseSpec>): string | null {
  if (spec.dtype !== 'float32') return `the webgpu backend runs float32 only (the spec asks for ${spec.dtype})`;
  return gpuUnsupported(new GLENetwork(spec, new JsBackend('float32'), { batchSize: 1 }));
}

async function buildMnist(specIn: unknown, ck?: Extract<ToWorker, { type: 'mnist:load' }>): Promise<string> {
  if (!data) throw new Error('MNIST-1D data not loaded yet');
  const spec = parseSpec(specIn);
  while (gpuBusy) await new Promise((r) => setTimeout(r, 5));
  if (mnist instanceof GpuMnistSim) mnist.destroy();
  mnist = null;
  // webgpu when asked, or on auto when there is an adapter and the network is one the device path runs
  const why = notOnDevice(spec);
  const dev = choice === 'webgpu' || (choice === 'auto' && !why) ? await gpuEngine() : null;
  if (choice === 'webgpu' && !dev) throw new Error(`webgpu was asked for and cannot run here: ${engineError}`);
  if (choice === 'webgpu' && why) throw new Error(`webgpu was asked for; this network does not run on it: ${why}`);
  const b = await cpuBackend(spec.dtype);
  if (dev) {
    mnist = new GpuMnistSim(dev, b, spec, data.train, { batch: mnistBatch });
    mnistBackend = `webgpu: ${dev.adapterName} (float32)`;
  } else {
    mnist = new MnistSim(b, spec, data.train, { batch: mnistBatch });
    mnistBackend = `${b.name} (${spec.dtype})${choice === 'auto' && spec.dtype === 'float32' ? ` (no webgpu: ${why ?? engineError})` : ''}`;
  }
  trainSamplesBefore = 0;
  mnistPhase = 'train';
  if (!ck) {
    if (mnistLr !== null) mnist.learner.lr = mnistLr;
    return '';
  }
  loadTensors(mnist.net, ck.tensors);
  mnist.loaded(); // a weight average restarts from the loaded parameters
  // Training on from trained parameters (docs/RESULTS.md, issue 18): the spec's lr is where the CLI's schedule
  // started (ReduceLROnPlateau lowered it over the run), and a fresh Adam moves every parameter by about ±lr per step
  // whatever its gradient. So: take the optimiser's state and lr from the checkpoint when it has them; otherwise
  // start at spec lr × 1e-3 (a scheduled run's lr is not known) with a warm-up, and say so.
  const opt = mnist.learner.opt;
  const moments = new Map((ck.optim ?? []).map((t) => [t.name, t]));
  const st = opt ? opt.stateTensors() : [];
  if (opt && ck.optimScalars && st.length && st.every((t) => moments.get(t.name)?.data.length === t.buf.n)) {
    for (const t of st) t.buf.a.set(moments.get(t.name)!.data);
    opt.loadScalars(ck.optimScalars);
    return `training on with the checkpoint's optimiser state (lr ${mnist.learner.lr.toPrecision(2)})`;
  }
  const plateau = spec.scheduler?.type === 'plateau';
  if (plateau) mnist.learner.lr = (spec.optimizer?.lr ?? mnist.learner.lr) * TRAIN_ON_LR_FACTOR;
  if (mnistLr !== null) mnist.learner.lr = mnistLr;
  mnist.warmup(10 * data.train.length);
  return `no optimiser state in the checkpoint: training on at lr ${mnist.learner.lr.toPrecision(2)}${plateau && mnistLr === null ? ` (spec lr × ${TRAIN_ON_LR_FACTOR}: its lr schedule had lowered the lr; change it with the lr slider)` : ''}, warming up over 10 samples' steps`;
}

/** The backend the MNIST-1D network gets (before it is built): what the choice and this browser give. */
async function describeChoice(): Promise<string> {
  if (choice === 'js' || choice === 'wasm') return `${(await cpuBackend('float32')).name} (chosen)`;
  const dev = await gpuEngine();
  if (dev) return `webgpu: ${dev.adapterName}`;
  return choice === 'webgpu' ? `webgpu unavailable: ${engineError}` : `${backendName} (no webgpu: ${engineError})`;
}

function trainSamples(): number {
  return trainSamplesBefore + (mnistPhase === 'train' && mnist ? mnist.samples : 0);
}

function startEval(limit: number): void {
  if (!mnist || !data) return;
  evalLimit = Math.max(1, Math.min(limit, data.test.n));
  const L = data.test.length;
  const sub: Mnist1dArrays = { x: data.test.x.subarray(0, evalLimit * L), y: data.test.y.subarray(0, evalLimit), n: evalLimit, length: L };
  if (mnistPhase === 'train') trainSamplesBefore += mnist.samples;
  mnist.learning = false;
  mnist.setData(sub, false);
  mnistPhase = 'eval';
  mnistRunning = true;
  mnistRate.restart();
}

/** the evaluation pass has scored the samples asked for */
const evalDone = (): boolean => mnistPhase === 'eval' && mnist !== null && mnist.samples >= evalLimit;
/** learning has reached the stop set in the page (checked when a batch has finished) */
const atStop = (): boolean => mnistPhase === 'train' && stopAt > 0 && trainSamples() >= stopAt;
function pauseAtStop(): void {
  mnistRunning = false;
  post({ type: 'mnist:status', text: `paused after ${trainSamples()} training samples (the stop you set)` });
}

/** webgpu: one whole batch on the device per call (asynchronous), then the same statistics and record as below. */
function runMnistGpu(sim: GpuMnistSim): void {
  if (gpuBusy) return;
  gpuBusy = true;
  sim
    .runBatch()
    .then(() => {
      gpuBusy = false;
      if (mnist !== sim) return;
      mnistRate.add(sim.data.length, performance.now());
      const done = evalDone();
      if (done) mnistRunning = false;
      if (atStop()) pauseAtStop();
      postMnist(done);
    })
    .catch((e: Error) => {
      gpuBusy = false;
      mnistRunning = false;
      post({ type: 'error', where: 'webgpu', message: e.message });
    });
}

function runMnist(now: number): void {
  if (!mnist || !mnistRunning || (visible !== 'mnist' && mnistPhase === 'train')) return;
  if (mnist instanceof GpuMnistSim) return runMnistGpu(mnist);
  const t0 = performance.now();
  let n = 0;
  let stopped = false;
  while (performance.now() - t0 < 12 && !evalDone() && !stopped) {
    for (let i = 0; i < 16; i++) {
      const batchDone = mnist.step();
      n++;
      if (evalDone()) break;
      if (batchDone && atStop()) {
        stopped = true;
        break;
      }
    }
  }
  if (stopped) pauseAtStop();
  mnistRate.add(n, performance.now());
  const done = evalDone();
  if (done) mnistRunning = false;
  if (now - lastMnistPost < 100 && !done && !stopped) return;
  lastMnistPost = now;
  postMnist(done);
}

function postMnist(evalDone: boolean): void {
  if (!mnist) return;
  const d = mnist.data;
  const i0 = mnist.idx[0] ?? 0;
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
    stepsPerSec: mnistRate.value,
    evalDone,
    trainSamples: trainSamples(),
    batch: mnist.B,
    lr: mnist.learner.lr,
    backend: mnistBackend,
    weights: mnist.evaluated,
  });
  mnist.lossSum = mnist.lossN = 0;
}

// ---------------------------------------------------------------- export
async function exportNet(which: 'chain' | 'mnist'): Promise<void> {
  if (which === 'mnist' && mnist instanceof GpuMnistSim) {
    while (gpuBusy) await new Promise((r) => setTimeout(r, 5));
    await mnist.sync(); // the parameters live on the device
  }
  const net = which === 'chain' ? chain?.student : mnist?.net;
  if (!net) throw new Error(`no ${which} network to export`);
  const f64 = net.spec.dtype === 'float64';
  // the parameters that are evaluated: with a weight average (spec `average`) the averaged ones
  const read = () =>
    net.allTensors().map((t): TensorMsg => ({
      name: t.name,
      dtype: f64 ? 'F64' : 'F32',
      shape: t.shape,
      data: f64 ? Float64Array.from(t.buf.a) : Float32Array.from(t.buf.a),
    }));
  const tensors = which === 'mnist' && mnist ? mnist.learner.withAveraged(read) : read();
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
    if (visible === 'operators') runOperators();
  } catch (e) {
    post({ type: 'error', where: 'worker', message: (e as Error).message });
    chainRunning = mnistRunning = false;
    opRequest = null;
  }
  setTimeout(tick, Math.max(0, 16 - (performance.now() - t0)));
}

// messages are handled one after another (loading the data must finish before a spec is applied)
let queue: Promise<void> = Promise.resolve();
ctx.onmessage = (ev: MessageEvent<ToWorker>) => {
  // a measurement request replaces any older one not yet served (a slider drag asks many times)
  if (ev.data.type === 'op:measure') opRequest = ev.data;
  else queue = queue.then(() => handle(ev.data));
};

async function handle(m: ToWorker): Promise<void> {
  try {
    switch (m.type) {
      case 'chain:run': chainRunning = m.running; break;
      case 'chain:step': pendingSteps += m.n; break;
      case 'chain:reset':
        chain?.reset();
        compare?.reset();
        if (!chainRunning) pendingSteps += 1; // show the reset state at once, also while paused
        break;
      case 'chain:set':
        chain?.set(m.params);
        compare?.set(m.params);
        break;
      case 'chain:compare':
        if (m.on && chain) {
          // every student starts from the same state: reset the main one with them
          const { mode: _mode, ...shared } = chain.p;
          compare = new ChainCompare(chainBackend!, shared);
          chain.reset();
          pendingSteps += 1;
        } else compare = null;
        break;
      case 'view':
        visible = m.name;
        chainRate.restart();
        mnistRate.restart();
        break;
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
        mnistRate.restart();
        if (m.running) post({ type: 'mnist:status', text: `learning online (batch ${mnist?.B}, lr ${mnist?.learner.lr.toPrecision(2)})${loadNote ? `; ${loadNote}` : ''}` });
        break;
      case 'mnist:set':
        if (m.batch !== undefined) {
          mnistBatch = m.batch;
          if (mnist && mnistPhase === 'train') {
            trainSamplesBefore += mnist.samples;
            mnist.setBatch(m.batch);
            mnist.resetStats();
          } else if (mnist) mnist.B = m.batch;
        }
        if (m.stopAt !== undefined) stopAt = Math.max(0, Math.round(m.stopAt));
        if (m.lr !== undefined) {
          if (!(m.lr > 0 && m.lr < 1)) throw new Error(`lr must be in (0, 1), not ${m.lr}`);
          mnistLr = m.lr;
          if (mnist) {
            mnist.warmup(0);
            mnist.learner.lr = m.lr;
          }
        }
        break;
      case 'mnist:spec':
        loadNote = '';
        await buildMnist(m.spec);
        post({ type: 'mnist:status', text: `network rebuilt from the spec (${mnist!.net.layers.length} layers)` });
        break;
      case 'mnist:load': {
        const note = await buildMnist(m.spec, m);
        post({ type: 'mnist:status', text: `checkpoint loaded; evaluating on the test split… (${note})` });
        loadNote = note;
        startEval(1000);
        break;
      }
      case 'mnist:eval': startEval(m.limit); break;
      case 'export': await exportNet(m.which); break;
      case 'backend': {
        choice = m.choice;
        if (data && mnist) {
          await buildMnist(mnist.net.specJson());
          post({ type: 'mnist:status', text: `network rebuilt on ${mnistBackend}` });
        }
        post({ type: 'backend', mnist: mnistBackend || (await describeChoice()) });
        break;
      }
    }
  } catch (e) {
    post({ type: 'error', where: m.type, message: (e as Error).message });
  }
}

(async () => {
  const b64 = await backend('float64');
  chain = new ChainSim(b64);
  chainBackend = b64;
  await backend('float32');
  // ready at once; the WebGPU probe (an adapter request can take seconds) reports when done
  post({ type: 'ready', backend: choice === 'auto' || choice === 'webgpu' ? 'probing webgpu…' : await describeChoice(), chainBackend: `${b64.name} (float64)` });
  tick();
  // (the probe can outlast a choice from the page, e.g. the link's ?backend=wasm handled meanwhile: that message
  // reports its own label, and this one, for the old choice, would overwrite it)
  const probed = choice;
  void describeChoice().then((label) => {
    if (!mnist && choice === probed) post({ type: 'backend', mnist: label });
  });
})().catch((e: Error) => post({ type: 'error', where: 'init', message: e.message }));
