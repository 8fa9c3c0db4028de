import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy } from '../src/io/npy.js';

const GLE = new URL('../bin/gle.js', import.meta.url).pathname;
const GOLDEN = new URL('./fixtures/golden/', import.meta.url).pathname;

function gle(...args: string[]) {
  const r = spawnSync(process.execPath, [GLE, ...args], { encoding: 'utf8', env: { ...process.env, GLE_FROM_SOURCE: '1', GLE_PROGRESS: 'off' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'gle-cli-'));
const spec = { input_size: 1, dt: 0.1, dtype: 'float64', layers: [{ size: 2, phi: 'tanh', tau_m: 1 }, { size: 1, phi: 'linear', tau_m: 1 }], optimizer: { type: 'sgd', lr: 0.01 } };
writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
writeFileSync(join(dir, 'x.npy'), encodeNpy({ dtype: 'float32', shape: [20, 3, 1], data: Float32Array.from({ length: 60 }, (_, i) => Math.sin(i)) }));
writeFileSync(join(dir, 'y.npy'), encodeNpy({ dtype: 'float64', shape: [20, 3, 1], data: Float64Array.from({ length: 60 }, (_, i) => Math.cos(i)) }));

test('gle replay: the goldens pass through the CLI in float32 and float64; a too-tight tolerance fails with exit 1', () => {
  const f32 = gle('replay', '--quiet', ...['lagline.json', 'lagline_sgd.json', 'dense_pe.json', 'dense_le.json', 'dense_pe_adam.json'].map((f) => GOLDEN + f));
  assert.equal(f32.code, 0, f32.out + f32.err);
  assert.equal((f32.out.match(/: OK/g) ?? []).length, 5);
  const f64 = gle('replay', '--quiet', '--dtype', 'float64', ...['lagline.json', 'lagline_sgd.json', 'dense_pe.json', 'dense_le.json', 'dense_pe_adam.json'].map((f) => GOLDEN + f));
  assert.equal(f64.code, 0, f64.out + f64.err);
  assert.equal((f64.out.match(/: OK/g) ?? []).length, 5);
  const tight = gle('replay', '--quiet', '--atol', '1e-12', '--rtol', '0', GOLDEN + 'dense_pe.json');
  assert.equal(tight.code, 1);
  assert.match(tight.out, /beyond tolerance/);
});

test('gle simulate writes a golden-schema trace that gle replay reproduces', () => {
  const out = join(dir, 'trace.json');
  const r = gle('simulate', join(dir, 'spec.json'), '--input', join(dir, 'x.npy'), '--target', join(dir, 'y.npy'), '--out', out);
  assert.equal(r.code, 0, r.err);
  const tr = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(tr.n_steps, 20);
  assert.equal(tr.batch_size, 3);
  for (const k of ['u', 'v', 'r', 'r_prime', 'prosp_u', 'prosp_v', 'inst_e', 'e_bottom']) assert.equal(tr.trace.layers[1][k].length, 20);
  const rep = gle('replay', '--dtype', 'float64', '--quiet', out);
  assert.equal(rep.code, 0, rep.out);
});

test('bad inputs: one clear message, non-zero exit, nothing written or overwritten', () => {
  const out = join(dir, 'keep.json');
  writeFileSync(out, 'precious');
  const cases: [string[], RegExp][] = [];
  const bad = (name: string, content: unknown) => {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    return join(dir, name);
  };
  cases.push([['simulate', bad('s1.json', { ...spec, layers: [{ ...spec.layers[0], phi: 'swish' }, spec.layers[1]] }), '--input', join(dir, 'x.npy'), '--out', out], /unknown activation 'swish'/]);
  cases.push([['simulate', bad('s2.json', { ...spec, layers: [{ ...spec.layers[0], tau_m: 0.01 }, spec.layers[1]] }), '--input', join(dir, 'x.npy'), '--out', out], /smaller than dt/]);
  cases.push([['simulate', bad('s3.json', { ...spec, layers: [{ ...spec.layers[0], tau_m: [1, -1] }, spec.layers[1]] }), '--input', join(dir, 'x.npy'), '--out', out], /must be > 0/]);
  cases.push([['simulate', bad('s4.json', { ...spec, layers: [{ ...spec.layers[0], tau_r: [1, 1, 1] }, spec.layers[1]] }), '--input', join(dir, 'x.npy'), '--out', out], /has 3 entries but the layer has 2/]);
  cases.push([['simulate', bad('s5.json', { ...spec, layers: [{ ...spec.layers[0], init: { weight: [[1, 2]] } }, spec.layers[1]] }), '--input', join(dir, 'x.npy'), '--out', out], /shape is 1 x 2, expected 2 x 1/]);
  cases.push([['simulate', bad('s6.json', '{"input_size": 1, "dt": NaN}'), '--input', join(dir, 'x.npy'), '--out', out], /invalid JSON|Unexpected token|line 1/i]);
  cases.push([['simulate', bad('s7.json', { ...spec, beta: 'NaN' }), '--input', join(dir, 'x.npy'), '--out', out], /beta: Expected number/]);
  const trunc = readFileSync(join(dir, 'x.npy')).subarray(0, 150);
  writeFileSync(join(dir, 'trunc.npy'), trunc);
  cases.push([['simulate', join(dir, 'spec.json'), '--input', join(dir, 'trunc.npy'), '--out', out], /truncated/]);
  cases.push([['simulate', join(dir, 'spec.json'), '--input', join(dir, 'missing.npy'), '--out', out], /missing\.npy/]);
  writeFileSync(join(dir, 'x2.npy'), encodeNpy({ dtype: 'float32', shape: [20, 3, 2], data: new Float32Array(120) }));
  cases.push([['simulate', join(dir, 'spec.json'), '--input', join(dir, 'x2.npy'), '--out', out], /network needs B\*1/]);
  cases.push([['run', 'no-such-experiment'], /unknown experiment/]);
  cases.push([['run', 'lagline', '--set', 'nonsense=3'], /unknown parameter 'nonsense'/]);
  cases.push([['run', 'lagline', '--seed', 'abc'], /--seed must be a non-negative integer/]);
  cases.push([['replay', bad('t.json', { schema_version: 2 })], /schema_version must be 1/]);
  cases.push([['eval', '--checkpoint', join(dir, 'nockpt'), '--x', join(dir, 'x.npy'), '--y', join(dir, 'y.npy')], /no such directory/]);
  cases.push([['eval', '--checkpoint', join(dir, 'nockpt'), '--data', dir, '--split', 'bogus'], /Allowed choices are val, test, val\+test, train/]);
  cases.push([['eval', '--checkpoint', join(dir, 'nockpt'), '--data', join(dir, 'no-such-folder')], /no such directory|does not exist/]);
  cases.push([['run', 'lagline', '--backend', 'bogus'], /Allowed choices are auto, js, wasm, native/]);
  cases.push([['replay', '--dtype', 'float64', '--backend', 'wasm', GOLDEN + 'lagline.json'], /backend 'wasm' cannot run float64 here: wasm backend supports float32 only/]);
  cases.push([['run', 'lagline', '--quick', '--dtype', 'float64', '--backend', 'wasm', '--out', join(dir, 'no-run')], /backend 'wasm' cannot run float64/]);
  for (const [args, re] of cases) {
    const r = gle(...args);
    assert.equal(r.code, 2, `${args.join(' ')} should fail with exit 2 (got ${r.code})`);
    assert.match(r.err, re, `${args.join(' ')}: ${r.err}`);
    assert.ok(!/\n\s+at /.test(r.err), `no stack trace for bad input: ${r.err}`);
    assert.equal(readFileSync(out, 'utf8'), 'precious');
  }
  assert.ok(!existsSync(join(dir, 'trace.json.tmp')));
  assert.ok(!existsSync(join(dir, 'no-run')), 'a run whose backend cannot load leaves no run directory');
});

test('gle eval scores a CLI-trained MNIST-1D checkpoint on the test split', () => {
  const repo = new URL('..', import.meta.url).pathname;
  const r = gle('eval', '--checkpoint', `${repo}examples/checkpoints/mnist1d-15k-seed56`, '--x', `${repo}data/mnist1d/mnist1d_360_x_test.npy`, '--y', `${repo}data/mnist1d/mnist1d_y_test.npy`);
  assert.equal(r.code, 0, r.err);
  const acc = Number(/accuracy ([\d.]+)%/.exec(r.out)?.[1]);
  assert.ok(acc >= 90, `accuracy ${acc}`);
});

test("gle run with the spec's weight average evaluates the averaged parameters, checkpoints them, and gle eval reads them", () => {
  const repo = new URL('..', import.meta.url).pathname;
  const network = {
    name: 'tiny-avg', input_size: 1, dt: 0.2, loss: 'ce', beta: 1, prospective_errors: true,
    layers: [{ size: 6, phi: 'tanh', bias: true, tau_m: 1.2, tau_r: 0.2 }, { size: 10, phi: 'linear', bias: true, tau_m: 1.2, tau_r: 1.2 }],
    optimizer: { type: 'adam', lr: 3e-3 }, average: { decay: 0.999 },
  };
  const run = join(dir, 'avg-run');
  const t = gle('run', 'mnist1d-15k', '--set', 'batch=4', 'testBatch=4', 'maxTrain=8', 'maxTest=8', 'epochs=1', `network=${JSON.stringify(network)}`, '--backend', 'js', '--out', run);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out + t.err, /evaluations use the averaged parameters \(spec average, decay 0.999\)/);
  const meta = JSON.parse(readFileSync(join(run, 'checkpoint', 'meta.json'), 'utf8')) as { average?: { t: number } };
  assert.equal(meta.average?.t, 2 * 360, 'one update per optimiser step (8 samples at batch 4, 360 steps each)');
  const e = gle('eval', '--checkpoint', join(run, 'checkpoint'), '--x', `${repo}data/mnist1d/mnist1d_360_x_test.npy`, '--y', `${repo}data/mnist1d/mnist1d_y_test.npy`, '--batch', '100');
  assert.equal(e.code, 0, e.err);
  assert.match(e.out, /accuracy [\d.]+% \(\d+\/1000\).* \(averaged parameters: spec average\)/);
});

test('gle eval --data scores a speech checkpoint on the val and test splits of a Speech Commands folder', () => {
  const speech = new URL('./fixtures/speech-commands-mini', import.meta.url).pathname;
  const run = join(dir, 'gsc-small-run');
  const t = gle('run', 'gsc-small', '--quick', '--data', speech, '--out', run, '--set', `featureCache=${JSON.stringify(join(dir, 'fcache'))}`, '--set', 'epochs=1');
  assert.equal(t.code, 0, t.err);
  const r = gle('eval', '--checkpoint', join(run, 'checkpoint'), '--data', speech, '--batch', '64');
  assert.equal(r.code, 0, r.err);
  const got = [...r.out.matchAll(/^(val|test|val\+test): accuracy ([\d.]+)% \((\d+)\/(\d+)\)/gm)].map((m) => ({ split: m[1], k: Number(m[3]), n: Number(m[4]) }));
  assert.deepEqual(got.map((g) => g.split), ['val', 'test', 'val+test']);
  assert.equal(got[2].n, got[0].n + got[1].n);
  assert.equal(got[2].k, got[0].k + got[1].k);
  // each split starts from zero state, so the test figure does not depend on having evaluated val first
  const te = gle('eval', '--checkpoint', join(run, 'checkpoint'), '--data', speech, '--batch', '64', '--split', 'test');
  assert.match(te.out, new RegExp(`^test: accuracy [\\d.]+% \\(${got[1].k}/${got[1].n}\\)`, 'm'));
  const both = gle('eval', '--checkpoint', join(run, 'checkpoint'), '--data', speech, '--x', join(dir, 'x.npy'), '--y', join(dir, 'y.npy'));
  assert.equal(both.code, 2);
  assert.match(both.err, /either --data .* or --x and --y/);
});

test('gle list says what each --quick run shows', () => {
  const r = gle('list');
  assert.equal(r.code, 0, r.err);
  const names = [...r.out.matchAll(/^(\S+)\s{2}/gm)].map((m) => m[1]);
  assert.ok(names.length >= 7, r.out);
  assert.equal((r.out.match(/^\s+--quick: /gm) ?? []).length, names.length, r.out);
});

test('a run prints one stepping rate: the progress line and the summary agree', () => {
  const env = { ...process.env, GLE_FROM_SOURCE: '1' };
  const r = spawnSync(process.execPath, [GLE, 'run', 'lagline', '--quick', '--set', 'trainSteps=20000', '--progress', 'plain', '--out', join(dir, 'rate-run')], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const bar = Number(/done \d+\/\d+ steps in \S+ \(([\d,]+) steps\/s\)/.exec(r.stderr)?.[1].replace(/,/g, ''));
  const summary = Number(/steps, ([\d,]+) steps\/s while stepping/.exec(r.stdout)?.[1].replace(/,/g, ''));
  assert.ok(bar > 0 && summary > 0, `${r.stderr}\n${r.stdout}`);
  // one measurement (the display's own clock readings), so equal up to rounding to whole steps/s, however loaded the machine
  assert.ok(Math.abs(bar - summary) <= 1, `progress ${bar} steps/s vs summary ${summary} steps/s`);
  assert.equal(JSON.parse(readFileSync(join(dir, 'rate-run', 'summary.json'), 'utf8')).steps_per_s, summary);
});
