/**
 * The browser-safe core of gle: kernels (js, wasm), the GLE model, learning rules, pure formats and data generators.
 * Nothing here touches the disk or the screen.
 */
export * from './kernels/index.js';
export * from './model/dynamics.js';
export * from './model/network.js';
export * from './model/spec.js';
export * from './model/losses.js';
export * from './learn/optim.js';
export * from './learn/learner.js';
export { TruncatedBPTT } from './learn/bptt.js';
export { AdjointLearner } from './learn/adjoint.js';
export * from './io/trace.js';
export { parseNpy, encodeNpy, npyToNumbers, type NpyArray, type NpyDType } from './io/npy.js';
export { encodeSafetensors, decodeSafetensors, type SafeTensor, type SafetensorsFile } from './io/safetensors.js';
export { generateMnist1d, MNIST1D_TEMPLATES, type Mnist1dGenOptions } from './data/mnist1d-gen.js';
export { SequenceBatcher } from './data/stream.js';
export { SquareWaveInput, SinesInput } from './data/signals.js';
export { LogMelExtractor } from './data/speech/melspec.js';
export { decodeWav } from './data/speech/wav.js';
export { Rng } from './util/rng.js';
export { setMemoryLimit, memoryLimit, estimateNetworkBytes } from './model/memory.js';
export { UserError } from './util/errors.js';
