import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Bytes allocated per step, as the allocation tests measure it (test/alloc.test.ts, the cases in test/helpers/). V8 counts every newly
 * allocated object in `heapUsed` until the next scavenge, so the heap growth over a chunk of steps is the number of
 * bytes that chunk allocated (a chunk during which a GC ran shows a drop instead). The median over many chunks is
 * robust to the odd GC caused by anything else in the process (test runner, JIT).
 */
export function medianBytesPerStep(step: (i: number) => void, chunk = 2000, chunks = 41): number {
  const per: number[] = [];
  let i = 0;
  for (let c = 0; c < chunks; c++) {
    const before = process.memoryUsage().heapUsed;
    for (let k = 0; k < chunk; k++) step(i++);
    per.push((process.memoryUsage().heapUsed - before) / chunk);
  }
  per.sort((a, b) => a - b);
  return per[chunks >> 1];
}

/**
 * Run an allocation case in a fresh Node process (other tests' nets and V8 type feedback stay out of the count):
 * `script` with `args`, its last line of output being {"real": bytes/step, "ctl": bytes/step of an allocating
 * control}. Always with --no-concurrent-recompilation (V8 optimises on the main thread, so the verdict does not depend
 * on whether a busy machine's background compiler finished during the warm-up), plus `flags`; asserts a clean exit.
 */
export function runAllocCase(script: URL, args: string[], opts: { flags?: string[]; timeout?: number } = {}): { real: number; ctl: number } {
  const r = spawnSync(process.execPath, [...(opts.flags ?? []), '--no-concurrent-recompilation', '--import', 'tsx', fileURLToPath(script), ...args], { encoding: 'utf8', timeout: opts.timeout });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { real: number; ctl: number };
}

/**
 * The measurement of a case script that runAllocCase starts (test/helpers/*-case.ts): `warm` steps of `step` and of an
 * allocating control (the step plus one small typed array), then the median bytes per step of each over `chunks`
 * chunks of `chunk` steps, printed as the JSON line runAllocCase reads.
 */
export function printAllocCase(step: (i: number) => void, warm: number, chunk: number, chunks: number): void {
  const probe = new Float32Array(4);
  let sink = 0;
  const control = (i: number) => {
    step(i);
    sink += probe.slice(0, 1).length;
  };
  for (let i = 0; i < warm; i++) step(i);
  for (let i = 0; i < warm; i++) control(i);
  const ctl = medianBytesPerStep(control, chunk, chunks);
  const real = medianBytesPerStep(step, chunk, chunks);
  console.log(JSON.stringify({ real, ctl, sink: sink > 0 }));
}
