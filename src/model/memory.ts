/**
 * Memory needed by a network before anything is allocated (browser-safe). Specs are checked against a limit (by
 * default 4 GiB; the Node entry sets it to the machine's memory) so a layer of 1e9 neurons or a 1e5 x 1e5 weight
 * matrix is refused up front with the amount it would need, instead of crashing the process while allocating.
 */

let limitBytes = 4 * 2 ** 30;

/** The largest number of values one buffer may hold (typed arrays and the kernels index with 32-bit integers). */
export const MAX_BUFFER_VALUES = 2 ** 31 - 1;

/** Set the memory a network may use (bytes), e.g. to the machine's memory. */
export function setMemoryLimit(bytes: number): void {
  if (Number.isFinite(bytes) && bytes > 0) limitBytes = bytes;
}

export function memoryLimit(): number {
  return limitBytes;
}

export function formatBytes(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toPrecision(3)} GiB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toPrecision(3)} MiB`;
  return `${Math.ceil(b / 1024)} KiB`;
}

/**
 * Bytes a network of these layer sizes needs at batch size `batch`: parameters, gradients and optimiser state
 * (4 copies), the spec's per-neuron time constants (JS numbers), and the per-batch state and scratch rows.
 */
export function estimateNetworkBytes(inputSize: number, sizes: number[], dtype: 'float32' | 'float64', batch = 1): number {
  const s = dtype === 'float64' ? 8 : 4;
  let total = 0;
  let nIn = inputSize;
  for (const n of sizes) {
    const p = n * nIn + 4 * n;
    total += 4 * p * s + 2 * n * 8 + batch * (2 * (8 * n + nIn) + 4 * n) * s;
    nIn = n;
  }
  return total + batch * (inputSize + 3 * nIn) * s;
}

/**
 * Problems with the sizes of a network (one line each; empty when it fits): a buffer beyond MAX_BUFFER_VALUES, or
 * more memory than the limit.
 */
export function sizeProblems(inputSize: number, sizes: number[], dtype: 'float32' | 'float64', batch = 1): string[] {
  const out: string[] = [];
  let nIn = inputSize;
  sizes.forEach((n, i) => {
    if (n * nIn > MAX_BUFFER_VALUES) out.push(`layers[${i}]: a ${n} x ${nIn} weight matrix has ${n * nIn} values, more than one buffer can hold (${MAX_BUFFER_VALUES})`);
    else if (batch * Math.max(n, nIn) > MAX_BUFFER_VALUES) out.push(`layers[${i}]: batch ${batch} x ${Math.max(n, nIn)} state values are more than one buffer can hold (${MAX_BUFFER_VALUES})`);
    nIn = n;
  });
  const need = estimateNetworkBytes(inputSize, sizes, dtype, batch);
  if (need > limitBytes)
    out.push(`the network needs about ${formatBytes(need)} of memory (${dtype}${batch > 1 ? `, batch ${batch}` : ''}), more than the ${formatBytes(limitBytes)} available`);
  return out;
}

/**
 * A layer's own size, checked while a spec is resolved (before anything per neuron is expanded): `what` values
 * (neurons, or a weight tensor's entries) at `bytesEach` bytes at least. One line, or null when it fits.
 */
export function countProblem(where: string, what: string, n: number, bytesEach: number): string | null {
  if (n > MAX_BUFFER_VALUES) return `${where}: ${n} ${what} are more than one buffer can hold (${MAX_BUFFER_VALUES})`;
  if (n * bytesEach > limitBytes) return `${where}: ${n} ${what} need at least ${formatBytes(n * bytesEach)} of memory, more than the ${formatBytes(limitBytes)} available`;
  return null;
}
