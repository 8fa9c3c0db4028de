import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../src/experiments/runner.js';
import { readMetrics } from '../src/report/metrics.js';
import { findExperiment } from '../src/experiments/registry.js';
import { UserError } from '../src/util/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gle-mc-'));

test('the microcircuit experiments are registered under the microcircuit task', () => {
  for (const n of ['microcircuit-bars', 'microcircuit-mimic', 'yinyang', 'pal-mnist']) assert.equal(findExperiment(n)?.task, 'microcircuit', n);
});

test('yinyang, tiny: all five modes side by side; B = Wᵀ and B = c·Wᵀ stay at 0°, the figures are written', async () => {
  const r = await runExperiment({ experiment: 'yinyang', out: tmp(), set: ['epochs=1', 'seeds=1', 'nTrain=10', 'nVal=0', 'nTest=10'], progress: 'off' });
  for (const m of ['pal', 'fa', 'noise', 'bp', 'bp-scaled']) {
    const a = r.final[`test_acc_${m}`];
    assert.ok(a >= 0 && a <= 1, `${m}: ${a}`);
  }
  assert.equal(r.final.angle_bp, 0);
  assert.ok(r.final['angle_bp-scaled'] < 1e-5, `bp-scaled angle ${r.final['angle_bp-scaled']}`);
  assert.ok(r.final.angle_pal > 0 && r.final.angle_fa > 0);
  const ev = readMetrics(r.dir).filter((m) => m.kind === 'eval');
  assert.equal(ev.length, 10, 'epochs 0 and 1 for each mode');
  for (const f of ['yinyang-test-accuracy', 'yinyang-angle']) assert.ok(existsSync(join(r.dir, 'figures', `${f}.svg`)), f);
});

test('microcircuit experiments refuse bad settings with one clear line', async () => {
  await assert.rejects(runExperiment({ experiment: 'yinyang', out: tmp(), set: ['modes=["kp"]', 'epochs=1'], progress: 'off' }), (e: Error) => e instanceof UserError && /modes: unknown 'kp'/.test(e.message));
  await assert.rejects(runExperiment({ experiment: 'microcircuit-bars', out: tmp(), set: ['tpres=[5,10]', 'outLagOrig=[0]'], progress: 'off' }), (e: Error) => e instanceof UserError && /outLagOrig needs one lag per tpres/.test(e.message));
  await assert.rejects(runExperiment({ experiment: 'yinyang', out: tmp(), set: ['dims=[4,30,2]', 'epochs=1'], progress: 'off' }), (e: Error) => e instanceof UserError && /dims must be \[4, n_hidden, 3\]/.test(e.message));
});

test('microcircuit-mimic, short: the student gets closer to the teacher (LE)', async () => {
  const r = await runExperiment({ experiment: 'microcircuit-mimic', out: tmp(), seed: 1, set: ['epochs=30', 'modes=["le"]'], progress: 'off' });
  assert.ok(r.final.val_mse_le < 0.5 * r.final.val_mse_le_start, `MSE ${r.final.val_mse_le_start} -> ${r.final.val_mse_le}`);
  assert.ok(existsSync(join(r.dir, 'figures', 'mimic-mse.svg')));
});
