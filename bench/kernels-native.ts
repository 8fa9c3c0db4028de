/**
 * Short benchmark of the native backend's fused layer step (and the js backend for scale).
 *   node --import tsx bench/kernels-native.ts [--quick]
 * GFLOP/s counts the three products of a full step (drive, dW, e_bottom): 6*B*nIn*nOut flops. The 2-thread column
 * splits every layer over the thread pool (layerThreadMinWork 0); the default splits from 50,000 multiply-adds.
 */
import { JsBackend, PHI, STEP, type Backend, type LayerStepArgs } from '../src/kernels/index.js';
import { LAYER_THREAD_MIN_WORK, loadNativeBackend, NativeBackend } from '../src/kernels/native/index.js';

const quick = process.argv.includes('--quick');
const FULL = STEP.PROSPECTIVE | STEP.GRADS | STEP.LEARN_TAU | STEP.ERR_DOWN;

function makeArgs(be: Backend, B: number, nIn: number, nOut: number): LayerStepArgs {
  const f = (n: number, v = 0.1): ReturnType<Backend['alloc']> => {
    const b = be.alloc(n);
    for (let i = 0; i < n; i++) b.a[i] = v * Math.sin(i * 0.7 + n);
    return b;
  };
  const tau = (n: number): ReturnType<Backend['alloc']> => {
    const b = be.alloc(n);
    b.a.fill(1);
    return b;
  };
  const bo = B * nOut, bi = B * nIn;
  return {
    B, nIn, nOut, W: f(nIn * nOut), b: f(nOut), tauM: tau(nOut), tauR: tau(nOut), rBottom: f(bi, 1), rawErr: f(bo),
    u: f(bo), v: f(bo), rPrime: f(bo, 1), uN: f(bo), vN: f(bo), rN: f(bo), rPrimeN: f(bo), eBottomN: f(bi),
    instE: f(bo), prospU: f(bo), prospV: f(bo), uDot: f(bo), gW: f(nIn * nOut), gB: f(nOut), gTau: f(nOut),
  };
}

/**
 * Best time per call (µs) over 7 timed repetitions of ~budgetMs/7 each. 'cpu' counts this process's CPU time,
 * which ignores time lost to other processes on a shared machine (use it for single-threaded runs); 'wall' is
 * needed when OpenBLAS runs a second thread.
 */
function time(fn: () => void, budgetMs: number, mode: 'cpu' | 'wall'): number {
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    if (performance.now() - t0 > budgetMs / 7) break;
    n *= 2;
  }
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const c = process.cpuUsage(c0);
    const us = mode === 'cpu' ? c.user + c.system : (performance.now() - t0) * 1000;
    best = Math.min(best, us / n);
  }
  return best;
}

const nb = (await loadNativeBackend('float32')) as NativeBackend;
console.log('native info:', JSON.stringify(nb.info));
const budget = quick ? 60 : 200;

const shapes: [number, number, number][] = [[100, 1, 1], [1, 53, 53], [100, 53, 53], [100, 90, 90], [256, 32, 750], [256, 750, 750], [1, 750, 750], [256, 750, 12]];
console.log('\nshape (B nIn->nOut)   flags   1 thread µs  GFLOP/s | 2 threads µs  GFLOP/s | js µs   (1 thread and js: CPU time; 2 threads: wall time)');
for (const [B, nIn, nOut] of shapes) {
  const flop = 6 * B * nIn * nOut;
  const A = makeArgs(nb, B, nIn, nOut);
  nb.tune({ maxThreads: 1 });
  const t1 = time(() => nb.layerStep(A, PHI.tanh, 0.1, 1, FULL), budget, 'cpu');
  nb.tune({ maxThreads: 2, layerThreadMinWork: 0 });
  const t2 = time(() => nb.layerStep(A, PHI.tanh, 0.1, 1, FULL), budget, 'wall');
  nb.tune({ layerThreadMinWork: LAYER_THREAD_MIN_WORK });
  let tj = Number.NaN;
  if (B * nIn * nOut <= 300_000) {
    const jb = new JsBackend('float32');
    const J = makeArgs(jb, B, nIn, nOut);
    tj = time(() => jb.layerStep(J, PHI.tanh, 0.1, 1, FULL), budget / 2, 'cpu');
  }
  const g = (t: number): string => ((flop / t) * 1e-3).toFixed(1).padStart(7);
  console.log(
    `${`${B} ${nIn}->${nOut}`.padEnd(20)}  full   ${t1.toFixed(2).padStart(10)}  ${g(t1)} | ${t2.toFixed(2).padStart(11)}  ${g(t2)} | ${Number.isNaN(tj) ? '-' : tj.toFixed(1)}`,
  );
}

// forward-only step (no grads, no error down) of the smallest layers: the per-call overhead
const small = makeArgs(nb, 100, 1, 1);
nb.tune({ maxThreads: 1 });
const tf = time(() => nb.layerStep(small, PHI.tanh, 0.1, 1, STEP.PROSPECTIVE), budget, 'cpu');
console.log(`\nB=100 1->1 prospective only: ${tf.toFixed(3)} µs per layerStep call`);

// the pieces of a 750-wide training step: one sgemm of the speech net's shape, and Adam over one 750x750 layer
{
  const M = 256, N = 750, K = 750;
  const A = nb.alloc(M * K), Bm = nb.alloc(N * K), C = nb.alloc(M * N);
  A.a.fill(0.01);
  Bm.a.fill(0.02);
  for (const th of [1, 2]) {
    nb.tune({ maxThreads: th });
    const t = time(() => nb.gemm(false, true, M, N, K, 1, A, Bm, 0, C), budget, th === 1 ? 'cpu' : 'wall');
    console.log(`sgemm ${M}x${N}x${K} NT, ${th} thread${th > 1 ? 's' : ''}: ${(t / 1000).toFixed(3)} ms, ${((2 * M * N * K) / t / 1e3).toFixed(1)} GFLOP/s`);
  }
  const n = N * K;
  const jb = new JsBackend('float32');
  const runs: [Backend, number][] = [[nb, 1], [nb, 2], [jb, 1]];
  for (const [be, th] of runs) {
    if (be === nb) nb.tune({ maxThreads: th });
    const [p, g, m, v] = [0, 1, 2, 3].map(() => be.alloc(n));
    g.a.fill(1e-3);
    const s = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc1: 0.5, bc2: 0.5, weightDecay: 0 };
    const t = time(() => be.adam(p, g, m, v, n, s), budget, th === 1 ? 'cpu' : 'wall');
    console.log(`adam over ${n} parameters, ${be === nb ? `native, ${th} thread${th > 1 ? 's' : ''}` : 'js'}: ${(t / 1000).toFixed(3)} ms`);
  }
}
