/**
 * `gle report RUN_DIR... [--out DIR] [--metric acc] [--split test] [--no-figures] [--run-figures]` (or one SWEEP_DIR, with
 * `--x PARAM` for the final metric against a swept parameter): aggregates finished (or
 * interrupted) runs over seeds, prints one table per experiment (per-seed final values, mean ± std with ddof=0,
 * min/max) and writes report.md, report.csv and a learning-curve figure per experiment (SVG + PNG) into --out.
 */
import type { Command } from 'commander';
import { basename, resolve } from 'node:path';
import { writeReport } from '../../report/aggregate.js';
import { writeRunFigures } from '../../report/run-figures.js';
import { isSweepDir, writeSweepReport } from '../../sweep/report.js';
import { UserError } from '../../util/errors.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('aggregate run directories over seeds: table, report.md, report.csv, learning-curve figures')
    .argument('<runDirs...>', 'run directories (each with config.json and metrics.jsonl), or one sweep directory')
    .option('-o, --out <dir>', 'output directory', 'report')
    .option('-m, --metric <name>', 'metric to report (a field of the eval records, or of train records)', 'acc')
    .option('-s, --split <name>', 'eval split: test, val or train', 'test')
    .option('--no-figures', 'skip the learning-curve figures')
    .option('-x, --x <param>', 'a sweep directory only: also draw the final metric against this swept parameter (one line per setting with it taken out of the label)')
    .option('--run-figures', "also (re)draw each run's own figures into RUN/figures/ (loss per step, eval metrics per epoch)")
    .action(
      async (
        runDirs: string[],
        o: { out: string; metric: string; split: string; figures: boolean; runFigures?: boolean; x?: string },
      ) => {
        // a sweep directory: one line per setting over its seeds (src/sweep/report.ts)
        if (runDirs.length === 1 && isSweepDir(runDirs[0])) {
          const sr = await writeSweepReport(runDirs[0], o.out, { metric: o.metric, split: o.split, figures: o.figures, x: o.x });
          process.stdout.write(`${sr.text}
wrote ${sr.files.join(', ')}
`);
          return;
        }
        if (o.x) throw new UserError('--x needs one sweep directory (with sweep.json), not run directories');
        const rep = await writeReport(runDirs, o.out, { metric: o.metric, split: o.split, figures: o.figures });
        let runFigs = 0;
        if (o.runFigures) for (const d of runDirs) runFigs += (await writeRunFigures(d, { title: basename(resolve(d)) })).length;
        for (const w of rep.warnings) process.stderr.write(`gle report: warning: ${w}\n`);
        process.stdout.write(rep.table);
        process.stdout.write(`\nwrote ${rep.files.join(', ')}\n`);
        if (o.runFigures) process.stdout.write(`wrote ${runFigs} run figure files into RUN/figures/ of ${runDirs.length} runs\n`);
      },
    );
}
