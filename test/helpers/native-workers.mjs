// The native addon stepping the same pooled layer in the main thread and in 3 Node worker threads at once (the
// thread pool is process-wide: a second caller must run its parts itself). Prints the checksums as JSON.
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { createRequire } from 'node:module';
const addon = createRequire(import.meta.url)('../../native/build/Release/gle_native.node');
function run() {
  addon.setMaxThreads(2); addon.setThresholds(-1, -1, 0);
  const B = 100, nIn = 90, nOut = 90, bo = B * nOut, bi = B * nIn;
  const f = (n, v = 0.1) => Float32Array.from({ length: n }, (_, i) => v * Math.sin(i * 0.7 + n));
  const tau = (n) => new Float32Array(n).fill(1);
  const bufs = [f(nIn * nOut), f(nOut), tau(nOut), tau(nOut), f(bi, 1), f(bo), f(bo), f(bo), f(bo, 1), f(bo), f(bo), f(bo), f(bo), f(bi), f(bo), f(bo), f(bo), f(bo), f(nIn * nOut), f(nOut), f(nOut)];
  const h = addon.makeLayer(B, nIn, nOut, bufs);
  const sc = Float64Array.of(0.1, 0.5); // dt, gamma
  for (let i = 0; i < 3000; i++) addon.layerStep(h, 1, 15, sc);
  let s = 0; for (const k of [9, 13, 18, 19, 20]) for (const x of bufs[k]) s += x;
  return s;
}
if (isMainThread) {
  const ref = run();
  const res = await Promise.all([0, 1, 2].map(() => new Promise((ok, bad) => { const w = new Worker(new URL(import.meta.url)); w.on('message', ok); w.on('error', bad); })));
  console.log(JSON.stringify({ main: ref, workers: res }));
} else parentPort.postMessage(run());
