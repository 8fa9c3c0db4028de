/**
 * An error caused by what the user gave us (a spec, a data file, a checkpoint, a flag). The CLI prints its
 * message as one line, without a stack, and exits with `exitCode` (2 by default).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
