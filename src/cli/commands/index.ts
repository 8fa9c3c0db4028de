/** The list of sub-commands, in the order `gle --help` shows them. Add one import and one entry per command. */
import type { Command } from 'commander';

export const commands: Array<(program: Command) => void> = [];
