/**
 * CPU time of the Yin-Yang PAL circuit (4-30-3, the §2.4 config, training steps with teaching and plasticity) per
 * network-step and per network-epoch (6000 training + 900 test patterns of 100 steps = 690,000 steps), for one
 * network alone and for an ensemble of N, with the TypeScript step and with the native C kernel, all measured in
 * this one process in interleaved rounds (so machine load affects every variant alike); prints the median of the
 * rounds. Usage: node --import tsx scripts/yinyang-bench.ts [N=5] [rounds=5] [steps per round and variant=20000]
 */
import { Microcircuit, initMicrocircuitWeights, selfPredict, type MicrocircuitParams } from '../src/model/microcircuit.js';
import { Rng } from '../src/util/rng.js';

const [N, rounds, S] = [Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 5), Number(process.argv[4] ?? 20000)];
const G = { gl: 0.03, gb: 0.1, ga: 0.06, gsom: 0.06, gd: 0.1, gt: 0.06 };
const PAL: Partial<MicrocircuitParams> = { phi: 'sigmoid', dt: 0.01, tau0: 0.01, ...G, sigmaXi: 0.01, tauXi: 0.1, tauHp: 0.1, alpha: 1e-6, tauW: [100, 0.01, 0.01], etaUp: [50, 0.01], etaIp: 0.05, etaPi: 0.02, etaB: 0.5, feedback: 'pal', le: true };
const STEPS_PER_EPOCH = (6000 + 900) * 100;

type Present = (x: Float64Array, t: Float64Array, steps: number, learn: boolean, from: number, acc: Float64Array) => number;
interface Variant { name: string; n: number; present: Present; x: Float64Array; t: Float64Array; acc: Float64Array; us: number[] }

let native: typeof import('../src/kernels/native/microcircuit.js').nativeMicrocircuitPresenter | null = null;
try {
  native = (await import('../src/kernels/native/microcircuit.js')).nativeMicrocircuitPresenter;
} catch {
  native = null;
}

function variant(name: string, n: number, dtype: 'float32' | 'float64', engine: 'js' | 'native'): Variant | null {
  const seeds = Array.from({ length: n }, (_, i) => i);
  const net = new Microcircuit({ ...PAL, dims: [4, 30, 3], dtype }, seeds);
  initMicrocircuitWeights(net.s, seeds.map((s) => new Rng(123456 + s)), [0.1, 0.1, 1, 0.1, 1]);
  selfPredict(net.p, net.s);
  let present: Present;
  if (engine === 'native') {
    if (!native) return null;
    try {
      present = native(net.p, net.s);
    } catch {
      return null;
    }
  } else present = (x, t, steps, learn, from, acc) => net.present(x, t, steps, learn, from, acc);
  const rng = new Rng(1);
  const x = new Float64Array(4 * n).map(() => rng.uniform()), t = new Float64Array(3 * n).fill(0.1);
  return { name, n, present, x, t, acc: new Float64Array(3 * n), us: [] };
}

const variants = [
  variant('js float32, 1 network', 1, 'float32', 'js'),
  variant(`js float32, ensemble of ${N}`, N, 'float32', 'js'),
  variant('js float64, 1 network', 1, 'float64', 'js'),
  variant(`js float64, ensemble of ${N}`, N, 'float64', 'js'),
  variant('native float64, 1 network', 1, 'float64', 'native'),
  variant(`native float64, ensemble of ${N}`, N, 'float64', 'native'),
].filter((v): v is Variant => v !== null);

const run = (v: Variant, steps: number) => {
  for (let i = 0; i < steps / 100; i++) v.present(v.x, v.t, 100, true, 100, v.acc);
};
for (const v of variants) run(v, 5000); // warm-up (JIT)
for (let r = 0; r < rounds; r++)
  for (const v of variants) {
    const steps = Math.max(100, Math.round(S / v.n / 100) * 100);
    const c0 = process.cpuUsage();
    run(v, steps);
    const c = process.cpuUsage(c0);
    v.us.push((c.user + c.system) / (steps * v.n));
  }
const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const base = median(variants[0].us);
process.stdout.write(`| variant | CPU µs per network-step | CPU s per network-epoch | vs js float32 alone |\n|---|---|---|---|\n`);
for (const v of variants) {
  const m = median(v.us);
  process.stdout.write(`| ${v.name} | ${m.toFixed(2)} | ${((m * STEPS_PER_EPOCH) / 1e6).toFixed(2)} | ${(base / m).toFixed(2)}× |\n`);
}
if (!native) process.stdout.write('(native addon not built: native variants left out)\n');
