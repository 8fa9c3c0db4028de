/**
 * gle for Node: the browser-safe core plus the native backend, files (npy, safetensors, checkpoints), data loaders
 * and the experiment runner.
 */
export * from './core.js';
export { createNodeBackend } from './node.js';
export type { NativeBackend } from './kernels/native/index.js';
export { saveCheckpoint, readCheckpoint, applyCheckpoint, recoverCheckpoint } from './io/checkpoint.js';
export { writeFileAtomic, readNpyFile, writeNpyFile, readJsonFile } from './io/files.js';
export { loadMnist1d, loadXY } from './data/mnist1d-files.js';
export { openKW12 } from './data/speech/files.js';
export { runExperiment } from './experiments/runner.js';
export { evaluate } from './experiments/classify.js';
export { mnist1dSource, speechSource, xySource, type SeqSource } from './experiments/sources.js';
export { EXPERIMENTS, findExperiment } from './experiments/registry.js';
export * as sweep from './sweep/index.js';
export { lineChartSvg, heatmapSvg, type LineSeries, type LineChartOptions } from './report/plot.js';
export { saveFigure, svgToPng } from './report/figures.js';
