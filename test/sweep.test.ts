import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import ts from 'typescript';
import { expandSweep, parseSweepText } from '../src/sweep/spec.js';
import { createSweep, loadSweep, readCompletions, rowDir, rowStatus } from '../src/sweep/dir.js';
import { runRow } from '../src/sweep/run-row.js';
import { runLocal, gleCommand } from '../src/sweep/local.js';
import { aggregateSweep, finalVsParam, type SweepReport } from '../src/sweep/report.js';
import { stats } from '../src/report/aggregate.js';
import { k8sManifest, slurmScript, SLURM_TASK_MARK } from '../src/sweep/emit.js';
import { UserError } from '../src/util/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gle-sweep-'));
const root = new URL('..', import.meta.url).pathname;
const gle = gleCommand();

/** A sweep of tiny MNIST-1D MLP runs (a few seconds each, most of it process start-up). */
function tinySweep(extra = '', steps = 100): string {
  const d = tmp();
  const f = join(d, 'tiny.yaml');
  writeFileSync(f, `name: tiny\nexperiment: mnist1d-baseline\nseeds: 2\nset: { model: mlp, totalSteps: ${steps}, evalEvery: 50, hidden: 16 }\n${extra}`);
  return f;
}

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(gle.argv[0], [...gle.argv.slice(1), ...args], { encoding: 'utf8', env: { ...process.env, ...gle.env, ...env } });
}

test('sweep spec: groups × settings × grid × seeds expand in a stable order with labels', () => {
  const spec = parseSweepText(
    `
experiment: mnist1d-baseline
seeds: [3, 4]
groups:
  - label: A
    set: { totalSteps: 10 }
    grid: { model: [mlp, tcn], lr: [0.01, 0.001] }
  - label: B
    experiment: mnist1d-15k
    quick: true
    seeds: "7-9"
    settings:
      - { label: s1, set: { epochs: 1 } }
`,
    'test.yaml',
  );
  const rows = expandSweep(spec);
  assert.equal(rows.length, 2 * 2 * 2 + 3);
  assert.deepEqual(rows.map((r) => r.index), rows.map((_, i) => i));
  assert.deepEqual(
    rows.slice(0, 4).map((r) => [r.label, r.seed]),
    [['A model=mlp lr=0.01', 3], ['A model=mlp lr=0.01', 4], ['A model=mlp lr=0.001', 3], ['A model=mlp lr=0.001', 4]],
  );
  assert.deepEqual(rows[0].set, ['totalSteps=10', 'model="mlp"', 'lr=0.01']);
  assert.deepEqual(rows.slice(8).map((r) => [r.label, r.experiment, r.quick, r.seed]), [['B s1', 'mnist1d-15k', true, 7], ['B s1', 'mnist1d-15k', true, 8], ['B s1', 'mnist1d-15k', true, 9]]);
  assert.deepEqual(rows[8].set, ['epochs=1']);
});

test('sweep spec: bad input is one clear UserError naming the problem', () => {
  const bad = (text: string, re: RegExp) => assert.throws(() => expandSweep(parseSweepText(text, 'x.yaml'), 'x.yaml'), (e: unknown) => e instanceof UserError && re.test(e.message));
  bad('experiment: nope\n', /unknown experiment 'nope'/);
  bad('experiment: mnist1d-baseline\nset: { notAParam: 1 }\n', /unknown parameter 'notAParam'/);
  bad('experiment: mnist1d-baseline\nseeds: [1, 1]\n', /repeats a seed/);
  bad('experiment: mnist1d-baseline\nsedes: 3\n', /Unrecognized key/);
  bad('experiment: [unclosed\n', /not valid YAML/);
  bad('seeds: 2\n', /no experiment/);
  // the CLI: one line, exit 2, nothing created
  const d = tmp();
  const f = join(d, 'bad.yaml');
  writeFileSync(f, 'experiment: mnist1d-baseline\nset: { lr: 1, nope: 2 }\n');
  const r = cli(['sweep', f, '--out', join(d, 'out')]);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /nope/);
  assert.ok(!existsSync(join(d, 'out')));
});

test('gle sweep with flags instead of a file: --experiment, --grid, --set, --seeds (no run)', () => {
  const out = join(tmp(), 'f');
  const r = cli(['sweep', '--experiment', 'mnist1d-baseline', '--seeds', '3-4', '--grid', 'model=mlp,gru', '--grid', 'lr=[0.01,0.003]', '--set', 'totalSteps=10', '--out', out, '--no-run']);
  assert.equal(r.status, 0, r.stderr);
  const rows = loadSweep(out).rows;
  assert.equal(rows.length, 8);
  assert.deepEqual([rows[7].label, rows[7].seed, rows[7].set], ['model=gru lr=0.003', 4, ['totalSteps=10', 'model="gru"', 'lr=0.003']]);
  const bad = cli(['sweep', '--experiment', 'mnist1d-baseline', '--grid', 'nope=1,2', '--out', join(tmp(), 'g'), '--no-run']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown parameter 'nope'/);
  const badRows = cli(['sweep', out, '--rows', '5-9']);
  assert.equal(badRows.status, 2);
  assert.match(badRows.stderr, /--rows: 5-9 is not within the sweep's rows 0..7/);
});

/** the rows of the run-and-resume test: the js backend's loops, so that a row takes seconds, not fractions */
const SLOW = 'backend: js\n';

test('sweep run: a row runs once, is then skipped, and an interrupted row resumes to the same result', async () => {
  const sw = createSweep(tinySweep(SLOW, 3000), join(tmp(), 'sw'));
  assert.equal(sw.rows.length, 2);
  const a = await runRow(sw.dir, 0);
  assert.equal(a.action, 'started');
  assert.equal(rowStatus(sw.dir, 0), 'done');
  assert.equal((await runRow(sw.dir, 0)).action, 'skipped');
  // row 1 stopped early through the time limit, then continued (the js loops and 3,000 steps: ~2 s of stepping on
  // the 2-vCPU machine at its fastest, so the 0.3 s limit always stops it after its first checkpoints)
  const first = await runRow(sw.dir, 1, { maxSeconds: 0.3 });
  assert.equal(first.summary?.interrupted, true);
  assert.equal(rowStatus(sw.dir, 1), 'partial');
  const second = await runRow(sw.dir, 1);
  assert.equal(second.action, 'resumed');
  assert.equal(rowStatus(sw.dir, 1), 'done');
  // the same row run uninterrupted in another sweep directory ends identically
  const ref = createSweep(tinySweep(SLOW, 3000), join(tmp(), 'ref'));
  const r = await runRow(ref.dir, 1);
  assert.deepEqual(second.summary?.final, r.summary?.final);
  assert.deepEqual(readFileSync(join(rowDir(sw.dir, 1), 'checkpoint', 'state.bin')), readFileSync(join(rowDir(ref.dir, 1), 'checkpoint', 'state.bin')));
  assert.deepEqual(readCompletions(sw.dir).map((c) => c.index), [0, 1]);
  // reopening the directory with the same file is fine; with another table it is refused
  assert.equal(createSweep(tinySweep(SLOW, 3000), sw.dir).rows.length, 2);
  assert.throws(() => createSweep(tinySweep(SLOW, 2000), sw.dir), /different sweep/);
  let rep = aggregateSweep(sw.dir);
  assert.equal(rep.settings.length, 1);
  assert.equal(rep.settings[0].final.n, 2);
  // a file that keeps both rows and adds a third (one more seed) extends the directory; the finished rows stay done
  const wider = tinySweep(SLOW, 3000);
  writeFileSync(wider, readFileSync(wider, 'utf8').replace('seeds: 2', 'seeds: 3'));
  const ext = createSweep(wider, sw.dir);
  assert.equal(ext.extendedFrom, 2);
  assert.deepEqual(loadSweep(sw.dir).rows.map((r) => [r.index, r.seed]), [[0, 0], [1, 1], [2, 2]]);
  assert.deepEqual(JSON.parse(readFileSync(join(sw.dir, 'sweep.json'), 'utf8')).extended.map((e: { from_rows: number; to_rows: number }) => [e.from_rows, e.to_rows]), [[2, 3]]);
  assert.deepEqual([0, 1, 2].map((i) => rowStatus(sw.dir, i)), ['done', 'done', 'pending']);
  assert.equal(createSweep(wider, sw.dir).extendedFrom, undefined, 'reopened unchanged');
  assert.throws(() => createSweep(tinySweep(SLOW, 3000), sw.dir), /different sweep \(3 rows; a sweep file may only add rows after them\)/, 'rows are never taken away');
  assert.equal((await runRow(sw.dir, 2)).action, 'started');
  rep = aggregateSweep(sw.dir);
  assert.equal(rep.settings[0].final.n, 3);
});

test('sweep: the local executor runs every row on a pool, then the report lists each setting and its missing rows', async () => {
  const sw = createSweep(tinySweep('grid: { lr: [0.01, 0.003] }\n'), join(tmp(), 'sw'));
  const lines: string[] = [];
  const res = await runLocal(sw.dir, { jobs: 2, indices: [0, 1, 2], log: (l) => lines.push(l) });
  assert.deepEqual(res.done.sort(), [0, 1, 2]);
  assert.deepEqual(res.failed, []);
  assert.ok(lines.some((l) => /3\/3 finished/.test(l)), lines.join('\n'));
  const rep = aggregateSweep(sw.dir);
  assert.deepEqual(rep.settings.map((s) => [s.label, s.final.n, s.missing.map((m) => m.index)]), [['lr=0.01', 2, []], ['lr=0.003', 1, [3]]]);
  // the CLI report on the sweep directory: Markdown + CSV, the missing row named
  const out = tmp();
  const r = cli(['report', sw.dir, '--out', out, '--no-figures']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /#3 \(seed 1, pending\)/);
  assert.match(readFileSync(join(out, 'report.csv'), 'utf8'), /^setting,experiment,n,final_mean,final_std_ddof0/);
  // --x: the final metric against the swept lr, as a figure; a parameter no setting sweeps is one clear line, exit 2
  const rx = cli(['report', sw.dir, '--out', out, '--x', 'lr']);
  assert.equal(rx.status, 0, rx.stderr);
  assert.match(readFileSync(join(out, 'figures', 'sweep-lr.svg'), 'utf8'), /<svg/);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /figures\/sweep-lr\.svg/);
  const bad = cli(['report', sw.dir, '--out', out, '--x', 'nope']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--x: no setting of sweep tiny sets 'nope' to a number \(its parameters: .*lr/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
  // a second local run only runs what is left
  const again = await runLocal(sw.dir, { jobs: 2, log: () => {} });
  assert.deepEqual([again.done, again.skipped], [[3], [0, 1, 2]]);
});

test('sweep report --x: final metric per setting against a swept parameter, lines by label without it, sorted', () => {
  const setting = (label: string, set: string[], finals: number[]) => ({ label, experiment: 'e', paper: null, set, seeds: finals.map((_, i) => i), finals, final: stats(finals), best: stats(finals), wall: stats([]), missing: [], curve: null });
  const r: SweepReport = {
    name: 's', dir: '.', metric: 'acc', split: 'test', rows: 6, done: 5, cpuSeconds: 0,
    settings: [
      setting('LE w=0 dt=1', ['w=0', 'dt=1'], [0.8, 0.9]),
      setting('LE w=0 dt=0.1', ['w=0', 'dt=0.1'], [0.7]),
      setting('ctl dt=1', ['tau=0', 'dt=1'], [0.5]),
      setting('ctl dt=0.1', ['tau=0', 'dt=0.1'], []),
      setting('fixed', ['w=0'], [0.6]),
    ],
  };
  const v = finalVsParam(r, 'dt');
  assert.deepEqual(v.map((l) => l.name), ['w=0 LE', 'ctl']);
  assert.deepEqual(v[0].x, [0.1, 1]);
  assert.deepEqual(v[0].mean.map((m) => +m.toFixed(6)), [0.7, 0.85]);
  assert.deepEqual(v[0].sd.map((m) => +m.toFixed(6)), [0, 0.05]);
  assert.deepEqual(v[1], { name: 'ctl', x: [1], mean: [0.5], sd: [0], n: [1] }); // the unfinished point is left out
  assert.throws(() => finalVsParam(r, 'lr'), (e: Error) => e instanceof UserError && /sets 'lr' to a number \(its parameters: w, dt, tau\)/.test(e.message));
});

test('sweep emit slurm: bash -n and shellcheck pass; the per-task command runs the row SLURM_ARRAY_TASK_ID names', (t) => {
  const sw = createSweep(tinySweep(), join(tmp(), 'sw'));
  const script = slurmScript(sw, { throttle: 2, time: '00:10:00', mem: '2G' });
  const f = join(sw.dir, 'sweep.sbatch');
  writeFileSync(f, script);
  assert.match(script, /^#SBATCH --array=0-1%2$/m);
  assert.match(script, /^#SBATCH --requeue$/m);
  assert.equal(spawnSync('bash', ['-n', f]).status, 0);
  const sc = spawnSync('shellcheck', ['-s', 'bash', f], { encoding: 'utf8' });
  if (sc.error) t.diagnostic('shellcheck not installed: its check skipped');
  else assert.equal(sc.status, 0, sc.stdout);
  const line = script.split('\n').find((l) => l.includes(SLURM_TASK_MARK));
  assert.ok(line);
  // the whole script, as a Slurm task would run it (no scontrol needed unless signalled)
  const r = spawnSync('bash', [f], { encoding: 'utf8', env: { ...process.env, ...gle.env, SLURM_ARRAY_TASK_ID: '1', GLE: gle.argv.join(' ') } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual([rowStatus(sw.dir, 0), rowStatus(sw.dir, 1)], ['pending', 'done']);
  assert.equal(JSON.parse(readFileSync(join(rowDir(sw.dir, 1), 'config.json'), 'utf8')).seed, 1);
});

test('sweep emit k8s: an Indexed Job that type-checks as V1Job; its container command runs the row JOB_COMPLETION_INDEX names', () => {
  const sw = createSweep(tinySweep(), join(tmp(), 'sw'));
  const text = k8sManifest(sw, { podDir: sw.dir, image: 'example/gle:1', pvc: 'team-sweeps' });
  const job = parseYaml(text) as { kind: string; spec: { completionMode: string; completions: number; backoffLimitPerIndex: number; template: { spec: { restartPolicy: string; containers: Array<{ command: string[] }>; volumes: Array<{ persistentVolumeClaim: { claimName: string } }> } } } };
  assert.equal(job.kind, 'Job');
  assert.equal(job.spec.completionMode, 'Indexed');
  assert.equal(job.spec.completions, 2);
  assert.equal(job.spec.template.spec.restartPolicy, 'Never');
  assert.equal(job.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, 'team-sweeps');
  // type-check the parsed manifest against @kubernetes/client-node's V1Job (excess or mistyped fields fail)
  const dir = tmp();
  const file = join(dir, 'job-check.ts');
  writeFileSync(file, `import type { V1Job } from '@kubernetes/client-node';\nexport const job: V1Job = ${JSON.stringify(job, null, 2)};\n`);
  const host = ts.createCompilerHost({});
  const prog = ts.createProgram([file], { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, skipLibCheck: true, types: [], typeRoots: [join(root, 'node_modules', '@types')], baseUrl: root, paths: { '@kubernetes/client-node': [join(root, 'node_modules', '@kubernetes', 'client-node', 'dist', 'index.d.ts')] } }, host);
  const diags = ts.getPreEmitDiagnostics(prog).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(diags, []);
  // and a manifest with a misspelt field does not type-check (the check can fail)
  writeFileSync(file, `import type { V1Job } from '@kubernetes/client-node';\nexport const job: V1Job = ${JSON.stringify({ ...job, spec: { ...job.spec, completionMod: 'Indexed' } })};\n`);
  const prog2 = ts.createProgram([file], prog.getCompilerOptions(), host);
  assert.ok(ts.getPreEmitDiagnostics(prog2).length > 0);
  // the pod's command, with `gle` standing for this checkout's launcher
  const cmd = job.spec.template.spec.containers[0].command;
  assert.equal(cmd[0], 'gle');
  const r = spawnSync(gle.argv[0], [...gle.argv.slice(1), ...cmd.slice(1)], { encoding: 'utf8', env: { ...process.env, ...gle.env, JOB_COMPLETION_INDEX: '0' } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual([rowStatus(sw.dir, 0), rowStatus(sw.dir, 1)], ['done', 'pending']);
  // a row index out of range is bad input
  const bad = cli(['sweep', 'run', sw.dir], { JOB_COMPLETION_INDEX: '7' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /JOB_COMPLETION_INDEX 7 is out of range/);
  assert.equal(loadSweep(sw.dir).rows.length, 2);
});

test('the package API exposes the sweep machinery (namespace sweep) and the backprop baselines (namespace baselines)', async () => {
  const api = await import('../src/index.js');
  assert.equal(api.sweep.createSweep, createSweep);
  assert.equal(api.sweep.runRow, runRow);
  assert.equal(api.sweep.runLocal, runLocal);
  assert.equal(api.sweep.aggregateSweep, aggregateSweep);
  assert.equal(api.sweep.slurmScript, slurmScript);
  assert.equal(api.sweep.k8sManifest, k8sManifest);
  for (const f of ['enqueue', 'runWorker'] as const) assert.equal(typeof api.sweep[f], 'function');
  // a row run through the API only: the directory, the row, the report
  const sw = api.sweep.createSweepFromSpec(api.sweep.parseSweepText('experiment: mnist1d-baseline\nseeds: 1\nset: { model: mlp, totalSteps: 50, evalEvery: 50, hidden: 8 }\n', 'api'), 'api', join(tmp(), 'api'));
  assert.equal((await api.sweep.runRow(sw.dir, 0, { progress: 'off' })).action, 'started');
  assert.equal(api.sweep.aggregateSweep(sw.dir).settings[0].final.n, 1);
  const core = await import('../src/core.js');
  const m = core.baselines.createBaseline('tcn', { L: 40, nClasses: 10, hidden: 0, channels: 25, maxB: 1, dtype: 'float32' }, new core.Rng(0));
  assert.equal(m.params().reduce((s, p) => s + p.value.length, 0), 5210);
});
