/**
 * The sweep directory (Node only):
 *
 *   DIR/sweep.json         the spec and its expanded table: {format, name, spec, rows: [{index, label, experiment,
 *                          quick, set, seed, backend}]}; its rows never change: a sweep file that keeps every row
 *                          and adds rows after them (a new group at the end) extends it (`extended` lists when)
 *   DIR/runs/NNNN/         the run directory of row NNNN (made by the ordinary runner: config, metrics, checkpoint,
 *                          summary, figures)
 *   DIR/locks/NNNN.lock    held while a process runs the row ({pid, host, since}; its mtime is a heartbeat)
 *   DIR/logs/NNNN.log      the row's output when an executor ran it in a child process
 *   DIR/completions.log    one JSON line each time a row runs to completion (who, when, wall time)
 *
 * A row is `done` when its summary.json says it was not interrupted, `partial` when its run directory has a
 * checkpoint to resume from, `started` when it has a run directory without a checkpoint (it starts over), else
 * `pending`.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../io/files.js';
import { expandSweep, parseSweepText, type SweepRow, type SweepSpec } from './spec.js';

export const SWEEP_FORMAT = 'gle-sweep/1';

export interface Sweep {
  dir: string;
  name: string;
  spec: SweepSpec;
  rows: SweepRow[];
  /** set when this call appended rows to an existing sweep directory: its row count before */
  extendedFrom?: number;
}

export type RowStatus = 'done' | 'partial' | 'started' | 'pending';

export function rowDir(dir: string, index: number): string {
  return join(dir, 'runs', String(index).padStart(4, '0'));
}

/** Read a sweep file and create (or reopen, when it holds the same table) a sweep directory. */
export function createSweep(specPath: string, dir: string | undefined): Sweep {
  if (!existsSync(specPath)) throw new UserError(`${specPath}: no such sweep file`);
  const spec = parseSweepText(readFileSync(specPath, 'utf8'), specPath);
  const name = spec.name ?? specPath.replace(/^.*[\\/]/, '').replace(/\.(ya?ml|json)$/i, '');
  return createSweepFromSpec(spec, name, dir, specPath);
}

/** The same from a spec object (e.g. built from command-line flags); `what` names it in errors. */
export function createSweepFromSpec(spec: SweepSpec, name: string, dir: string | undefined, what = 'sweep'): Sweep {
  const rows = expandSweep(spec, what);
  const out = resolve(dir ?? join('runs', 'sweeps', name));
  const file = join(out, 'sweep.json');
  if (existsSync(file)) {
    const old = loadSweep(out);
    if (JSON.stringify(old.rows) === JSON.stringify(rows)) return old;
    // the same rows first, then new ones: append them (every existing index and run directory keeps its meaning)
    const prefix = rows.length > old.rows.length && old.rows.every((r, i) => JSON.stringify(r) === JSON.stringify(rows[i]));
    if (!prefix) {
      throw new UserError(`${out} already holds a different sweep (${old.rows.length} rows; a sweep file may only add rows after them); choose another --out or remove it`);
    }
    const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const extended = [...((j.extended as unknown[]) ?? []), { at: new Date().toISOString(), from_rows: old.rows.length, to_rows: rows.length }];
    writeFileAtomic(file, JSON.stringify({ ...j, spec, rows, extended }, null, 2) + '\n');
    return { dir: out, name: old.name, spec, rows, extendedFrom: old.rows.length };
  }
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UserError(`${out} exists and is not a directory`);
  mkdirSync(join(out, 'runs'), { recursive: true });
  writeFileAtomic(file, JSON.stringify({ format: SWEEP_FORMAT, name, created: new Date().toISOString(), spec, rows }, null, 2) + '\n');
  return { dir: out, name, spec, rows };
}

export function loadSweep(dir: string): Sweep {
  const d = resolve(dir);
  const file = join(d, 'sweep.json');
  if (!existsSync(file)) throw new UserError(`${dir}: not a sweep directory (no sweep.json)`);
  let j: { format?: string; name?: string; spec?: SweepSpec; rows?: SweepRow[] };
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (j.format !== SWEEP_FORMAT || !Array.isArray(j.rows) || !j.spec) throw new UserError(`${file}: not a ${SWEEP_FORMAT} file`);
  return { dir: d, name: j.name ?? 'sweep', spec: j.spec, rows: j.rows };
}

export function rowStatus(dir: string, index: number): RowStatus {
  const rd = rowDir(dir, index);
  const sp = join(rd, 'summary.json');
  if (existsSync(sp)) {
    try {
      const s = JSON.parse(readFileSync(sp, 'utf8')) as { interrupted?: boolean };
      if (s.interrupted === false) return 'done';
    } catch {
      /* a summary being rewritten: not done */
    }
  }
  if (existsSync(join(rd, 'checkpoint', 'meta.json'))) return 'partial';
  // a save cut off between its two renames leaves the previous checkpoint aside (restored on resume)
  if (existsSync(rd) && readdirSync(rd).some((f) => f.startsWith('.checkpoint.old-'))) return 'partial';
  if (existsSync(join(rd, 'config.json'))) return 'started';
  return 'pending';
}

export function parseIndex(v: string | undefined, n: number, what: string): number {
  if (v === undefined || !/^\d+$/.test(v.trim())) throw new UserError(`${what} must be a row index (0..${n - 1}), got '${v ?? ''}'`);
  const i = Number(v.trim());
  if (i >= n) throw new UserError(`${what} ${i} is out of range: the sweep has ${n} rows (0..${n - 1})`);
  return i;
}

// ---------------------------------------------------------------- row locks

/** Thrown when another live process holds the row (exit code 75, "try again later"). */
export class RowBusyError extends UserError {
  constructor(message: string) {
    super(message, 75);
  }
}

const STALE_MS = 120_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the row's lock file (O_EXCL). A lock left by a dead process on this host, or one whose heartbeat (mtime) is
 * older than two minutes, is taken over. Returns a release function; the heartbeat touches the file every 10 s
 * while the event loop runs (the runner yields to it between batches).
 */
export function lockRow(dir: string, index: number): () => void {
  const ld = join(dir, 'locks');
  mkdirSync(ld, { recursive: true });
  const path = join(ld, `${String(index).padStart(4, '0')}.lock`);
  const me = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify(me) + '\n');
      closeSync(fd);
      const beat = setInterval(() => {
        try {
          const t = new Date();
          utimesSync(path, t, t);
        } catch {
          /* lock removed under us: nothing to do */
        }
      }, 10_000);
      beat.unref();
      return () => {
        clearInterval(beat);
        try {
          const cur = JSON.parse(readFileSync(path, 'utf8')) as { pid: number; host: string };
          if (cur.pid === me.pid && cur.host === me.host) rmSync(path, { force: true });
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: { pid?: number; host?: string } = {};
    try {
      holder = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      /* half-written or vanished: judged by age */
    }
    let age = 0;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    const deadHere = holder.host === me.host && typeof holder.pid === 'number' && !pidAlive(holder.pid);
    if (deadHere || age > STALE_MS) {
      rmSync(path, { force: true });
      continue;
    }
    throw new RowBusyError(`row ${index} is being run by pid ${holder.pid ?? '?'} on ${holder.host ?? '?'} (lock ${path})`);
  }
  throw new RowBusyError(`row ${index}: could not take its lock ${path}`);
}

export function recordCompletion(dir: string, rec: Record<string, unknown>): void {
  appendFileSync(join(dir, 'completions.log'), JSON.stringify(rec) + '\n');
}

export function readCompletions(dir: string): Array<{ index: number; [k: string]: unknown }> {
  const p = join(dir, 'completions.log');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}
