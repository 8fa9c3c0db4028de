/**
 * Diagnostics of the learned-feedback rule on the vle experiments (docs/vle.md §5): trains the students of one seed
 * side by side (js, float64) and prints, every sixth of the run, each student's mean loss and largest |W| per layer,
 * and for learned B, per projection, cos(B, W/Ĝ), |B|/|W/Ĝ|, cos(B, W) and the gain estimates Ĝ.
 * Usage: node --import tsx scripts/vle-diagnose.ts   with environment variables
 *   EXP (vle-network | temporal-xor), SEEDS (0,1,2), STEPS (60000), VARIANTS (transpose,learned[,fixed]), LR,
 *   FTAU (feedback_tau), GAIN (0: feedback_gain false)
 */
import { JsBackend } from '../src/kernels/js/index.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import type { DenseProjection } from '../src/model/layers/dense.js';
import { VLE_EXPERIMENTS } from '../src/experiments/vle.js';
import { Rng } from '../src/util/rng.js';

const def = VLE_EXPERIMENTS.find((e) => e.name === (process.env.EXP ?? 'vle-network'))! as any;
const P = def.params;
const seeds = (process.env.SEEDS ?? '0,1,2').split(',').map(Number);
const steps = Number(process.env.STEPS ?? 60000);
const variants = (process.env.VARIANTS ?? 'transpose,learned').split(',');
const lr = Number(process.env.LR ?? P.lr);
const k = new JsBackend('float64');
function stream(om: number[][], amp: number, ph: number[][]) {
  return (t: number, x: Float64Array) => om.forEach((o, c) => (x[c] = amp * o.reduce((s, w, i) => s + Math.sin(w * t + ph[c][i]), 0)));
}
const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => { let ab = 0, aa = 0, bb = 0; for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] ** 2; bb += b[i] ** 2; } return [ab / Math.sqrt(aa * bb + 1e-300), Math.sqrt(aa / (bb + 1e-300))]; };
for (const seed of seeds) {
  const rng = new Rng(seed * 7 + 1);
  const teacher = new GLENetwork({ ...P.teacher, seed, dtype: 'float64' }, k, {});
  if (P.teacherScale > 0) for (const l of teacher.layers) for (let i = 0; i < l.params.W.n; i++) l.params.W.a[i] *= P.teacherScale;
  teacher.training = false;
  const ph = P.inputs.map((om: number[]) => om.map(() => 2 * Math.PI * rng.uniform()));
  const f = stream(P.inputs, P.amp, ph);
  const studs = variants.map((v) => {
    const spec = { ...P.teacher, seed: seed + 7919, dtype: 'float64', optimizer: { type: 'sgd', lr, momentum: 0, weight_decay: Number(process.env.WD ?? 0) }, clamp_tau_min: null,
      layers: P.teacher.layers.map((l: any, i: number) => { const init = { ...(l.init ?? {}) }; delete init.weight; delete init.bias;
        return i === 0 || v === 'transpose' ? { ...l, init, feedback: 'transpose' } : v === 'learned' ? { ...l, init, feedback: 'learned', feedback_rule: process.env.RULE ?? 'vle', feedback_tau: Number(process.env.FTAU ?? P.feedbackTau), feedback_gain: process.env.GAIN !== '0' } : { ...l, init, feedback: 'fixed' }; }) };
    const net = new GLENetwork(spec as any, k, {});
    return { v, net, learner: new Learner(net), acc: 0, n: 0 };
  });
  const x = new Float64Array(2);
  const t0 = Date.now();
  for (let s = 0; s < steps; s++) {
    f(s * P.dt, x);
    const y = teacher.step(x, null).a;
    for (const q of studs) { q.learner.trainStep(x, y); q.acc += q.net.lastLoss(); q.n++; }
    if ((s + 1) % (steps / 6) === 0) {
      const line = studs.map((q) => {
        const parts = [`${q.v} loss ${(q.acc / q.n).toExponential(2)}`];
        q.acc = q.n = 0;
        parts.push('maxW ' + q.net.layers.map((l) => Math.max(...Array.from(l.params.W.a, Math.abs)).toFixed(2)).join('/'));
        if (q.v === 'learned') for (let li = 1; li < q.net.layers.length; li++) {
          const pr = q.net.layers[li].projection as DenseProjection;
          const g = pr.gains();
          const W = q.net.layers[li].params.W.a, m = pr.nIn;
          const tgt = Float64Array.from(W, (w, i) => w / g[Math.floor(i / m)]);
          const [c, rr] = cos(pr.FB!.a, tgt);
          const [c2] = cos(pr.FB!.a, W);
          parts.push(`L${li} cos(B,W/G) ${c.toFixed(3)} |B|/|W/G| ${rr.toFixed(2)} cos(B,W) ${c2.toFixed(3)} G ${g.map((x) => x.toFixed(1)).join(',')}`);
        }
        return parts.join(' ');
      });
      console.log(`seed ${seed} t=${((s + 1) * P.dt).toFixed(0)} ` + line.join(' | '), `(${((Date.now() - t0) / 1000).toFixed(0)}s)`);
    }
  }
}
