/** The numbers of a nested array (a JSON tensor such as [[1, 2], [3, 4]]), in row-major order; a number is [x]. */
export function flattenNested(x: unknown): number[] {
  const out: number[] = [];
  const rec = (y: unknown) => {
    if (Array.isArray(y)) for (const z of y) rec(z);
    else out.push(Number(y));
  };
  rec(x);
  return out;
}
