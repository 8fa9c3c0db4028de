import type { Command } from 'commander';
import { Option } from 'commander';
import { runExperiment } from '../../experiments/runner.js';
import { EXPERIMENTS } from '../../experiments/registry.js';
import { UserError } from '../../util/errors.js';

function intArg(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) > 2 ** 32 - 1) throw new UserError(`${name} must be a non-negative integer (at most ${2 ** 32 - 1}), got '${v}'`);
    return Number(v);
  };
}

/** A number flag: finite and > `above`. */
function numArg(name: string, above: number) {
  return (v: string) => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || !(x > above)) throw new UserError(`${name} must be a number ${above < 0 ? '>= 0' : `> ${above}`}, got '${v}'`);
    return x;
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
    .option('--max-seconds <s>', 'stop cleanly after this many seconds', numArg('--max-seconds', 0))
    .option('--checkpoint-seconds <s>', 'teacher-student runs: checkpoint at the first logging point after this many seconds (0 = at every one; classify runs checkpoint per --set checkpointEvery epochs)', numArg('--checkpoint-seconds', -1), 60)
    .action(async (experiment: string | undefined, o, cmd: Command) => {
      if (!experiment && !o.resume) throw new UserError(`name an experiment (one of ${EXPERIMENTS.map((e) => e.name).join(', ')}) or --resume DIR`);
      if (o.resume) {
        // a resumed run keeps its experiment, seed, --quick, dtype and directory: giving them again is a mistake
        if (experiment) throw new UserError(`--resume continues the run in ${o.resume}; do not name an experiment with it`);
        const fixed = ['seed', 'quick', 'dtype', 'out'].filter((k) => cmd.getOptionValueSource(k) === 'cli');
        if (fixed.length) throw new UserError(`--resume keeps the run's ${fixed.map((k) => `--${k}`).join(', ')}; drop ${fixed.length > 1 ? 'them' : 'it'}`);
      }
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
        checkpointSeconds: o.checkpointSeconds,
      });
      const fin = Object.entries(s.final)
        .map(([k, v]) => `${k}=${Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4 ? v.toExponential(3) : v.toFixed(4)}`)
        .join(' ');
      process.stdout.write(`${s.experiment} seed ${s.seed}: ${s.steps} steps in ${s.wall_s}s (${s.steps_per_s} steps/s, ${s.backend})${s.interrupted ? ' [stopped early]' : ''}\n  ${fin}\n  run directory: ${s.dir}\n`);
      if (s.interrupted) process.exitCode = 130;
    });

  program
    .command('list')
    .description('list the experiments')
    .action(() => {
      const w = Math.max(...EXPERIMENTS.map((e) => e.name.length));
      for (const e of EXPERIMENTS) process.stdout.write(`${e.name.padEnd(w)}  ${e.description}\n`);
    });
}
