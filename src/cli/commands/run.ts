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
    .addOption(new Option('--backend <name>', 'kernel backend; webgpu: dense GLE classifiers (MNIST-1D, speech) trained on the GPU in float32 (optional package webgpu), other experiments refused').choices(['auto', 'js', 'wasm', 'native', 'webgpu']).default('auto'))
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
 * What each --quick run shows, measured (docs/RESULTS.md, "Quick runs"): seconds on the idle 2-core machine with the
 * native backend; a busy machine or the wasm backend takes a few times longer.
 */
export const QUICK_SHOWS: Record<string, string> = {
  lagline: '150k steps (~5 s): the student recovers the teacher\'s weights and tau_m to within 1e-3',
  lagnet: '30k steps + analysis (~5 s): the loss falls ~60x as the first layer approaches the teacher',
  'mnist1d-15k': 'all 4,000 training samples for 6 epochs (86k steps, ~37 s): test accuracy from 11 % to 45 % (seed 0; chance 10 %)',
  'mnist1d-42k': 'all 4,000 training samples for 6 epochs (86k steps, ~67 s): test accuracy from 17 % to 46 % (seed 0; chance 10 %)',
  'mnist1d-lagnet': 'all 4,000 training samples for 6 epochs (86k steps, ~14 s): test accuracy from 14 % to 59 % (seed 0; chance 10 %)',
  gsc: '1 epoch of 64 clips of --data: checks the speech pipeline end to end; learning takes far longer',
  'gsc-small': '2 epochs of 128 clips of --data: on the 616-clip synthetic set the validation accuracy rises above chance (12 classes)',
  'mnist1d-baseline': '500 Adam steps of the stock MLP (~4 s): test accuracy 61 % (seed 0; chance 10 %; the full 6,000 steps reach ~65 %)',
  'sal-two-neuron': '300 epochs (~3 s): SAL pulls the two weights together, |W01 - W10| from 0.60 at epoch 100 to 0.27 (the full run: 0.04 at 500)',
  'sal-sampling': 'noise 0 and 1, 301 short iterations (~3 s): at synaptic noise 1 SAL cuts the asymmetry from 1.17 to 0.69; D_KL needs the full run',
  'sal-microcircuit': '4 seeds, 6 epochs (~2 s): SAL and B = W^T get the feedback sign right on every seed, FA on 3 of 4; the MSE gap needs the full run',
  'sal-symmnet': 'modes fa and sal, 2 epochs of 512 digits, two short SAL phases (~25 s): FC angles(W, B) 83 / 76 / 67 deg with SAL, 90 with FA (seed 0); accuracy needs the full run',
  'microcircuit-bars': 'presentation times 5 and 100 steps, 2 seeds, 150 epochs (~6 s): LE reaches 63 % / 94 % validation accuracy, the original circuit 13 % / 38 %',
  'microcircuit-mimic': '100 epochs (~3 s): the original circuit\'s MSE falls from 0.41 to 3e-4; at seed 0 the LE student\'s fixed top-down weight has the wrong sign and its hidden weight runs away (seeds 1 and 3: LE reaches ~1e-5)',
  yinyang: '2 seeds x 4 modes, 2 epochs of 600 samples (~10 s): B = W^T stays at 0 deg; PAL, FA and noise-only all turn from ~90 to ~70 deg as W learns (W aligns with B); test accuracy ~55 %; the separation needs the long run',
  'pal-mnist': 'PAL and FA, 1 epoch of 50 digits, 50 test digits (~15 s): checks the 784-100-10 circuit end to end (accuracy at chance); learning takes far longer',
  'le-mnist-mlp': '2 epochs of 2,048 digits, batch 128, 20 steps per batch (~40 s under load): test accuracy LE 86.6 %, BP twin 83.8 % (seed 0; chance 10 %)',
  'le-mnist-lenet': '2 epochs of 1,024 digits, batch 64, 10 steps of dt 1 per batch (~100 s under load): test accuracy LE 23 % then 43 %, BP twin 57 % (seed 0; chance 10 %)',
  'le-cifar10-lenet': 'needs --set data=DIR (the binary batches): 1 epoch of 256 images, batch 32, 10 steps per batch: checks the pipeline end to end',
  'vle-chain': '60k steps, 1 seed (~9 s): B = W^T and learned B reach the teacher (loss ~0), a constant B = -1 blows up; learned B within 3.4 % of W1/G(omega) at omega 0.5, 1, 2',
  'vle-network': '60k steps, 2 seeds (~15 s): random-frequency test loss of B = W^T 0.002, FA 0.004, learned B 0.037 (its weights grow: the open problem of docs/RESULTS.md)',
  'temporal-xor': '60k steps, 2 seeds (~10 s): the start of the lag-line XOR task; the loss plateau is left only in the full run (docs/RESULTS.md)',
};
