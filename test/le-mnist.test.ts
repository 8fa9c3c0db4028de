import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createBackend } from '../src/kernels/index.js';
import { loadWasmBackend } from '../src/kernels/wasm/index.js';
import { loadEmbeddedMnist } from '../src/data/mnist-files.js';
import { LENetwork } from '../src/model/le-network.js';
import { BpTwin, LeClassifier, trainClassifier, type ClassSet } from '../src/learn/le-classify.js';
import { LE_MNIST_MLP_DEFAULTS, applySets, leMnistMlpSpec } from '../src/experiments/le-mnist.js';

const GLE = new URL('../bin/gle.js', import.meta.url).pathname;

test('le-mnist-mlp: the LE MLP and its BP twin both learn the embedded digits in a short run (well above 10 % chance)', async () => {
  const d = loadEmbeddedMnist();
  const cut = (s: ClassSet, n: number): ClassSet => ({ x: s.x.subarray(0, n * 784), y: s.y.subarray(0, n), n });
  const data = { train: cut(d.train, 1024), test: cut(d.test, 500) };
  const p = applySets(LE_MNIST_MLP_DEFAULTS, ['batch=64', 'n_updates=10', 'epochs=2']);
  const k = await loadWasmBackend('float32').catch(() => createBackend({ backend: 'js' }));
  const spec = leMnistMlpSpec(p);
  const now = () => performance.now() / 1000;
  const le = trainClassifier(new LeClassifier(new LENetwork(k, spec, p.batch)), data, { epochs: p.epochs, classes: 10, seed: 1, now });
  const bp = trainClassifier(new BpTwin(k, new LENetwork(k, spec, 1).spec, p.batch), data, { epochs: p.epochs, classes: 10, seed: 1, now });
  const leAcc = le[le.length - 1].testAcc, bpAcc = bp[bp.length - 1].testAcc;
  assert.ok(leAcc > 0.6, `LE test accuracy ${leAcc}`);
  assert.ok(bpAcc > 0.6, `BP test accuracy ${bpAcc}`);
});

test('le-mnist-mlp: bad --set values are one-line errors with exit code 2', () => {
  for (const [set, msg] of [
    ['model=xx', /--set model: expected le or bp, got xx/],
    ['nope=1', /--set nope: unknown parameter/],
    ['epochs=0', /--set epochs: must be a positive integer/],
  ] as const) {
    const r = spawnSync(process.execPath, [GLE, 'le-mnist-mlp', '--set', set], { encoding: 'utf8', env: { ...process.env, GLE_FROM_SOURCE: '1' } });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});
