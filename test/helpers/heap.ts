/**
 * Bytes allocated per step, as test/alloc.test.ts and test/helpers/alloc-case.ts measure it. V8 counts every newly
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
