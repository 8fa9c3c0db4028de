/**
 * The backprop baselines (browser-safe): the MNIST-1D stock MLP, ConvBase/TCN and bidirectional GRU with hand-written
 * backward passes, their layers, Adam and SGD, and the SymmNet of the SAL experiments. Exported from the core as the
 * namespace `baselines`; the `mnist1d-baseline` experiment trains them (`runExperiment`).
 */
export { createBaseline, crossEntropy, Adam, Sgd, type CrossEntropyResult, type BaselineKind, type BaselineModel, type BaselineShape } from './models.js';
export { Dense, Conv1d, Conv2d, GRUDir, BatchNorm, MaxPool2d, relu, reluBackward, jsGemm, alloc, type Gemm, type Param, type Arr, type DType } from './layers.js';
export { nativeGemm } from './native-gemm.js';
export { SymmNet, SYMMNET_MNIST, FEEDBACK_MODES, type FeedbackMode } from './symmnet.js';
