/**
 * Data sources for the classify task: a uniform view of MNIST-1D and Speech Commands as batches of sequences
 * streamed one step per dt. `batches(split, B, rng, maxN)` yields batches whose `fillStep(t, out)` writes the
 * B × channels input of step t without allocating.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { SequenceBatcher } from '../data/stream.js';
import { loadMnist1d } from '../data/mnist1d-files.js';
import type { ClassifyParams, RunContext } from './types.js';

import type { SeqBatch } from '../learn/classify-loop.js';
export type { SeqBatch };

export interface SeqSource {
  readonly classNames: string[];
  readonly channels: number;
  size(split: 'train' | 'val' | 'test', maxN: number): number;
  stepsPerEpoch(batch: number, maxN: number): number;
  /** training batches are shuffled with `rng` (or the source's own sampler); evaluation batches are in order */
  batches(split: 'train' | 'val' | 'test', batch: number, rng: Rng | null, maxN: number): Iterable<SeqBatch>;
  /** extra RNG state the source owns (restored on resume) */
  getState?(): number[];
  setState?(s: number[]): void;
}

function cap(n: number, maxN: number): number {
  return maxN > 0 ? Math.min(n, maxN) : n;
}

/** Batches of N × L sequences (one channel), streamed one point per step; shuffled when an rng is given. */
function* xyBatches(x: Float32Array, y: Uint8Array, L: number, batch: number, rng: Rng | null): Iterable<SeqBatch> {
  const it = new SequenceBatcher({ x, y, steps: L, batchSize: batch, shuffle: rng !== null, rng: rng ?? undefined });
  it.startEpoch();
  const view: SeqBatch = {
    get B() {
      return it.batchSize;
    },
    steps: L,
    get labels() {
      return it.labels;
    },
    fillStep: (t, out) => it.fillStep(t, out),
  };
  while (it.nextBatch()) yield view;
}

export function mnist1dSource(dir?: string): SeqSource {
  const d = loadMnist1d({ length: 360, dir });
  const L = d.length;
  return {
    classNames: Array.from({ length: 10 }, (_, i) => String(i)),
    channels: 1,
    size: (split, maxN) => cap(split === 'train' ? d.nTrain : split === 'test' ? d.nTest : 0, maxN),
    stepsPerEpoch: (batch, maxN) => Math.ceil(cap(d.nTrain, maxN) / batch) * L,
    batches(split, batch, rng, maxN) {
      if (split === 'val') return [];
      const n = cap(split === 'train' ? d.nTrain : d.nTest, maxN);
      const [x, y] = split === 'train' ? [d.xTrain, d.yTrain] : [d.xTest, d.yTest];
      return xyBatches(x.subarray(0, n * L), y.subarray(0, n), L, batch, rng);
    },
  };
}

/** Any MNIST-1D-format pair (N × L inputs, N labels) as the 'test' split of a source, in order. */
export function xySource(d: { x: Float32Array; y: Uint8Array; n: number; length: number }, nClasses: number): SeqSource {
  return {
    classNames: Array.from({ length: nClasses }, (_, i) => String(i)),
    channels: 1,
    size: (split, maxN) => (split === 'test' ? cap(d.n, maxN) : 0),
    stepsPerEpoch: () => 0,
    batches: (split, batch, _rng, maxN) => {
      const n = cap(d.n, maxN);
      return split === 'test' ? xyBatches(d.x.subarray(0, n * d.length), d.y.subarray(0, n), d.length, batch, null) : [];
    },
  };
}

export async function speechSource(root: string, seed: number, cacheDir: string | undefined): Promise<SeqSource> {
  if (!existsSync(root)) throw new UserError(`speech data folder ${root} does not exist`);
  const { openKW12 } = await import('../data/speech/files.js');
  const { KW12_LABELS } = await import('../data/speech/gsc.js');
  const ds = openKW12(root, { seed, dtype: 'float32', cache: cacheDir ?? resolve('.cache', 'gle-features') });
  const splitOf = (s: 'train' | 'val' | 'test') => (s === 'train' ? ds.training : s === 'val' ? ds.validation : ds.testing);
  return {
    classNames: [...KW12_LABELS],
    channels: 32,
    size: (split, maxN) => cap(splitOf(split).length, maxN),
    stepsPerEpoch: (batch, maxN) => Math.ceil(cap(ds.training.length, maxN) / batch) * 820,
    *batches(split, batch, _rng, maxN) {
      const sp = splitOf(split);
      const order = sp.epochOrder().subarray(0, cap(sp.length, maxN));
      for (let s = 0; s < order.length; s += batch) yield sp.batch(order.subarray(s, Math.min(order.length, s + batch)));
    },
    getState: () => ds.training.rng.getState(),
    setState: (s) => ds.training.rng.setState(s),
  };
}

export async function openSource(p: ClassifyParams, ctx: RunContext<unknown>): Promise<SeqSource> {
  if (p.dataset === 'mnist1d') return mnist1dSource(p.data ?? undefined);
  const root = p.data ?? process.env.GLE_SPEECH_DATA;
  if (!root) throw new UserError('the speech experiments need the data folder: --set data=PATH (an extracted speech_commands_v0.02, or a folder in its layout such as test/fixtures/speech-commands-mini)');
  return speechSource(root, ctx.seed, p.featureCache ?? undefined);
}
