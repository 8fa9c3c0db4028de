/**
 * The team queue (Node only): BullMQ on Redis. `gle sweep enqueue DIR --redis URL` adds one job per unfinished row
 * (job id = sweep id + row, so enqueuing twice adds nothing); `gle worker --redis URL` takes jobs and runs each in a
 * child process as `gle sweep run DIR --index i`.
 *
 * One owner per row: BullMQ gives a job to one worker at a time under a lock the worker renews (its event loop is
 * free: the row runs in the child). A worker that dies (kill -9, a lost machine) stops renewing; after the lock
 * expires BullMQ's stalled-job check hands the job to another worker, whose row process resumes the row from its
 * checkpoint. The row lock in the sweep directory keeps the new owner off the row until the old row process has
 * gone (it notices its worker's death and stops); a job that finds the row busy fails and is retried with back-off.
 * Workers need the sweep directory at the same path (a shared file system); results stay there.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { UserError } from '../util/errors.js';
import { loadSweep, rowStatus } from './dir.js';
import { gleCommand } from './local.js';

export const DEFAULT_QUEUE = 'gle-sweeps';

/** redis://[user:password@]host[:port][/db] -> ioredis options (BullMQ needs maxRetriesPerRequest null). */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`--redis: not a URL: '${url}' (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UserError(`--redis: expected a redis:// URL, got '${url}'`);
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) throw new UserError(`--redis: database must be a number, got '${db}'`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    // fail fast at start-up when Redis is not there, instead of retrying for ever
    retryStrategy: (times: number) => (times > 20 ? null : Math.min(times * 200, 2000)),
  };
}

export function sweepId(dir: string, name: string): string {
  return `${name.replace(/[^\w.-]/g, '_')}-${createHash('sha256').update(dir).digest('hex').slice(0, 10)}`;
}

export interface RowJob {
  dir: string;
  index: number;
}

export async function enqueue(dir: string, redisUrl: string, o: { queue?: string; attempts?: number } = {}): Promise<{ added: number; skipped: number; queue: string }> {
  const sw = loadSweep(dir);
  const q = new Queue<RowJob>(o.queue ?? DEFAULT_QUEUE, { connection: redisConnection(redisUrl) });
  try {
    await q.waitUntilReady();
    const id = sweepId(sw.dir, sw.name);
    const todo = sw.rows.filter((r) => rowStatus(sw.dir, r.index) !== 'done');
    await q.addBulk(
      todo.map((r) => ({
        name: `${sw.name}#${r.index}`,
        data: { dir: sw.dir, index: r.index },
        opts: { jobId: `${id}-${r.index}`, attempts: o.attempts ?? 8, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: false },
      })),
    );
    return { added: todo.length, skipped: sw.rows.length - todo.length, queue: q.name };
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot enqueue on ${redisUrl}: ${(e as Error).message}`);
  } finally {
    await q.close();
  }
}

export interface WorkerOptions {
  queue?: string;
  concurrency?: number;
  /** seconds a job's lock lasts without renewal (BullMQ lockDuration); a dead worker's row moves on after it */
  lockSeconds?: number;
  /** exit once the queue has nothing waiting, delayed or active */
  exitWhenIdle?: boolean;
  id?: string;
  log?: (line: string) => void;
}

/** Runs until SIGINT/SIGTERM (or, with exitWhenIdle, until the queue is drained). Returns the rows it finished. */
export async function runWorker(redisUrl: string, o: WorkerOptions = {}): Promise<{ finished: number[]; failed: number[] }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const connection = redisConnection(redisUrl);
  const name = o.queue ?? DEFAULT_QUEUE;
  const id = o.id ?? `${hostname()}:${process.pid}`;
  const cmd = gleCommand();
  const finished: number[] = [];
  const failed: number[] = [];
  const children = new Set<ReturnType<typeof spawn>>();
  const lockMs = Math.round((o.lockSeconds ?? 30) * 1000);
  const processor = async (job: Job<RowJob>) => {
    const { dir, index } = job.data;
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const fd = openSync(join(dir, 'logs', `${String(index).padStart(4, '0')}.log`), 'a');
    log(`worker ${id}: row ${index} of ${dir} (attempt ${job.attemptsMade + 1})`);
    const code = await new Promise<number | null>((res, rej) => {
      const child = spawn(cmd.argv[0], [...cmd.argv.slice(1), 'sweep', 'run', dir, '--index', String(index), '--progress', 'plain'], {
        stdio: ['ignore', fd, fd, 'ipc'], // the ipc channel closes if this worker dies: the row then stops itself
        detached: true, // its own process group: a terminal's Ctrl-C reaches it once, through this worker
        env: { ...process.env, GLE_NATIVE_THREADS: process.env.GLE_NATIVE_THREADS ?? '1', GLE_WORKER_ID: id, ...cmd.env },
      });
      children.add(child);
      child.on('error', rej);
      child.on('exit', (c) => {
        children.delete(child);
        res(c);
      });
    });
    closeSync(fd);
    if (code === 0 && rowStatus(dir, index) === 'done') {
      finished.push(index);
      log(`worker ${id}: row ${index} done`);
      return { index, worker: id };
    }
    failed.push(index);
    throw new Error(code === 75 ? `row ${index} is busy (another process holds it); retrying later` : `row ${index} exited with ${code}`);
  };
  const worker = new Worker<RowJob>(name, processor, {
    connection,
    concurrency: o.concurrency ?? 1,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: 5,
    autorun: false,
  });
  worker.on('failed', (job, err) => log(`worker ${id}: ${job ? `row ${job.data.index}` : 'job'} failed: ${err.message}`));
  worker.on('error', (err) => log(`worker ${id}: ${err.message}`));
  const stop = async () => {
    for (const c of children) c.kill('SIGINT');
    await worker.close();
  };
  const onSig = () => void stop();
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  let idleTimer: NodeJS.Timeout | null = null;
  try {
    await worker.waitUntilReady();
    log(`worker ${id}: waiting for rows on queue '${name}'`);
    if (o.exitWhenIdle) {
      const q = new Queue(name, { connection });
      let idle = 0;
      idleTimer = setInterval(async () => {
        try {
          const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children');
          const busy = Object.values(c).reduce((a, b) => a + b, 0) + children.size;
          idle = busy === 0 ? idle + 1 : 0;
          if (idle >= 2) {
            clearInterval(idleTimer!);
            await q.close();
            await stop();
          }
        } catch {
          /* transient: next tick */
        }
      }, 500);
    }
    await worker.run();
  } catch (e) {
    throw new UserError(`worker on ${redisUrl}: ${(e as Error).message}`);
  } finally {
    if (idleTimer) clearInterval(idleTimer);
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
  return { finished, failed };
}
