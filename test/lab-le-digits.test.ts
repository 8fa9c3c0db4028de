/**
 * The LE digits view's simulation (lab/src/sim/le-digits.ts) in Node: MNIST-like preprocessing, LE's output settling
 * after one dt per stage while the leaky (τ = 0) twin relaxes to the same fixed point, and the built-in asset
 * (lab/public/le-digits/) classifying its test digits as its provenance says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsBackend, LENetwork, Rng } from '../src/core.js';
import { LeDigitsSim, SettleMeter, argmax, mnistPreprocess, modelFromSafetensors, type LeModel } from '../lab/src/sim/le-digits.js';

const asset = join(dirname(fileURLToPath(import.meta.url)), '..', 'lab', 'public', 'le-digits');

test('mnistPreprocess: the ink box scaled to 20 px on its long side, centre of mass at the centre, blank is false', () => {
  const w = 90, h = 300, img = new Float32Array(w * h);
  // a filled bar 30 wide × 200 tall at (40..69, 50..249)
  for (let y = 50; y < 250; y++) for (let x = 40; x < 70; x++) img[y * w + x] = 1;
  const out = new Float64Array(784);
  assert.equal(mnistPreprocess(img, w, h, out), true);
  let m = 0, mx = 0, my = 0, rows = 0, cols = 0;
  for (let i = 0; i < 28; i++) {
    let r = 0;
    for (let j = 0; j < 28; j++) {
      const v = out[i * 28 + j];
      m += v;
      mx += v * (j + 0.5);
      my += v * (i + 0.5);
      r += v;
    }
    if (r > 0) rows++;
  }
  for (let j = 0; j < 28; j++) {
    let c = 0;
    for (let i = 0; i < 28; i++) c += out[i * 28 + j];
    if (c > 0) cols++;
  }
  assert.ok(rows >= 20 && rows <= 21, `rows with ink ${rows}`);
  assert.ok(cols >= 3 && cols <= 4, `columns with ink ${cols}`); // 30/200·20 = 3 px
  assert.ok(Math.abs(mx / m - 14) < 0.3 && Math.abs(my / m - 14) < 0.3, `centre of mass (${mx / m}, ${my / m})`);
  assert.ok(Math.abs(m - 60) < 3, `total ink ${m} (3 × 20 px)`); // area preserved by the averaging
  assert.equal(mnistPreprocess(new Float32Array(w * h), w, h, out), false);
  assert.equal(out.reduce((a, b) => a + b, 0), 0);
});

function tinyModel(): LeModel {
  const spec = {
    model: 'le' as const, input_shape: [784], dt: 0.05, tau: 20, beta: 0.1, seed: 3,
    layers: [
      { type: 'dense' as const, size: 16, phi: 'hard_sigmoid' as const },
      { type: 'dense' as const, size: 12, phi: 'hard_sigmoid' as const },
      { type: 'dense' as const, size: 10, phi: 'linear' as const },
    ],
  };
  const net = new LENetwork(new JsBackend('float64'), spec, 1);
  const tensors: LeModel['tensors'] = {};
  for (const [name, b] of net.stateBuffers()) if (/\.(weight|bias)$/.test(name)) tensors[name] = Float64Array.from(b.a, (v) => v * 3); // larger weights: visible dynamics
  return { spec, tensors, source: 'tiny' };
}

test('LE settles one dt per stage after an input change; the leaky twin relaxes over several τ_m to the same outputs', () => {
  const sim = new LeDigitsSim(new JsBackend('float64'), tinyModel(), 20);
  const rng = new Rng(5);
  const mLe = new SettleMeter(10, 1e-9), mLk = new SettleMeter(10, 1e-9);
  for (let trial = 0; trial < 3; trial++) {
    for (let i = 0; i < 784; i++) sim.x[i] = rng.uniform() < 0.2 ? rng.uniform() : 0;
    mLe.inputChanged();
    mLk.inputChanged();
    for (let s = 0; s < 600; s++) {
      sim.step(1);
      mLe.add(sim.outLe());
      mLk.add(sim.outLeaky());
    }
    // three stages, one dt each (vanilla): after 3 steps LE's output is final
    assert.ok(mLe.settle <= 3, `LE moved for ${mLe.settle} steps after the change`);
    assert.ok(mLk.settle > 60, `the leaky twin moved for only ${mLk.settle} steps`);
    const a = sim.outLe(), b = sim.outLeaky();
    for (let j = 0; j < 10; j++) assert.ok(Math.abs(a[j] - b[j]) < 1e-4, `class ${j}: LE ${a[j]} vs leaky ${b[j]} after 30 τ_m`);
  }
});

// the built-in LeNet (docs/RESULTS.md §30): 89.40 % on the 2,000 test digits in the CLI; as the page runs it, 81 % of
// the first 100 test digits after the page's preprocessing, 6 steps after each digit
const LENET_CLI_MIN = 0.85;
const LENET_PAGE_MIN = 0.7;

/** A built-in asset's test digits, preprocessed as the page does, shown one after another for `steps` steps each. */
function builtinRun(dir: string, steps: number) {
  const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'));
  const prov = JSON.parse(readFileSync(join(dir, 'provenance.json'), 'utf8'));
  const bytes = readFileSync(join(dir, 'model.safetensors'));
  const model = modelFromSafetensors(spec, new Uint8Array(bytes), 'asset');
  const digits = JSON.parse(readFileSync(join(asset, 'test-digits.json'), 'utf8')) as { labels: number[]; pixels: string };
  const px = new Uint8Array(Buffer.from(digits.pixels, 'base64'));
  assert.equal(px.length, digits.labels.length * 784);
  const sim = new LeDigitsSim(new JsBackend('float32'), model, 20);
  let rightLe = 0, rightLeaky = 0;
  const img = new Float64Array(784);
  for (let i = 0; i < digits.labels.length; i++) {
    for (let p = 0; p < 784; p++) img[p] = px[i * 784 + p] / 255;
    mnistPreprocess(img, 28, 28, sim.x); // as the page does with a shown test digit
    sim.step(steps);
    if (argmax(sim.outLe()) === digits.labels[i]) rightLe++;
    if (argmax(sim.outLeaky()) === digits.labels[i]) rightLeaky++;
  }
  return { prov, bytes: bytes.length, n: digits.labels.length, rightLe, rightLeaky };
}

test('the built-in LE MLP: its provenance, size, and its test digits classified within 2 steps (the leaky twin not yet)', () => {
  const { prov, n, rightLe, rightLeaky } = builtinRun(asset, 2);
  assert.equal(prov.parameters, 79510);
  assert.match(prov.command, /^gle run le-mnist-mlp .*--seed 1/);
  assert.ok(prov.cli_test_acc > 0.9, `CLI test accuracy ${prov.cli_test_acc}`);
  assert.ok(rightLe / n >= 0.85, `LE: ${rightLe}/${n} right 2 steps after each digit`); // 44/50 measured (91.4 % of all 2,000 test digits, provenance.json)
  assert.ok(rightLeaky / n <= 0.3, `the leaky twin: ${rightLeaky}/${n} right after 2 steps (should still show the previous digit)`);
});

test('the built-in LE LeNet-5: trained by the CLI (LE, not the BP twin), under 2 MB, its test digits classified within 6 steps (the leaky twin not yet)', () => {
  const { prov, bytes, n, rightLe, rightLeaky } = builtinRun(join(asset, 'lenet'), 6);
  assert.equal(prov.parameters, 431080);
  assert.equal(bytes, prov.bytes);
  assert.ok(bytes < 2e6, `model.safetensors is ${bytes} bytes`);
  assert.match(prov.command, /^gle run le-mnist-lenet /);
  assert.doesNotMatch(prov.command, /model=bp/);
  assert.equal(prov.params.model, 'le');
  assert.ok(prov.cli_test_acc > LENET_CLI_MIN, `CLI test accuracy ${prov.cli_test_acc}`);
  // six stages (conv, pool, conv, pool, dense, dense), one dt each: LE's answer is final after 6 steps
  assert.ok(rightLe / n >= LENET_PAGE_MIN, `LE LeNet: ${rightLe}/${n} right 6 steps after each digit`);
  assert.ok(rightLeaky / n <= 0.3, `the leaky twin: ${rightLeaky}/${n} right after 6 steps (should still show the previous digit)`);
});

test('the le task checks `hidden` (the MLP\'s hidden sizes) and lr_factors against it', async () => {
  const { checkLeParams, LE_MNIST_MLP } = await import('../src/experiments/le.js');
  const spec = checkLeParams({ ...LE_MNIST_MLP, hidden: [100], lr_factors: [1, 0.1] }, 1);
  assert.deepEqual(spec.layers.map((l) => (l as { size: number }).size), [100, 10]);
  assert.throws(() => checkLeParams({ ...LE_MNIST_MLP, hidden: [] }, 1), /hidden must list positive integer layer sizes/);
  assert.throws(() => checkLeParams({ ...LE_MNIST_MLP, hidden: [100] }, 1), /lr_factors must list 2 numbers/);
});
