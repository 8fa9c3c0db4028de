/**
 * One loss figure from `gle run vle-network` / `gle run temporal-xor` runs (docs/RESULTS.md §27): per variant the
 * median over seeds of the logged training loss, with the band between the 25th and 75th percentiles.
 * Usage: node --import tsx scripts/vle-figures.ts OUT.svg TITLE RUN_DIR [RUN_DIR@LABEL ...]
 *   RUN_DIR         its variants transpose (B = Wᵀ), learned (learned B) and fixed (fixed random B)
 *   RUN_DIR@LABEL   only its learned variant, named LABEL (e.g. a run with --set feedbackGain=false)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { lineChartSvg, type LineSeries } from '../src/report/plot.js';

const [out, title, ...runs] = process.argv.slice(2);
if (!out || !title || !runs.length) {
  console.error('usage: vle-figures.ts OUT.svg TITLE RUN_DIR [RUN_DIR@LABEL ...]');
  process.exit(2);
}
const names: Record<string, string> = { transpose: 'B = Wᵀ', learned: 'learned B (rule vle, B → W/Ĝ)', fixed: 'fixed random B (FA)' };
const q = (a: number[], p: number) => {
  const s = [...a].sort((x, y) => x - y), i = p * (s.length - 1), lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
};
const series: LineSeries[] = [];
for (const run of runs) {
  const [dir, label] = run.split('@');
  const rows = readFileSync(`${dir}/metrics.jsonl`, 'utf8').split('\n').filter((l) => l.includes('"train"')).map((l) => JSON.parse(l) as Record<string, number>);
  const t = rows.map((r) => r.t);
  for (const v of label ? ['learned'] : ['transpose', 'learned', 'fixed']) {
    const keys = Object.keys(rows[0]).filter((k) => k.startsWith(`loss ${v} s`));
    if (!keys.length) continue;
    const at = (p: number) => rows.map((r) => Math.min(1e3, Math.max(1e-16, q(keys.map((k) => (Number.isFinite(r[k]) ? r[k] : 1e3)), p))));
    series.push({ name: label ?? names[v], x: t, y: at(0.5), lo: at(0.25), hi: at(0.75), ...(label ? { dash: true } : {}) });
  }
}
writeFileSync(out, await lineChartSvg({ title, xLabel: 'time (model time units; dt = 0.05)', yLabel: 'training loss (MSE)', logY: true, series }));
console.log(`wrote ${out}`);
