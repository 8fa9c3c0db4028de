/**
 * Where does SAL take the SymmNet's FC feedback for a fixed W? (RESULTS §36.) Trains SymmNet in mode bp_w_fa
 * (B = Wᵀ in the FC layers) for E epochs on the embedded MNIST digits (native backend, seed 0), then loads the three
 * FC layers into a SALNet exactly as `sal-symmnet` does, starts B at Wᵀ (START=wt) or at FA's random draw
 * (START=rand), and runs SAL phases with W frozen, printing angle(W, B) and ‖B‖/‖s·W‖ per FC layer after each.
 * From B = Wᵀ an unbiased rule only diffuses (the angle grows like √phases); a biased one drifts away.
 * Usage: node --import tsx scripts/sal-symmnet-fixed-point.ts   with environment variables
 *   E (6, SGD epochs before), NLAST (2), SPAN (unset: the whole 30 τ window; 20: the reference's buffer), SCALE (1),
 *   PHASES (12), CHAINS (32), STEPS (2000), SALLR (0.04), START (wt | rand), CACHE (a directory for the trained
 *   weights, default the OS temp directory)
 */
import { SalNet } from '../src/spiking/salnet.js';
import { SymmNet, SYMMNET_MNIST } from '../src/baselines/symmnet.js';
import { alloc } from '../src/baselines/layers.js';
import { crossEntropy, Sgd } from '../src/baselines/models.js';
import { alignmentAngle } from '../src/learn/alignment.js';
import { loadMnist } from '../src/data/mnist-files.js';
import { Rng } from '../src/util/rng.js';
import { createNodeBackend } from '../src/node.js';
import { loadSalNet } from '../src/experiments/sal-symmnet.js';
import { nativeGemm } from '../src/baselines/native-gemm.js';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const E = Number(process.env.E ?? 6), nLast = Number(process.env.NLAST ?? 2), scale = Number(process.env.SCALE ?? 1);
const phases = Number(process.env.PHASES ?? 12), chains = Number(process.env.CHAINS ?? 32), steps = Number(process.env.STEPS ?? 2000);
const salLr = Number(process.env.SALLR ?? 0.04), start = process.env.START ?? 'wt';
const data = loadMnist(null);
const B = 128, D = 784, C = 10;
const net = new SymmNet({ ...SYMMNET_MNIST, maxB: B, dtype: 'float32' }, 'bp_w_fa', new Rng(0), nativeGemm(await createNodeBackend('native'))!);
const cache = join(process.env.CACHE ?? tmpdir(), `gle-symmnet-bp_w_fa-fc-e${E}.json`);
if (existsSync(cache)) {
  const w = JSON.parse(readFileSync(cache, 'utf8'));
  net.fc.forEach((d, l) => { d.W.value.set(w[l].W); d.b.value.set(w[l].b); });
} else {
  const opt = new Sgd(net.params(), 0.01, 0.9);
  const xb = alloc('float32', B * D), yb = new Uint8Array(B), dl = alloc('float32', B * C), rng = new Rng(17);
  const order = new Int32Array(data.train.n);
  for (let ep = 1; ep <= E; ep++) {
    for (let i = 0; i < order.length; i++) order[i] = i;
    for (let i = order.length - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
    for (let s0 = 0; s0 < data.train.n; s0 += B) {
      const n = Math.min(B, data.train.n - s0);
      for (let i = 0; i < n; i++) { const k = order[s0 + i]; xb.set(data.train.x.subarray(k * D, (k + 1) * D), i * D); yb[i] = data.train.y[k]; }
      crossEntropy(net.forward(xb, n), yb, 0, n, C, dl);
      net.backward(dl, n);
      opt.step();
    }
    console.error(`trained epoch ${ep}`);
  }
  writeFileSync(cache, JSON.stringify(net.fc.map((d) => ({ W: Array.from(d.W.value), b: Array.from(d.b.value) }))));
}
const span = process.env.SPAN ? Number(process.env.SPAN) : undefined;
const sal = new SalNet({ sizes: [net.flat, ...SYMMNET_MNIST.fc], batch: chains, tauRef: 10, nLast, span, mode: 'event', engine: 'wasm', seed: 1 });
// the FC feedback to start from (bp_w_fa trained with Wᵀ and holds none), then the load sal-symmnet does
const r = new Rng(5);
for (const d of net.fc) {
  const fb = new Float32Array(d.nIn * d.nOut), bnd = 1 / Math.sqrt(d.nIn);
  for (let o = 0; o < d.nOut; o++) for (let j = 0; j < d.nIn; j++) fb[j * d.nOut + o] = start === 'wt' ? d.W.value[o * d.nIn + j] : r.range(-bnd, bnd);
  d.feedback = fb;
}
loadSalNet(sal, net, scale);
const ang = () => net.fc.map((d, l) => alignmentAngle(d.W.value, sal.fb[l].W, d.nOut, d.nIn).toFixed(1)).join(' / ');
const wrms = net.fc.map((d) => { let a = 0; for (const v of d.W.value) a += v * v; return Math.sqrt(a / d.W.value.length).toFixed(4); }).join(' / ');
console.log(`E=${E} nLast=${nLast} span=${span} scale=${scale} chains=${chains} steps=${steps} salLr=${salLr} start=${start}; W rms ${wrms}; angles at start ${ang()}`);
for (let k = 1; k <= phases; k++) {
  sal.run(steps);
  sal.applySal((salLr * (steps / 10)) / 20, steps);
  const nr = net.fc.map((d, l) => { let a = 0, b = 0; for (let i = 0; i < d.W.value.length; i++) { a += (scale * d.W.value[i]) ** 2; b += sal.fb[l].W[i] ** 2; } return Math.sqrt(b / a).toFixed(2); }).join(' / ');
  console.log(`phase ${k}: angles ${ang()}  |B|/|sW| ${nr}`);
}
