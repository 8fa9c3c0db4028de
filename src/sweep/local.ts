/**
 * The local executor (Node only): a pool of worker processes, each running `gle sweep run DIR --index i` with one
 * native thread, as many at once as `jobs` (default: the number of cores). Finished rows are skipped, interrupted
 * ones resume, so running it again continues a sweep. Ctrl-C stops every running row cleanly (each keeps its
 * checkpoint) and exits 130; a second Ctrl-C stops at once. Each row's output goes to DIR/logs/NNNN.log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDuration } from '../report/progress.js';
import { loadSweep, rowStatus } from './dir.js';

/** argv prefix that starts this package's `gle` (same Node, same sources or build as the caller). */
export function gleCommand(): { argv: string[]; env: Record<string, string> } {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const fromDist = /[\\/]dist[\\/]src[\\/]sweep[\\/]?$/.test(here);
  const bin = join(here, fromDist ? '../../../bin/gle.js' : '../../bin/gle.js');
  return { argv: [process.execPath, bin], env: fromDist ? {} : { GLE_FROM_SOURCE: '1' } };
}

export interface LocalOptions {
  jobs?: number;
  /** only these rows (default: all) */
  indices?: number[];
  log?: (line: string) => void;
  /** extra environment for the row processes */
  env?: Record<string, string>;
}

export interface LocalResult {
  done: number[];
  failed: Array<{ index: number; code: number | null }>;
  stopped: number[];
  skipped: number[];
  wall_s: number;
  interrupted: boolean;
}

export async function runLocal(dir: string, opts: LocalOptions = {}): Promise<LocalResult> {
  const sw = loadSweep(dir);
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const jobs = Math.max(1, opts.jobs ?? os.cpus().length);
  const all = opts.indices ?? sw.rows.map((r) => r.index);
  const skipped = all.filter((i) => rowStatus(sw.dir, i) === 'done');
  const todo = all.filter((i) => !skipped.includes(i));
  const res: LocalResult = { done: [], failed: [], stopped: [], skipped, wall_s: 0, interrupted: false };
  const t0 = Date.now();
  log(`sweep ${sw.name}: ${all.length} rows, ${skipped.length} already done, ${todo.length} to run on ${Math.min(jobs, todo.length)} processes`);
  if (!todo.length) return res;
  mkdirSync(join(sw.dir, 'logs'), { recursive: true });
  const cmd = gleCommand();
  const running = new Map<number, ChildProcess>();
  let stopping = false;
  const onSig = () => {
    if (stopping) {
      for (const c of running.values()) c.kill('SIGKILL');
      return;
    }
    stopping = true;
    res.interrupted = true;
    log(`\nsweep: stopping ${running.size} running rows (Ctrl-C again to kill them); each keeps its last checkpoint`);
    for (const c of running.values()) c.kill('SIGINT');
  };
  process.on('SIGINT', onSig);
  const queue = [...todo];
  let finished = 0;
  const rowWalls: number[] = [];
  try {
    await new Promise<void>((resolveAll) => {
      const next = () => {
        if (running.size === 0 && (queue.length === 0 || stopping)) return resolveAll();
        while (!stopping && running.size < jobs && queue.length) {
          const i = queue.shift()!;
          const row = sw.rows[i];
          const logPath = join(sw.dir, 'logs', `${String(i).padStart(4, '0')}.log`);
          const fd = openSync(logPath, 'a');
          const ts = Date.now();
          const child = spawn(cmd.argv[0], [...cmd.argv.slice(1), 'sweep', 'run', sw.dir, '--index', String(i), '--progress', 'plain'], {
            stdio: ['ignore', fd, fd, 'ipc'],
            detached: true, // its own process group: Ctrl-C reaches it once, through us
            env: { ...process.env, GLE_NATIVE_THREADS: '1', ...cmd.env, ...(opts.env ?? {}) },
          });
          closeSync(fd);
          running.set(i, child);
          log(`row ${i} (${row.label}, seed ${row.seed}) started${rowStatus(sw.dir, i) === 'partial' ? ' (resuming)' : ''}`);
          child.on('exit', (code) => {
            running.delete(i);
            const wall = (Date.now() - ts) / 1000;
            finished++;
            if (code === 0 && rowStatus(sw.dir, i) === 'done') {
              res.done.push(i);
              rowWalls.push(wall);
            } else if (stopping || code === 130) res.stopped.push(i);
            else res.failed.push({ index: i, code });
            const left = queue.length + running.size;
            const mean = rowWalls.length ? rowWalls.reduce((a, b) => a + b, 0) / rowWalls.length : NaN;
            const eta = Number.isFinite(mean) && !stopping ? ` ETA ${formatDuration((mean * left) / Math.min(jobs, Math.max(1, left)))}` : '';
            const what = res.done.includes(i) ? 'done' : res.stopped.includes(i) ? 'stopped' : `FAILED (exit ${code}; see ${logPath})`;
            log(`row ${i} ${what} in ${wall.toFixed(1)}s [${finished}/${todo.length} finished, ${running.size} running]${eta}`);
            next();
          });
        }
      };
      next();
    });
  } finally {
    process.off('SIGINT', onSig);
  }
  res.wall_s = (Date.now() - t0) / 1000;
  return res;
}
