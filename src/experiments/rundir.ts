/**
 * Run directories (Node only): one writer per run directory, and no run directory overwritten silently.
 *
 * A run holds `run.lock` (JSON: pid, host, started) in its directory while it writes there. The lock file is created
 * with O_EXCL, so two runs cannot both take it. A lock left by a process that is gone (same host, pid no longer
 * alive) is taken over with a notice; a lock held by a live process, or by another host (whose processes cannot be
 * checked from here), is refused with exit 2.
 */
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { UserError } from '../util/errors.js';

export const LOCK_FILE = 'run.lock';

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    if (typeof j.pid === 'number' && typeof j.host === 'string') return { pid: j.pid, host: j.host, started: String(j.started ?? '?') };
  } catch {
    /* unreadable or cut off: treated below */
  }
  return null;
}

export interface RunLock {
  readonly path: string;
  release(): void;
}

/**
 * Take the run directory's lock (the directory must exist). `log` receives the notice when a stale lock is taken
 * over.
 */
export function acquireRunLock(dir: string, log: (msg: string) => void): RunLock {
  const path = join(dir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new UserError(`cannot lock run directory ${dir}: ${(e as Error).message}`);
      const held = readLock(path);
      if (held && held.pid === process.pid && held.host === me.host) throw new UserError(`run directory ${dir} is already in use by this process`);
      if (held && held.host !== me.host) throw new UserError(`run directory ${dir} is in use by pid ${held.pid} on host ${held.host} (since ${held.started}); if that run is gone, delete ${path}`);
      if (held && alive(held.pid)) throw new UserError(`run directory ${dir} is in use by pid ${held.pid} (since ${held.started}); wait for it to end or use another --out`);
      if (!held) {
        // being written this instant by another run, or cut off by a crash: give a writer a moment to finish
        const age = Date.now() - statSync(path).mtimeMs;
        if (age < 2000 && attempt < 2) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
          continue;
        }
      }
      log(`gle: note: taking over the lock of ${dir} left by ${held ? `pid ${held.pid} (started ${held.started}), which is no longer running` : 'a process that stopped while writing it'}`);
      try {
        unlinkSync(path);
      } catch {
        /* someone else took it over first: the next attempt sees their lock */
      }
      continue;
    }
    writeSync(fd, JSON.stringify(me) + '\n');
    fsyncSync(fd);
    closeSync(fd);
    let released = false;
    return {
      path,
      release() {
        if (released) return;
        released = true;
        const cur = readLock(path);
        if (cur && cur.pid === me.pid && cur.host === me.host) rmSync(path, { force: true });
      },
    };
  }
  throw new UserError(`cannot lock run directory ${dir}: another run keeps taking it`);
}

/**
 * What is at `dir`: nothing, an empty directory (or one holding only a stale lock and temp files of a start that was
 * killed), a run, other files, a file.
 */
export function dirState(dir: string): 'missing' | 'empty' | 'run' | 'other' | 'file' {
  if (!existsSync(dir)) return 'missing';
  if (!statSync(dir).isDirectory()) return 'file';
  // a start killed before it wrote config.json leaves at most its lock and a temp file: that counts as empty
  const entries = readdirSync(dir).filter((f) => f !== LOCK_FILE && !/^\..+\.tmp$/.test(f));
  if (entries.length === 0) {
    if (existsSync(join(dir, LOCK_FILE))) {
      const held = readLock(join(dir, LOCK_FILE));
      if (held && held.host === os.hostname() && alive(held.pid)) return 'run';
    }
    return 'empty';
  }
  return existsSync(join(dir, 'config.json')) ? 'run' : 'other';
}

/**
 * The directory a fresh run writes to. An explicit `--out` must be missing or empty (a run there is refused with the
 * hint to resume it; a file or a non-run folder is refused). The default name gets a suffix -2, -3, ... when taken,
 * and `log` says so.
 */
export function chooseRunDir(dir: string, explicit: boolean, log: (msg: string) => void): string {
  const st = dirState(dir);
  if (st === 'missing' || st === 'empty') return dir;
  if (explicit) {
    if (st === 'file') throw new UserError(`--out ${dir}: exists and is a file, not a directory`);
    if (st === 'run') throw new UserError(`--out ${dir}: already holds a run; continue it with --resume ${dir}, or choose another --out (nothing was changed)`);
    throw new UserError(`--out ${dir}: exists and is not empty (and holds no run); choose another --out (nothing was changed)`);
  }
  for (let i = 2; i < 10000; i++) {
    const d = `${dir}-${i}`;
    const s = dirState(d);
    if (s === 'missing' || s === 'empty') {
      log(`gle: note: ${dir} already holds a run; writing this one to ${d} (continue the old one with --resume ${dir})`);
      return d;
    }
  }
  throw new UserError(`cannot find a free run directory name next to ${dir}`);
}
