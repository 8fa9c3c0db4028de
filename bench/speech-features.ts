/**
 * CPU cost of the speech input pipeline (WAV -> log-mel -> standardise -> x20 interpolation), per clip:
 *   node --import tsx bench/speech-features.ts SPEECH_COMMANDS_DIR
 * training entries (augmented every epoch, so never cached), and validation entries with a cold and a warm
 * feature cache (a fresh temporary cache directory).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openKW12 } from '../src/data/speech/files.js';

const root = process.argv[2];
if (!root) {
  console.error('usage: node --import tsx bench/speech-features.ts SPEECH_COMMANDS_DIR');
  process.exit(2);
}
const cache = mkdtempSync(join(tmpdir(), 'gle-feat-bench-'));
try {
  const ds = openKW12(root, { seed: 0, dtype: 'float32', cache });
  const cpuMsPerClip = (fn: () => void, n: number): string => {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    return ((c.user + c.system) / 1000 / n).toFixed(2);
  };
  const train = ds.training.epochOrder().subarray(0, Math.min(256, ds.training.length));
  console.log(`training, augmented: ${cpuMsPerClip(() => ds.training.batch(train), train.length)} ms CPU per clip (${train.length} clips)`);
  const val = ds.validation.epochOrder().subarray(0, Math.min(256, ds.validation.length));
  console.log(`validation, cold cache: ${cpuMsPerClip(() => ds.validation.batch(val), val.length)} ms CPU per clip (${val.length} clips)`);
  console.log(`validation, warm cache: ${cpuMsPerClip(() => ds.validation.batch(val), val.length)} ms CPU per clip`);
} finally {
  rmSync(cache, { recursive: true, force: true });
}
