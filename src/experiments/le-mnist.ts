/**
 * `le-mnist-mlp`: the LE paper's MNIST MLP (Fig. 2b; reference-le-pal-sal.md §1.6): 784-300-100-10, hard-sigmoid,
 * hard-sigmoid, linear; learning-rate factors [1, 0.2, 0.1]; rate target, β = 0.1; batch 512; learning_rate 0.125 ×
 * lr_multiplier 128; n_updates 100 steps per batch; dt 0.01; τ = τ_m = 20; vanilla; plain LE update. `model=bp` trains
 * the BP twin (src/learn/le-classify.ts) on the same data, seed and batches. Data: the embedded 10,000 digits
 * (8,000 / 2,000) or `data=DIR` with the IDX files.
 */
import type { LeSpecInput } from '../model/le-network.js';

export interface LeMnistParams {
  model: 'le' | 'bp';
  data: string | null;
  epochs: number;
  batch: number;
  seed: number;
  dt: number;
  tau: number;
  tau_m: number | null;
  n_updates: number;
  learning_rate: number;
  lr_multiplier: number;
  beta: number;
  variant: 'vanilla' | 'full_forward_pass';
  tau_width: number;
  noise_width: number;
  feedback_alignment: boolean;
  /** limit the samples per split (quick runs); 0 = all */
  max_train: number;
  max_test: number;
}

export const LE_MNIST_MLP_DEFAULTS: LeMnistParams = {
  model: 'le', data: null, epochs: 100, batch: 512, seed: 42, dt: 0.01, tau: 20, tau_m: null, n_updates: 100,
  learning_rate: 0.125, lr_multiplier: 128, beta: 0.1, variant: 'vanilla', tau_width: 0, noise_width: 0,
  feedback_alignment: false, max_train: 0, max_test: 0,
};

export function leMnistMlpSpec(p: LeMnistParams): LeSpecInput {
  return {
    model: 'le', input_shape: [784], dt: p.dt, tau: p.tau, ...(p.tau_m !== null ? { tau_m: p.tau_m } : {}), beta: p.beta,
    variant: p.variant, learning_rate: p.learning_rate, lr_multiplier: p.lr_multiplier, n_updates: p.n_updates,
    tau_width: p.tau_width, noise_width: p.noise_width, feedback_alignment: p.feedback_alignment, seed: p.seed,
    layers: [
      { type: 'dense', size: 300, phi: 'hard_sigmoid', lr_factor: 1 },
      { type: 'dense', size: 100, phi: 'hard_sigmoid', lr_factor: 0.2 },
      { type: 'dense', size: 10, phi: 'linear', lr_factor: 0.1 },
    ],
  };
}

/** Apply `key=value` overrides (value parsed as JSON when possible); one message naming a bad key or value. */
export function applySets(p: LeMnistParams, sets: string[]): LeMnistParams {
  const out = { ...p } as Record<string, unknown>;
  for (const s of sets) {
    const at = s.indexOf('=');
    if (at < 1) throw new Error(`--set ${s}: expected key=value`);
    const key = s.slice(0, at), raw = s.slice(at + 1);
    if (!(key in p)) throw new Error(`--set ${key}: unknown parameter (known: ${Object.keys(p).join(', ')})`);
    let v: unknown = raw;
    try {
      v = JSON.parse(raw);
    } catch {
      /* a plain string */
    }
    const def = (p as unknown as Record<string, unknown>)[key];
    if (key === 'model' && v !== 'le' && v !== 'bp') throw new Error(`--set model: expected le or bp, got ${raw}`);
    if (key === 'variant' && v !== 'vanilla' && v !== 'full_forward_pass') throw new Error(`--set variant: expected vanilla or full_forward_pass, got ${raw}`);
    if (typeof def === 'number' && typeof v !== 'number') throw new Error(`--set ${key}: expected a number, got ${raw}`);
    if (typeof def === 'boolean' && typeof v !== 'boolean') throw new Error(`--set ${key}: expected true or false, got ${raw}`);
    if (key === 'data' || key === 'tau_m') v = v === null || v === 'null' ? null : key === 'data' ? String(raw) : v;
    out[key] = v;
  }
  const q = out as unknown as LeMnistParams;
  for (const k of ['epochs', 'batch', 'n_updates'] as const) if (!(Number.isInteger(q[k]) && q[k] > 0)) throw new Error(`--set ${k}: must be a positive integer`);
  return q;
}
