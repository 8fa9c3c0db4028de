/** `gle worker --redis URL`: take sweep rows from a BullMQ queue and run them (see src/sweep/queue.ts). */
import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';
import { DEFAULT_QUEUE, runWorker } from '../../sweep/queue.js';

export function register(program: Command): void {
  program
    .command('worker')
    .description('run sweep rows from a Redis queue (filled by `gle sweep enqueue`), one process per row, until Ctrl-C')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('-c, --concurrency <n>', 'rows at once', (v) => Number(v), 1)
    .option('--lock-seconds <s>', "how long a row stays with a worker that stopped answering before another takes it", (v) => Number(v), 30)
    .option('--exit-when-idle', 'exit once the queue has nothing left to run', false)
    .option('--id <name>', 'worker name in logs (default host:pid)')
    .action(async (o: { redis: string; queue: string; concurrency: number; lockSeconds: number; exitWhenIdle: boolean; id?: string }) => {
      if (!Number.isInteger(o.concurrency) || o.concurrency < 1) throw new UserError(`--concurrency must be a positive integer, got ${o.concurrency}`);
      if (!(o.lockSeconds >= 1)) throw new UserError(`--lock-seconds must be at least 1, got ${o.lockSeconds}`);
      const r = await runWorker(o.redis, o);
      process.stdout.write(`worker: ${r.finished.length} rows finished${r.failed.length ? `, ${r.failed.length} attempts failed` : ''}\n`);
    });
}
