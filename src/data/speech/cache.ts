/**
 * On-disk cache of standardised log-mel features (Node-only). One binary file per clip, named by
 * sha256(pipeline id, dtype, the file's content sha256); written to a temp file and renamed. Each entry carries
 * its key and a sha256 checksum of header + payload, so truncated or corrupt entries are detected, removed and
 * rebuilt. Default directory: `.cache/gle-features` under the current working directory.
 *
 * Entry layout (little-endian): "GLEF" | u32 version (1) | u8 dtype (1 = float32, 2 = float64) | 3 zero bytes |
 * u32 nMels | u32 T | u32 payload bytes | 32-byte key | 32-byte sha256 of bytes [0, 56) + payload | payload
 * (time-major [T][nMels] standardised matrix).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DType, FloatArray } from '../../kernels/types.js';
import { MEL_PIPELINE, MEL_PIPELINE_ID } from './melspec.js';

const MAGIC = 0x46454c47; // "GLEF" read as little-endian u32
const VERSION = 1;
const HEADER = 88;

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface FeatureCacheOptions {
  /** Cache directory; default `<cwd>/.cache/gle-features`. */
  dir?: string;
  dtype?: DType;
}

export interface CachedFeatures {
  T: number;
  data: FloatArray;
}

export class FeatureCache {
  readonly dir: string;
  readonly dtype: DType;
  readonly paramsHash: string;
  hits = 0;
  misses = 0;
  /** Entries found corrupt or mismatched (then rebuilt). */
  rebuilt = 0;
  private made = false;

  constructor(opts: FeatureCacheOptions = {}) {
    this.dir = resolve(opts.dir ?? join(process.cwd(), '.cache', 'gle-features'));
    this.dtype = opts.dtype ?? 'float32';
    this.paramsHash = sha256Hex(`${MEL_PIPELINE_ID}|${this.dtype}`);
  }

  /** The entry key (hex) for a file with this content sha256. */
  key(contentSha256: string): string {
    return sha256Hex(`${this.paramsHash}|${contentSha256}`);
  }

  /** Path of the entry for a file with this content sha256. */
  entryPath(contentSha256: string): string {
    const k = this.key(contentSha256);
    return join(this.dir, k.slice(0, 2), `${k}.bin`);
  }

  /** Read an entry; null when missing. Corrupt/mismatched entries are deleted and reported as null. */
  get(contentSha256: string): CachedFeatures | null {
    const p = this.entryPath(contentSha256);
    let buf: Buffer;
    try {
      buf = readFileSync(p);
    } catch {
      return null;
    }
    const parsed = this.parse(buf, this.key(contentSha256));
    if (!parsed) {
      this.rebuilt++;
      rmSync(p, { force: true });
      return null;
    }
    return parsed;
  }

  private parse(buf: Buffer, keyHex: string): CachedFeatures | null {
    if (buf.length < HEADER) return null;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION) return null;
    const dcode = buf[8];
    const nMels = dv.getUint32(12, true);
    const T = dv.getUint32(16, true);
    const bytes = dv.getUint32(20, true);
    const elt = this.dtype === 'float32' ? 4 : 8;
    if (dcode !== (this.dtype === 'float32' ? 1 : 2) || nMels !== MEL_PIPELINE.nMels) return null;
    if (bytes !== T * nMels * elt || buf.length !== HEADER + bytes) return null;
    if (buf.subarray(24, 56).toString('hex') !== keyHex) return null;
    const sum = createHash('sha256').update(buf.subarray(0, 56)).update(buf.subarray(HEADER)).digest();
    if (!sum.equals(buf.subarray(56, 88))) return null;
    const payload = new Uint8Array(bytes);
    payload.set(buf.subarray(HEADER));
    const data = this.dtype === 'float32' ? new Float32Array(payload.buffer) : new Float64Array(payload.buffer);
    return { T, data };
  }

  /** Write an entry atomically (temp file + rename). */
  put(contentSha256: string, T: number, data: FloatArray): void {
    const expect = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!(data instanceof expect)) throw new TypeError(`FeatureCache(${this.dtype}): wrong array type`);
    if (data.length !== T * MEL_PIPELINE.nMels) throw new RangeError('FeatureCache.put: data length != T * nMels');
    const keyHex = this.key(contentSha256);
    const buf = Buffer.alloc(HEADER + data.byteLength);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, VERSION, true);
    buf[8] = this.dtype === 'float32' ? 1 : 2;
    dv.setUint32(12, MEL_PIPELINE.nMels, true);
    dv.setUint32(16, T, true);
    dv.setUint32(20, data.byteLength, true);
    Buffer.from(keyHex, 'hex').copy(buf, 24);
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(buf, HEADER);
    createHash('sha256').update(buf.subarray(0, 56)).update(buf.subarray(HEADER)).digest().copy(buf, 56);
    const p = this.entryPath(contentSha256);
    const sub = join(this.dir, keyHex.slice(0, 2));
    if (!this.made) {
      mkdirSync(this.dir, { recursive: true });
      this.made = true;
    }
    mkdirSync(sub, { recursive: true });
    const tmp = `${p}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      writeFileSync(tmp, buf);
      renameSync(tmp, p);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /** Cached features of a file's bytes, computing and storing them on a miss (or a corrupt entry). */
  getOrCompute(fileBytes: Uint8Array, compute: () => CachedFeatures): CachedFeatures {
    const h = sha256Hex(fileBytes);
    const hit = this.get(h);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const f = compute();
    this.put(h, f.T, f.data);
    return f;
  }
}
