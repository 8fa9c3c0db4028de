/**
 * Run outputs and reporting (Node): metrics logs, figures, progress display, aggregation over seeds.
 * Browser code should import './plot.js' directly (the only browser-safe module here).
 */
export * from './metrics.js';
export * from './plot.js';
export * from './figures.js';
export * from './progress.js';
export * from './aggregate.js';
export * from './run-figures.js';
