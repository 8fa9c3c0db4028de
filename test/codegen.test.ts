import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generatedFiles } from '../src/kernels/codegen.js';
import { DENSE_STEP_FIELDS, PHI, STEP } from '../src/kernels/layout.js';

const root = new URL('../', import.meta.url);

test('the generated C header and AssemblyScript constants are up to date with src/kernels/layout.ts', () => {
  for (const f of generatedFiles()) {
    const have = readFileSync(new URL(f.path, root), 'utf8');
    assert.equal(have, f.text, `${f.path} is stale: run npm run gen:constants (then build:native and build:wasm)`);
  }
});

test('the compiled kernels read the generated constants instead of bare numbers', () => {
  const c = readFileSync(new URL('native/gle_native.c', root), 'utf8');
  const as = readFileSync(new URL('wasm/assembly/kernels.ts', root), 'utf8');
  assert.match(c, /#include "gle_layout.h"/);
  assert.match(as, /from '.\/layout'/);
  // no hand-written flag tests or activation case labels left
  assert.doesNotMatch(c, /flags & [0-9]/);
  assert.doesNotMatch(as, /flags & [0-9]/);
  assert.doesNotMatch(c, /case [0-9]:/);
  assert.doesNotMatch(as, /case [0-9]: \{/);
  // every field name of the table reaches the header in order
  const h = generatedFiles()[0].text;
  let at = 0;
  for (const f of DENSE_STEP_FIELDS) {
    const i = h.indexOf(`"${f.key}"`, at);
    assert.ok(i > at, `field ${f.key} missing or out of order`);
    at = i;
  }
  for (const [n, v] of Object.entries(STEP)) assert.match(h, new RegExp(`STEP_${n} = ${v}`));
  assert.match(h, new RegExp(`PHI_COUNT = ${Object.keys(PHI).length}`));
});
