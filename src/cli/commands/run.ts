import type { Command } from 'commander';
import { Option } from 'commander';
import { runExperiment } from '../../experiments/runner.js';
import { EXPERIMENTS } from '../../experiments/registry.js';
import { UserError } from '../../util/errors.js';

function intArg(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v)) throw new UserError(`${name} must be a non-negative integer, got '${v}'`);
    return Number(v);
  };
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run an experiment (see `gle list`) into a run directory: config, metrics, checkpoint, figures')
    .argument('[experiment]', 'experiment name')
    .option('--seed <n>', 'random seed', intArg('--seed'), 0)
    .option('--out <dir>', 'run directory (default runs/<experiment>[-<model>]-seed<N>[-quick])')
    .option('--quick', 'a shortened run (seconds to a few minutes)', false)
    .option('--set <key=value...>', 'override a config parameter (dotted path; value parsed as JSON when possible)', (v: string, prev: string[] = []) => [...prev, v])
    .addOption(new Option('--backend <name>', 'kernel backend').choices(['auto', 'js', 'wasm', 'native']).default('auto'))
    .addOption(new Option('--dtype <dtype>', 'floating-point precision').choices(['float32', 'float64']))
    .option('--data <path>', 'data location for experiments that take one (speech: an extracted speech_commands_v0.02 folder)')
    .option('--resume <dir>', 'continue an interrupted run from its last checkpoint (--set may extend it, e.g. epochs=200)')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'plain', 'off']).default('auto'))
    .option('--max-seconds <s>', 'stop cleanly after this many seconds', (v) => Number(v))
    .action(async (experiment: string | undefined, o) => {
      if (!experiment && !o.resume) throw new UserError(`name an experiment (one of ${EXPERIMENTS.map((e) => e.name).join(', ')}) or --resume DIR`);
      const s = await runExperiment({
        experiment: experiment ?? '',
        seed: o.seed,
        out: o.out,
        quick: o.quick,
        set: [...(o.set ?? []), ...(o.data ? [`data=${JSON.stringify(o.data)}`] : [])],
        backend: o.backend,
        dtype: o.dtype,
        resume: o.resume,
        progress: o.progress,
        maxSeconds: o.maxSeconds,
      });
      const fin = Object.entries(s.final)
        .map(([k, v]) => `${k}=${Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4 ? v.toExponential(3) : v.toFixed(4)}`)
        .join(' ');
      process.stdout.write(`${s.experiment} seed ${s.seed}: ${s.steps} steps, ${s.steps_per_s.toLocaleString('en-US')} steps/s while stepping (${s.backend}), ${s.wall_s}s in all${s.interrupted ? ' [stopped early]' : ''}\n  ${fin}\n  run directory: ${s.dir}\n`);
      if (s.interrupted) process.exitCode = 130;
    });

  program
    .command('list')
    .description('list the experiments, and what each --quick run shows')
    .action(() => {
      const w = Math.max(...EXPERIMENTS.map((e) => e.name.length));
      for (const e of EXPERIMENTS) {
        process.stdout.write(`${e.name.padEnd(w)}  ${e.description}\n`);
        const q = QUICK_SHOWS[e.name];
        if (q) process.stdout.write(`${' '.repeat(w)}  --quick: ${q}\n`);
      }
    });
}

/**
 * What each --quick run shows, measured (docs/RESULTS.md, "Quick runs"): seconds on an idle 2-core machine with the
 * native backend; a busy machine or the wasm backend takes a few times longer.
 */
export const QUICK_SHOWS: Record<string, string> = {
  lagline: '150k steps (~5 s): the student recovers the teacher\'s weights and tau_m to within 1e-3',
  lagnet: '30k steps + analysis (~5 s): the loss falls ~60x as the first layer approaches the teacher',
  'mnist1d-15k': 'all 4,000 training samples for 6 epochs (86k steps, ~20 s): test accuracy from 11 % to 45 % (seed 0; chance 10 %)',
  'mnist1d-42k': 'all 4,000 training samples for 6 epochs (86k steps, ~35 s): test accuracy from 17 % to 46 % (seed 0; chance 10 %)',
  'mnist1d-lagnet': 'all 4,000 training samples for 6 epochs (86k steps, ~15 s): test accuracy from 14 % to 59 % (seed 0; chance 10 %)',
  gsc: '1 epoch of 64 clips of --data: checks the speech pipeline end to end; learning takes far longer',
  'gsc-small': '2 epochs of 128 clips of --data: on the 616-clip synthetic set the validation accuracy rises above chance (12 classes)',
};
