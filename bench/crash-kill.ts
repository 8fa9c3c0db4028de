/**
 * Long crash experiment (not a test): SIGKILL `gle run` at random instants — with GLE_TEST_CKPT_PAUSE_MS making the
 * checkpoint writes long enough for kills to land inside them — resume each time, and compare every finished run with
 * an uninterrupted reference (metrics.jsonl/csv byte for byte, summary.json without timing, checkpoint files byte for
 * byte). Usage:
 *
 *   npm run build && GLE_CRASH_COMPILED=1 nice -n 10 node --import tsx bench/crash-kill.ts [--kills 200] [--per-run 4]
 *     [--seed 1] [--out /tmp/gle-crash] [--mnist-every 4]
 *
 * (GLE_CRASH_COMPILED=1 runs the compiled CLI, which starts in a fraction of tsx's time; without it, the sources.)
 * Runs are LagLine (teacher-student, checkpoint at every logging point), every
 * --mnist-every'th one MNIST-1D (classify, checkpoint per epoch). Prints one line per run and a final tally; exit 1 if any run was lost or differs.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { crashRun, gle } from '../test/helpers/crash.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const target = Number(arg('kills', '200'));
const perRun = Number(arg('per-run', '4'));
let seed = Number(arg('seed', '1'));
const root = arg('out', '/tmp/gle-crash');
const mnistEvery = Number(arg('mnist-every', '4'));
const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;

const configs = [
  { name: 'lagline', args: ['lagline', '--quick', '--set', 'initSteps=1000', '--set', 'initTeacherTau=500', '--set', 'trainSteps=2000', '--set', 'finalWindows=[10,20]', '--progress', 'off', '--checkpoint-seconds', '0'], maxMs: 2500 },
  { name: 'mnist1d', args: ['mnist1d-15k', '--quick', '--set', 'maxTrain=150', '--set', 'maxTest=50', '--set', 'batch=50', '--set', 'testBatch=50', '--set', 'epochs=3', '--progress', 'off'], maxMs: 6000 },
];
rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });
const t0 = Date.now();
for (const c of configs) {
  const r = await gle(['run', ...c.args, '--out', join(root, `${c.name}-ref`)]);
  if (r.code !== 0) throw new Error(`reference ${c.name} failed: ${r.stderr}`);
}
let kills = 0, runs = 0, lost = 0, differing = 0, restarts = 0;
const inSave = { staging: 0, betweenRenames: 0, cleanup: 0 };
while (kills < target) {
  const c = configs[runs % mnistEvery === mnistEvery - 1 ? 1 : 0];
  const dir = join(root, `${c.name}-${runs}`);
  const r = await crashRun(c.args, dir, join(root, `${c.name}-ref`), perRun, rand, 0, c.maxMs);
  runs++;
  kills += r.kills;
  restarts += r.restarts;
  for (const k of Object.keys(inSave) as (keyof typeof inSave)[]) inSave[k] += r.inSave[k];
  if (r.errors.length) lost++;
  if (r.diffs.length) differing++;
  console.log(`${c.name} run ${runs}: ${r.kills} kills, ${r.attempts} starts${r.restarts ? `, ${r.restarts} fresh restarts` : ''}, in save ${r.inSave.staging}/${r.inSave.betweenRenames}/${r.inSave.cleanup} -> ${r.errors.length ? `LOST ${r.errors.join(' | ')}` : r.diffs.length ? `DIFFERS ${r.diffs.join(', ')}` : 'identical'}`);
  if (!r.errors.length && !r.diffs.length) rmSync(dir, { recursive: true, force: true });
}
console.log(`total: ${kills} kills over ${runs} runs (${restarts} before the first config.json; inside a checkpoint save: ${inSave.staging} while staging, ${inSave.betweenRenames} between the renames, ${inSave.cleanup} before the old copy was removed), ${lost} lost, ${differing} differing; ${((Date.now() - t0) / 60000).toFixed(1)} min`);
process.exitCode = lost || differing ? 1 : 0;
