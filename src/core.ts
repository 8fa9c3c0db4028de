/**
 * The browser-safe core of gle: kernels (js, wasm), the GLE model, learning rules, pure formats and data generators.
 * Nothing here touches the disk or the screen.
 */
export * from './kernels/index.js';
export * from './model/dynamics.js';
export * from './model/network.js';
export * from './model/spec.js';
export * from './model/losses.js';
export type { Feedback, LayerType, NeuronModel, PopulationDecl, Projection, ProjTensor, Workspace } from './model/layers/types.js';
export { GLE_POPULATION, RELAY_POPULATION, POPULATIONS, E_BOTTOM } from './model/layers/populations.js';
export { DenseProjection } from './model/layers/dense.js';
export { ConvProjection } from './model/layers/conv.js';
export { MaxPoolProjection } from './model/layers/pool.js';
export { registerKernel, getKernel, listKernels, type KernelImpl } from './kernels/registry.js';
export { phiEval, phiRecord, PHI_R, PHI_RP, PHI_RPP, PHI_DR, PHI_X } from './kernels/phi.js';
export * from './learn/optim.js';
export * from './learn/learner.js';
export { SequenceClassifier, runBatch, evaluateBatches, type SeqBatch, type EvalResult, type BatchResult } from './learn/classify-loop.js';
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
export * as spiking from './spiking/index.js';
export * as baselines from './baselines/index.js';
export * from './learn/alignment.js';
export { setMemoryLimit, memoryLimit, estimateNetworkBytes } from './model/memory.js';
export { UserError } from './util/errors.js';
export { LAGLINE_TEACHER, lagLineSpec, type LagLineSpecOptions } from './experiments/teachers.js';
export * as microcircuit from './model/microcircuit.js';
export { yinYang, yinYangClass, MT19937, BARS_PATTERNS, BARS_LABELS, type YinYangSet } from './data/yinyang.js';
export { LENetwork, parseLeSpec, type LeSpec, type LeSpecInput } from './model/le-network.js';
export { leRunSpec, type LeRunParams } from './experiments/le-spec.js';

// the webgpu backend (issue 19): the device, dense GLE training on it, the classify loop on it
export { WebGpuEngine, type GpuCounters } from './kernels/webgpu/engine.js';
export { GpuTrainer, gpuUnsupported, type GpuTrainerOptions, type GpuRunOptions, type GpuRunResult } from './learn/gpu-trainer.js';
export { DeviceNet, GpuSequenceClassifier } from './learn/gpu-classify.js';
