import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createNodeBackend } from '../src/node.js';
import type { Backend } from '../src/kernels/types.js';
import { JsBackend } from '../src/kernels/js/index.js';
import { replayTrace, validateTrace } from '../src/io/trace.js';
import { GLENetwork } from '../src/model/network.js';
import { Learner } from '../src/learn/learner.js';
import { findExperiment } from '../src/experiments/registry.js';
import type { ClassifyParams } from '../src/experiments/types.js';

const GOLDEN = new URL('./fixtures/golden/', import.meta.url);
const files = ['lagline.json', 'lagline_sgd.json', 'dense_pe.json', 'dense_le.json', 'dense_pe_adam.json'];
const goldens = files.map((f) => validateTrace(JSON.parse(readFileSync(new URL(f, GOLDEN), 'utf8')), f));

async function tryBackend(name: 'wasm' | 'native'): Promise<Backend | null> {
  try {
    return await createNodeBackend(name, 'float32', () => {});
  } catch {
    return null;
  }
}

for (const name of ['wasm', 'native'] as const) {
  test(`every golden passes on the ${name} backend (float32 tolerance)`, async (t) => {
    const k = await tryBackend(name);
    if (!k) return t.skip(`${name} backend not available on this machine`);
    for (const g of goldens) {
      const rep = replayTrace(g, k, 5e-5, 1e-4);
      const bad = Object.entries(rep.quantities).filter(([, d]) => d.worstExcess > 0);
      assert.equal(bad.length, 0, `${g.scenario}: ${bad.map(([q, d]) => `${q} ${d.maxAbs.toExponential(2)}`).join(', ')}`);
    }
  });

  test(`${name} agrees with js on 200 training steps of the MNIST-1D 15k network`, async (t) => {
    const k = await tryBackend(name);
    if (!k) return t.skip(`${name} backend not available on this machine`);
    const spec = (findExperiment('mnist1d-15k')!.params as ClassifyParams).network;
    const B = 16;
    const nets = [new GLENetwork(spec, new JsBackend('float32'), { batchSize: B }), new GLENetwork(spec, k, { batchSize: B })];
    const ls = nets.map((n) => new Learner(n));
    const x = new Float32Array(B), y = Int32Array.from({ length: B }, (_, i) => i % 10);
    let maxDiff = 0;
    for (let s = 0; s < 200; s++) {
      for (let b = 0; b < B; b++) x[b] = Math.sin(0.05 * s + b);
      const o0 = ls[0].trainStep(x, y).a, o1 = ls[1].trainStep(x, y).a;
      for (let i = 0; i < o0.length; i++) maxDiff = Math.max(maxDiff, Math.abs(o0[i] - o1[i]));
    }
    assert.ok(maxDiff < 2e-3, `outputs differ by ${maxDiff}`);
    const w0 = nets[0].layers[3].params.W.a, w1 = nets[1].layers[3].params.W.a;
    let dw = 0;
    for (let i = 0; i < w0.length; i++) dw = Math.max(dw, Math.abs(w0[i] - w1[i]));
    assert.ok(dw < 1e-3, `weights differ by ${dw}`);
  });
}
