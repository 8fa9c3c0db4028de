/**
 * The `gle` command. Each sub-command lives in src/cli/commands/<name>.ts and exports
 * `register(program: Command): void`. Errors thrown by commands are printed as one line and exit non-zero.
 */
import { Command, CommanderError } from 'commander';
import { UserError } from '../util/errors.js';
import { SpecError } from '../model/spec.js';
import { commands } from './commands/index.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('gle')
    .description('Generalized Latent Equilibrium: simulate, train, replay and inspect GLE networks')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      return 2; // a usage error (unknown option, invalid choice, missing argument): bad input, like UserError
    }
    if (e instanceof UserError) {
      process.stderr.write(`gle: error: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof SpecError) {
      // a network spec made invalid by a flag or --set (files are checked where they are read, naming the file)
      process.stderr.write(`gle: error: ${e.issues.length === 1 ? e.message : `invalid network spec: ${e.issues.join('; ')}`}\n`);
      return 2;
    }
    process.stderr.write(`gle: error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
