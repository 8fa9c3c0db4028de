/**
 * The sweep API (Node only), what `gle sweep` / `gle worker` / `gle report DIR` drive: a sweep file → a directory
 * with one stable index per row; one row run (idempotent, resumable); the local pool; Slurm and Kubernetes job files;
 * the BullMQ queue; the report. Exported from the package as the namespace `sweep`.
 */
export { parseSweepText, expandSweep, sweepSchema, type SweepSpec, type SweepRow } from './spec.js';
export { createSweep, createSweepFromSpec, loadSweep, rowStatus, rowDir, readCompletions, SWEEP_FORMAT, type Sweep, type RowStatus } from './dir.js';
export { runRow, type RowResult } from './run-row.js';
export { runLocal, type LocalOptions, type LocalResult } from './local.js';
export { slurmScript, k8sJob, k8sManifest, type SlurmOptions, type K8sOptions } from './emit.js';
export { aggregateSweep, writeSweepReport, sweepMarkdown, sweepCsv, type SweepReport, type SettingReport } from './report.js';
export type { WorkerOptions } from './queue.js';

type Queue = typeof import('./queue.js');
// the queue loads BullMQ (and its Redis client) only when used, so importing the package stays light
/** Add the sweep's unfinished rows to a BullMQ queue on Redis (what `gle sweep enqueue` does). */
export async function enqueue(...a: Parameters<Queue['enqueue']>): ReturnType<Queue['enqueue']> {
  return (await import('./queue.js')).enqueue(...a);
}
/** Take rows from the queue and run them until stopped (what `gle worker` does). */
export async function runWorker(...a: Parameters<Queue['runWorker']>): ReturnType<Queue['runWorker']> {
  return (await import('./queue.js')).runWorker(...a);
}
