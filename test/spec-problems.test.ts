/** The validator lists a spec's problems at once where it can: schema problems together with resolution problems. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec, SpecError } from '../src/model/spec.js';

const base = () => ({
  input_size: 1,
  dt: 0.2,
  loss: 'ce',
  layers: [
    { size: 4, phi: 'tanh', tau_m: { groups: [{ count: 2, value: 0.6 }, { count: 2, value: 1.2 }] }, tau_r: 0.2 },
    { size: 10, phi: 'linear', tau_m: 1.2, tau_r: 1.2 },
  ],
});

function issues(spec: unknown): string[] {
  try {
    parseSpec(spec);
  } catch (e) {
    assert.ok(e instanceof SpecError, String(e));
    return e.issues;
  }
  return [];
}

test('schema and resolution problems are reported together', () => {
  assert.deepEqual(issues(base()), []);
  const s = base() as Record<string, unknown> & { layers: Record<string, unknown>[] };
  s.loss = 'hinge'; // schema (top level, optional: default used for the rest)
  s.layers[1].foo = 1; // schema (unknown field)
  (s.layers[0].tau_m as { groups: { count: number }[] }).groups[0].count = 3; // resolution: groups add up to 5, not 4
  const got = issues(s);
  assert.equal(got.length, 3, got.join('\n'));
  assert.match(got[0], /^loss:/);
  assert.ok(got.some((m) => /^layers\[1\]: unknown field/.test(m)), got.join('\n'));
  assert.ok(got.some((m) => /^layers\[0\]\.tau_m: groups add up to 5/.test(m)), got.join('\n'));
});

test('a problem the schema named is not repeated; a required field missing stops at the schema', () => {
  const s = base() as Record<string, unknown> & { layers: Record<string, unknown>[] };
  s.layers[0].tau_m = 'slow'; // schema problem at layers[0].tau_m; the copy drops it and resolves the rest
  const got = issues(s);
  assert.equal(got.filter((m) => m.startsWith('layers[0].tau_m')).length, 1, got.join('\n'));
  const r = base() as Record<string, unknown> & { layers: Record<string, unknown>[] };
  delete r.dt; // required: no resolution is attempted
  (r.layers[0].tau_m as { groups: { count: number }[] }).groups[0].count = 3;
  assert.deepEqual(issues(r).map((m) => m.split(':')[0]), ['dt']);
});
