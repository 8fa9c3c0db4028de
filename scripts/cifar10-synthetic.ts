/**
 * Write a synthetic CIFAR-10 set in the binary batch format (data_batch_1..5.bin, test_batch.bin), real size by default
 * (10,000 records per file): random labels, each image a class-dependent brightness plus noise. For timing real-size
 * epochs where the real set cannot be fetched:
 *   node --import tsx scripts/cifar10-synthetic.ts DIR [records-per-file] [seed]
 *   gle run le-cifar10-lenet --set data=DIR epochs=1
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR10_PIXELS, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, encodeCifar10 } from '../src/data/cifar10.js';
import { Rng } from '../src/util/rng.js';

const [dir, nArg, seedArg] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: cifar10-synthetic.ts DIR [records-per-file] [seed]\n');
  process.exit(2);
}
const n = Number(nArg ?? 10000), rng = new Rng(Number(seedArg ?? 1));
if (!(Number.isInteger(n) && n > 0)) {
  process.stderr.write(`records-per-file must be a positive integer, got ${nArg}\n`);
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
for (const f of [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]) {
  const labels = Array.from({ length: n }, () => rng.int(10));
  const px = new Uint8Array(n * CIFAR10_PIXELS);
  labels.forEach((l, i) => {
    for (let p = 0; p < CIFAR10_PIXELS; p++) px[i * CIFAR10_PIXELS + p] = Math.min(255, Math.max(0, Math.round(20 * l + 40 + 40 * rng.normal())));
  });
  writeFileSync(join(dir, f), encodeCifar10(labels, px));
}
process.stdout.write(`wrote ${CIFAR10_TRAIN_FILES.length + 1} files of ${n} records to ${dir}\n`);
