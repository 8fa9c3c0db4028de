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
  | { type: 'mnist:load'; spec: NetworkSpecInput; tensors: TensorMsg[] }
  | { type: 'mnist:eval'; limit: number }
  | { type: 'export'; which: 'chain' | 'mnist' };

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
}

export type FromWorker =
  | { type: 'ready'; backend: string }
  | ChainData
  | MnistData
  | { type: 'mnist:status'; text: string }
  | { type: 'checkpoint'; which: 'chain' | 'mnist'; spec: NetworkSpecInput; tensors: TensorMsg[] }
  | { type: 'error'; where: string; message: string };
