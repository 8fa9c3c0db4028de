import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy, parseNpy, npyToNumbers, type NpyArray, type NpyDType } from '../src/io/npy.js';
import { readJsonFile, readNpyFile, writeFileAtomic, writeJsonFile, writeNpyFile } from '../src/io/files.js';
import { UserError } from '../src/util/errors.js';

const SHIPPED = new URL('../data/mnist1d/', import.meta.url);

/** Build .npy bytes by hand: any version, any header text, any data bytes. */
function rawNpy(header: string, data: Uint8Array, major = 1, pad = true): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  let h = header;
  if (pad) {
    const total = Math.ceil((pre + h.length + 1) / 64) * 64;
    h = h + ' '.repeat(total - pre - h.length - 1) + '\n';
  }
  const hb = new TextEncoder().encode(h);
  const out = new Uint8Array(pre + hb.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, hb.length, true);
  else dv.setUint32(8, hb.length, true);
  out.set(hb, pre);
  out.set(data, pre + hb.length);
  return out;
}

function sample(dtype: NpyDType, n: number): NpyArray['data'] {
  const vals = Array.from({ length: n }, (_, i) => i * 3 - 5);
  switch (dtype) {
    case 'float32':
      return Float32Array.from(vals, (v) => v / 7);
    case 'float64':
      return Float64Array.from(vals, (v) => v / 7);
    case 'int8':
      return Int8Array.from(vals);
    case 'int16':
      return Int16Array.from(vals, (v) => v * 300);
    case 'int32':
      return Int32Array.from(vals, (v) => v * 100000);
    case 'int64':
      return BigInt64Array.from(vals, (v) => BigInt(v) * 10000000000n);
    case 'uint8':
      return Uint8Array.from(vals, (v) => v + 5);
    case 'uint16':
      return Uint16Array.from(vals, (v) => (v + 5) * 1000);
    case 'uint32':
      return Uint32Array.from(vals, (v) => (v + 5) * 100000000);
    case 'bool':
      return Uint8Array.from(vals, (v) => v & 1);
  }
}

const DTYPES: NpyDType[] = ['float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'bool'];
const CODES: Record<NpyDType, string> = {
  float32: '<f4',
  float64: '<f8',
  int8: '|i1',
  int16: '<i2',
  int32: '<i4',
  int64: '<i8',
  uint8: '|u1',
  uint16: '<u2',
  uint32: '<u4',
  bool: '|b1',
};

function throwsUser(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

test('npy round-trips every dtype and shape', () => {
  for (const dtype of DTYPES) {
    for (const shape of [[], [0], [7], [2, 3], [2, 3, 4]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const arr: NpyArray = { dtype, shape, data: sample(dtype, n) };
      const bytes = encodeNpy(arr);
      // version 1.0, data 64-byte aligned, header ends with '\n', numpy's descr spelling and tuple syntax
      assert.equal(bytes[6], 1);
      const hlen = bytes[8] | (bytes[9] << 8);
      assert.equal((10 + hlen) % 64, 0);
      assert.equal(bytes[10 + hlen - 1], 0x0a);
      const header = new TextDecoder().decode(bytes.subarray(10, 10 + hlen));
      const shapeStr = shape.length === 0 ? '()' : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
      assert.ok(header.startsWith(`{'descr': '${CODES[dtype]}', 'fortran_order': False, 'shape': ${shapeStr}, }`));
      const back = parseNpy(bytes, 'x.npy');
      assert.equal(back.dtype, dtype);
      assert.deepEqual(back.shape, shape);
      assert.equal(back.data.constructor, arr.data.constructor);
      assert.deepEqual(Array.from(back.data as ArrayLike<number | bigint>), Array.from(arr.data as ArrayLike<number | bigint>));
    }
  }
});

test('npy writer reproduces the shipped numpy files byte for byte', () => {
  for (const f of ['mnist1d_40_x_test.npy', 'mnist1d_y_test.npy', 'mnist1d_templates_x.npy']) {
    const bytes = new Uint8Array(readFileSync(new URL(f, SHIPPED)));
    assert.deepEqual(encodeNpy(parseNpy(bytes, f)), bytes, f);
  }
});

test('npy reads versions 2.0 and 3.0, big-endian data, unaligned offsets, int64 as BigInt64Array', () => {
  const le = new Uint8Array(new Float32Array([1.5, -2, 3]).buffer);
  for (const major of [2, 3]) {
    const a = parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", le, major));
    assert.deepEqual(Array.from(a.data as Float32Array), [1.5, -2, 3]);
  }
  // big-endian float64 and int32
  const be = new Uint8Array(16);
  new DataView(be.buffer).setFloat64(0, Math.PI, false);
  new DataView(be.buffer).setFloat64(8, -1e-300, false);
  const b = parseNpy(rawNpy("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", be));
  assert.deepEqual(Array.from(b.data as Float64Array), [Math.PI, -1e-300]);
  const bi = new Uint8Array(8);
  new DataView(bi.buffer).setInt32(0, -123456, false);
  new DataView(bi.buffer).setInt32(4, 7, false);
  assert.deepEqual(
    Array.from(parseNpy(rawNpy("{'descr': '>i4', 'fortran_order': False, 'shape': (1, 2), }", bi)).data as Int32Array),
    [-123456, 7],
  );
  // unpadded header: data starts at an odd offset; and an input view at an odd byteOffset
  const odd = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n", le, 1, false);
  assert.equal((10 + (odd[8] | (odd[9] << 8))) % 4 !== 0, true);
  assert.deepEqual(Array.from(parseNpy(odd).data as Float32Array), [1.5, -2, 3]);
  const shifted = new Uint8Array(odd.length + 1);
  shifted.set(odd, 1);
  assert.deepEqual(Array.from(parseNpy(shifted.subarray(1)).data as Float32Array), [1.5, -2, 3]);
  // the result never aliases the input
  const c = parseNpy(odd);
  odd[odd.length - 1] ^= 0xff;
  assert.deepEqual(Array.from(c.data as Float32Array), [1.5, -2, 3]);
  // int64 labels (numpy's default integer) load as BigInt64Array; npyToNumbers converts
  const i64 = parseNpy(rawNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", new Uint8Array(new BigInt64Array([3n, 0n, 9n]).buffer)));
  assert.ok(i64.data instanceof BigInt64Array);
  assert.deepEqual(Array.from(npyToNumbers(i64)), [3, 0, 9]);
  // scalar shape and Python 2 style 'L' integers
  const s = parseNpy(rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", new Uint8Array(new Float64Array([2.5]).buffer)));
  assert.deepEqual(s.shape, []);
  assert.equal(s.data[0], 2.5);
  const l = parseNpy(rawNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (2L,), }", new Uint8Array([4, 5])));
  assert.deepEqual(l.shape, [2]);
});

test('npy rejects bad input with clear UserErrors naming the file', () => {
  const f4 = (shape: string, data: Uint8Array, extra = '') =>
    rawNpy(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, ${extra}}`, data);
  const good = f4('(2, 2)', new Uint8Array(16));
  throwsUser(() => parseNpy(good.subarray(0, good.length - 3), 'a.npy'), /^a\.npy: truncated: expected 16 bytes of data for shape \(2, 2\) float32, found 13$/);
  const longer = new Uint8Array(good.length + 4);
  longer.set(good);
  throwsUser(() => parseNpy(longer, 'b.npy'), /^b\.npy: 4 extra bytes after the data/);
  const badMagic = good.slice();
  badMagic[1] = 0x4f;
  throwsUser(() => parseNpy(badMagic, 'c.npy'), /^c\.npy: not a valid \.npy file: bad magic/);
  throwsUser(() => parseNpy(new TextEncoder().encode('hello'), 'd.npy'), /d\.npy: .*too short/);
  throwsUser(() => parseNpy(rawNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'e.npy'), /e\.npy: .*unsupported dtype '<c8'/);
  throwsUser(() => parseNpy(rawNpy("{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(20)), 'e.npy'), /unsupported dtype '<U5'/);
  throwsUser(() => parseNpy(rawNpy("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'e.npy'), /unsupported dtype '<u8'/);
  throwsUser(() => parseNpy(rawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), 'e.npy'), /unsupported dtype .*structured/);
  throwsUser(() => parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new Uint8Array(16)), 'f.npy'), /^f\.npy: .*Fortran-order/);
  throwsUser(() => parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), ", new Uint8Array(16)), 'g.npy'), /^g\.npy: .*cannot parse the header/);
  throwsUser(() => parseNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", new Uint8Array(16)), 'h.npy'), /'shape' is not a tuple/);
  throwsUser(() => parseNpy(rawNpy("{'fortran_order': False, 'shape': (2,), }", new Uint8Array(8)), 'i.npy'), /no 'descr'/);
  const v9 = good.slice();
  v9[6] = 9;
  throwsUser(() => parseNpy(v9, 'j.npy'), /unsupported format version 9\.0/);
  const hdrTooLong = good.slice(0, 40);
  throwsUser(() => parseNpy(hdrTooLong, 'k.npy'), /truncated header/);
  throwsUser(() => parseNpy(rawNpy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", new Uint8Array([1, 7])), 'l.npy'), /bool data holds byte 7/);
  // writer refuses inconsistent arrays (a programming error, not user input)
  assert.throws(() => encodeNpy({ dtype: 'float32', shape: [3], data: new Float64Array(3) }), /does not match dtype float32/);
  assert.throws(() => encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }), /holds 4 elements/);
});

test('files: atomic writes, .npy and JSON files with clear errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-npy-'));
  try {
    const p = join(dir, 'a.npy');
    const arr: NpyArray = { dtype: 'float64', shape: [2, 3], data: Float64Array.from([1, 2, 3, 4, 5, 6]) };
    writeNpyFile(p, arr);
    assert.deepEqual(readNpyFile(p), arr);
    // overwrite replaces the file completely, and no temp file is left behind
    writeNpyFile(p, { dtype: 'uint8', shape: [1], data: new Uint8Array([9]) });
    assert.deepEqual(Array.from(readNpyFile(p).data as Uint8Array), [9]);
    writeFileAtomic(join(dir, 't.txt'), 'héllo');
    assert.equal(readFileSync(join(dir, 't.txt'), 'utf8'), 'héllo');
    assert.deepEqual(readdirSync(dir).sort(), ['a.npy', 't.txt']);
    // a failed write (missing directory) is a UserError and leaves nothing
    throwsUser(() => writeFileAtomic(join(dir, 'nope', 'x.bin'), new Uint8Array(3)), /cannot write .*nope.*x\.bin/);
    // writing over a directory fails and keeps the directory and no temp file
    throwsUser(() => writeFileAtomic(dir, 'x'), /cannot write .*: it is a directory/);
    assert.deepEqual(readdirSync(dir).sort(), ['a.npy', 't.txt']);
    throwsUser(() => readNpyFile(join(dir, 'missing.npy')), /\.npy file not found: .*missing\.npy/);
    writeFileSync(join(dir, 'bad.npy'), 'not numpy at all');
    throwsUser(() => readNpyFile(join(dir, 'bad.npy')), /bad\.npy: not a valid \.npy file: bad magic/);
    // JSON
    writeJsonFile(join(dir, 'ok.json'), { a: [1, 2] });
    assert.deepEqual(readJsonFile(join(dir, 'ok.json')), { a: [1, 2] });
    writeFileSync(join(dir, 'bad1.json'), '{\n  "a": 1,\n  "b": }\n');
    throwsUser(() => readJsonFile(join(dir, 'bad1.json')), /bad1\.json: invalid JSON at line 3, column 8/);
    writeFileSync(join(dir, 'bad2.json'), '{"a": 1');
    throwsUser(() => readJsonFile(join(dir, 'bad2.json')), /bad2\.json: invalid JSON at line 1, column 8/);
    throwsUser(() => readJsonFile(join(dir, 'none.json')), /JSON file not found: .*none\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
