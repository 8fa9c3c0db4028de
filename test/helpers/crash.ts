/**
 * Kill-at-random-instants harness (used by test/crash.test.ts and bench/crash-kill.ts): runs `gle run` in a child
 * process, SIGKILLs it after a random delay (with GLE_TEST_CKPT_PAUSE_MS set, so kills also land inside checkpoint
 * writes), resumes with `--resume` (killing again at random) until a run completes, and compares what it left with an
 * uninterrupted reference run: metrics.jsonl and metrics.csv byte for byte, summary.json without its timing fields,
 * and the checkpoint's model files byte for byte.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GLE = join(ROOT, 'bin', 'gle.js');

export interface Exit {
  code: number | null;
  signal: string | null;
  stderr: string;
  killed: boolean;
}

/**
 * Run gle with `args`; when `killAfterMs` is given, SIGKILL it that long after it has taken the lock of `lockDir`
 * (so the kill lands in the run's work, not in Node's start-up; if it never takes the lock, it runs to its end).
 */
export function gle(args: string[], opts: { killAfterMs?: number; lockDir?: string; env?: Record<string, string> } = {}): Promise<Exit> {
  return new Promise((res) => {
    // GLE_CRASH_COMPILED=1: run the compiled CLI (dist/, from `npm run build`), which starts faster than tsx
    const compiled = process.env.GLE_CRASH_COMPILED === '1';
    const p = spawn(process.execPath, compiled ? [GLE, ...args] : ['--import', 'tsx', GLE, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...(compiled ? {} : { GLE_FROM_SOURCE: '1' }), ...(opts.env ?? {}) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killed = false;
    let t: NodeJS.Timeout | null = null;
    let exited = false;
    if (opts.killAfterMs !== undefined && opts.lockDir) {
      const lockPath = join(opts.lockDir, 'run.lock');
      const poll = () => {
        if (exited) return;
        let held = false;
        try {
          held = JSON.parse(readFileSync(lockPath, 'utf8')).pid === p.pid;
        } catch {
          /* not there yet */
        }
        if (held) t = setTimeout(() => (killed = p.kill('SIGKILL')), opts.killAfterMs);
        else t = setTimeout(poll, 10);
      };
      poll();
    }
    p.on('close', (code, signal) => {
      exited = true;
      if (t) clearTimeout(t);
      res({ code, signal, stderr, killed: killed && signal === 'SIGKILL' });
    });
  });
}

/** Strip what legitimately differs between an uninterrupted and a resumed run (timing, directory, session). */
export function comparableSummary(dir: string): string {
  const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  for (const k of ['dir', 'wall_s', 'steps_per_s', 'stepping_s', 'session_steps', 'machine', 'backend_info']) delete s[k]; // backend_info: the thread choice reflects the machine's load
  return JSON.stringify(s);
}

/** The file's text with the wall_s field/column taken out (the only thing allowed to differ); the rest byte for byte. */
export function withoutWallTime(path: string): string {
  const text = readFileSync(path, 'utf8');
  if (path.endsWith('.jsonl'))
    return text.replace(/,"wall_s":[-0-9.eE+]+/g, '');
  const lines = text.split('\n');
  const col = lines[0].split(',').indexOf('wall_s');
  if (col < 0) return text;
  return lines.map((l) => l.split(',').filter((_, i) => i !== col).join(',')).join('\n');
}

function files(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const f of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix ? join(prefix, f) : f;
    if (f.endsWith('.safetensors') || f === 'spec.json') out.push(rel);
    else if (!f.includes('.')) out.push(...files(dir, rel));
  }
  return out;
}

/** The differences between a run directory and the reference one (empty = identical). */
export function differences(ref: string, dir: string): string[] {
  const diffs: string[] = [];
  if (!existsSync(join(dir, 'summary.json'))) return ['no summary.json'];
  for (const f of ['metrics.jsonl', 'metrics.csv']) {
    if (withoutWallTime(join(ref, f)) !== withoutWallTime(join(dir, f))) diffs.push(f);
  }
  if (comparableSummary(ref) !== comparableSummary(dir)) diffs.push('summary.json');
  const ck = join(ref, 'checkpoint');
  for (const f of files(ck)) {
    const p = join(dir, 'checkpoint', f);
    if (!existsSync(p) || !readFileSync(join(ck, f)).equals(readFileSync(p))) diffs.push(`checkpoint/${f}`);
  }
  for (const f of readdirSync(dir)) if (f.startsWith('.') || f === 'run.lock') diffs.push(`leftover ${f}`);
  return diffs;
}

export interface CrashResult {
  kills: number;
  /** kills that left no resumable run directory (the run had not yet written config.json): started over fresh */
  restarts: number;
  attempts: number;
  /** kills that left a checkpoint save unfinished: staging written / between the two renames / old copy not yet removed */
  inSave: { staging: number; betweenRenames: number; cleanup: number };
  diffs: string[];
  errors: string[];
}

/**
 * One run of `args` (fresh, into `dir`), killed `kills` times at random instants in [minMs, maxMs) after it took the
 * run's lock, and resumed each time, then resumed to completion; compared with `ref`.
 */
export async function crashRun(args: string[], dir: string, ref: string, kills: number, rand: () => number, minMs: number, maxMs: number, pauseMs = 2): Promise<CrashResult> {
  const env = { GLE_TEST_CKPT_PAUSE_MS: String(pauseMs) };
  const r: CrashResult = { kills: 0, restarts: 0, attempts: 0, inSave: { staging: 0, betweenRenames: 0, cleanup: 0 }, diffs: [], errors: [] };
  let done = false;
  // the checkpoint cadence is an option of each session, not of the run: a resume without it would checkpoint only at
  // its end (default 60 s), finish in a fraction of a second, and leave the later kills nothing to land in
  const ci = args.indexOf('--checkpoint-seconds');
  const resumeOpts = ci >= 0 ? args.slice(ci, ci + 2) : [];
  for (let i = 0; i <= kills + 20 && !done; i++) {
    const fresh = !existsSync(join(dir, 'config.json'));
    if (fresh && i > 0) r.restarts++;
    const cmd = fresh ? ['run', ...args, '--out', dir] : ['run', '--resume', dir, '--progress', 'off', ...resumeOpts];
    const killAt = r.kills < kills ? minMs + rand() * (maxMs - minMs) : undefined;
    r.attempts++;
    const e = await gle(cmd, { killAfterMs: killAt, lockDir: dir, env });
    if (e.killed) {
      r.kills++;
      // where the kill left the checkpoint (before --resume recovers it)
      if (existsSync(dir)) {
        const left = readdirSync(dir);
        const hasCk = left.includes('checkpoint');
        if (left.some((f) => f.startsWith('.checkpoint.old-'))) {
          if (hasCk) r.inSave.cleanup++;
          else r.inSave.betweenRenames++;
        } else if (left.some((f) => f.startsWith('.checkpoint.new-'))) r.inSave.staging++;
      }
    }
    else if (e.code === 0) done = true;
    else r.errors.push(`${cmd.join(' ')} -> exit ${e.code}: ${e.stderr.trim().split('\n').pop()}`);
    if (r.errors.length > 2) break;
  }
  if (!done) r.errors.push('never completed');
  else r.diffs = differences(ref, dir);
  return r;
}
