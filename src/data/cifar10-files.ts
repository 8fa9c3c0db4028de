/**
 * CIFAR-10 from disk (Node): the binary batches in a directory (`data_batch_1.bin` … `data_batch_5.bin`,
 * `test_batch.bin`, as in the `cifar-10-batches-bin` folder of the official archive). Every file must be present and
 * hold whole records with labels 0..9 (cifar10.ts); anything else is one line naming the file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, cifar10FromBatches, type Cifar10Split } from './cifar10.js';

export interface Cifar10Data {
  train: Cifar10Split;
  test: Cifar10Split;
  source: string;
}

export function loadCifar10(dir: string | null | undefined): Cifar10Data {
  if (!dir) throw new UserError('CIFAR-10: give the folder with data_batch_1..5.bin and test_batch.bin (--set data=DIR); it cannot be downloaded here');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`CIFAR-10: data directory ${dir} does not exist`);
  const read = (name: string) => {
    const p = join(dir, name);
    if (!existsSync(p)) throw new UserError(`CIFAR-10: ${p} not found (need data_batch_1..5.bin and test_batch.bin)`);
    return { buf: new Uint8Array(readFileSync(p)), where: `CIFAR-10: ${p}` };
  };
  try {
    const train = cifar10FromBatches(CIFAR10_TRAIN_FILES.map(read));
    const test = cifar10FromBatches([read(CIFAR10_TEST_FILE)]);
    return { train, test, source: `CIFAR-10 binary batches in ${dir}` };
  } catch (e) {
    throw e instanceof UserError ? e : new UserError((e as Error).message);
  }
}
