/**
 * `gle sweep SWEEP.yaml|json|DIR [--out DIR] [--jobs N] [--no-run]`: expand a sweep file into a sweep directory
 * (one stable index per run) and run it with the local executor (a pool of processes); given a sweep directory,
 * continue it. Sub-commands: `run DIR --index i` (one row; the entry point every executor drives), `status DIR`,
 * `emit slurm|k8s DIR`, `enqueue DIR --redis URL`. `gle worker --redis URL` (./worker.ts) drains the queue.
 */
import type { Command } from 'commander';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../../util/errors.js';
import { createSweep, createSweepFromSpec, loadSweep, parseIndex, rowStatus, type Sweep } from '../../sweep/dir.js';
import { sweepSchema, type SweepSpec } from '../../sweep/spec.js';
import { runRow } from '../../sweep/run-row.js';
import { runLocal } from '../../sweep/local.js';
import { k8sManifest, slurmScript } from '../../sweep/emit.js';
import { DEFAULT_QUEUE, enqueue } from '../../sweep/queue.js';

function posInt(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new UserError(`${name} must be a positive integer, got '${v}'`);
    return Number(v);
  };
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** --experiment/--seeds/--set/--grid/--quick as a sweep spec (validated like a file). */
function specFromFlags(o: { experiment?: string; seeds?: string; set?: string[]; grid?: string[]; quick?: boolean; name?: string }): SweepSpec {
  const kv = (a: string, flag: string): [string, string] => {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UserError(`${flag} expects key=value, got '${a}'`);
    return [a.slice(0, eq).trim(), a.slice(eq + 1)];
  };
  const set: Record<string, unknown> = {};
  for (const a of o.set ?? []) {
    const [k, v] = kv(a, '--set');
    set[k] = parseValue(v);
  }
  const grid: Record<string, unknown[]> = {};
  for (const a of o.grid ?? []) {
    const [k, v] = kv(a, '--grid');
    const p = parseValue(v);
    const vals = Array.isArray(p) ? p : v.split(',').map((x) => parseValue(x.trim()));
    if (!vals.length || vals.some((x) => x === '')) throw new UserError(`--grid ${k}: no values in '${v}'`);
    grid[k] = vals;
  }
  let seeds: unknown = undefined;
  if (o.seeds !== undefined) {
    const t = o.seeds.trim();
    seeds = /^\d+$/.test(t) ? Number(t) : /^\d+\s*-\s*\d+$/.test(t) ? t : t.split(',').map((x) => (/^\d+$/.test(x.trim()) ? Number(x.trim()) : x));
  }
  const raw = { experiment: o.experiment, ...(seeds !== undefined ? { seeds } : {}), ...(o.quick ? { quick: true } : {}), ...(Object.keys(set).length ? { set } : {}), ...(Object.keys(grid).length ? { grid } : {}) };
  const r = sweepSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new UserError(`flags: ${i.path.length ? '--' + i.path[0] + ': ' : ''}${i.message}`);
  }
  return r.data;
}

/** "0,3,5-7" -> [0, 3, 5, 6, 7], each within the sweep. */
function parseRows(v: string, n: number): number[] {
  const out = new Set<number>();
  for (const part of v.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UserError(`--rows: '${part}' is not a row or a range (e.g. 30-59 or 0,3,5-7)`);
    const a = Number(m[1]), b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a || b >= n) throw new UserError(`--rows: ${part.trim()} is not within the sweep's rows 0..${n - 1}`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

function statusLine(sw: Sweep): string {
  const c: Record<string, number> = { done: 0, partial: 0, started: 0, pending: 0 };
  for (const r of sw.rows) c[rowStatus(sw.dir, r.index)]++;
  return `${sw.rows.length} rows: ${c.done} done, ${c.partial} interrupted (resumable), ${c.started} started without checkpoint, ${c.pending} pending`;
}

export function register(program: Command): void {
  const sweep = program.command('sweep').description('sweeps over settings and seeds: a sweep directory with one stable index per run, and executors (local pool, Slurm, Kubernetes, a Redis queue)');

  const collect = (v: string, prev: string[] = []) => [...prev, v];
  sweep
    .command('start [spec]', { isDefault: true })
    .description('expand a sweep file (YAML or JSON), or the flags --experiment/--grid/--set/--seeds, into a sweep directory and run it on a local pool of processes; a sweep directory given instead is continued')
    .option('-o, --out <dir>', 'sweep directory (default runs/sweeps/<name>)')
    .option('-e, --experiment <name>', 'without a sweep file: the experiment')
    .option('--seeds <s>', 'without a sweep file: a count (3 = 0,1,2), a range (0-9) or a list (12,34)')
    .option('--set <key=value...>', 'without a sweep file: a --set for every row (repeatable)', collect)
    .option('--grid <key=values...>', 'without a sweep file: a grid axis, values as a JSON list or comma-separated, e.g. lr=[0.01,0.003] (repeatable)', collect)
    .option('--quick', 'without a sweep file: --quick for every row')
    .option('--name <name>', 'without a sweep file: the sweep name (default: the experiment)')
    .option('-j, --jobs <n>', 'processes at once (default: the number of cores; each uses 1 native thread)', posInt('--jobs'))
    .option('--no-run', 'only create the sweep directory and print its table')
    .option('--rows <list>', 'run only these rows, e.g. 30-59 or 0,3,5-7')
    .action(async (spec: string | undefined, o: { out?: string; jobs?: number; run: boolean; rows?: string; experiment?: string; seeds?: string; set?: string[]; grid?: string[]; quick?: boolean; name?: string }) => {
      const flagged = o.experiment !== undefined || o.seeds !== undefined || o.set || o.grid || o.quick || o.name;
      if (spec && flagged) throw new UserError('give a sweep file or the flags --experiment/--seeds/--set/--grid/--quick, not both');
      let sw: Sweep;
      if (!spec) {
        if (!o.experiment) throw new UserError('give a sweep file (YAML or JSON), a sweep directory, or --experiment NAME with --grid/--set/--seeds');
        sw = createSweepFromSpec(specFromFlags(o), o.name ?? o.experiment, o.out, 'flags');
      } else {
        const isDir = existsSync(spec) && statSync(spec).isDirectory();
        if (isDir && o.out) throw new UserError('--out is for a sweep file; a sweep directory is continued where it is');
        sw = isDir ? loadSweep(spec) : createSweep(spec, o.out);
      }
      process.stdout.write(`sweep ${sw.name} in ${sw.dir}\n${statusLine(sw)}\n`);
      if (sw.extendedFrom !== undefined) process.stdout.write(`extended from ${sw.extendedFrom} to ${sw.rows.length} rows (rows ${sw.extendedFrom}-${sw.rows.length - 1} are new); a Slurm script or Kubernetes manifest emitted before covers only the old rows: emit it again\n`);
      if (!o.run) {
        for (const r of sw.rows) process.stdout.write(`  ${String(r.index).padStart(4)}  ${r.label}  seed ${r.seed}${r.quick ? '  (quick)' : ''}\n`);
        return;
      }
      const res = await runLocal(sw.dir, { jobs: o.jobs, indices: o.rows !== undefined ? parseRows(o.rows, sw.rows.length) : undefined });
      process.stdout.write(`sweep ${sw.name}: ${res.done.length} rows run, ${res.skipped.length} already done, ${res.stopped.length} stopped, ${res.failed.length} failed in ${res.wall_s.toFixed(1)}s\n${statusLine(sw)}\nreport: gle report ${sw.dir}\n`);
      if (res.interrupted) process.exitCode = 130;
      else if (res.failed.length) process.exitCode = 1;
    });

  sweep
    .command('run <dir>')
    .description('run one row (skipped when finished, resumed from its checkpoint when interrupted); the row comes from --index, else GLE_SWEEP_INDEX, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX')
    .option('-i, --index <i>', 'row index')
    .option('--progress <mode>', 'progress display: auto, plain or off', 'auto')
    .option('--max-seconds <s>', 'stop cleanly after this many seconds (resumable)', (v) => Number(v))
    .action(async (dir: string, o: { index?: string; progress: string; maxSeconds?: number }) => {
      const sw = loadSweep(dir);
      const env = process.env;
      const [src, raw] =
        o.index !== undefined ? ['--index', o.index] : env.GLE_SWEEP_INDEX !== undefined ? ['GLE_SWEEP_INDEX', env.GLE_SWEEP_INDEX] : env.SLURM_ARRAY_TASK_ID !== undefined ? ['SLURM_ARRAY_TASK_ID', env.SLURM_ARRAY_TASK_ID] : ['JOB_COMPLETION_INDEX', env.JOB_COMPLETION_INDEX];
      if (raw === undefined) throw new UserError('which row? give --index i (or set GLE_SWEEP_INDEX, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)');
      const index = parseIndex(raw, sw.rows.length, src);
      if (!['auto', 'plain', 'off'].includes(o.progress)) throw new UserError(`--progress must be auto, plain or off, got '${o.progress}'`);
      // started by an executor with an IPC channel: if that executor dies, stop this row cleanly (it keeps its checkpoint)
      if (process.channel) {
        process.channel.unref();
        process.once('disconnect', () => process.kill(process.pid, 'SIGINT'));
      }
      const row = sw.rows[index];
      process.stderr.write(`gle sweep: row ${index} (${row.label}, seed ${row.seed}) of ${sw.dir}\n`);
      const r = await runRow(sw.dir, index, { progress: o.progress as 'auto' | 'plain' | 'off', maxSeconds: o.maxSeconds });
      if (r.action === 'skipped') process.stdout.write(`row ${index}: already done\n`);
      else if (r.summary) {
        const fin = Object.entries(r.summary.final).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(5)}`).join(' ');
        process.stdout.write(`row ${index} ${r.action === 'resumed' ? 'resumed and ' : ''}${r.summary.interrupted ? 'stopped early (resumable)' : 'finished'} in ${r.summary.wall_s}s: ${fin}\n`);
        if (r.summary.interrupted) process.exitCode = 130;
      }
    });

  sweep
    .command('status <dir>')
    .description('the state of every row of a sweep directory')
    .action((dir: string) => {
      const sw = loadSweep(dir);
      process.stdout.write(`sweep ${sw.name} in ${sw.dir}\n${statusLine(sw)}\n`);
      if (sw.extendedFrom !== undefined) process.stdout.write(`extended from ${sw.extendedFrom} to ${sw.rows.length} rows (rows ${sw.extendedFrom}-${sw.rows.length - 1} are new); a Slurm script or Kubernetes manifest emitted before covers only the old rows: emit it again\n`);
      for (const r of sw.rows) process.stdout.write(`  ${String(r.index).padStart(4)}  ${rowStatus(sw.dir, r.index).padEnd(8)}  ${r.label}  seed ${r.seed}\n`);
    });

  const emit = sweep.command('emit').description('write a job file for a cluster scheduler that runs the sweep directory');
  emit
    .command('slurm <dir>')
    .description('an sbatch --array script: array index = row, throttle, requeue on preemption and near the time limit')
    .option('-o, --out <file>', 'script path (default DIR/sweep.sbatch)')
    .option('--throttle <n>', 'array tasks at once (%n)', posInt('--throttle'))
    .option('--time <t>', 'time limit per task (Slurm format)', '04:00:00')
    .option('--cpus <n>', 'cpus per task (= native threads)', posInt('--cpus'), 1)
    .option('--mem <m>', 'memory per task, e.g. 4G')
    .option('--partition <p>', 'partition')
    .option('--gle <cmd>', 'how the cluster starts gle (e.g. "npx gle")', 'gle')
    .action((dir: string, o: { out?: string; throttle?: number; time: string; cpus: number; mem?: string; partition?: string; gle: string }) => {
      const sw = loadSweep(dir);
      const out = resolve(o.out ?? join(sw.dir, 'sweep.sbatch'));
      mkdirSync(join(sw.dir, 'logs'), { recursive: true }); // Slurm does not create the --output directory
      writeFileSync(out, slurmScript(sw, o), { mode: 0o755 });
      process.stdout.write(`wrote ${out} (${sw.rows.length} array tasks); submit with: sbatch ${out}\n`);
    });
  emit
    .command('k8s <dir>')
    .description('a Kubernetes Indexed Job (JOB_COMPLETION_INDEX = row) with a backoff limit per index and the sweep directory on a shared volume')
    .option('-o, --out <file>', 'manifest path (default DIR/sweep-job.yaml)')
    .option('--image <image>', 'container image with gle installed', 'gle:latest')
    .option('--pvc <name>', 'PersistentVolumeClaim holding the sweep directory', 'gle-sweeps')
    .option('--mount <path>', 'where the volume is mounted', '/sweeps')
    .option('--pod-dir <path>', 'the sweep directory inside the pod (default MOUNT/<base name of DIR>)')
    .option('--parallelism <n>', 'pods at once', posInt('--parallelism'))
    .option('--backoff-per-index <n>', 'retries per row', (v) => Number(v), 3)
    .option('--cpu <q>', 'cpu request', '1')
    .option('--memory <q>', 'memory request and limit', '2Gi')
    .action((dir: string, o: { out?: string; image: string; pvc: string; mount: string; podDir?: string; parallelism?: number; backoffPerIndex: number; cpu: string; memory: string }) => {
      const sw = loadSweep(dir);
      const out = resolve(o.out ?? join(sw.dir, 'sweep-job.yaml'));
      writeFileSync(out, k8sManifest(sw, { image: o.image, pvc: o.pvc, mountPath: o.mount, podDir: o.podDir, parallelism: o.parallelism, backoffPerIndex: o.backoffPerIndex, cpu: o.cpu, memory: o.memory }));
      process.stdout.write(`wrote ${out} (${sw.rows.length} indexed completions); copy ${sw.dir} onto the volume, then: kubectl apply -f ${out}\n`);
    });

  sweep
    .command('enqueue <dir>')
    .description("add the sweep's unfinished rows to a BullMQ queue on Redis, for `gle worker` processes (which need the sweep directory at the same path)")
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--attempts <n>', 'tries per row', posInt('--attempts'), 8)
    .action(async (dir: string, o: { redis: string; queue: string; attempts: number }) => {
      const r = await enqueue(dir, o.redis, { queue: o.queue, attempts: o.attempts });
      process.stdout.write(`queued ${r.added} rows on '${r.queue}' (${r.skipped} already done); start workers with: gle worker --redis ${o.redis}\n`);
    });
}
