/**
 * The Redis queue executor against a real redis-server (started here on a loopback port, stopped after; the tests
 * are skipped, saying why, when the Debian package is not installed).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSweep, readCompletions, rowDir, rowStatus, type Sweep } from '../src/sweep/dir.js';
import { gleCommand, runLocal } from '../src/sweep/local.js';
import { enqueue } from '../src/sweep/queue.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gle-queue-'));
const gle = gleCommand();
const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
const skip = haveRedis ? false : 'redis-server is not installed (Debian package redis-server): queue tests skipped';
let redis: ChildProcess | null = null;
let url = '';

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

before(async () => {
  if (!haveRedis) return;
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp()], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis-server did not start');
});

after(() => {
  redis?.kill('SIGTERM');
});

function sweepFile(steps: number, evalEvery: number, seeds: number): string {
  const f = join(tmp(), 'q.yaml');
  writeFileSync(f, `name: q\nexperiment: mnist1d-baseline\nseeds: ${seeds}\nset: { model: mlp, totalSteps: ${steps}, evalEvery: ${evalEvery}, hidden: 32 }\n`);
  return f;
}

function startWorker(queue: string, id: string, extra: string[] = []): ChildProcess & { done: Promise<number | null> } {
  const c = spawn(gle.argv[0], [...gle.argv.slice(1), 'worker', '--redis', url, '--queue', queue, '--id', id, '--lock-seconds', '2', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...gle.env },
  }) as ChildProcess & { done: Promise<number | null> };
  let log = '';
  c.stdout!.on('data', (d) => (log += d));
  c.stderr!.on('data', (d) => (log += d));
  c.done = new Promise((res) => c.on('exit', (code) => res(code)));
  (c as unknown as { log: () => string }).log = () => log;
  return c;
}

function finals(sw: Sweep) {
  return sw.rows.map((r) => JSON.parse(readFileSync(join(rowDir(sw.dir, r.index), 'summary.json'), 'utf8')).final);
}

test('queue: two workers drain a sweep; each row runs to completion once; results equal the local executor\'s', { skip, timeout: 300_000 }, async () => {
  const spec = sweepFile(150, 50, 4);
  const sw = createSweep(spec, join(tmp(), 'q'));
  const r = await enqueue(sw.dir, url, { queue: 'drain' });
  assert.equal(r.added, 4);
  assert.equal((await enqueue(sw.dir, url, { queue: 'drain' })).added, 4, 'the same jobs again (ids dedupe them in Redis)');
  const a = startWorker('drain', 'A', ['--exit-when-idle']);
  const b = startWorker('drain', 'B', ['--exit-when-idle']);
  const [ca, cb] = await Promise.all([a.done, b.done]);
  assert.equal(ca, 0, (a as unknown as { log: () => string }).log());
  assert.equal(cb, 0, (b as unknown as { log: () => string }).log());
  assert.deepEqual(sw.rows.map((x) => rowStatus(sw.dir, x.index)), ['done', 'done', 'done', 'done']);
  const comp = readCompletions(sw.dir);
  assert.deepEqual(comp.map((c) => c.index).sort(), [0, 1, 2, 3]);
  assert.ok(comp.every((c) => c.worker === 'A' || c.worker === 'B'));
  // the local executor on the same sweep file gives the same results
  const loc = createSweep(spec, join(tmp(), 'local'));
  await runLocal(loc.dir, { jobs: 2, log: () => {} });
  assert.deepEqual(finals(sw), finals(loc));
});

test('queue: a worker killed (kill -9) mid-row has its row retried and finished by another worker, resumed from its checkpoint', { skip, timeout: 400_000 }, async () => {
  // one long row: 3000 steps with a checkpoint every 100
  const spec = sweepFile(3000, 100, 1);
  const sw = createSweep(spec, join(tmp(), 'q'));
  await enqueue(sw.dir, url, { queue: 'kill' });
  const a = startWorker('kill', 'A');
  const ck = join(rowDir(sw.dir, 0), 'checkpoint', 'meta.json');
  for (let i = 0; i < 1200 && !existsSync(ck); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(ck), `row 0 never checkpointed: ${(a as unknown as { log: () => string }).log()}`);
  assert.notEqual(rowStatus(sw.dir, 0), 'done');
  a.kill('SIGKILL');
  assert.equal(await a.done, null);
  const b = startWorker('kill', 'B', ['--exit-when-idle']);
  const cb = await b.done;
  const blog = (b as unknown as { log: () => string }).log();
  assert.equal(cb, 0, blog);
  assert.equal(rowStatus(sw.dir, 0), 'done');
  const comp = readCompletions(sw.dir);
  assert.deepEqual(comp.map((c) => [c.index, c.worker]), [[0, 'B']], 'finished once, by B');
  assert.match(readFileSync(join(sw.dir, 'logs', '0000.log'), 'utf8'), /resuming/);
  // identical to an uninterrupted local run
  const loc = createSweep(spec, join(tmp(), 'local'));
  await runLocal(loc.dir, { jobs: 1, log: () => {} });
  assert.deepEqual(finals(sw), finals(loc));
  assert.deepEqual(readFileSync(join(rowDir(sw.dir, 0), 'checkpoint', 'state.bin')), readFileSync(join(rowDir(loc.dir, 0), 'checkpoint', 'state.bin')));
});
