import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { decodeWavInt16, encodeWav16, int16ToFloat, parseWavHeader } from '../src/data/speech/wav.js';
import { LogMelExtractor, hannWindow, melFilterbank, numFrames, toBandMajor } from '../src/data/speech/melspec.js';
import {
  KW12Split,
  KW12_LABELS,
  SpeechAugmenter,
  SpeechBatch,
  balancedSample,
  buildKW12Split,
  kw12Label,
  silenceCount,
  silenceWave,
  unknownCount,
  type ListedClip,
} from '../src/data/speech/gsc.js';
import { FeatureCache } from '../src/data/speech/cache.js';
import { fileClipSource, openKW12, scanSpeechCommands, whichSet } from '../src/data/speech/files.js';
import { summariseSpeechCommands } from '../src/cli/commands/data.js';

// A 62-clip subset of the synthetic Speech Commands set in the real folder layout (test/fixtures/speech-commands-mini/README.md).
const ROOT = new URL('./fixtures/speech-commands-mini/', import.meta.url).pathname;

interface Stage {
  mean: number;
  std: number;
  mel: number[][];
  log2: number[][];
  standardised: number[][];
  interpolated?: number[][];
  interpolated_first40?: number[][];
  interpolated_last40?: number[][];
}
interface GoldenClip {
  name: string;
  path: string | null;
  frame_offset: number;
  num_frames: number;
  file_sha256?: string;
  int16_first8?: number[];
  int16_sum?: number;
  source: string;
  n_samples: number;
  n_frames: number;
  n_interpolated: number;
  float64: Stage;
  float32: Stage;
}
const golden = JSON.parse(gunzipSync(readFileSync(join(ROOT, 'golden-features.json.gz'))).toString('utf8')) as {
  hann_window: { float64: number[]; float32: number[] };
  mel_fbank: { shape: number[]; float64: number[][]; float32: number[][] };
  clips: GoldenClip[];
};

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Columns [c0, c1) of a [rows][cols] row-major matrix, flattened. */
function cols(x: ArrayLike<number>, rows: number, ncols: number, c0: number, c1: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) for (let c = c0; c < c1; c++) out.push(x[r * ncols + c]);
  return out;
}

function clipWave(c: GoldenClip): Float64Array {
  if (c.path === null) return silenceWave(c.n_samples);
  const bytes = readFileSync(join(ROOT, c.path));
  // a cut from a long noise file: the fixture holds only the start of that file; the samples are checked below
  if (c.source === 'file') assert.equal(createHash('sha256').update(bytes).digest('hex'), c.file_sha256, `${c.name}: file sha256`);
  const x = decodeWavInt16(bytes, c.path);
  const w = int16ToFloat(x, 'float64', c.frame_offset, c.num_frames) as Float64Array;
  const i16 = x.subarray(c.frame_offset, c.frame_offset + w.length);
  assert.deepEqual(Array.from(i16.subarray(0, 8)), c.int16_first8, `${c.name}: first samples`);
  assert.equal(i16.reduce((s, v) => s + v, 0), c.int16_sum, `${c.name}: sample sum`);
  return w;
}

test('Hann window and mel filterbank match torchaudio', () => {
  assert.ok(maxAbs(hannWindow(1024), golden.hann_window.float64) < 1e-15, 'hann float64');
  // torch computes the float32 window in float32 (about 2 ulp from the rounded float64 window).
  assert.ok(maxAbs(Float32Array.from(hannWindow(1024)), golden.hann_window.float32.map(Math.fround)) < 3e-7, 'hann float32');
  const fb = melFilterbank();
  assert.deepEqual(golden.mel_fbank.shape, [513, 32]);
  assert.ok(maxAbs(fb, golden.mel_fbank.float64.flat()) < 1e-12, 'fbank float64');
  assert.ok(maxAbs(fb, golden.mel_fbank.float32.flat()) < 1e-5, 'fbank float32 (computed in float32 by torch)');
});

test('log-mel pipeline matches the golden features stage by stage (float64 and float32)', () => {
  const ex64 = new LogMelExtractor({ dtype: 'float64' });
  const ex32 = new LogMelExtractor({ dtype: 'float32' });
  assert.equal(golden.clips.length, 7);
  for (const c of golden.clips) {
    const w = clipWave(c);
    assert.equal(w.length, c.n_samples, `${c.name}: samples`);
    assert.equal(numFrames(w.length), c.n_frames);
    const s = ex64.stages(w);
    const g = c.float64;
    const T = s.T;
    assert.equal(T, c.n_frames);
    const silence = c.path === null;
    const mel = g.mel.flat();
    const melMax = Math.max(...mel);
    assert.ok(maxAbs(s.mel, mel) / melMax < 1e-9, `${c.name}: mel`);
    assert.ok(maxAbs(s.log2, g.log2.flat()) < 1e-9, `${c.name}: log2`);
    assert.ok(Math.abs(s.mean - g.mean) < 1e-9, `${c.name}: mean`);
    assert.ok(Math.abs(s.std - g.std) / g.std < 1e-9, `${c.name}: std`);
    const tol = silence ? 1e-6 : 1e-9;
    assert.ok(maxAbs(s.standardised, g.standardised.flat()) < tol, `${c.name}: standardised`);
    const S = 20 * T;
    assert.equal(S, c.n_interpolated);
    const checkInterp = (x: ArrayLike<number>, st: Stage, tl: number, what: string) => {
      if (st.interpolated) assert.ok(maxAbs(x, st.interpolated.flat()) < tl, `${c.name}: ${what} interpolated`);
      else {
        assert.ok(maxAbs(cols(x, 32, S, 0, 40), st.interpolated_first40!.flat()) < tl, `${c.name}: ${what} first40`);
        assert.ok(maxAbs(cols(x, 32, S, S - 40, S), st.interpolated_last40!.flat()) < tl, `${c.name}: ${what} last40`);
      }
    };
    checkInterp(s.interpolated, g, tol, 'float64');
    // The streaming (time-major) output equals the band-major stages.
    const tm64 = ex64.extract(w);
    assert.ok(tm64 instanceof Float64Array);
    assert.ok(maxAbs(toBandMajor(tm64, S, 32), s.interpolated) === 0);
    // float32 output: the float64 pipeline rounded once; silence is checked against float64 only (see README).
    const tm32 = ex32.extract(w);
    assert.ok(tm32 instanceof Float32Array);
    const bm32 = toBandMajor(tm32, S, 32);
    if (silence) {
      checkInterp(bm32, g, 1e-6, 'float32-vs-float64');
      const vals = new Set(Array.from(bm32));
      assert.equal(vals.size, 2, 'silence: two-valued');
    } else {
      const st32 = ex32.standardise(w);
      assert.ok(st32 instanceof Float32Array);
      assert.ok(maxAbs(toBandMajor(st32, T, 32), c.float32.standardised.flat().map(Math.fround)) < 2e-4, `${c.name}: float32 standardised`);
      checkInterp(bm32, c.float32, 2e-4, 'float32');
    }
  }
});

// ---- WAV edge cases ----

function wavBytes(o: { channels?: number; bits?: number; rate?: number; tag?: number; dataBytes?: number; actualData?: number; extra?: Uint8Array }): Uint8Array {
  const channels = o.channels ?? 1;
  const bits = o.bits ?? 16;
  const rate = o.rate ?? 16000;
  const dataBytes = o.dataBytes ?? 200;
  const actual = o.actualData ?? dataBytes;
  const extra = o.extra ?? new Uint8Array(0);
  const buf = new Uint8Array(44 + extra.length + actual);
  const dv = new DataView(buf.buffer);
  const put = (off: number, s: string) => [...s].forEach((ch, i) => (buf[off + i] = ch.charCodeAt(0)));
  put(0, 'RIFF');
  dv.setUint32(4, buf.length - 8, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, o.tag ?? 1, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, rate, true);
  dv.setUint32(28, (rate * channels * bits) / 8, true);
  dv.setUint16(32, (channels * bits) / 8, true);
  dv.setUint16(34, bits, true);
  buf.set(extra, 36);
  put(36 + extra.length, 'data');
  dv.setUint32(40 + extra.length, dataBytes, true);
  return buf;
}

test('WAV reader: good files, skipped chunks, and every bad format is a UserError naming the file', () => {
  const x = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
  const enc = encodeWav16(x);
  assert.deepEqual(Array.from(decodeWavInt16(enc, 'a.wav')), Array.from(x));
  const f = int16ToFloat(x, 'float32');
  assert.ok(f instanceof Float32Array);
  assert.equal(f[4], -1);
  // A LIST chunk with an odd size (plus pad byte) between fmt and data is skipped.
  const list = new Uint8Array(8 + 5 + 1);
  list.set([76, 73, 83, 84], 0); // "LIST"
  new DataView(list.buffer).setUint32(4, 5, true);
  const withList = wavBytes({ extra: list, dataBytes: 4 });
  new DataView(withList.buffer).setInt16(44 + list.length, -7, true);
  const info = parseWavHeader(withList, 'l.wav');
  assert.equal(info.dataOffset, 44 + list.length);
  assert.deepEqual(Array.from(decodeWavInt16(withList, 'l.wav')), [-7, 0]);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['stereo', wavBytes({ channels: 2 }), /2 channels \(expected mono\)/],
    ['8-bit', wavBytes({ bits: 8 }), /8-bit samples/],
    ['24-bit', wavBytes({ bits: 24, dataBytes: 201 }), /24-bit samples/],
    ['float', wavBytes({ tag: 3, bits: 32 }), /IEEE float/],
    ['44.1k', wavBytes({ rate: 44100 }), /sample rate 44100 Hz/],
    ['truncated', wavBytes({ dataBytes: 32000, actualData: 1000 }), /truncated: "data" chunk claims 32000 bytes but the file has 1000/],
    ['non-RIFF', new TextEncoder().encode('ID3\u0003 this is an mp3, honestly........'), /not a RIFF\/WAVE file/],
    ['tiny', new Uint8Array(5), /not a WAV file/],
  ];
  for (const [name, bytes, re] of cases) {
    assert.throws(
      () => decodeWavInt16(bytes, `clips/${name}.wav`),
      (e: unknown) => e instanceof UserError && e.message.startsWith(`clips/${name}.wav: `) && re.test(e.message),
      name,
    );
  }
});

// ---- splits, KW12 composition ----

test('which_set reproduces the list files; split sizes match the fixture README (37/13/12)', () => {
  const listing = scanSpeechCommands(ROOT);
  assert.equal(listing.words.length, 12);
  assert.equal(listing.clips.length, 62);
  for (const c of listing.clips) assert.equal(whichSet(c.path), c.split, c.path);
  const n = (s: string, w?: string) => listing.clips.filter((c) => c.split === s && (!w || c.word === w)).length;
  assert.deepEqual([n('training'), n('validation'), n('testing')], [37, 13, 12]);
  assert.deepEqual([n('training', 'down'), n('validation', 'down'), n('testing', 'down')], [3, 1, 1]);
  assert.deepEqual([n('training', 'go'), n('validation', 'go'), n('testing', 'go')], [3, 2, 1]);
  assert.deepEqual([n('training', 'stop'), n('validation', 'stop'), n('testing', 'stop')], [4, 1, 1]);
  assert.equal(listing.backgroundFiles.length, 4);
  assert.equal(whichSet('yes/7cda11e0_nohash_3.wav'), 'validation');
  assert.equal(whichSet('91040055_nohash_0.wav'), 'testing');
});

test('unknown and silence counts (ceil 10 % of keywords; floor 10 % of keywords + unknown)', () => {
  assert.equal(kw12Label('yes'), 2);
  assert.equal(kw12Label('go'), 11);
  assert.equal(kw12Label('marvin'), 0);
  // Real GSC v0.02 validation: 3,703 keyword clips -> 371 unknown, 407 silence = 4,481 (the reference's N).
  assert.equal(3703 + unknownCount(3703) + silenceCount(3703 + unknownCount(3703)), 4481);
  assert.equal(unknownCount(30), 3);
  const d = openKW12(ROOT, { seed: 5 });
  assert.deepEqual(
    [d.counts.training, d.counts.validation, d.counts.testing].map((c) => [c.keywords, c.unknownPool, c.unknown, c.silence, c.total]),
    [
      [31, 6, 4, 3, 38],
      [11, 2, 2, 1, 14],
      [10, 2, 1, 1, 12],
    ],
  );
  for (const s of ['training', 'validation', 'testing'] as const) {
    const clips = d.clips[s];
    assert.equal(clips.filter((c) => c.label === 1).every((c) => c.path === null), true);
    const unk = clips.filter((c) => c.label === 0);
    assert.ok(unk.every((c) => c.path !== null && kw12Label(c.word) === 0 && d.listing.clips.find((l) => l.path === c.path)!.split === s));
    assert.equal(new Set(unk.map((c) => c.path)).size, unk.length, 'unknown drawn without replacement');
  }
  // Seeded: same seed, same draw; another seed, another draw.
  const listed: ListedClip[] = d.listing.clips.filter((c) => c.split === 'training');
  const a = buildKW12Split(listed, new Rng(1)).clips.map((c) => c.path);
  const b = buildKW12Split([...listed].reverse(), new Rng(1)).clips.map((c) => c.path);
  const c = buildKW12Split(listed, new Rng(2)).clips.map((c) => c.path);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(KW12_LABELS.length, 12);
});

test('augmentation: noise mixing formula, zero-filled shift, determinism under a seed', () => {
  const n = 2000;
  const wave = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 7) * 0.3);
  const noise = Float64Array.from({ length: 5000 }, (_, i) => Math.cos(i * 1.3) * 0.01);
  // Shift only.
  const shiftOnly = new SpeechAugmenter([noise], { pNoise: 0, maxShift: 100 });
  const r1 = new Rng(3);
  const y = shiftOnly.apply(wave, r1);
  const r1b = new Rng(3);
  r1b.uniform();
  const shift = r1b.int(201) - 100;
  for (let i = 0; i < n; i++) assert.equal(y[i], i - shift >= 0 && i - shift < n ? wave[i - shift] : 0);
  // Noise only (snr 10), no shift: out = (s*w + seg)/2.
  const mix = new SpeechAugmenter([noise], { pNoise: 1, snrs: [10], maxShift: 0 });
  const r2 = new Rng(9);
  const z = Float64Array.from(mix.apply(wave, r2));
  const r2b = new Rng(9);
  r2b.uniform();
  r2b.int(1);
  const start = r2b.int(noise.length - n + 1);
  const seg = noise.subarray(start, start + n);
  const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
  const s = (Math.exp(1) * norm(seg)) / norm(wave);
  for (let i = 0; i < n; i += 97) assert.ok(Math.abs(z[i] - (s * wave[i] + seg[i]) / 2) < 1e-12);
  // A whole training epoch is reproducible under a seed.
  const first = (seed: number) => {
    const d = openKW12(ROOT, { seed });
    const it = d.training.batches(24);
    const b1 = it.next().value as SpeechBatch;
    return { labels: Array.from(b1.labels), idx: Array.from(b1.indices), x: b1.timeMajor() };
  };
  const a = first(11);
  const b = first(11);
  const c = first(12);
  assert.deepEqual(a.labels, b.labels);
  assert.deepEqual(a.idx, b.idx);
  assert.ok(maxAbs(a.x, b.x) === 0);
  assert.notDeepEqual(a.idx, c.idx);
  // Balanced sampling: each class near 1/12 of the draws.
  const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 900 ? 0 : 1 + (i % 11)));
  const draws = balancedSample(labels, 24000, new Rng(1));
  const counts = new Array(12).fill(0);
  for (const i of draws) counts[labels[i]]++;
  for (const k of counts) assert.ok(Math.abs(k - 2000) < 250, `balanced: ${counts}`);
});

test('batches: own-length features, zero padding to the longest clip, fillStep == timeMajor', () => {
  const te = new KW12Split(
    [
      { path: 'eight/91040055_nohash_0.wav', word: 'eight', label: 0 },
      { path: 'yes/91040055_nohash_0.wav', word: 'yes', label: 2 },
    ],
    fileClipSource(ROOT),
    { split: 'testing', dtype: 'float64' },
  );
  const b = te.batch([0, 1]);
  assert.equal(b.steps, 820);
  assert.deepEqual(Array.from(b.frames), [15, 41]);
  assert.deepEqual(Array.from(b.labels), [0, 2]);
  const x = b.timeMajor();
  const g = golden.clips.find((c) => c.name === 'eight_short')!.float64.interpolated!;
  for (let t = 0; t < 820; t++) {
    for (let m = 0; m < 32; m++) {
      const v = x[(t * 2 + 0) * 32 + m];
      if (t < 300) assert.ok(Math.abs(v - Math.fround(g[m][t])) < 1e-6);
      else assert.equal(v, 0);
    }
  }
  const out = new Float32Array(64);
  b.fillStep(500, out);
  assert.deepEqual(Array.from(out), Array.from(x.subarray(500 * 64, 501 * 64)));
  // Evaluation splits stream every entry once, in order.
  const d = openKW12(ROOT, { seed: 0 });
  const all = [...d.validation.batches(10)];
  assert.deepEqual(all.map((q) => q.B), [10, 4]);
  assert.deepEqual(all.flatMap((q) => Array.from(q.indices)), Array.from({ length: 14 }, (_, i) => i));
  assert.ok(d.training instanceof KW12Split && d.training.train && !d.validation.train);
});

test('feature cache: miss, hit, corrupt and truncated entries are rebuilt; atomic files only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-speech-cache-'));
  try {
    const cache = new FeatureCache({ dir, dtype: 'float32' });
    const ex = new LogMelExtractor({ dtype: 'float32' });
    const bytes = readFileSync(join(ROOT, 'yes/69933a66_nohash_0.wav'));
    let computed = 0;
    const compute = () => {
      computed++;
      const data = ex.standardise(int16ToFloat(decodeWavInt16(bytes, 'yes'), 'float64'));
      return { T: ex.T, data };
    };
    const a = cache.getOrCompute(bytes, compute);
    const b = cache.getOrCompute(bytes, compute);
    assert.equal(computed, 1);
    assert.equal(cache.hits, 1);
    assert.equal(b.T, 41);
    assert.ok(b.data instanceof Float32Array);
    assert.deepEqual(Array.from(b.data), Array.from(a.data));
    const sha = createHash('sha256').update(bytes).digest('hex');
    const p = cache.entryPath(sha);
    // Flip one payload byte: detected, deleted, rebuilt.
    const buf = readFileSync(p);
    buf[buf.length - 3] ^= 0x55;
    writeFileSync(p, buf);
    assert.equal(cache.get(sha), null);
    assert.equal(cache.rebuilt, 1);
    const c = cache.getOrCompute(bytes, compute);
    assert.equal(computed, 2);
    assert.deepEqual(Array.from(c.data), Array.from(a.data));
    // Truncated entry.
    writeFileSync(p, readFileSync(p).subarray(0, 500));
    cache.getOrCompute(bytes, compute);
    assert.equal(computed, 3);
    assert.equal(cache.rebuilt, 2);
    assert.ok(cache.get(sha) !== null);
    // Different dtype -> different key; no temp files left.
    const c64 = new FeatureCache({ dir, dtype: 'float64' });
    assert.notEqual(c64.entryPath(sha), p);
    const files = readdirSync(dir, { recursive: true }).map(String);
    assert.ok(files.every((f) => !f.endsWith('.tmp')));
    // Used by openKW12 for the evaluation splits.
    const d = openKW12(ROOT, { seed: 0, cache: dir });
    const e1 = d.validation.batch([0, 1, 2, 3]).timeMajor();
    const misses = d.cache!.misses;
    const d2 = openKW12(ROOT, { seed: 0, cache: dir });
    const e2 = d2.validation.batch([0, 1, 2, 3]).timeMajor();
    assert.equal(d2.cache!.hits, misses);
    assert.ok(maxAbs(e1, e2) === 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gle data speech-commands: summary of the speech fixture and actionable errors', () => {
  const s = summariseSpeechCommands(ROOT, 0);
  assert.deepEqual(s.perSplit, { training: 37, validation: 13, testing: 12 });
  assert.equal(s.durations.short, 4);
  assert.equal(s.durations.minSamples, 5729);
  assert.equal(s.durations.maxSamples, 16000);
  assert.equal(s.background.length, 4);
  assert.equal(s.kw12.validation.total, 14);
  const dir = mkdtempSync(join(tmpdir(), 'gle-speech-folder-'));
  try {
    const expectErr = (re: RegExp) =>
      assert.throws(() => summariseSpeechCommands(dir), (e: unknown) => e instanceof UserError && re.test(e.message));
    assert.throws(() => summariseSpeechCommands(join(dir, 'nope')), /no such folder/);
    expectErr(/no <word>\/\*_nohash_\*\.wav clips/);
    const clip = encodeWav16(new Int16Array(16000));
    for (const w of ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go', 'bed']) {
      mkdirSync(join(dir, w));
      writeFileSync(join(dir, w, 'aaaa0000_nohash_0.wav'), clip);
    }
    expectErr(/missing validation_list\.txt/);
    writeFileSync(join(dir, 'validation_list.txt'), 'yes/aaaa0000_nohash_0.wav\n');
    expectErr(/missing testing_list\.txt/);
    writeFileSync(join(dir, 'testing_list.txt'), 'no/aaaa0000_nohash_0.wav\nup/bbbb0000_nohash_0.wav\n');
    expectErr(/testing_list\.txt:2: listed clip "up\/bbbb0000_nohash_0.wav" does not exist/);
    writeFileSync(join(dir, 'testing_list.txt'), 'no/aaaa0000_nohash_0.wav\n');
    const ok = summariseSpeechCommands(dir);
    assert.equal(ok.clips, 11);
    writeFileSync(join(dir, 'go', 'cccc0000_nohash_0.wav'), wavBytes({ rate: 8000 }));
    expectErr(/1 unreadable or wrong-format WAV file\(s\): .*go\/cccc0000_nohash_0\.wav: sample rate 8000 Hz/);
    rmSync(join(dir, 'go'), { recursive: true });
    expectErr(/no clips for KW12 keyword\(s\) go/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
