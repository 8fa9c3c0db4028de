/**
 * Task parameters (issue 12): every experiment's defaults and --quick overrides satisfy its task's schema; what
 * `--resume --set` may change exists in every experiment of the task; removed parameters are refused by `--set` with
 * the reason, while a run directory written by an older version (whose config.json still carries them) resumes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPERIMENTS } from '../src/experiments/registry.js';
import { resolveParams, runExperiment } from '../src/experiments/runner.js';
import { ADDED_PARAMS, REMOVED_PARAMS, RESUMABLE_SETS, validateTaskParams } from '../src/experiments/params-check.js';
import { TASK_SCHEMAS } from '../src/experiments/schemas.js';
import { UserError } from '../src/util/errors.js';
import { expandSweep, parseSweepText } from '../src/sweep/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'gle-task-params-'));
const quiet = { progress: 'off' as const };

test('every experiment (defaults and --quick) passes its task schema; RESUMABLE_SETS and REMOVED_PARAMS name real / gone keys', () => {
  for (const def of EXPERIMENTS) {
    assert.ok(TASK_SCHEMAS[def.task], `${def.task} has a schema`);
    for (const quick of [false, true]) {
      const p = resolveParams(def, quick);
      assert.doesNotThrow(() => validateTaskParams(def.name, def.task, p), `${def.name}${quick ? ' --quick' : ''}`);
      // the schema lists every parameter the experiment declares (it drops keys it does not list: the task would
      // silently never see a --set of one)
      const parsed = validateTaskParams(def.name, def.task, p) as Record<string, unknown>;
      for (const k of Object.keys(p)) assert.ok(k in parsed, `${def.name}: parameter '${k}' is in the ${def.task} schema`);
      const has = (key: string) => key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), p) !== undefined;
      for (const k of RESUMABLE_SETS[def.task] ?? []) if (k !== 'data' && k !== 'featureCache') assert.ok(has(k), `${def.name}: resumable '${k}' is a parameter`);
      for (const k of Object.keys(REMOVED_PARAMS[def.task] ?? {})) assert.ok(!has(k), `${def.name}: removed '${k}' is gone from the defaults`);
    }
  }
  // an added parameter is declared by at least one experiment of its task (a resume fills it only where declared)
  for (const [task, added] of Object.entries(ADDED_PARAMS))
    for (const k of Object.keys(added ?? {}))
      assert.ok(EXPERIMENTS.some((d) => d.task === task && k in resolveParams(d, false)), `${task}: added '${k}' is a parameter of one of its experiments`);
});

test('every shipped sweep file expands, and each of its rows passes its task schema with every --set kept', () => {
  const sweepsDir = new URL('../sweeps/', import.meta.url).pathname;
  const files = readdirSync(sweepsDir).filter((f) => /\.ya?ml$|\.json$/.test(f));
  assert.ok(files.length >= 5, `sweep files: ${files.join(', ')}`);
  for (const f of files) {
    const rows = expandSweep(parseSweepText(readFileSync(join(sweepsDir, f), 'utf8'), f), f);
    assert.ok(rows.length > 0, f);
    for (const r of rows) {
      const def = EXPERIMENTS.find((e) => e.name === r.experiment)!;
      const p = resolveParams(def, r.quick, r.set);
      const parsed = validateTaskParams(def.name, def.task, p) as Record<string, unknown>;
      for (const a of r.set) {
        const top = a.slice(0, a.indexOf('=')).split('.')[0];
        assert.ok(top in parsed, `${f} row ${r.index}: --set ${a} reaches the task`);
      }
    }
  }
});

test('a bad value is one line naming the parameter; the parsed params drop keys the schema does not list', () => {
  const def = EXPERIMENTS.find((e) => e.name === 'lagline')!;
  const p = resolveParams(def, true);
  const bad = (patch: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => validateTaskParams('lagline', 'teacher-student', { ...p, ...patch }), (e: unknown) => e instanceof UserError && e.exitCode === 2 && re.test(e.message) && !e.message.includes('\n'));
  bad({ model: 'bptt-tw3' }, /^lagline: model: must be one of 'gle', .*got 'bptt-tw3'$/);
  bad({ optimizer: { type: 'sgd', lrTimesBeta: 1e-3 } }, /^lagline: optimizer\.momentum: Required, got nothing$/);
  bad({ learnLayers: 'some' }, /^lagline: learnLayers: /);
  bad({ initTeacherTau: p.initSteps as number + 1 }, /initTeacherTau must not exceed initSteps/);
  bad({ dt: 0.02 }, /params\.dt \(0\.02\) differs from the teacher's dt \(0\.01\)/);
  const parsed = validateTaskParams('lagline', 'teacher-student', { ...p, dt: 0.01, student: { beta: 0.01, learn_tau: true, gamma: [1, 1], bias: false } }) as Record<string, unknown>;
  assert.equal('dt' in parsed, false);
  assert.deepEqual(parsed.student, { beta: 0.01, learn_tau: true });
});

test('--set of a removed parameter is refused with the reason; an old run directory carrying them resumes', async () => {
  await assert.rejects(runExperiment({ experiment: 'lagline', quick: true, out: join(dir, 'x'), set: ['dt=0.02'], ...quiet }), /--set dt: this parameter was removed; the time step is the teacher network's/);
  await assert.rejects(runExperiment({ experiment: 'mnist1d-15k', quick: true, out: join(dir, 'y'), set: ['evalTrain=true'], ...quiet }), /--set evalTrain: this parameter was removed/);
  // a short lagline run, its config.json then made to look like an older version's (dt, student.gamma/bias, lrTimesBetaOverDt)
  const out = join(dir, 'old-lagline');
  const set = ['trainSteps=1500', 'initSteps=400', 'initTeacherTau=200', 'logEvery=100'];
  const first = await runExperiment({ experiment: 'lagline', quick: true, out, set, checkpointSeconds: 0, maxSeconds: 600, ...quiet });
  const cfgPath = join(out, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  Object.assign(cfg.params, { dt: 0.01 });
  Object.assign(cfg.params.student, { gamma: [1, 1], bias: false });
  Object.assign(cfg.params.optimizer, { lrTimesBetaOverDt: false });
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const again = await runExperiment({ experiment: '', resume: out, set: ['analysisSteps=null'], ...quiet });
  assert.deepEqual(again.final, first.final, 'resuming the finished old-style run reports the same result');
  await assert.rejects(runExperiment({ experiment: '', resume: out, set: ['evalTrain=true'], ...quiet }), /--set evalTrain: unknown parameter|cannot be changed on resume/);
  // an old config whose dt disagrees with its network's cannot mean what it meant: refused, one line
  cfg.params.dt = 0.005;
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  await assert.rejects(runExperiment({ experiment: '', resume: out, ...quiet }), (e: unknown) => e instanceof UserError && /params\.dt \(0\.005\) differs from the teacher's dt \(0\.01\)/.test(e.message));
});

test('an old classify run directory (dt, evalTrain in config.json) resumes and continues', async () => {
  const out = join(dir, 'old-mnist');
  await runExperiment({ experiment: 'mnist1d-15k', quick: true, out, set: ['maxTrain=100', 'maxTest=50', 'batch=50', 'testBatch=50', 'epochs=1'], ...quiet });
  const cfgPath = join(out, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  Object.assign(cfg.params, { dt: 0.2, evalTrain: false });
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const r = await runExperiment({ experiment: '', resume: out, set: ['epochs=2'], ...quiet });
  assert.equal(r.final.epochs, 2);
  await assert.rejects(runExperiment({ experiment: '', resume: out, set: ['evalTrain=true'], ...quiet }), /--set evalTrain: this parameter was removed/);
});
