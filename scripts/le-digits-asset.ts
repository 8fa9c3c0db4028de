/**
 * The LE digits view's built-in network from a CLI run of the `le` task (docs/RESULTS.md §24):
 *
 *   node --import tsx scripts/le-digits-asset.ts RUN_DIR [OUT_DIR=lab/public/le-digits] ["the training command"]
 *        [--digits N] [--backend js|wasm|native] [--no-test-digits]
 *
 * (the LeNet asset, §30: OUT_DIR lab/public/le-digits/lenet, --no-test-digits since the page takes them from
 * le-digits/, and --digits 300 --backend native because batch-1 LeNet steps in JavaScript are slow)
 *
 * reads RUN_DIR/config.json and RUN_DIR/checkpoint/{meta.json,state.bin} exactly as the page does (modelFromRun of
 * lab/src/sim/le-digits.ts), writes spec.json + model.safetensors (float32 parameters only), test-digits.json (the
 * first 5 digits of each class of the embedded test split, for the page's keyboard alternative to drawing) and
 * provenance.json, and measures the shipped float32 network as the page runs it (LeDigitsSim: batch 1, dt = τ_m/20,
 * digits shown one after another without reset) on the first N (default all 2,000) test digits: accuracy of LE and of its leaky twin
 * (τ = 0) k steps after each new digit, on the digits as stored and after the page's MNIST-like preprocessing.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsBackend, encodeSafetensors, type Backend, type SafeTensor } from '../src/core.js';
import { createNodeBackend } from '../src/node.js';
import { loadEmbeddedMnist } from '../src/data/mnist-files.js';
import { LeDigitsSim, argmax, describeLayers, isParamName, mnistPreprocess, modelFromRun } from '../lab/src/sim/le-digits.js';

const flags = new Map<string, string>();
const pos: string[] = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--no-test-digits') flags.set('no-test-digits', '1');
  else if (a === '--digits' || a === '--backend') flags.set(a.slice(2), argv[++i] ?? '');
  else pos.push(a);
}
const [runDir, outDir = 'lab/public/le-digits', command = ''] = pos;
const nDigits = flags.has('digits') ? Number(flags.get('digits')) : Infinity;
const backendName = flags.get('backend') ?? 'js';
if (!runDir || !(nDigits >= 1) || !['js', 'wasm', 'native'].includes(backendName)) {
  console.error('usage: scripts/le-digits-asset.ts RUN_DIR [OUT_DIR] ["command"] [--digits N>=1] [--backend js|wasm|native] [--no-test-digits]');
  process.exit(2);
}
const backend: Backend = backendName === 'js' ? new JsBackend('float32') : await createNodeBackend(backendName as 'wasm' | 'native', 'float32');
const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
const meta = JSON.parse(readFileSync(join(runDir, 'checkpoint', 'meta.json'), 'utf8'));
const state = readFileSync(join(runDir, 'checkpoint', 'state.bin'));
const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
const model = await modelFromRun(config, meta, async (o, n) => state.buffer.slice(state.byteOffset + o, state.byteOffset + o + n), runDir);

// float32 parameters only
const rec: Record<string, SafeTensor> = {};
for (const [name, t] of Object.entries(model.tensors)) {
  if (!isParamName(name) || name.endsWith('.feedback')) continue;
  if (name.endsWith('.tau') || name.endsWith('.tau_m')) {
    if (t.every((v) => v === t[0])) continue; // uniform: the spec's value
  }
  rec[name] = { dtype: 'F32', shape: [t.length], data: Float32Array.from(t) };
}
mkdirSync(outDir, { recursive: true });
const st = encodeSafetensors(rec, { format: 'pt', producer: 'gle scripts/le-digits-asset.ts' });
writeFileSync(join(outDir, 'model.safetensors'), st);
const spec = { ...model.spec, seed: config.seed };
writeFileSync(join(outDir, 'spec.json'), JSON.stringify(spec, null, 2) + '\n');

// test digits for the page: the first 5 of each class in the embedded test split
const data = loadEmbeddedMnist();
if (!flags.has('no-test-digits')) writeTestDigits();
function writeTestDigits(): void {
const picked: number[] = [];
for (let c = 0; c < 10; c++) {
  let k = 0;
  for (let i = 0; i < data.test.n && k < 5; i++) if (data.test.y[i] === c) (picked.push(i), k++);
}
const px = new Uint8Array(picked.length * 784);
picked.forEach((i, k) => {
  for (let p = 0; p < 784; p++) px[k * 784 + p] = Math.round(255 * data.test.x[i * 784 + p]);
});
writeFileSync(
  join(outDir, 'test-digits.json'),
  JSON.stringify({ source: `${data.source}: test-split indices ${picked.join(',')} (5 per class), uint8 28x28 row-major, base64`, labels: picked.map((i) => data.test.y[i]), pixels: Buffer.from(px).toString('base64') }) + '\n',
);
}

// the shipped network as the page runs it
const sim32 = { spec, tensors: Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, v.data as Float32Array])), source: 'asset' };
const stages = model.spec.layers.length;
const at = [...new Set([1, 2, 3, 5, stages, stages + 1, 20, 60])].sort((a, b) => a - b);
const nTest = Math.min(nDigits, data.test.n);
function measure(pre: boolean): { le: number[]; leaky: number[] } {
  const sim = new LeDigitsSim(backend, sim32, 20);
  const le = at.map(() => 0), leaky = at.map(() => 0);
  const img = new Float64Array(784);
  for (let i = 0; i < nTest; i++) {
    const src = data.test.x.subarray(i * 784, (i + 1) * 784);
    if (pre) mnistPreprocess(src, 28, 28, img);
    else img.set(src);
    sim.x.set(img);
    for (let s = 1; s <= at[at.length - 1]; s++) {
      sim.step(1);
      const j = at.indexOf(s);
      if (j >= 0) {
        if (argmax(sim.outLe()) === data.test.y[i]) le[j]++;
        if (argmax(sim.outLeaky()) === data.test.y[i]) leaky[j]++;
      }
    }
  }
  return { le: le.map((v) => v / nTest), leaky: leaky.map((v) => v / nTest) };
}
const asStored = measure(false), preprocessed = measure(true);
const params = Object.entries(rec).filter(([k]) => /\.(weight|bias)$/.test(k)).reduce((s, [, t]) => s + t.data.length, 0);
const conv = model.spec.layers.some((l) => l.type === 'conv2d');
const prov = {
  summary: `LE ${conv ? 'LeNet-5' : 'MLP'} ${describeLayers(model.spec)}, ${params.toLocaleString('en')} parameters, ${(100 * summary.final.test_acc).toFixed(2)} % test accuracy (CLI run, seed ${config.seed})`,
  command,
  experiment: config.experiment,
  seed: config.seed,
  params: config.params,
  cli_test_acc: summary.final.test_acc,
  cli_best_test_acc: summary.final.best_test_acc,
  data: `${data.source}; trained on the 8,000, tested on the 2,000`,
  parameters: params,
  bytes: st.length,
  page_accuracy: {
    note: `the float32 asset run as the page runs it (${backend.name} backend): batch 1, dt = tau_m/20, the first ${nTest} of the 2,000 test digits shown one after another without reset; accuracy k steps after each new digit`,
    digits: nTest,
    steps: at,
    as_stored: asStored,
    after_page_preprocessing: preprocessed,
  },
  written: new Date().toISOString(),
};
writeFileSync(join(outDir, 'provenance.json'), JSON.stringify(prov, null, 2) + '\n');
console.log(JSON.stringify({ bytes: st.length, params, asStored, preprocessed }, null, 1));
