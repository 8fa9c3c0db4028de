import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../src/experiments/runner.js';
import { readMetrics } from '../src/report/metrics.js';
import { findExperiment } from '../src/experiments/registry.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gle-sal-'));

test('the SAL experiments are registered under the spiking task', () => {
  for (const n of ['sal-two-neuron', 'sal-sampling', 'sal-microcircuit', 'sal-symmnet']) assert.equal(findExperiment(n)?.task, 'spiking', n);
});

test('sal-two-neuron: the weights approach each other, the figure files are written', async () => {
  const r = await runExperiment({ experiment: 'sal-two-neuron', out: tmp(), set: ['epochs=200', 'grid={"lo":0,"hi":2,"n":4}'], progress: 'off' });
  assert.ok(r.final.both_absdiff_100 < 1, `|W01 - W10| after 100 epochs ${r.final.both_absdiff_100}`);
  assert.ok(Math.abs(r.final.both_W01 + r.final.both_W10 - 2) < 1e-9, 'W01 + W10 conserved');
  assert.ok(r.final.fixed_W10_final > 0.6, `W10 rose toward 1.5: ${r.final.fixed_W10_final}`);
  for (const f of ['phase-plane', 'weights']) for (const e of ['svg', 'png']) assert.ok(existsSync(join(r.dir, 'figures', `${f}.${e}`)), `${f}.${e}`);
  assert.equal(readMetrics(r.dir).filter((m) => m.kind === 'train').length, 400);
});

test('sal-sampling quick: D_KL is logged and falls during training', async () => {
  const r = await runExperiment({ experiment: 'sal-sampling', out: tmp(), quick: true, set: ['levels=[1]', 'tauRef=10', 'dur=200', 'iterations=301', 'valEvery=150', 'valFactor=20', 'lrW=0.05', 'lrB=0.05', 'lrSymm=[0,0.02]'], progress: 'off' });
  const val = readMetrics(r.dir).filter((m) => m.kind === 'val');
  assert.equal(val.length, 6);
  for (const lr of [0, 0.02]) {
    const rows = val.filter((m) => m.lr_symm === lr);
    assert.ok((rows[2].dkl as number) < (rows[0].dkl as number), `lr_symm ${lr}: D_KL ${rows.map((x) => x.dkl).join(' -> ')}`);
  }
  const sal = val.filter((m) => m.lr_symm === 0.02), no = val.filter((m) => m.lr_symm === 0);
  assert.ok((sal[2].asymmetry as number) < 0.7 * (sal[0].asymmetry as number), 'SAL reduces the asymmetry');
  assert.ok((no[2].asymmetry as number) > 0.9 * (no[0].asymmetry as number), 'ws alone keeps it');
  for (const f of ['dkl', 'asymmetry', 'final-dkl']) assert.ok(existsSync(join(r.dir, 'figures', `${f}.svg`)), f);
});

test('sal-microcircuit quick runs all variants side by side', async () => {
  const r = await runExperiment({ experiment: 'sal-microcircuit', out: tmp(), quick: true, set: ['epochs=2', 'seeds=2', 'tPattern=200'], progress: 'off' });
  for (const v of ['sal', 'fa', 'bp']) assert.ok(Number.isFinite(r.final[`val_mse_${v}`]), v);
  const rows = readMetrics(r.dir).filter((m) => m.kind === 'val');
  assert.equal(rows.length, 3 * 2 * 3);
  // bp copies W2 into B every step
  for (const m of rows.filter((x) => x.variant === 'bp' && (x.epoch as number) > 0)) assert.equal(m.B, m.W2);
  assert.ok(existsSync(join(r.dir, 'figures', 'val-mse.svg')));
});

test('bad SAL parameters are one-line user errors', async () => {
  const { UserError } = await import('../src/util/errors.js');
  for (const [exp, set, msg] of [
    ['sal-two-neuron', 'tauRef=0', /tauRef must be a positive integer/],
    ['sal-sampling', 'sweep="foo"', /sweep must be/],
    ['sal-microcircuit', 'variants=["sal","xx"]', /unknown 'xx'/],
    ['sal-sampling', 'dtype="float64"', /engine 'wasm' runs float32/],
    ['sal-symmnet', 'salEngine="gpu"', /salEngine must be one of js, wasm, got "gpu"/],
  ] as const) {
    await assert.rejects(runExperiment({ experiment: exp, out: tmp(), quick: true, set: [set], progress: 'off' }), (e: Error) => e instanceof UserError && msg.test(e.message), `${exp} ${set}`);
  }
});
