/**
 * `gle sweep run DIR --index i`: the one entry point every executor drives. Idempotent: a finished row is
 * skipped; an interrupted row resumes from its checkpoint through the runner's --resume path; a row without a
 * checkpoint starts (over) in DIR/runs/NNNN. The row lock keeps a second process off a row that is running.
 */
import { hostname } from 'node:os';
import { runExperiment } from '../experiments/runner.js';
import type { RunSummary } from '../experiments/types.js';
import { loadSweep, lockRow, recordCompletion, rowDir, rowStatus } from './dir.js';

export interface RowResult {
  index: number;
  /** what happened: skipped (already done), resumed, started */
  action: 'skipped' | 'resumed' | 'started';
  summary: RunSummary | null;
}

export async function runRow(dir: string, index: number, opts: { progress?: 'auto' | 'plain' | 'off'; maxSeconds?: number } = {}): Promise<RowResult> {
  const sw = loadSweep(dir);
  const row = sw.rows[index];
  if (!row) throw new Error(`row ${index} not in ${dir}`);
  if (rowStatus(sw.dir, index) === 'done') return { index, action: 'skipped', summary: null };
  const release = lockRow(sw.dir, index);
  try {
    const status = rowStatus(sw.dir, index); // again, under the lock
    if (status === 'done') return { index, action: 'skipped', summary: null };
    const out = rowDir(sw.dir, index);
    const t0 = Date.now();
    const common = { backend: row.backend, progress: opts.progress ?? 'off', maxSeconds: opts.maxSeconds };
    // a row with a run directory (with or without a checkpoint yet) continues through --resume: the runner restores
    // the checkpoint (or starts over from step 0 with the same config), cuts the metrics back, and keeps the lock
    const summary =
      status === 'partial' || status === 'started'
        ? await runExperiment({ experiment: row.experiment, resume: out, ...common })
        : await runExperiment({ experiment: row.experiment, seed: row.seed, quick: row.quick, set: row.set, out, dtype: row.dtype, ...common });
    if (!summary.interrupted) {
      recordCompletion(sw.dir, { index, label: row.label, seed: row.seed, pid: process.pid, host: hostname(), worker: process.env.GLE_WORKER_ID ?? null, wall_s: (Date.now() - t0) / 1000, finished: new Date().toISOString() });
    }
    return { index, action: status === 'partial' ? 'resumed' : 'started', summary };
  } finally {
    release();
  }
}
