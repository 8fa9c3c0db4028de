/**
 * Runs that never lose work (issue 13): whole-checkpoint atomicity and recovery, the divergence guard, one writer per
 * run directory, no silent overwrite, --resume --set rules and records, a backend switch recorded, the lab server's
 * headers and Host check, and a crash test killing runs at random instants (inside checkpoint writes too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../src/experiments/runner.js';
import { DivergenceError, DIVERGED_EXIT_CODE } from '../src/experiments/guard.js';
import { acquireRunLock, chooseRunDir } from '../src/experiments/rundir.js';
import { readCheckpoint, recoverCheckpoint } from '../src/io/checkpoint.js';
import { readMetrics } from '../src/report/metrics.js';
import { startLabServer } from '../src/cli/commands/lab.js';
import { UserError } from '../src/util/errors.js';
import { crashRun, gle, ROOT } from './helpers/crash.js';

const dir = mkdtempSync(join(tmpdir(), 'gle-runs-'));
const quiet = { progress: 'off' as const };
const mnistSmall = ['maxTrain=200', 'maxTest=100', 'batch=50', 'testBatch=100'];

test('divergence: a NaN run stops within a logging interval with exit code 3, keeps the last good checkpoint, and says so in summary.json', async () => {
  const out = join(dir, 'diverge');
  await assert.rejects(
    runExperiment({ experiment: 'lagline', quick: true, out, set: ['optimizer.lrTimesBeta=1e30', 'trainSteps=3000'], checkpointSeconds: 0, ...quiet }),
    (e: unknown) => e instanceof DivergenceError && e.exitCode === DIVERGED_EXIT_CODE && /diverged: .* became (NaN|-?Infinity) by step \d+; stopped, the last good checkpoint \(step \d+\) is kept/.test(e.message),
  );
  const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(s.diverged.unit, 'step');
  const ck = readCheckpoint(join(out, 'checkpoint')); // loads: every value finite (applyCheckpoint would refuse NaN)
  const step = (ck.meta!.extra as { step: number }).step;
  assert.equal(`step ${step}`, s.diverged.checkpoint_kept);
  assert.ok(s.diverged.step - step <= 100, `detected within one logging interval of the last good checkpoint (${step} -> ${s.diverged.step})`);
  for (const t of Object.values(ck.tensors)) for (const v of t.data as Float32Array) assert.ok(Number.isFinite(v));
  // the log: every loss before the stop is finite except (at most) the last record, which shows the divergence
  const recs = readMetrics(out);
  assert.equal(recs[recs.length - 1].step, s.diverged.step);
});

test('one writer per run directory: a live lock is refused, a stale one taken over with a notice; a run dir is never overwritten', async () => {
  const d = join(dir, 'locked');
  mkdirSync(d);
  const notes: string[] = [];
  const lock = acquireRunLock(d, (m) => notes.push(m));
  assert.throws(() => acquireRunLock(d, () => {}), /already in use by this process/);
  lock.release();
  // a live process of someone else (our parent test runner) holds it
  writeFileSync(join(d, 'run.lock'), JSON.stringify({ pid: process.ppid, host: hostname(), started: 'x' }));
  assert.throws(() => acquireRunLock(d, () => {}), new RegExp(`in use by pid ${process.ppid}`));
  writeFileSync(join(d, 'run.lock'), JSON.stringify({ pid: process.ppid, host: 'elsewhere', started: 'x' }));
  assert.throws(() => acquireRunLock(d, () => {}), /on host elsewhere/);
  // a dead process: a child that has exited
  const dead = await new Promise<number>((res) => {
    const p = spawn(process.execPath, ['-e', '0']);
    p.on('exit', () => res(p.pid!));
  });
  writeFileSync(join(d, 'run.lock'), JSON.stringify({ pid: dead, host: hostname(), started: 'x' }));
  const l2 = acquireRunLock(d, (m) => notes.push(m));
  assert.match(notes.join('\n'), new RegExp(`taking over the lock .* pid ${dead} .* no longer running`));
  assert.equal(JSON.parse(readFileSync(join(d, 'run.lock'), 'utf8')).pid, process.pid);
  l2.release();
  assert.ok(!existsSync(join(d, 'run.lock')));

  // an existing run: explicit --out refused, default name moves to a fresh suffix and says so
  writeFileSync(join(d, 'config.json'), '{}');
  assert.throws(() => chooseRunDir(d, true, () => {}), /already holds a run; continue it with --resume/);
  const msgs: string[] = [];
  assert.equal(chooseRunDir(d, false, (m) => msgs.push(m)), `${d}-2`);
  assert.match(msgs[0], /already holds a run; writing this one to .*locked-2/);
  // a start killed before config.json: its stale lock and temp file do not block a fresh run
  const killed = join(dir, 'killed-start');
  mkdirSync(killed);
  writeFileSync(join(killed, 'run.lock'), JSON.stringify({ pid: dead, host: hostname(), started: 'x' }));
  writeFileSync(join(killed, '.config.json.123.456.0.tmp'), '{"cut');
  assert.equal(chooseRunDir(killed, true, () => {}), killed);
  writeFileSync(join(dir, 'plainfile'), 'x');
  assert.throws(() => chooseRunDir(join(dir, 'plainfile'), true, () => {}), /is a file/);
});

test('two runs into one --out: the second is refused while the first runs, and the first ends intact', async () => {
  const out = join(dir, 'two');
  // the first run (155k steps) runs until we stop it with SIGINT (as Ctrl-C)
  const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bin', 'gle.js'), 'run', 'lagline', '--quick', '--progress', 'off', '--out', out], {
    cwd: ROOT,
    env: { ...process.env, GLE_FROM_SOURCE: '1' },
    stdio: 'ignore',
  });
  const firstExit = new Promise<number | null>((res) => p.on('close', (code) => res(code)));
  for (let i = 0; i < 1200 && !existsSync(join(out, 'metrics.jsonl')); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(existsSync(join(out, 'config.json')), 'the first run started');
  await assert.rejects(runExperiment({ experiment: 'lagline', quick: true, seed: 4, out, ...quiet }), (e: unknown) => e instanceof UserError && e.exitCode === 2 && /already holds a run/.test(e.message));
  await assert.rejects(runExperiment({ experiment: '', resume: out, ...quiet }), (e: unknown) => e instanceof UserError && new RegExp(`is in use by pid ${p.pid}`).test(e.message));
  p.kill('SIGINT');
  assert.equal(await firstExit, 130);
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).seed, 0);
  assert.equal(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).interrupted, true);
  readCheckpoint(join(out, 'checkpoint'));
  assert.ok(!existsSync(join(out, 'run.lock')), 'the lock is released at the end');
});

test('--resume: --set changes are recorded with the step they take effect, a backend switch is warned about and recorded, metrics continue', async () => {
  const out = join(dir, 'resume');
  await runExperiment({ experiment: 'lagline', quick: true, out, set: ['trainSteps=1000'], backend: 'js', maxSeconds: 1e-3, ...quiet });
  const before = readMetrics(out).length;
  const stopped = readCheckpoint(join(out, 'checkpoint')).meta!.extra as { step: number };
  let err = '';
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    await runExperiment({ experiment: '', resume: out, set: ['analysisSteps=null'], backend: 'wasm', ...quiet });
  } finally {
    process.stderr.write = orig;
  }
  assert.match(err, /warning: resuming on backend wasm, the run was last on js/);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.resumes.length, 1);
  assert.deepEqual({ ...cfg.resumes[0], at: 0 }, { at: 0, step: stopped.step, set: ['analysisSteps=null'], backend: 'wasm', backend_switched_from: 'js' });
  const recs = readMetrics(out);
  assert.equal(recs.length, 60);
  assert.ok(recs.length > before);
  assert.deepEqual(recs.map((r) => r.step), Array.from({ length: 60 }, (_, i) => 100 * (i + 1)), 'steps continue across the resume');
  const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(s.steps, 6000);
  assert.equal(s.session_steps, 6000 - stopped.step);
});

test('a checkpoint save cut off between its renames is recovered; leftovers are cleaned', async () => {
  const out = join(dir, 'recover');
  await runExperiment({ experiment: 'lagline', quick: true, out, set: ['initSteps=500', 'initTeacherTau=200', 'trainSteps=500'], ...quiet });
  const ck = join(out, 'checkpoint');
  const model = readFileSync(join(ck, 'model.safetensors'));
  // the state a kill leaves between "checkpoint -> .old" and ".new -> checkpoint"
  renameSync(ck, join(out, '.checkpoint.old-1-2-3'));
  cpSync(join(out, '.checkpoint.old-1-2-3'), join(out, '.checkpoint.new-1-2-4'), { recursive: true });
  writeFileSync(join(out, '.checkpoint.new-1-2-4', 'model.safetensors'), 'half');
  assert.ok(recoverCheckpoint(ck));
  assert.ok(readFileSync(join(ck, 'model.safetensors')).equals(model));
  assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('.')), []);
  // and --resume does it by itself
  renameSync(ck, join(out, '.checkpoint.old-9'));
  const r = await runExperiment({ experiment: '', resume: out, ...quiet });
  assert.equal(r.steps, 1000);
  assert.ok(readFileSync(join(ck, 'model.safetensors')).equals(model));
});

test('a fresh run that fails to start leaves nothing behind', async () => {
  const out = join(dir, 'nostart');
  await assert.rejects(runExperiment({ experiment: 'gsc-small', quick: true, out, set: ['data="/no/such/folder"'], ...quiet }), UserError);
  assert.ok(!existsSync(out));
  const empty = join(dir, 'empty-out');
  mkdirSync(empty);
  await assert.rejects(runExperiment({ experiment: 'gsc-small', quick: true, out: empty, set: ['data="/no/such/folder"'], ...quiet }), UserError);
  assert.deepEqual(readdirSync(empty), [], 'an empty --out stays empty');
});

test('lab server: security headers on every response, and only loopback Host names are served', async () => {
  const root = join(dir, 'www');
  mkdirSync(root);
  writeFileSync(join(root, 'index.html'), '<p>hi</p>');
  const srv = await startLabServer({ root, port: 0 });
  try {
    const ok = await fetch(srv.url);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(ok.headers.get('x-frame-options'), 'DENY');
    assert.match(ok.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.match(ok.headers.get('content-security-policy') ?? '', /script-src 'self' 'wasm-unsafe-eval'/);
    for (const host of [`localhost:${srv.port}`, `127.0.0.1:${srv.port}`, `[::1]:${srv.port}`]) {
      const { request } = await import('node:http');
      const status = await new Promise<number>((res, rej) => {
        request({ host: '127.0.0.1', port: srv.port, path: '/', headers: { Host: host } }, (r) => (r.resume(), res(r.statusCode!))).on('error', rej).end();
      });
      assert.equal(status, 200, host);
    }
    for (const host of [`evil.example:${srv.port}`, 'attacker.test', `127.0.0.1.evil.example:${srv.port}`, `localhost.evil.example`]) {
      const { request } = await import('node:http');
      const r = await new Promise<{ status: number; csp: unknown }>((res, rej) => {
        request({ host: '127.0.0.1', port: srv.port, path: '/index.html', headers: { Host: host } }, (x) => (x.resume(), res({ status: x.statusCode!, csp: x.headers['content-security-policy'] }))).on('error', rej).end();
      });
      assert.equal(r.status, 421, `Host '${host}'`);
      assert.ok(r.csp);
    }
  } finally {
    await srv.close();
  }
});

test('crash test: runs SIGKILLed at random instants (also inside checkpoint writes) and resumed end byte-identical to an uninterrupted run', { timeout: 300_000 }, async () => {
  const set = ['initSteps=1000', 'initTeacherTau=500', 'trainSteps=2000', 'finalWindows=[10,20]'];
  const args = ['lagline', '--quick', ...set.flatMap((a) => ['--set', a]), '--progress', 'off', '--checkpoint-seconds', '0'];
  const ref = join(dir, 'crash-ref');
  await runExperiment({ experiment: 'lagline', quick: true, set, out: ref, ...quiet }); // uninterrupted, in-process
  let seed = Number(process.env.GLE_CRASH_SEED ?? 12345);
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  let kills = 0;
  for (let i = 0; i < 1; i++) {
    // 20 ms sleeps before each checkpoint file operation (~11 per save, a save every 100 steps, in the resumed
    // sessions too): the run holds >= ~6.5 s of sleeps however idle the machine is, and the 4 kills, each within
    // its session's first second, take at most 4 s of it, so every kill lands whatever the load
    const r = await crashRun(args, join(dir, `crash-${i}`), ref, 4, rand, 0, 1000, 20);
    kills += r.kills;
    assert.deepEqual(r.errors, [], `run ${i}`);
    assert.deepEqual(r.diffs, [], `run ${i}: differs from the uninterrupted run`);
  }
  assert.equal(kills, 4, `${kills} of 4 kills landed`);
});
