/**
 * safetensors encoder/decoder on bytes (browser-safe), following the format of huggingface/safetensors:
 *
 * - 8 bytes: N, the header length, unsigned 64-bit little-endian;
 * - N bytes: a UTF-8 JSON object `{"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...}`
 *   with an optional `"__metadata__"` entry that maps strings to strings. The writer pads the JSON with trailing
 *   spaces so that N is a multiple of 8 (the data then starts 8-byte aligned);
 * - the data buffer: every tensor's bytes, little-endian, row-major, with offsets relative to the start of the
 *   buffer. Tensors are contiguous: no gaps, no overlaps, and the buffer ends with the last tensor.
 *
 * Like the reference writer, tensors are laid out in order of decreasing dtype alignment (I64, F64, F32, I32, U8)
 * and then by name, and the header lists `__metadata__` first and then the tensors in data order, as compact JSON.
 * The result loads with `safetensors.torch.load_file` / `safe_open`.
 */
import { UserError } from '../util/errors.js';

export type SafeDType = 'F32' | 'F64' | 'I32' | 'I64' | 'U8';
export type SafeData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: SafeData;
}

export interface SafetensorsFile {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

const INFO: Record<SafeDType, { size: number; rank: number; make: (n: number) => SafeData; ctor: Function }> = {
  U8: { size: 1, rank: 0, make: (n) => new Uint8Array(n), ctor: Uint8Array },
  I32: { size: 4, rank: 1, make: (n) => new Int32Array(n), ctor: Int32Array },
  F32: { size: 4, rank: 2, make: (n) => new Float32Array(n), ctor: Float32Array },
  F64: { size: 8, rank: 3, make: (n) => new Float64Array(n), ctor: Float64Array },
  I64: { size: 8, rank: 4, make: (n) => new BigInt64Array(n), ctor: BigInt64Array },
};

/** Header lengths above this are refused on decode (the reference reader's limit is 100 MB). */
const MAX_HEADER = 100_000_000;

function count(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Encode tensors (and optional string metadata) as a safetensors file. */
export function encodeSafetensors(
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === '__metadata__') throw new Error('encodeSafetensors: "__metadata__" is reserved, not a tensor name');
    const t = tensors[name];
    const info = INFO[t.dtype];
    if (!info) throw new Error(`encodeSafetensors: tensor "${name}" has unsupported dtype ${String(t.dtype)}`);
    if (!(t.data instanceof info.ctor)) {
      throw new Error(`encodeSafetensors: tensor "${name}" data is a ${t.data.constructor.name}, dtype ${t.dtype}`);
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count(t.shape) !== t.data.length) {
      throw new Error(
        `encodeSafetensors: tensor "${name}" shape [${t.shape.join(', ')}] does not match ${t.data.length} elements`,
      );
    }
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`encodeSafetensors: metadata "${k}" is not a string`);
    }
  }
  // decreasing alignment, then name (byte order of the UTF-8 names, as Rust's String ordering)
  names.sort((a, b) => {
    const r = INFO[tensors[b].dtype].rank - INFO[tensors[a].dtype].rank;
    return r !== 0 ? r : compareUtf8(a, b);
  });
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let off = 0;
  for (const name of names) {
    const t = tensors[name];
    const len = t.data.length * INFO[t.dtype].size;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + len] };
    off += len;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + off);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n, true);
  dv.setUint32(4, Math.floor(n / 4294967296), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let p = 8 + n;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}

/** Decode a safetensors file. Tensor data is copied (never aliases `bytes`). `name` appears in error messages. */
export function decodeSafetensors(bytes: Uint8Array, name = '<safetensors>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new UserError(`${name}: not a valid safetensors file: ${msg}`);
  };
  if (bytes.length < 8) fail(`too short (${bytes.length} bytes) for the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 4294967296;
  if (n > MAX_HEADER) fail(`header length ${n} is larger than the ${MAX_HEADER}-byte limit`);
  if (8 + n > bytes.length) fail(`header length ${n} goes beyond the end of the file (${bytes.length} bytes)`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail("header does not start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: SafeDType; shape: number[]; begin: number; end: number }> = [];
  for (const [key, val] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof val !== 'object' || val === null || Array.isArray(val)) fail('"__metadata__" is not an object');
      for (const [mk, mv] of Object.entries(val as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail(`"__metadata__"."${mk}" is not a string`);
        metadata[mk] = mv as string;
      }
      continue;
    }
    const t = val as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) return fail(`tensor "${key}" is not an object`);
    if (typeof t.dtype !== 'string' || !(t.dtype in INFO)) {
      return fail(`tensor "${key}" has unsupported dtype ${JSON.stringify(t.dtype)} (supported: F32, F64, I32, I64, U8)`);
    }
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return fail(`tensor "${key}" has a bad shape ${JSON.stringify(shape)}`);
    }
    const offs = t.data_offsets;
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      offs[1] < offs[0]
    ) {
      return fail(`tensor "${key}" has bad data_offsets ${JSON.stringify(offs)}`);
    }
    const dtype = t.dtype as SafeDType;
    const need = count(shape) * INFO[dtype].size;
    if (offs[1] - offs[0] !== need) {
      fail(
        `tensor "${key}": ${dtype} shape [${shape.join(', ')}] needs ${need} bytes, data_offsets [${offs[0]}, ${offs[1]}] span ${offs[1] - offs[0]}`,
      );
    }
    if (offs[1] > dataLen) {
      fail(`tensor "${key}": data_offsets [${offs[0]}, ${offs[1]}] go beyond the ${dataLen}-byte data buffer`);
    }
    entries.push({ name: key, dtype, shape: shape.slice(), begin: offs[0], end: offs[1] });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of entries) {
    if (e.begin < pos) fail(`tensor "${e.name}" overlaps the tensor before it (starts at ${e.begin}, expected ${pos})`);
    if (e.begin > pos) fail(`gap in the data buffer before tensor "${e.name}" (starts at ${e.begin}, expected ${pos})`);
    pos = e.end;
  }
  if (pos !== dataLen) fail(`the data buffer has ${dataLen} bytes but the tensors cover ${pos}`);
  const tensors: Record<string, SafeTensor> = {};
  for (const e of entries) {
    const data = INFO[e.dtype].make(count(e.shape));
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
  }
  return { tensors, metadata };
}

function compareUtf8(a: string, b: string): number {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  const n = Math.min(ea.length, eb.length);
  for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) return ea[i] - eb[i];
  return ea.length - eb.length;
}
