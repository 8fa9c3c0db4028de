/**
 * File-system helpers (Node only): atomic writes, and .npy / JSON / safetensors files with clear errors.
 *
 * `writeFileAtomic` writes to a temporary file in the target's directory, fsyncs it, and renames it over the
 * target, so a reader sees either the old file or the new one, never a half-written one. The temporary file is
 * removed if anything fails.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../util/errors.js';
import { encodeNpy, parseNpy, type NpyArray } from './npy.js';
import { decodeSafetensors, encodeSafetensors, type SafeTensor, type SafetensorsFile } from './safetensors.js';

let tmpCounter = 0;

/** Write `data` to `path` atomically (temp file in the same directory + fsync + rename). */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${tmpCounter++}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string') {
      // a file-system problem (missing directory, permissions, disk full, target is a directory...)
      const why =
        err.code === 'ENOENT' ? 'no such directory' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
      throw new UserError(`cannot write ${path}: ${why}`);
    }
    throw e;
  }
  // make the rename itself durable where the platform allows fsync on a directory
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* not supported (e.g. Windows): the data itself is already synced */
  }
}

/** Read a whole file; a missing/unreadable file is a UserError naming it. */
export function readFileBytes(path: string, what = 'file'): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new UserError(`${what} not found: ${path}`);
    if (err.code === 'EISDIR') throw new UserError(`${path} is a directory, expected a ${what}`);
    throw new UserError(`cannot read ${path}: ${err.message}`);
  }
}

/** Read and parse a `.npy` file. */
export function readNpyFile(path: string): NpyArray {
  return parseNpy(readFileBytes(path, '.npy file'), path);
}

/** Write a `.npy` file atomically. */
export function writeNpyFile(path: string, arr: NpyArray): void {
  writeFileAtomic(path, encodeNpy(arr));
}

/** Read a JSON file; invalid JSON is a UserError naming the file and the line/column of the problem. */
export function readJsonFile(path: string): unknown {
  const bytes = readFileBytes(path, 'JSON file');
  const text = new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const pos = m ? Number(m[1]) : jsonErrorOffset(text);
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const col = pos - before.lastIndexOf('\n');
    const reason = msg
      .replace(/, (\.\.\.)?".*" is not valid JSON$/s, '')
      .replace(/( in JSON)? at position \d+.*$/s, '')
      .replace(/\s+/g, ' ');
    throw new UserError(`${path}: invalid JSON at line ${line}, column ${col}: ${reason}`);
  }
}

/** Offset of the first syntax error in `s` (a small JSON scanner, used when JSON.parse gives no position). */
export function jsonErrorOffset(s: string): number {
  let i = 0;
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  };
  const value = (): boolean => {
    ws();
    const c = s[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (s[i] === close) return i++, true;
      for (;;) {
        if (c === '{') {
          ws();
          if (s[i] !== '"' || !value()) return false;
          ws();
          if (s[i] !== ':') return false;
          i++;
        }
        if (!value()) return false;
        ws();
        if (s[i] === ',') i++;
        else if (s[i] === close) return i++, true;
        else return false;
      }
    }
    if (c === '"') {
      for (i++; i < s.length && s[i] !== '"'; i++) {
        if (s[i] === '\\') i++;
        else if (s.charCodeAt(i) < 0x20) return false;
      }
      if (i >= s.length) return false;
      return i++, true;
    }
    const m = /^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(s.slice(i, i + 400));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  if (!value()) return Math.min(i, s.length);
  ws();
  return i;
}

/** Write JSON (2-space indented, trailing newline) atomically. */
export function writeJsonFile(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** Read a safetensors file. */
export function readSafetensorsFile(path: string): SafetensorsFile {
  return decodeSafetensors(readFileBytes(path, 'safetensors file'), path);
}

/** Write a safetensors file atomically. */
export function writeSafetensorsFile(
  path: string,
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
