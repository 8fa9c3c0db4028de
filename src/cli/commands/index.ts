/** The list of sub-commands, in the order `gle --help` shows them. Add one import and one entry per command. */
import type { Command } from 'commander';
import { register as simulate } from './simulate.js';
import { register as replay } from './replay.js';
import { register as run } from './run.js';
import { register as evalCmd } from './eval.js';
import { register as report } from './report.js';
import { register as mnist1d } from './mnist1d.js';
import { register as data } from './data.js';
import { register as lab } from './lab.js';
import { register as sweep } from './sweep.js';
import { register as worker } from './worker.js';

export const commands: Array<(program: Command) => void> = [simulate, replay, run, evalCmd, report, mnist1d, data, lab, sweep, worker];
