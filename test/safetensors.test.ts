import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../src/io/safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../src/io/files.js';
import { UserError } from '../src/util/errors.js';

function throwsUser(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

/** A file built by hand from a header object and a data buffer (no padding unless asked). */
function build(header: unknown, data: Uint8Array, rawHeader?: string): Uint8Array {
  const h = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test('safetensors: exact layout of a small file', () => {
  const bytes = encodeSafetensors(
    {
      b: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
      a: { dtype: 'U8', shape: [3], data: new Uint8Array([7, 8, 9]) },
      c: { dtype: 'I64', shape: [1, 1], data: new BigInt64Array([-5n]) },
    },
    { format: 'pt' },
  );
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"c":{"dtype":"I64","shape":[1,1],"data_offsets":[0,8]},' +
    '"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},' +
    '"a":{"dtype":"U8","shape":[3],"data_offsets":[16,19]}}';
  const n = Math.ceil(json.length / 8) * 8;
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(0, true), n);
  assert.equal(dv.getUint32(4, true), 0);
  assert.equal(n % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.equal(header, json + ' '.repeat(n - json.length));
  assert.equal(bytes.length, 8 + n + 19);
  assert.equal(dv.getBigInt64(8 + n, true), -5n);
  assert.equal(dv.getFloat32(8 + n + 8, true), 1);
  assert.equal(dv.getFloat32(8 + n + 12, true), 2);
  assert.deepEqual(Array.from(bytes.subarray(8 + n + 16)), [7, 8, 9]);
  // no metadata -> no __metadata__ key
  const plain = encodeSafetensors({ x: { dtype: 'F32', shape: [], data: new Float32Array([3]) } });
  const hn = new DataView(plain.buffer).getUint32(0, true);
  assert.equal(new TextDecoder().decode(plain.subarray(8, 8 + hn)).trimEnd(), '{"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}');
});

test('safetensors: round trip of every dtype, name order, metadata', () => {
  const tensors: Record<string, SafeTensor> = {
    'layers.1.W': { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) },
    'layers.0.W': { dtype: 'F64', shape: [3, 2], data: Float64Array.from([Math.PI, -1, 0, 1e-300, 2, 3]) },
    step: { dtype: 'I64', shape: [], data: new BigInt64Array([123456789012345n]) },
    idx: { dtype: 'I32', shape: [4], data: Int32Array.from([-1, 0, 1, 2 ** 31 - 1]) },
    mask: { dtype: 'U8', shape: [2, 2], data: Uint8Array.from([0, 1, 255, 3]) },
    empty: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
  };
  const meta = { format: 'pt', note: 'é ü "quoted"' };
  const bytes = encodeSafetensors(tensors, meta);
  const back = decodeSafetensors(bytes, 'x.safetensors');
  assert.deepEqual(back.metadata, meta);
  assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(tensors).sort());
  for (const [k, t] of Object.entries(tensors)) assert.deepEqual(back.tensors[k], t, k);
  // layout order: I64, F64, F32, I32, U8, names ascending within a dtype
  assert.deepEqual(Object.keys(back.tensors), ['step', 'layers.0.W', 'empty', 'layers.1.W', 'idx', 'mask']);
  // decoded data does not alias the input
  bytes[bytes.length - 1] ^= 0xff;
  assert.equal(back.tensors.mask.data[3], 3);
  // empty file
  assert.deepEqual(decodeSafetensors(encodeSafetensors({})), { tensors: {}, metadata: {} });
});

test('safetensors: invalid files give UserErrors naming the file', () => {
  const t = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const d8 = new Uint8Array(8);
  throwsUser(() => decodeSafetensors(new Uint8Array(5), 'a.st'), /^a\.st: .*too short/);
  const long = build({ t }, d8);
  new DataView(long.buffer).setUint32(0, 10_000, true);
  throwsUser(() => decodeSafetensors(long, 'b.st'), /^b\.st: .*header length 10000 goes beyond the end of the file/);
  const huge = build({ t }, d8);
  new DataView(huge.buffer).setUint32(4, 1, true);
  throwsUser(() => decodeSafetensors(huge, 'b.st'), /header length .* limit/);
  throwsUser(() => decodeSafetensors(build(null, d8, '{"t": {"dtype": '), 'c.st'), /^c\.st: .*not valid JSON/);
  throwsUser(() => decodeSafetensors(build(null, d8, '  {"t": 1}'), 'c.st'), /does not start with/);
  throwsUser(() => decodeSafetensors(build([1], d8), 'c.st'), /header does not start with '\{'/);
  throwsUser(() => decodeSafetensors(build(null, d8, '{"t": \xff}'), 'c.st'), /not valid JSON/);
  throwsUser(() => decodeSafetensors(build({ t: { ...t, dtype: 'BF16' } }, d8), 'd.st'), /tensor "t" has unsupported dtype "BF16"/);
  throwsUser(() => decodeSafetensors(build({ t: { ...t, shape: [3] } }, d8), 'e.st'), /tensor "t": F32 shape \[3\] needs 12 bytes, data_offsets \[0, 8\] span 8/);
  throwsUser(() => decodeSafetensors(build({ t: { ...t, shape: [-2] } }, d8), 'e.st'), /bad shape/);
  throwsUser(() => decodeSafetensors(build({ t: { ...t, data_offsets: [8, 0] } }, d8), 'e.st'), /bad data_offsets/);
  throwsUser(() => decodeSafetensors(build({ t: { ...t, data_offsets: [8, 16] } }, d8), 'f.st'), /go beyond the 8-byte data buffer/);
  const two = (o1: number[], o2: number[], len: number) =>
    build({ u: { dtype: 'F32', shape: [1], data_offsets: o1 }, v: { dtype: 'F32', shape: [1], data_offsets: o2 } }, new Uint8Array(len));
  throwsUser(() => decodeSafetensors(two([0, 4], [2, 6], 8), 'g.st'), /tensor "v" overlaps/);
  throwsUser(() => decodeSafetensors(two([0, 4], [8, 12], 12), 'g.st'), /gap in the data buffer before tensor "v"/);
  throwsUser(() => decodeSafetensors(two([0, 4], [4, 8], 10), 'g.st'), /data buffer has 10 bytes but the tensors cover 8/);
  throwsUser(() => decodeSafetensors(build({ __metadata__: { a: 1 }, t }, d8), 'h.st'), /"__metadata__"."a" is not a string/);
  // a valid hand-built file with unsorted offsets in the JSON still decodes
  const ok = decodeSafetensors(two([4, 8], [0, 4], 8));
  assert.deepEqual(Object.keys(ok.tensors), ['v', 'u']);
  // encoder refuses inconsistent tensors
  assert.throws(() => encodeSafetensors({ t: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /does not match/);
  assert.throws(() => encodeSafetensors({ t: { dtype: 'F64', shape: [2], data: new Float32Array(2) } }), /Float32Array, dtype F64/);
});

test('safetensors files: atomic write and read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-st-'));
  try {
    const p = join(dir, 'm.safetensors');
    const tensors: Record<string, SafeTensor> = { w: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } };
    writeSafetensorsFile(p, tensors, { epoch: '3' });
    assert.deepEqual(readSafetensorsFile(p), { tensors, metadata: { epoch: '3' } });
    assert.deepEqual(readdirSync(dir), ['m.safetensors']);
    throwsUser(() => readSafetensorsFile(join(dir, 'none.safetensors')), /safetensors file not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
