/**
 * The LE run's network spec from its parameters (browser-safe: the lab builds the network of a CLI run's checkpoint
 * from its config.json with this). The task and its experiments: le.ts.
 */
import type { PhiName } from '../kernels/layout.js';
import type { LeLayerSpec, LeSpecInput } from '../model/le-network.js';

export interface LeRunParams {
  /** 'le': the LE network; 'bp': its BP twin */
  model: 'le' | 'bp';
  dataset: 'mnist' | 'cifar10';
  arch: 'mlp' | 'lenet';
  /** the MLP's hidden layer sizes (arch mlp; the paper's 784-300-100-10: [300, 100]) */
  hidden: number[];
  /** MNIST: a folder with the IDX files (null: the embedded 10,000 digits, 8,000 / 2,000); CIFAR-10: the binary batches */
  data: string | null;
  epochs: number;
  batch: number;
  dt: number;
  /** prospective time constant τ (0: no prospective coding, ŭ = u) */
  tau: number;
  /** membrane time constant τ_m (null: = tau) */
  tau_m: number | null;
  n_updates: number;
  learning_rate: number;
  lr_multiplier: number;
  /** one per stage (pooling stages' entries unused), as the reference lists them */
  lr_factors: number[];
  beta: number;
  variant: 'vanilla' | 'full_forward_pass';
  /** the hidden stages' activation (the output is linear) */
  phi: PhiName;
  optimizer: 'none' | 'adam';
  feedback_alignment: boolean;
  tau_width: number;
  noise_width: number;
  forward_filter: boolean;
  backward_filter: boolean;
  /** low-pass the target, ȳ ← ȳ + (y − ȳ)·dt/(L·τ_s) (Fig. 4c) */
  target_filter: boolean;
  tau_s: number;
  prosp_rate_errors: boolean;
  /** τ adaptation before training (nudging off) on training inputs, until mean |τ_m − τ| moves < 1e-6 per presentation */
  adapt_tau: boolean;
  /** at most this many presentations of τ adaptation */
  adapt_tau_max: number;
  bp_loss: 'mse' | 'ce';
  bp_lr: number | null;
  /**
   * where the LE network steps: 'cpu' (the run's backend) or 'webgpu' (the device, src/learn/gpu-le.ts: each
   * presentation one command buffer; float32; no fallback when no adapter exists)
   */
  device: 'cpu' | 'webgpu';
  /** limit the samples per split (quick runs); 0 = all */
  maxTrain: number;
  maxTest: number;
}


/** The LE network spec of a run's parameters (MLP or LeNet-5 for the dataset's input). */
export function leRunSpec(p: LeRunParams, seed: number): LeSpecInput {
  const cifar = p.dataset === 'cifar10';
  const f = (i: number) => p.lr_factors[i];
  const hs = p.phi;
  const layers: LeLayerSpec[] | unknown[] =
    p.arch === 'mlp'
      ? [
          ...p.hidden.map((size, i) => ({ type: 'dense', size, phi: hs, lr_factor: f(i) })),
          { type: 'dense', size: 10, phi: 'linear', lr_factor: f(p.hidden.length) },
        ]
      : [
          { type: 'conv2d', channels: 20, kernel: 5, phi: hs, lr_factor: f(0) },
          { type: 'maxpool', kernel: 2 },
          { type: 'conv2d', channels: 50, kernel: 5, phi: hs, lr_factor: f(2) },
          { type: 'maxpool', kernel: 2 },
          { type: 'dense', size: 500, phi: hs, lr_factor: f(4) },
          { type: 'dense', size: 10, phi: 'linear', lr_factor: f(5) },
        ];
  return {
    model: 'le',
    input_shape: p.arch === 'mlp' ? [cifar ? 3072 : 784] : cifar ? [3, 32, 32] : [1, 28, 28],
    dt: p.dt, tau: p.tau, ...(p.tau_m !== null ? { tau_m: p.tau_m } : {}), beta: p.beta, variant: p.variant, target: 'rate',
    learning_rate: p.learning_rate, lr_multiplier: p.lr_multiplier, n_updates: p.n_updates, optimizer: p.optimizer,
    feedback_alignment: p.model === 'le' && p.feedback_alignment, tau_width: p.tau_width, noise_width: p.noise_width,
    forward_filter: p.forward_filter, backward_filter: p.backward_filter, tau_s: p.tau_s, prosp_rate_errors: p.prosp_rate_errors,
    seed, layers: layers as LeSpecInput['layers'],
  };
}

