/**
 * NumPy `.npy` reader and writer, on bytes only (browser-safe; the file-system half is in ./files.ts).
 *
 * Format (numpy.lib.format): the magic `\x93NUMPY`, a major/minor version byte pair, the header length (uint16 LE
 * for version 1.0, uint32 LE for 2.0 and 3.0), then the header: a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (4000, 360), }` padded with spaces and ending in '\n'
 * (latin-1 for 1.0/2.0, UTF-8 for 3.0), then the raw array data.
 *
 * Reading supports versions 1.0, 2.0 and 3.0, little- and big-endian (big-endian data is byte-swapped into native
 * little-endian arrays), C order only. The data is always copied into a fresh typed array, so the result never
 * aliases the input bytes and unaligned data offsets are fine.
 *
 * dtype mapping: float32 Float32Array, float64 Float64Array, int8/16/32 Int8/16/32Array, uint8/16/32
 * Uint8/16/32Array, bool Uint8Array (0/1), **int64 BigInt64Array** (exact; use `npyToNumbers` for a Float64Array
 * when the values are known to fit in 2^53, e.g. labels).
 *
 * Writing emits version 1.0 (2.0 when the header would not fit in 65535 bytes), little-endian, C order, with the
 * header padded so the data starts at a multiple of 64 bytes, as numpy does.
 */
import { UserError } from '../util/errors.js';

export type NpyDType =
  | 'float32'
  | 'float64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'bool';

export type NpyData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array;

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  data: NpyData;
}

interface DTypeInfo {
  size: number;
  /** numpy type character and the byte-order character the writer uses */
  code: string;
  make: (n: number) => NpyData;
  check: (d: unknown) => boolean;
}

const DTYPES: Record<NpyDType, DTypeInfo> = {
  float32: { size: 4, code: '<f4', make: (n) => new Float32Array(n), check: (d) => d instanceof Float32Array },
  float64: { size: 8, code: '<f8', make: (n) => new Float64Array(n), check: (d) => d instanceof Float64Array },
  int8: { size: 1, code: '|i1', make: (n) => new Int8Array(n), check: (d) => d instanceof Int8Array },
  int16: { size: 2, code: '<i2', make: (n) => new Int16Array(n), check: (d) => d instanceof Int16Array },
  int32: { size: 4, code: '<i4', make: (n) => new Int32Array(n), check: (d) => d instanceof Int32Array },
  int64: { size: 8, code: '<i8', make: (n) => new BigInt64Array(n), check: (d) => d instanceof BigInt64Array },
  uint8: { size: 1, code: '|u1', make: (n) => new Uint8Array(n), check: (d) => d instanceof Uint8Array },
  uint16: { size: 2, code: '<u2', make: (n) => new Uint16Array(n), check: (d) => d instanceof Uint16Array },
  uint32: { size: 4, code: '<u4', make: (n) => new Uint32Array(n), check: (d) => d instanceof Uint32Array },
  bool: { size: 1, code: '|b1', make: (n) => new Uint8Array(n), check: (d) => d instanceof Uint8Array },
};

/** numpy kind+size -> our dtype */
const KIND: Record<string, NpyDType> = {
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  b1: 'bool',
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Bytes per element of a dtype. */
export function npyItemSize(dtype: NpyDType): number {
  return DTYPES[dtype].size;
}

/** Number of elements a shape holds (1 for the scalar shape []). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Parse a `.npy` file's bytes. `name` is used in error messages (a file path, usually). */
export function parseNpy(bytes: Uint8Array, name = '<npy>'): NpyArray {
  const fail = (msg: string): never => {
    throw new UserError(`${name}: not a valid .npy file: ${msg}`);
  };
  if (bytes.length < 10) fail(`too short (${bytes.length} bytes) for a .npy header`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) fail('bad magic (expected "\\x93NUMPY" at the start)');
  }
  const major = bytes[6];
  const minor = bytes[7];
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = bytes[8] | (bytes[9] << 8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail(`too short (${bytes.length} bytes) for a version ${major}.${minor} header`);
    headerLen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 16777216;
    headerStart = 12;
  } else {
    return fail(`unsupported format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) {
    fail(`truncated header: the header says ${headerLen} bytes, only ${bytes.length - headerStart} present`);
  }
  const hb = bytes.subarray(headerStart, dataStart);
  let headerText: string;
  if (major === 3) {
    try {
      headerText = new TextDecoder('utf-8', { fatal: true }).decode(hb);
    } catch {
      return fail('header is not valid UTF-8');
    }
  } else {
    headerText = '';
    for (let i = 0; i < hb.length; i++) headerText += String.fromCharCode(hb[i]);
  }
  let header: Record<string, unknown>;
  try {
    header = parsePyDict(headerText);
  } catch (e) {
    return fail(`cannot parse the header ${JSON.stringify(headerText.trim())}: ${(e as Error).message}`);
  }
  const descr = header['descr'];
  const fortran = header['fortran_order'];
  const shape = header['shape'];
  if (typeof descr !== 'string') {
    return fail(
      descr === undefined
        ? "header has no 'descr'"
        : `unsupported dtype ${pyRepr(descr)} (structured arrays are not supported)`,
    );
  }
  if (typeof fortran !== 'boolean') fail("header has no boolean 'fortran_order'");
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    fail("header 'shape' is not a tuple of non-negative integers");
  }
  if (fortran) fail('Fortran-order (column-major) arrays are not supported; save with C order');
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const dtype = m ? KIND[m[2] + m[3]] : undefined;
  if (!m || dtype === undefined) {
    return fail(
      `unsupported dtype '${descr}' (supported: float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, bool)`,
    );
  }
  const info = DTYPES[dtype];
  const bigEndian = m[1] === '>' && info.size > 1;
  const dims = shape as number[];
  const n = shapeSize(dims);
  const expected = n * info.size;
  const found = bytes.length - dataStart;
  if (found < expected) {
    throw new UserError(
      `${name}: truncated: expected ${expected} bytes of data for shape (${dims.join(', ')}) ${dtype}, found ${found}`,
    );
  }
  if (found > expected) {
    throw new UserError(
      `${name}: ${found - expected} extra bytes after the data (shape (${dims.join(', ')}) ${dtype} needs ${expected})`,
    );
  }
  const data = info.make(n);
  const out = new Uint8Array(data.buffer, data.byteOffset, expected);
  out.set(bytes.subarray(dataStart, dataStart + expected));
  if (bigEndian) swapBytes(out, info.size);
  if (dtype === 'bool') {
    for (let i = 0; i < n; i++) if (out[i] > 1) fail(`bool data holds byte ${out[i]} at element ${i}`);
  }
  return { dtype, shape: dims.slice(), data };
}

/** Encode an array as `.npy` bytes (version 1.0, or 2.0 for very long headers; little-endian; C order). */
export function encodeNpy(arr: NpyArray): Uint8Array {
  const info = DTYPES[arr.dtype];
  if (!info) throw new Error(`encodeNpy: unsupported dtype ${String(arr.dtype)}`);
  if (!info.check(arr.data)) {
    throw new Error(`encodeNpy: data is a ${arr.data.constructor.name}, which does not match dtype ${arr.dtype}`);
  }
  for (const d of arr.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`encodeNpy: bad shape [${arr.shape.join(', ')}]`);
  }
  const n = shapeSize(arr.shape);
  if (n !== arr.data.length) {
    throw new Error(`encodeNpy: shape [${arr.shape.join(', ')}] holds ${n} elements, data has ${arr.data.length}`);
  }
  const shapeStr =
    arr.shape.length === 0 ? '()' : arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  const dict = `{'descr': '${info.code}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  let major = 1;
  let pre = 10;
  let total = pre + dict.length + 1;
  let padded = Math.ceil(total / 64) * 64;
  if (padded - pre > 0xffff) {
    major = 2;
    pre = 12;
    total = pre + dict.length + 1;
    padded = Math.ceil(total / 64) * 64;
  }
  const headerLen = padded - pre;
  const dataBytes = n * info.size;
  const out = new Uint8Array(padded + dataBytes);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  if (major === 1) {
    out[8] = headerLen & 0xff;
    out[9] = headerLen >>> 8;
  } else {
    new DataView(out.buffer).setUint32(8, headerLen, true);
  }
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  out.fill(0x20, pre + dict.length, padded - 1);
  out[padded - 1] = 0x0a;
  out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, dataBytes), padded);
  return out;
}

/** Convert any array's data to a Float64Array (int64 values beyond 2^53 lose precision). */
export function npyToNumbers(arr: NpyArray): Float64Array {
  const out = new Float64Array(arr.data.length);
  if (arr.data instanceof BigInt64Array) {
    for (let i = 0; i < out.length; i++) out[i] = Number(arr.data[i]);
  } else {
    out.set(arr.data);
  }
  return out;
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}

function pyRepr(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/**
 * A parser for the small Python-literal subset numpy headers use: a dict with string keys and values that are
 * strings, True/False/None, integers (incl. `10L`), tuples/lists of those.
 */
function parsePyDict(s: string): Record<string, unknown> {
  let i = 0;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const err = (what: string): never => {
    throw new Error(`${what} at character ${i}`);
  };
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === "'" || c === '"') {
      const q = c;
      i++;
      let out = '';
      while (i < s.length && s[i] !== q) {
        if (s[i] === '\\') i++;
        out += s[i++];
      }
      if (i >= s.length) err('unterminated string');
      i++;
      return out;
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: unknown[] = [];
      ws();
      while (s[i] !== close) {
        items.push(value());
        ws();
        if (s[i] === ',') {
          i++;
          ws();
        } else if (s[i] !== close) err(`expected ',' or '${close}'`);
      }
      i++;
      return items;
    }
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      while (s[i] !== '}') {
        const k = value();
        if (typeof k !== 'string') err('dict key is not a string');
        ws();
        if (s[i] !== ':') err("expected ':'");
        i++;
        obj[k as string] = value();
        ws();
        if (s[i] === ',') {
          i++;
          ws();
        } else if (s[i] !== '}') err("expected ',' or '}'");
      }
      i++;
      return obj;
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(s.slice(i));
    if (!m) return err('unexpected token');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0].replace('L', ''));
  };
  ws();
  if (s[i] !== '{') err("expected '{'");
  const d = value() as Record<string, unknown>;
  ws();
  if (i !== s.length) err('trailing characters');
  return d;
}
