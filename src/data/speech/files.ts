/**
 * Node-only half of the Speech Commands data: listing and validating an extracted speech_commands_v0.02-style
 * folder, TensorFlow's `which_set` split rule, reading WAV files, and opening the KW12 splits with a file-backed
 * clip source and the feature cache.
 *
 * Layout: `<root>/<word>/<speaker>_nohash_<n>.wav` for each word folder (folders starting with "_" or "." are
 * skipped, so `_background_noise_` is), `<root>/validation_list.txt` and `<root>/testing_list.txt` ("word/file.wav"
 * per line); every clip in neither list is training. Background noise: every `*.wav` in `_background_noise_/`.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../../kernels/types.js';
import { UserError } from '../../util/errors.js';
import { FeatureCache } from './cache.js';
import {
  KW12Split,
  SPLITS,
  buildKW12Split,
  type AugmentOptions,
  type ClipSource,
  type KW12SplitCounts,
  type ListedClip,
  type Split,
  type SpeechClip,
} from './gsc.js';
import { Rng } from '../../util/rng.js';
import { decodeWavInt16, int16ToFloat, parseWavHeader, type WavInfo } from './wav.js';

export const BACKGROUND_DIR = '_background_noise_';
export const LIST_FILES = { validation: 'validation_list.txt', testing: 'testing_list.txt' } as const;
const NOHASH = /_nohash_.*$/;
const MAX_PER_CLASS = 2 ** 27 - 1;

/** TensorFlow's `which_set`: the split of a clip from the sha1 of its speaker id (10 % validation, 10 % testing). */
export function whichSet(fileName: string, validationPct = 10, testingPct = 10): Split {
  const base = fileName.split('/').pop()!;
  const hashName = base.replace(NOHASH, '');
  const hex = createHash('sha1').update(hashName, 'utf8').digest('hex');
  // int(hex, 16) % 2**27 only depends on the low 27 bits: the last 7 hex digits hold 28.
  const h = parseInt(hex.slice(-7), 16) % (MAX_PER_CLASS + 1);
  const pct = h * (100 / MAX_PER_CLASS);
  if (pct < validationPct) return 'validation';
  if (pct < validationPct + testingPct) return 'testing';
  return 'training';
}

export interface SpeechListing {
  root: string;
  /** Word folders, sorted. */
  words: string[];
  /** Every clip, sorted by path, with its split from the list files. */
  clips: ListedClip[];
  /** Absolute paths of the background noise WAVs (sorted); empty if the folder is missing. */
  backgroundFiles: string[];
}

function readList(root: string, file: string, known: Set<string>): string[] {
  const p = join(root, file);
  if (!existsSync(p)) {
    throw new UserError(`${root}: missing ${file} (expected the split lists of an extracted speech_commands_v0.02 folder)`);
  }
  const lines = readFileSync(p, 'utf8').split(/\r?\n/);
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const e = lines[i].trim();
    if (e === '') continue;
    if (!known.has(e)) throw new UserError(`${p}:${i + 1}: listed clip "${e}" does not exist under ${root}`);
    out.push(e);
  }
  return out;
}

/** List and check a Speech Commands folder (does not open the WAVs; see `inspectWav`). */
export function scanSpeechCommands(root: string): SpeechListing {
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new UserError(`${root}: no such folder (give the extracted speech_commands_v0.02 folder)`);
  }
  if (!st.isDirectory()) throw new UserError(`${root}: not a folder (give the extracted speech_commands_v0.02 folder)`);
  const words: string[] = [];
  const paths: string[] = [];
  for (const d of readdirSync(root, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!d.isDirectory() || d.name.startsWith('_') || d.name.startsWith('.')) continue;
    const files = readdirSync(join(root, d.name), { withFileTypes: true })
      .filter((f) => f.name.endsWith('.wav') && f.name.includes('_nohash_'))
      .map((f) => {
        // a folder (or other non-file) named like a clip is refused now, not when training reaches it
        if (!f.isFile() && !(f.isSymbolicLink() && statSync(join(root, d.name, f.name)).isFile()))
          throw new UserError(`${join(root, d.name, f.name)}: not a file (expected a WAV clip)`);
        return f.name;
      })
      .sort();
    if (files.length === 0) continue;
    words.push(d.name);
    for (const f of files) paths.push(`${d.name}/${f}`);
  }
  if (paths.length === 0) throw new UserError(`${root}: no <word>/*_nohash_*.wav clips found (is this a Speech Commands folder?)`);
  const known = new Set(paths);
  const val = new Set(readList(root, LIST_FILES.validation, known));
  const test = new Set(readList(root, LIST_FILES.testing, known));
  for (const e of val) if (test.has(e)) throw new UserError(`${root}: "${e}" is in both ${LIST_FILES.validation} and ${LIST_FILES.testing}`);
  const clips: ListedClip[] = paths.map((p) => ({
    path: p,
    word: p.slice(0, p.indexOf('/')),
    split: val.has(p) ? 'validation' : test.has(p) ? 'testing' : 'training',
  }));
  const bgDir = join(root, BACKGROUND_DIR);
  const backgroundFiles = existsSync(bgDir)
    ? readdirSync(bgDir)
        .filter((f) => f.toLowerCase().endsWith('.wav'))
        .sort()
        .map((f) => join(bgDir, f))
    : [];
  return { root, words, clips, backgroundFiles };
}

/** Read a WAV file's header (first 64 KiB) and check the format; errors name the file. */
export function inspectWav(path: string, headerBytes = 65536): WavInfo {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new UserError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserError(`${path}: not a file (expected a WAV clip)`);
    const size = st.size;
    const buf = new Uint8Array(Math.min(size, headerBytes));
    readSync(fd, buf, 0, buf.length, 0);
    return parseWavHeader(buf, path, size);
  } finally {
    closeSync(fd);
  }
}

/** inspectWav reading 4 KiB first (enough for the usual 44-byte header), the first 64 KiB if the header is longer. */
function checkClip(path: string): void {
  try {
    inspectWav(path, 4096);
  } catch (e) {
    if (e instanceof UserError && /header too long|truncated "fmt "/.test(e.message)) inspectWav(path);
    else throw e;
  }
}

/** Read a whole WAV file's bytes; errors name the file. */
export function readFileBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** Decode a GSC-format WAV file to float64 int16/32768 samples. */
export function readWavFile(path: string): Float64Array {
  return int16ToFloat(decodeWavInt16(readFileBytes(path), path), 'float64') as Float64Array;
}

/** A ClipSource reading WAVs under `root`, with cached unaugmented features if a cache is given. */
export function fileClipSource(root: string, cache?: FeatureCache): ClipSource {
  const src: ClipSource = {
    wave: (clip) => readWavFile(join(root, clip.path)),
  };
  if (cache) {
    src.features = (clip, ex) => {
      if (ex.dtype !== cache.dtype) throw new Error(`feature cache dtype ${cache.dtype} != extractor dtype ${ex.dtype}`);
      const p = join(root, clip.path);
      const bytes = readFileBytes(p);
      return cache.getOrCompute(bytes, () => {
        const data = ex.standardise(int16ToFloat(decodeWavInt16(bytes, p), 'float64'));
        return { T: ex.T, data };
      });
    };
  }
  return src;
}

export interface OpenKW12Options {
  /** Seed of the unknown draw, the split shuffles, the augmentation and the balanced sampling. Default 0. */
  seed?: number;
  dtype?: DType;
  /** Feature cache for validation/testing: a directory, a FeatureCache, or false (none). Default: no cache. */
  cache?: string | FeatureCache | false;
  augment?: AugmentOptions;
  /** check the header of every clip the splits use, and of the noise files, when opening (default true) */
  checkFiles?: boolean;
}

export interface KW12Data {
  listing: SpeechListing;
  counts: Record<Split, KW12SplitCounts>;
  clips: Record<Split, SpeechClip[]>;
  noises: Float64Array[];
  training: KW12Split;
  validation: KW12Split;
  testing: KW12Split;
  cache: FeatureCache | null;
}

/** Open a Speech Commands folder as the KW12 task: three splits with batch streamers. */
export function openKW12(root: string, opts: OpenKW12Options = {}): KW12Data {
  const seed = opts.seed ?? 0;
  const dtype = opts.dtype ?? 'float32';
  const listing = scanSpeechCommands(root);
  const noises = listing.backgroundFiles.map((f) => readWavFile(f));
  const cache =
    opts.cache === undefined || opts.cache === false
      ? null
      : opts.cache instanceof FeatureCache
        ? opts.cache
        : new FeatureCache({ dir: opts.cache, dtype });
  const source = fileClipSource(root, cache ?? undefined);
  const rng = new Rng(seed);
  const clips = {} as Record<Split, SpeechClip[]>;
  const counts = {} as Record<Split, KW12SplitCounts>;
  const splits = {} as Record<Split, KW12Split>;
  SPLITS.forEach((s, i) => {
    const built = buildKW12Split(
      listing.clips.filter((c) => c.split === s),
      rng,
    );
    clips[s] = built.clips;
    counts[s] = built.counts;
    splits[s] = new KW12Split(built.clips, source, { split: s, noises, augment: opts.augment, seed: (seed * 7919 + 101 * (i + 1)) >>> 0, dtype });
  });
  // every clip the splits can draw is checked (header, format, length) before anything trains on them
  if (opts.checkFiles !== false) for (const s of SPLITS) for (const c of clips[s]) if (c.path) checkClip(join(root, c.path));
  return { listing, counts, clips, noises, ...splits, cache };
}
