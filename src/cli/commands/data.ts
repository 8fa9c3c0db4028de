/**
 * `gle data speech-commands PATH`: check an extracted Speech Commands folder (real speech_commands_v0.02 or the
 * synthetic stand-in) and print what the KW12 task will see: clips per class and split (with the added unknown
 * and silence entries), clip durations, background noise files. Problems exit non-zero with a message that
 * names the files.
 */
import type { Command } from 'commander';
import { basename, join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { CLIP_SAMPLES, KW12_KEYWORDS, KW12_LABELS, SPLITS, buildKW12Split, type Split } from '../../data/speech/gsc.js';
import { inspectWav, scanSpeechCommands } from '../../data/speech/files.js';
import { GSC_SAMPLE_RATE } from '../../data/speech/wav.js';
import { Rng } from '../../util/rng.js';
import { median } from '../../util/stats.js';

interface Summary {
  root: string;
  words: string[];
  clips: number;
  perSplit: Record<Split, number>;
  kw12: Record<Split, { perLabel: Record<string, number>; keywords: number; unknownPool: number; unknown: number; silence: number; total: number }>;
  durations: { minSamples: number; medianSamples: number; maxSamples: number; short: number };
  background: Array<{ file: string; seconds: number }>;
}

export function summariseSpeechCommands(root: string, seed = 0): Summary {
  const listing = scanSpeechCommands(root);
  const missing = KW12_KEYWORDS.filter((k) => !listing.words.includes(k));
  if (missing.length > 0) {
    throw new UserError(`${root}: no clips for KW12 keyword(s) ${missing.join(', ')} (expected folders ${missing.map((m) => join(root, m)).join(', ')})`);
  }
  const problems: string[] = [];
  const lengths = new Int32Array(listing.clips.length);
  listing.clips.forEach((c, i) => {
    try {
      lengths[i] = inspectWav(join(root, c.path)).numSamples;
    } catch (e) {
      if (e instanceof UserError) problems.push(e.message);
      else throw e;
    }
  });
  const background: Summary['background'] = [];
  for (const f of listing.backgroundFiles) {
    try {
      background.push({ file: basename(f), seconds: inspectWav(f).numSamples / GSC_SAMPLE_RATE });
    } catch (e) {
      if (e instanceof UserError) problems.push(e.message);
      else throw e;
    }
  }
  if (problems.length > 0) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new UserError(`${problems.length} unreadable or wrong-format WAV file(s): ${problems.slice(0, 5).join('; ')}${more}`);
  }
  const sorted = Int32Array.from(lengths).sort();
  const rng = new Rng(seed);
  const kw12 = {} as Summary['kw12'];
  const perSplit = {} as Record<Split, number>;
  for (const s of SPLITS) {
    const listed = listing.clips.filter((c) => c.split === s);
    perSplit[s] = listed.length;
    const { counts } = buildKW12Split(listed, rng);
    const perLabel: Record<string, number> = {};
    KW12_LABELS.forEach((l, i) => (perLabel[l] = counts.perLabel[i]));
    kw12[s] = { perLabel, keywords: counts.keywords, unknownPool: counts.unknownPool, unknown: counts.unknown, silence: counts.silence, total: counts.total };
  }
  let short = 0;
  for (const n of lengths) if (n < CLIP_SAMPLES) short++;
  return {
    root,
    words: listing.words,
    clips: listing.clips.length,
    perSplit,
    kw12,
    durations: {
      minSamples: sorted[0],
      medianSamples: median(sorted),
      maxSamples: sorted[sorted.length - 1],
      short,
    },
    background,
  };
}

function pad(s: string | number, n: number, left = false): string {
  const t = String(s);
  return left ? t.padEnd(n) : t.padStart(n);
}

export function formatSummary(s: Summary, seed: number): string {
  const L: string[] = [];
  const sec = (n: number) => `${(n / GSC_SAMPLE_RATE).toFixed(3)} s`;
  L.push(`Speech Commands folder ${s.root}`);
  L.push(`  ${s.words.length} words, ${s.clips} clips: ${SPLITS.map((x) => `${s.perSplit[x]} ${x}`).join(', ')}`);
  L.push('');
  L.push(`KW12 entries per class and split (unknown drawn and silence added with seed ${seed}):`);
  L.push(`  ${pad('class', 10, true)}${SPLITS.map((x) => pad(x, 12)).join('')}`);
  KW12_LABELS.forEach((l, i) => {
    L.push(`  ${pad(`${i} ${l}`, 10, true)}${SPLITS.map((x) => pad(s.kw12[x].perLabel[l], 12)).join('')}`);
  });
  L.push(`  ${pad('total', 10, true)}${SPLITS.map((x) => pad(s.kw12[x].total, 12)).join('')}`);
  for (const x of SPLITS) {
    const k = s.kw12[x];
    L.push(`  ${x}: ${k.keywords} keyword clips + ${k.unknown} unknown (ceil 10 %, from a pool of ${k.unknownPool}) + ${k.silence} silence (floor 10 % of ${k.keywords + k.unknown})`);
  }
  L.push('');
  const d = s.durations;
  L.push(`Clip durations: min ${sec(d.minSamples)}, median ${sec(d.medianSamples)}, max ${sec(d.maxSamples)}; ${d.short} shorter than 1 s (${((100 * d.short) / s.clips).toFixed(1)} %)`);
  L.push('');
  if (s.background.length === 0) L.push('Background noise: none found (training will not mix noise)');
  else {
    L.push(`Background noise (${s.background.length} files):`);
    for (const b of s.background) L.push(`  ${pad(b.file, 28, true)} ${b.seconds.toFixed(2)} s`);
  }
  return L.join('\n');
}

export function register(program: Command): void {
  const data = program.command('data').description('inspect and validate data sets');
  data
    .command('speech-commands')
    .description('validate an extracted Speech Commands (v0.02 layout) folder and summarise the KW12 splits')
    .argument('<path>', 'the folder (e.g. speech_commands_v0.02, or test/fixtures/speech-commands-mini in a checkout)')
    .option('--seed <n>', 'seed of the unknown draw (as in training)', '0')
    .option('--json', 'print the summary as JSON')
    .action((path: string, opts: { seed: string; json?: boolean }) => {
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw new UserError(`--seed must be a non-negative integer, got "${opts.seed}"`);
      const s = summariseSpeechCommands(path, seed);
      process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatSummary(s, seed)}\n`);
    });
}
