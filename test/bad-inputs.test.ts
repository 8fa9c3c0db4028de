/**
 * The bad-input table of issue 13, run in-process through the CLI's `main` (fast): every case must end with one
 * line on stderr (no stack trace), the expected exit code (2 = bad input, 3 = diverged), a message matching the
 * pattern, and nothing created or overwritten. docs/RESULTS.md records the same table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { encodeNpy } from '../src/io/npy.js';
import { encodeWav16 } from '../src/data/speech/wav.js';
import { resolveParams } from '../src/experiments/runner.js';
import { findExperiment } from '../src/experiments/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'gle-bad-'));
const REPO = new URL('..', import.meta.url).pathname;

/** Run the CLI in-process; returns the exit code and what went to stderr. */
async function gle(args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const orig = process.stderr.write.bind(process.stderr);
  const origOut = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let code: number;
  try {
    code = await main(args);
  } finally {
    process.stderr.write = orig;
    process.stdout.write = origOut;
    process.exitCode = undefined;
  }
  return { code, err };
}

const f = (name: string, content: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content));
  return p;
};
const spec = { input_size: 1, dt: 0.1, layers: [{ size: 2, phi: 'tanh', tau_m: 1 }, { size: 1, phi: 'linear', tau_m: 1 }], optimizer: { type: 'sgd', lr: 0.01 } };
const ceSpec = { ...spec, loss: 'ce', layers: [{ size: 2, phi: 'tanh', tau_m: 1 }, { size: 3, phi: 'linear', tau_m: 1 }] };
const x = f('x.npy', encodeNpy({ dtype: 'float32', shape: [20, 3, 1], data: Float32Array.from({ length: 60 }, (_, i) => Math.sin(i)) }));
const xInt = f('xint.npy', encodeNpy({ dtype: 'int32', shape: [20, 3], data: Int32Array.from({ length: 60 }, (_, i) => i % 3) }));
const lab = (v: number) => f(`lab${v}.npy`, encodeNpy({ dtype: 'int32', shape: [20, 3], data: Int32Array.from({ length: 60 }, (_, i) => (i === 7 ? v : i % 3)) }));
const out = f('precious.json', 'precious');

// a run directory with a broken config.json, and one with a broken checkpoint meta.json
const runWith = (name: string, cfg: string) => {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, 'config.json'), cfg);
  return d;
};
// the shipped checkpoint, one byte flipped
const ck = join(dir, 'flipped');
cpSync(join(REPO, 'examples/checkpoints/mnist1d-15k-seed56'), ck, { recursive: true });
const mbytes = readFileSync(join(ck, 'model.safetensors'));
mbytes[mbytes.length - 100] ^= 0x10;
writeFileSync(join(ck, 'model.safetensors'), mbytes);
const nullMeta = join(dir, 'nullmeta');
cpSync(join(REPO, 'examples/checkpoints/mnist1d-15k-seed56'), nullMeta, { recursive: true });
writeFileSync(join(nullMeta, 'meta.json'), 'null');
const emptyX = f('x0.npy', encodeNpy({ dtype: 'float32', shape: [0, 360], data: new Float32Array(0) }));
const emptyY = f('y0.npy', encodeNpy({ dtype: 'int64', shape: [0], data: new BigInt64Array(0) }));
// a speech folder where one "clip" is a directory, and one where a training clip is not a WAV
const speech = (name: string, bad: 'dir' | 'text') => {
  const root = join(dir, name);
  for (const w of ['yes', 'no', 'up']) {
    mkdirSync(join(root, w), { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(join(root, w, `s${i}_nohash_0.wav`), encodeWav16(new Int16Array(16000)));
  }
  writeFileSync(join(root, 'validation_list.txt'), 'yes/s1_nohash_0.wav\n');
  writeFileSync(join(root, 'testing_list.txt'), 'yes/s2_nohash_0.wav\n');
  if (bad === 'dir') mkdirSync(join(root, 'no', 'x9_nohash_0.wav'));
  else writeFileSync(join(root, 'up', 's0_nohash_0.wav'), 'not a wav at all');
  return root;
};
const gscDir = speech('gsc-dir', 'dir');
const gscText = speech('gsc-text', 'text');
const existingFile = f('a-file', 'keep me');
const runs = join(dir, 'runs');

type Case = [label: string, args: string[], code: number, re: RegExp];
const sim = (name: string, s: unknown, ...more: string[]): string[] => ['simulate', f(name, s), '--input', x, '--out', out, ...more];
const run = (exp: string, ...more: string[]): string[] => ['run', exp, '--quick', '--progress', 'off', '--out', join(runs, String(cases.length)), ...more];
const cases: Case[] = [];
cases.push(
  ['layer product 1e5 x 1e5', sim('big1.json', { ...spec, layers: [{ size: 100000, phi: 'tanh', tau_m: 1 }, { size: 100000, phi: 'linear', tau_m: 1 }] }), 2, /more than one buffer can hold|needs about/],
  ['a 1e9-neuron layer', sim('big2.json', { ...spec, layers: [{ size: 1e9, phi: 'tanh', tau_m: 1 }, { size: 1, phi: 'linear', tau_m: 1 }] }), 2, /needs about [\d.]+ GiB of memory/],
  ['a conv layer of 5.8e8 neurons', sim('big-conv.json', { ...spec, input_size: 784, input_shape: [1, 28, 28], layers: [{ type: 'conv2d', channels: 1000000, kernel: 5, phi: 'tanh', tau_m: 1 }, { type: 'flatten' }, { size: 1, phi: 'linear', tau_m: 1 }] }), 2, /neurons need at least [\d.]+ GiB of memory|neurons are more than one buffer/],
  ['a conv kernel of 4e9 weights', sim('big-convw.json', { ...spec, input_size: 80000, input_shape: [100, 40, 20], layers: [{ type: 'conv2d', channels: 100000, kernel: [20, 20], phi: 'tanh', tau_m: 1 }, { type: 'flatten' }, { size: 1, phi: 'linear', tau_m: 1 }] }), 2, /weights are more than one buffer can hold/],
  ['groups of 1e9 neurons', sim('big3.json', { ...spec, layers: [{ size: 2, phi: 'tanh', tau_m: { groups: [{ count: 1e9, value: 1 }] } }, spec.layers[1]] }), 2, /groups add up to 1000000000 neurons/],
  ['integer input of the wrong width', ['simulate', f('s.json', spec), '--input', xInt, '--out', out], 2, /each step has 3 values but the network needs B\*1/],
  ['spec file is null', ['simulate', f('null.json', 'null'), '--input', x, '--out', out, '--dtype', 'float64'], 2, /must be a JSON object, got null/],
  ['tau_m = 1e308 in float32', sim('tau.json', { ...spec, layers: [{ ...spec.layers[0], tau_m: 1e308 }, spec.layers[1]] }), 2, /does not fit in float32/],
  ['lr = 1e300 in float32', sim('lr.json', { ...spec, optimizer: { type: 'sgd', lr: 1e300 } }), 2, /optimizer.lr: 1e\+300 does not fit in float32/],
  ['init weight 1e39 in float32', sim('w.json', { ...spec, layers: [{ ...spec.layers[0], init: { weight: [[1e39], [1]] } }, spec.layers[1]] }), 2, /init.weight\[0\]\[0\]: 1e\+39 does not fit/],
  ['lr = 1e30 diverges', [...sim('lr30.json', { ...spec, optimizer: { type: 'sgd', lr: 1e30 } }), '--target', f('y.npy', encodeNpy({ dtype: 'float32', shape: [20, 3, 1], data: new Float32Array(60).fill(5) }))], 3, /diverged: .* became (NaN|Infinity|-Infinity)/],
  ['cross-entropy label 99', ['simulate', f('ce.json', ceSpec), '--input', x, '--target', lab(99), '--out', out], 2, /label 99 at step 2, row 1 is not a class index 0..2/],
  ['cross-entropy label -1', ['simulate', f('ce.json', ceSpec), '--input', x, '--target', lab(-1), '--out', out], 2, /label -1 .* not a class index/],
  ['meta.json = null', ['eval', '--checkpoint', nullMeta, '--x', join(REPO, 'data/mnist1d/mnist1d_360_x_test.npy'), '--y', join(REPO, 'data/mnist1d/mnist1d_y_test.npy')], 2, /meta.json: expected a JSON object, got null/],
  ['one flipped byte in the shipped checkpoint', ['eval', '--checkpoint', ck, '--x', join(REPO, 'data/mnist1d/mnist1d_360_x_test.npy'), '--y', join(REPO, 'data/mnist1d/mnist1d_y_test.npy')], 2, /sha256 differs/],
  ['eval on 0 samples', ['eval', '--checkpoint', join(REPO, 'examples/checkpoints/mnist1d-15k-seed56'), '--x', emptyX, '--y', emptyY], 2, /0 samples|expected a 2-D|nothing to evaluate/],
  ['mnist1d generate --samples 1e9', ['mnist1d', 'generate', '--out', join(dir, 'gen'), '--samples', '1000000000'], 2, /--samples must be from 10 to 10000000/],
  ['replay --atol Infinity', ['replay', '--atol', 'Infinity', join(REPO, 'test/fixtures/golden/lagline.json')], 2, /--atol and --rtol must be finite non-negative numbers/],
  ['replay --rtol abc', ['replay', '--rtol', 'abc', join(REPO, 'test/fixtures/golden/lagline.json')], 2, /--atol and --rtol must be finite/],
  ['eval --batch 0', ['eval', '--checkpoint', join(REPO, 'examples/checkpoints/mnist1d-15k-seed56'), '--x', emptyX, '--y', emptyY, '--batch', '0'], 2, /--batch must be a positive integer/],
  ['simulate --steps 0', [...sim('s0.json', spec), '--steps', '0'], 2, /--steps must be a positive integer/],
  ['lab --port 70000', ['lab', '--port', '70000', '--no-open'], 2, /--port must be an integer 0..65535/],
  ['data speech-commands --seed -1', ['data', 'speech-commands', gscText, '--seed', '-1'], 2, /--seed must be a non-negative integer/],
  ['mnist1d generate --samples 5', ['mnist1d', 'generate', '--out', join(dir, 'gen'), '--samples', '5'], 2, /--samples must be from/],
);
cases.push(
  ['--set batch=0', run('lagline', '--set', 'batch=0'), 2, /batch must be an integer from 1/],
  ['--set epochs=-1', run('mnist1d-15k', '--set', 'epochs=-1'), 2, /epochs must be an integer from 1/],
  ['--set epochs=abc', run('mnist1d-15k', '--set', 'epochs=abc'), 2, /epochs must be a finite number, got 'abc'/],
  ['--set a negative layer size', run('mnist1d-15k', '--set', 'network.layers.0.size=-3'), 2, /network: layers\[0\]\.size/],
  ['--set tau < dt', run('lagline', '--set', 'teacher.layers.0.tau_m=0.001'), 2, /teacher: layers\[0\]\.tau_m: 0.001 is smaller than dt/],
  ['--set a 1e9-wide hidden layer', run('mnist1d-15k', '--set', 'network.layers.0.size=1000000000'), 2, /needs about|more than one buffer/],
  ['--set trainSteps=1e15', run('lagline', '--set', 'trainSteps=1e15'), 2, /trainSteps must be an integer from 1/],
  ['--set teacher.dt=0', run('lagline', '--set', 'teacher.dt=0'), 2, /teacher: dt: Number must be greater than 0/],
  ['--set dt (removed: the network\'s dt)', run('lagline', '--set', 'dt=0.02'), 2, /--set dt: this parameter was removed; the time step is the teacher network's: --set teacher\.dt=VALUE/],
  ['--set evalTrain (removed)', run('mnist1d-15k', '--set', 'evalTrain=true'), 2, /--set evalTrain: this parameter was removed/],
  ['--set model=foo (schema)', run('lagline', '--set', 'model=foo'), 2, /lagline: model: must be one of 'gle', 'bp'.*got 'foo'/],
  ['--set input.type=tri (schema)', run('lagline', '--set', 'input.type=tri'), 2, /lagline: input\.type: must be one of 'square', 'sines', got 'tri'/],
  ['--set evalSplit=train (schema)', run('mnist1d-15k', '--set', 'evalSplit=train'), 2, /mnist1d-15k: evalSplit: must be one of 'test', 'val', got 'train'/],
  ['--set logEvery=0.5', run('lagline', '--set', 'logEvery=0.5'), 2, /logEvery must be an integer/],
  ['--max-seconds abc', run('lagline', '--max-seconds', 'abc'), 2, /--max-seconds must be a number > 0, got 'abc'/],
  ['--max-seconds -1', run('lagline', '--max-seconds', '-1'), 2, /--max-seconds must be a number > 0/],
  ['--checkpoint-seconds x', run('lagline', '--checkpoint-seconds', 'x'), 2, /--checkpoint-seconds must be a number/],
  ['--seed 1e20', run('lagline', '--seed', '100000000000000000000'), 2, /--seed must be a non-negative integer/],
  ['--out at an existing file', ['run', 'lagline', '--quick', '--out', existingFile], 2, /exists and is a file/],
  ['--resume: config.json malformed', ['run', '--resume', runWith('r1', '{"experiment": ')], 2, /config.json: invalid JSON/],
  ['--resume: config.json empty', ['run', '--resume', runWith('r2', '')], 2, /config.json: invalid JSON|unexpected end/i],
  ['--resume: config.json null', ['run', '--resume', runWith('r3', 'null')], 2, /config.json must hold a JSON object, got null/],
  ['--resume: config.json lacks params', ['run', '--resume', runWith('r4', '{"experiment":"lagline","seed":0,"quick":true}')], 2, /config.json has no params object/],
  ['--resume with --seed', ['run', '--resume', join(dir, 'r6'), '--seed', '3'], 2, /--resume keeps the run's --seed; drop it/],
  ['--resume with an experiment name', ['run', 'lagline', '--resume', join(dir, 'r6')], 2, /do not name an experiment with it/],
  ['--resume: not a directory', ['run', '--resume', existingFile], 2, /not a directory/],
  ['--resume: config.json params empty', ['run', '--resume', runWith('r5', JSON.stringify({ experiment: 'mnist1d-15k', seed: 0, quick: true, params: {} }))], 2, /params lack 'dataset'/],
  ['--resume --set of a parameter the checkpoint depends on', ['run', '--resume', runWith('r6', JSON.stringify({ experiment: 'mnist1d-15k', seed: 0, quick: true, params: resolveParams(findExperiment('mnist1d-15k')!, true) })), '--set', 'network.optimizer.lr=1e6'], 2, /--set network.optimizer.lr: cannot be changed on resume .*what can: epochs/],
  ['--resume --set epochs=0', ['run', '--resume', join(dir, 'r6'), '--set', 'epochs=0'], 2, /epochs must be an integer from 1/],
  ['speech: a folder named *.wav', run('gsc-small', '--data', gscDir), 2, /x9_nohash_0\.wav: not a file/],
  ['speech: a training clip that is not a WAV', run('gsc-small', '--data', gscText), 2, /s0_nohash_0\.wav: not a RIFF\/WAVE file/],
);

test('bad inputs: one line, exit 2 (3 when a simulation diverges), nothing created or overwritten', async () => {
  const results: string[] = [];
  for (const [label, args, code, re] of cases) {
    const r = await gle(args);
    results.push(`${label} -> exit ${r.code}: ${r.err.trim()}`);
    assert.equal(r.code, code, `${label}: exit ${r.code}, expected ${code}; ${r.err}`);
    assert.match(r.err, re, label);
    assert.equal(r.err.trim().split('\n').length, 1, `${label}: one line, got ${r.err}`);
    assert.ok(!/\n\s+at |Error: .*\n/.test(r.err), `${label}: no stack trace: ${r.err}`);
    assert.equal(readFileSync(out, 'utf8'), 'precious', `${label}: the output file was not touched`);
  }
  assert.equal(readFileSync(existingFile, 'utf8'), 'keep me');
  assert.ok(!existsSync(runs) || readdirSync(runs).length === 0, `no run directories left behind: ${existsSync(runs) ? readdirSync(runs).join(', ') : ''}`);
  assert.ok(!existsSync(join(dir, 'gen')), 'mnist1d generate wrote nothing');
  if (process.env.GLE_BAD_INPUT_TABLE) writeFileSync(process.env.GLE_BAD_INPUT_TABLE, results.join('\n') + '\n');
});
