/**
 * Combine `gle run yinyang` runs (e.g. one per mode, as in docs/RESULTS.md §14) into one test-accuracy figure and one
 * angle figure (mean ± sd over the seeds of each mode), and print the per-mode table at the last epoch every run
 * evaluated. Usage: node --import tsx scripts/yinyang-figures.ts OUT_PREFIX RUN_DIR...
 */
import { writeFileSync } from 'node:fs';
import { readMetrics } from '../src/report/metrics.js';
import { lineChartSvg, paletteColor, type LineSeries } from '../src/report/plot.js';
import { MODE_NAMES } from '../src/experiments/microcircuits.js';

const [prefix, ...dirs] = process.argv.slice(2);
if (!prefix || !dirs.length) {
  process.stderr.write('usage: yinyang-figures.ts OUT_PREFIX RUN_DIR...\n');
  process.exit(2);
}
const NAMES: Record<string, string> = MODE_NAMES;
const recs = dirs.flatMap((d) => readMetrics(d));
const modes = Object.keys(NAMES).filter((m) => recs.some((r) => r.mode === m));
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const sd = (a: number[]) => (a.length < 2 ? 0 : Math.sqrt(a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / (a.length - 1)));
// the last epoch at which every run (mode, seed) has an evaluation
const evals = recs.filter((r) => r.kind === 'eval');
const runs = [...new Set(evals.map((r) => `${r.mode}/${r.seed}`))];
const lastOf = (k: string) => Math.max(...evals.filter((r) => `${r.mode}/${r.seed}` === k).map((r) => r.epoch as number));
const last = Math.min(...runs.map(lastOf));
const acc: LineSeries[] = [], ang: LineSeries[] = [];
const lines: string[] = [`epoch ${last}`];
modes.forEach((m, i) => {
  const ev = evals.filter((r) => r.mode === m && (r.epoch as number) <= last);
  const eps = [...new Set(ev.map((r) => r.epoch as number))].sort((a, b) => a - b);
  const at = (e: number, key: string) => ev.filter((r) => r.epoch === e).map((r) => r[key] as number);
  const a = eps.map((e) => at(e, 'test_acc')), g = eps.map((e) => at(e, 'angle'));
  acc.push({ name: NAMES[m], x: eps, y: a.map(mean), lo: a.map((v) => mean(v) - sd(v)), hi: a.map((v) => mean(v) + sd(v)), color: paletteColor(i) });
  ang.push({ name: NAMES[m], x: eps, y: g.map(mean), lo: g.map((v) => mean(v) - sd(v)), hi: g.map((v) => mean(v) + sd(v)), color: paletteColor(i) });
  const fa = at(last, 'test_acc'), fg = at(last, 'angle'), a0 = at(0, 'angle');
  lines.push(`${m}: n=${fa.length} test acc ${(100 * mean(fa)).toFixed(2)} ± ${(100 * sd(fa)).toFixed(2)} %  angle ${mean(fg).toFixed(1)} ± ${sd(fg).toFixed(1)} (start ${mean(a0).toFixed(1)})  per seed acc ${fa.map((v) => (100 * v).toFixed(1)).join(' ')}  angle ${fg.map((v) => v.toFixed(1)).join(' ')}`);
});
const n = Math.min(...modes.map((m) => runs.filter((r) => r.startsWith(`${m}/`)).length));
writeFileSync(`${prefix}-test-accuracy.svg`, await lineChartSvg({ title: `Yin-Yang test accuracy (4-30-3, mean ± sd over ${n} seeds)`, xLabel: 'epoch', yLabel: 'test accuracy', xInteger: true, series: acc }));
writeFileSync(`${prefix}-angle.svg`, await lineChartSvg({ title: `∠(W, Bᵀ), hidden → output (mean ± sd over ${n} seeds)`, xLabel: 'epoch', yLabel: 'angle (degrees)', xInteger: true, yDomain: [0, 100], series: ang, hlines: [{ y: 90, label: 'unrelated' }] }));
process.stdout.write(lines.join('\n') + '\n');
