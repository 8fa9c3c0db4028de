/** Messages between the page (main thread) and the simulation worker. */
import type { ChainParams } from './sim/chain.js';
import type { NetworkSpecInput } from 'gle/core';

export interface TensorMsg {
  name: string;
  dtype: 'F32' | 'F64';
  shape: number[];
  data: Float32Array | Float64Array;
}

export type ToWorker =
  | { type: 'chain:run'; running: boolean }
  | { type: 'chain:step'; n: number }
  | { type: 'chain:reset' }
  | { type: 'chain:set'; params: Partial<ChainParams> }
  | { type: 'chain:speed'; stepsPerFrame: number }
  | { type: 'mnist:init'; dataBase: string }
  | { type: 'mnist:run'; running: boolean }
  | { type: 'mnist:spec'; spec: NetworkSpecInput }
  /** a checkpoint: parameters, and the optimiser's moments and scalars (lr, step) when the CLI saved them */
  | { type: 'mnist:load'; spec: NetworkSpecInput; tensors: TensorMsg[]; optim?: TensorMsg[]; optimScalars?: Record<string, number> | null }
  | { type: 'mnist:eval'; limit: number }
  /** stopAt: pause learning once this many training samples are done (0: never) */
  | { type: 'mnist:set'; batch?: number; lr?: number; stopAt?: number }
  | { type: 'export'; which: 'chain' | 'mnist' }
  /** the view now shown: the worker runs only the simulation of the visible view (hidden views are paused) */
  | { type: 'view'; name: string }
  /** run GLE, BP and BPTT students side by side from the same initial state (the chain view's comparison) */
  | { type: 'chain:compare'; on: boolean }
  /** operator explorer: measure the simulated neuron's gain and phase (in the worker, latest request only) */
  | { type: 'op:measure'; id: number; tauM: number; tauR: number; w: number; freqs: Float64Array }
  /** the MNIST-1D network's backend: auto (webgpu when navigator.gpu gives an adapter, else wasm) or one by name */
  | { type: 'backend'; choice: BackendChoice };

export type BackendChoice = 'auto' | 'webgpu' | 'wasm' | 'js';

export interface ChainData {
  type: 'chain:data';
  recs: Float64Array;
  n: number;
  steps: number;
  t: number;
  loss: number;
  mode: string;
  stepsPerSec: number;
  params: ChainParams;
  /** side-by-side students (COMPARE_FIELDS records, same count as recs), when the comparison runs */
  compare: Float64Array | null;
  /** τ_m of a layer sits at the clamp (τ_min): its gradient cannot move it up again while it points down */
  clamped: boolean[];
}

export interface OpData {
  type: 'op:data';
  id: number;
  /** gain and phase per operator at the requested frequencies */
  meas: Record<string, { gain: number; phase: number }[]>;
  /** time-domain view, decimated: t, x, u, neuron, error */
  sim: { t: Float64Array; x: Float64Array; u: Float64Array; neuron: Float64Array; error: Float64Array };
  ms: number;
}

export interface MnistData {
  type: 'mnist:data';
  phase: 'train' | 'eval';
  samples: number;
  /** in-stream running accuracy (learning network's own readout) */
  running: number;
  /** prequential running accuracy (scored before learning the sample) */
  prequential: number;
  accuracy: number;
  loss: number;
  confusion: Int32Array;
  sample: Float32Array | null;
  label: number;
  pred: number;
  logits: Float64Array;
  stepsPerSec: number;
  evalDone: boolean;
  /** training samples seen since the network was built (does not restart after an evaluation) */
  trainSamples: number;
  batch: number;
  lr: number;
  /** the backend running this network and its dtype */
  backend: string;
  /** which parameters Evaluate and the prequential score read: the moving average (spec `average`) or the raw ones */
  weights: 'averaged' | 'raw';
}

export type FromWorker =
  | { type: 'ready'; backend: string; chainBackend: string }
  /** the MNIST-1D network's backend after a 'backend' choice */
  | { type: 'backend'; mnist: string }
  | OpData
  | ChainData
  | MnistData
  | { type: 'mnist:status'; text: string }
  | { type: 'checkpoint'; which: 'chain' | 'mnist'; spec: NetworkSpecInput; tensors: TensorMsg[] }
  | { type: 'error'; where: string; message: string };
