/** The median (the mean of the two middle values for an even count; NaN for none); Infinity entries sort last. */
export function median(a: ArrayLike<number>): number {
  const s = Array.from(a).sort((x, y) => x - y), n = s.length;
  if (!n) return NaN;
  return n % 2 ? s[(n - 1) / 2] : s[n / 2 - 1] === s[n / 2] ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
