import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GLE = new URL('../bin/gle.js', import.meta.url).pathname;
const LE = new URL('./fixtures/golden/le/', import.meta.url).pathname;

function gle(...args: string[]) {
  const r = spawnSync(process.execPath, [GLE, ...args], { encoding: 'utf8', env: { ...process.env, GLE_FROM_SOURCE: '1', GLE_PROGRESS: 'off' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('gle replay runs the LE reference traces (float64 and float32), fails beyond tolerance, rejects a broken file in one line', () => {
  const files = ['le_mlp.json', 'le_conv.json'].map((f) => LE + f);
  const f64 = gle('replay', '--quiet', '--dtype', 'float64', ...files);
  assert.equal(f64.code, 0, f64.out + f64.err);
  assert.equal((f64.out.match(/: OK/g) ?? []).length, 2);
  const f32 = gle('replay', LE + 'le_conv.json');
  assert.equal(f32.code, 0, f32.err);
  assert.match(f32.out, /layer_1\.argmax +max abs 0\.00e\+0/);
  assert.match(f32.out, /layer_4\.weight/);
  // float32 cannot meet 1e-12: exit 1 and the quantities beyond it are flagged
  const tight = gle('replay', '--quiet', '--atol', '1e-12', '--rtol', '0', LE + 'le_mlp.json');
  assert.equal(tight.code, 1);
  assert.match(tight.out, /beyond tolerance/);
  const dir = mkdtempSync(join(tmpdir(), 'gle-le-'));
  const g = JSON.parse(readFileSync(LE + 'le_mlp.json', 'utf8'));
  g.targets = g.targets.slice(0, 3);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(g));
  const bad = gle('replay', join(dir, 'bad.json'));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /not a valid LE trace: inputs and targets need n_steps entries/);
  assert.equal(bad.err.trim().split('\n').length, 1);
});
