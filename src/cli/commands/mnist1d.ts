/**
 * `gle mnist1d generate`: write a MNIST-1D set of one's own (other seeds, lengths, noise levels) in the shipped
 * set's file layout; `gle mnist1d info`: load and summarise a set (the shipped one by default).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { UserError } from '../../util/errors.js';
import { formatBytes, memoryLimit } from '../../model/memory.js';
import { writeNpyFile } from '../../io/files.js';
import { MNIST1D_FILES } from '../../data/mnist1d.js';
import { MNIST1D_GEN_DEFAULTS, generateMnist1dLengths } from '../../data/mnist1d-gen.js';
import { defaultMnist1dDir, loadMnist1d } from '../../data/mnist1d-files.js';

function num(flag: string, integer = false) {
  return (v: string): number => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x))) {
      throw new UserError(`${flag} must be ${integer ? 'an integer' : 'a number'}, got "${v}"`);
    }
    return x;
  };
}

/** Ranges of the generator's numbers (a wrong one would fail deep inside, or ask for gigabytes). */
function checkGenerate(o: GenerateOpts): void {
  const need = (ok: boolean, msg: string) => {
    if (!ok) throw new UserError(msg);
  };
  need(o.samples >= 10 && o.samples <= 1e7, `--samples must be from 10 to 10000000, got ${o.samples}`);
  need(o.trainSplit > 0 && o.trainSplit < 1, `--train-split must be between 0 and 1 (exclusive), got ${o.trainSplit}`);
  need(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 2 ** 32 - 1, `--seed must be a non-negative integer (at most ${2 ** 32 - 1}), got ${o.seed}`);
  need(o.padding[0] >= 0 && o.padding[1] >= o.padding[0] && o.padding[1] <= 1e4, `--padding must be 0 <= lo <= hi <= 10000, got ${o.padding.join(',')}`);
  need(o.maxTranslation >= 1 && o.maxTranslation <= 1e4, `--max-translation must be from 1 to 10000, got ${o.maxTranslation}`);
  for (const [f, v] of [['--scale-coeff', o.scaleCoeff], ['--corr-noise', o.corrNoise], ['--iid-noise', o.iidNoise], ['--shear', o.shear]] as const)
    need(v >= 0 && v <= 1e6, `${f} must be from 0 to 1e6, got ${v}`);
  for (const l of o.length) need(l >= 8 && l <= 1e5, `--length values must be from 8 to 100000, got ${l}`);
  const bytes = o.samples * o.length.reduce((a, l) => a + l * 4, 0);
  need(bytes <= memoryLimit() / 2, `--samples ${o.samples} at length ${o.length.join(',')} would need ${formatBytes(bytes)} of samples, more than this machine can hold`);
}

function intList(flag: string) {
  return (v: string): number[] => v.split(',').map((s) => num(flag, true)(s));
}

interface GenerateOpts {
  out: string;
  seed: number;
  length: number[];
  samples: number;
  trainSplit: number;
  padding: number[];
  scaleCoeff: number;
  maxTranslation: number;
  corrNoise: number;
  iidNoise: number;
  shear: number;
}

export function register(program: Command): void {
  const cmd = program.command('mnist1d').description('MNIST-1D data: generate a set, or inspect one');
  const d = MNIST1D_GEN_DEFAULTS;
  cmd
    .command('generate')
    .description(
      'generate MNIST-1D into DIR with the shipped file names (mnist1d_<L>_x_{train,test}.npy, ' +
        'mnist1d_y_{train,test}.npy, mnist1d_templates_x.npy); every length uses the same random draws',
    )
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .option('--seed <n>', 'random seed', num('--seed', true), d.seed)
    .addOption(
      new Option('--length <L,...>', 'final sequence length(s), comma separated')
        .argParser(intList('--length'))
        .default([40, 360], '40,360'),
    )
    .option('--samples <n>', 'number of samples (train + test)', num('--samples', true), d.numSamples)
    .option('--train-split <f>', 'fraction of samples in the training set', num('--train-split'), d.trainSplit)
    .addOption(
      new Option('--padding <lo,hi>', 'zero padding range (inclusive)')
        .argParser(intList('--padding'))
        .default([...d.padding], d.padding.join(',')),
    )
    .option('--scale-coeff <x>', 'amplitude scaling coefficient', num('--scale-coeff'), d.scaleCoeff)
    .option('--max-translation <n>', 'circular shifts drawn from 0..n-1', num('--max-translation', true), d.maxTranslation)
    .option('--corr-noise <x>', 'std of the smoothed background noise', num('--corr-noise'), d.corrNoiseScale)
    .option('--iid-noise <x>', 'std of the iid noise', num('--iid-noise'), d.iidNoiseScale)
    .option('--shear <x>', 'shear scale', num('--shear'), d.shearScale)
    .action((o: GenerateOpts) => {
      if (o.padding.length !== 2) throw new UserError(`--padding must be two integers lo,hi`);
      checkGenerate(o);
      const lengths = [...new Set(o.length)];
      const sets = generateMnist1dLengths(
        {
          seed: o.seed,
          numSamples: o.samples,
          trainSplit: o.trainSplit,
          padding: [o.padding[0], o.padding[1]],
          scaleCoeff: o.scaleCoeff,
          maxTranslation: o.maxTranslation,
          corrNoiseScale: o.corrNoise,
          iidNoiseScale: o.iidNoise,
          shearScale: o.shear,
        },
        lengths,
      );
      try {
        mkdirSync(o.out, { recursive: true });
      } catch (e) {
        throw new UserError(`cannot create ${o.out}: ${(e as Error).message}`);
      }
      const first = sets[0];
      const written: string[] = [];
      const put = (name: string, arr: Parameters<typeof writeNpyFile>[1]) => {
        writeNpyFile(join(o.out, name), arr);
        written.push(name);
      };
      for (const s of sets) {
        put(MNIST1D_FILES.x(s.length, 'train'), { dtype: 'float32', shape: [s.nTrain, s.length], data: s.xTrain });
        put(MNIST1D_FILES.x(s.length, 'test'), { dtype: 'float32', shape: [s.nTest, s.length], data: s.xTest });
      }
      put(MNIST1D_FILES.y('train'), { dtype: 'uint8', shape: [first.nTrain], data: first.yTrain });
      put(MNIST1D_FILES.y('test'), { dtype: 'uint8', shape: [first.nTest], data: first.yTest });
      put(MNIST1D_FILES.templates, {
        dtype: 'float64',
        shape: [10, first.templateLen],
        data: first.templates,
      });
      process.stdout.write(
        `wrote ${written.length} files to ${o.out}: ${first.nTrain} train + ${first.nTest} test samples, ` +
          `length ${lengths.join(', ')}, seed ${o.seed}\n`,
      );
    });
  cmd
    .command('info')
    .description('load a MNIST-1D set, validate it and print its shapes and class counts')
    .option('--dir <dir>', 'directory with the .npy files (default: the shipped set)')
    .option('--length <L>', '40 or 360', num('--length', true), 360)
    .action((o: { dir?: string; length: number }) => {
      const dir = o.dir ?? defaultMnist1dDir();
      const data = loadMnist1d({ length: o.length as 40 | 360, dir });
      const counts = (y: Uint8Array) => {
        const c = new Array(10).fill(0);
        for (const v of y) c[v]++;
        return c.join(' ');
      };
      process.stdout.write(
        `${dir}\n  length ${data.length}\n  train ${data.nTrain} samples, classes ${counts(data.yTrain)}\n` +
          `  test  ${data.nTest} samples, classes ${counts(data.yTest)}\n`,
      );
    });
}
