/**
 * A small validating reader (and writer) for RIFF/WAVE files in the Google Speech Commands format:
 * PCM (format tag 1), signed 16-bit little-endian, mono, 16,000 Hz. Browser-safe: works on bytes only.
 *
 * The RIFF chunk list is walked properly: chunks other than `fmt ` and `data` (LIST, fact, bext, ...) are
 * skipped, honouring the pad byte after odd-sized chunks. Anything else (stereo, 8/24/32-bit, IEEE float,
 * other sample rates, a `data` chunk that claims more bytes than the file holds, non-RIFF bytes) is rejected
 * with a UserError that names the file and the problem.
 */
import type { DType, FloatArray } from '../../kernels/types.js';
import { UserError } from '../../util/errors.js';

export const GSC_SAMPLE_RATE = 16000;

/** What the header says, and where the samples are. */
export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  formatTag: number;
  /** Byte offset of the first sample inside the file. */
  dataOffset: number;
  /** Bytes of sample data (the `data` chunk size). */
  dataBytes: number;
  /** Number of samples (per channel). */
  numSamples: number;
}

function ascii(b: Uint8Array, off: number): string {
  return String.fromCharCode(b[off], b[off + 1], b[off + 2], b[off + 3]);
}

/**
 * Parse and validate the header of a GSC-format WAV. `bytes` may be only a prefix of the file (enough to hold
 * every chunk header up to and including the `data` chunk header); `totalSize` is the file's full length.
 */
export function parseWavHeader(bytes: Uint8Array, name: string, totalSize = bytes.length): WavInfo {
  const bad = (what: string) => new UserError(`${name}: ${what}`);
  if (totalSize < 12 || bytes.length < 12) throw bad(`not a WAV file (only ${totalSize} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const riff = ascii(bytes, 0);
  if (riff === 'RIFX' || riff === 'RF64') throw bad(`unsupported WAV container "${riff}" (expected little-endian RIFF)`);
  if (riff !== 'RIFF' || ascii(bytes, 8) !== 'WAVE') throw bad('not a RIFF/WAVE file (missing "RIFF....WAVE" header)');
  let off = 12;
  let fmt: { formatTag: number; channels: number; sampleRate: number; bitsPerSample: number; blockAlign: number } | null = null;
  while (true) {
    if (off + 8 > totalSize) throw bad(fmt ? 'no "data" chunk' : 'no "fmt " chunk');
    if (off + 8 > bytes.length) throw bad('header too long to parse (chunk headers beyond the bytes read)');
    const id = ascii(bytes, off);
    const size = dv.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16) throw bad(`"fmt " chunk too small (${size} bytes)`);
      if (body + 16 > bytes.length) throw bad('truncated "fmt " chunk');
      let formatTag = dv.getUint16(body, true);
      const channels = dv.getUint16(body + 2, true);
      const sampleRate = dv.getUint32(body + 4, true);
      const blockAlign = dv.getUint16(body + 12, true);
      const bitsPerSample = dv.getUint16(body + 14, true);
      if (formatTag === 0xfffe && size >= 40 && body + 26 <= bytes.length) {
        formatTag = dv.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE: sub-format GUID's first two bytes
      }
      fmt = { formatTag, channels, sampleRate, bitsPerSample, blockAlign };
    } else if (id === 'data') {
      if (!fmt) throw bad('"data" chunk before "fmt " chunk');
      if (fmt.formatTag === 3) throw bad('IEEE float samples are not supported (expected PCM 16-bit)');
      if (fmt.formatTag !== 1) throw bad(`unsupported WAV format tag ${fmt.formatTag} (expected 1 = PCM)`);
      if (fmt.channels !== 1) throw bad(`${fmt.channels} channels (expected mono)`);
      if (fmt.bitsPerSample !== 16) throw bad(`${fmt.bitsPerSample}-bit samples (expected 16-bit PCM)`);
      if (fmt.sampleRate !== GSC_SAMPLE_RATE) throw bad(`sample rate ${fmt.sampleRate} Hz (expected ${GSC_SAMPLE_RATE} Hz)`);
      if (size % 2 !== 0) throw bad(`"data" chunk size ${size} is not a whole number of 16-bit samples`);
      if (body + size > totalSize) {
        throw bad(`truncated: "data" chunk claims ${size} bytes but the file has ${Math.max(0, totalSize - body)} after the header`);
      }
      return { ...fmt, dataOffset: body, dataBytes: size, numSamples: size / 2 };
    }
    off = body + size + (size & 1);
  }
}

/** Decode a whole GSC-format WAV file to its int16 samples (a copy, independent of `bytes`). */
export function decodeWavInt16(bytes: Uint8Array, name: string): Int16Array {
  const info = parseWavHeader(bytes, name);
  const n = info.numSamples;
  const out = new Int16Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + info.dataOffset, info.dataBytes);
  for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, true);
  return out;
}

/**
 * Samples as int16 / 32768 (torchaudio's `normalize=True`), in float64 (default) or float32.
 * `offset`/`count` select a range of samples (like torchaudio's frame_offset/num_frames); count -1 = to the end.
 */
export function int16ToFloat(x: Int16Array, dtype: DType = 'float64', offset = 0, count = -1): FloatArray {
  const end = count < 0 ? x.length : Math.min(x.length, offset + count);
  const n = Math.max(0, end - offset);
  const out = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = x[offset + i] / 32768;
  return out;
}

/** Decode a GSC-format WAV to float samples in [-1, 1) (int16 / 32768). */
export function decodeWav(bytes: Uint8Array, name: string, dtype: DType = 'float64'): FloatArray {
  return int16ToFloat(decodeWavInt16(bytes, name), dtype);
}

/** Encode int16 samples as a plain 44-byte-header PCM 16-bit mono WAV (the GSC layout). */
export function encodeWav16(samples: Int16Array, sampleRate = GSC_SAMPLE_RATE): Uint8Array {
  const n = samples.length;
  const buf = new Uint8Array(44 + 2 * n);
  const dv = new DataView(buf.buffer);
  const put = (off: number, s: string) => {
    for (let i = 0; i < 4; i++) buf[off + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  dv.setUint32(4, 36 + 2 * n, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true);
  dv.setUint16(22, 1, true);
  dv.setUint32(24, sampleRate, true);
  dv.setUint32(28, sampleRate * 2, true);
  dv.setUint16(32, 2, true);
  dv.setUint16(34, 16, true);
  put(36, 'data');
  dv.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) dv.setInt16(44 + 2 * i, samples[i], true);
  return buf;
}
