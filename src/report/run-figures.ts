/**
 * Standard figures of one run directory (Node only), written to RUN/figures/ as SVG + PNG:
 *
 *  - `loss.svg/png`: every numeric train field named like a loss (`loss`, `*_loss`, `mse`) against `step`, log y.
 *  - `eval-<metric>.svg/png` for each numeric eval field (acc, loss, ...): one line per split against `epoch`.
 *
 * Returns the written paths. Runs without train or eval records just get fewer figures.
 */
import { join } from 'node:path';
import { saveFigure } from './figures.js';
import { readMetrics, type MetricRecord } from './metrics.js';
import { lineChartSvg, type LineSeries } from './plot.js';

const NON_METRIC = new Set(['kind', 'step', 't', 'epoch', 'split', 'lr', 'seed', 'wall_s']);

function numericKeys(records: MetricRecord[]): string[] {
  const keys = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) if (!NON_METRIC.has(k) && typeof r[k] === 'number') keys.add(k);
  return [...keys];
}

export async function writeRunFigures(runDir: string, opts: { title?: string; outDir?: string } = {}): Promise<string[]> {
  const metrics = readMetrics(runDir);
  const out = opts.outDir ?? join(runDir, 'figures');
  const title = opts.title ? `${opts.title}: ` : '';
  const written: string[] = [];
  const train = metrics.filter((r) => r.kind === 'train');
  const lossKeys = numericKeys(train).filter((k) => /(^|_)loss$|^mse$|^loss_/.test(k));
  if (lossKeys.length) {
    const series: LineSeries[] = lossKeys.map((k) => {
      const rows = train.filter((r) => typeof r[k] === 'number');
      return { name: k, x: rows.map((r, i) => (typeof r.step === 'number' ? r.step : i)), y: rows.map((r) => r[k] as number) };
    });
    const svg = await lineChartSvg({ title: `${title}training loss`, xLabel: 'step', yLabel: 'loss', logY: true, series });
    const p = saveFigure(out, 'loss', svg);
    written.push(p.svg, p.png);
  }
  const evals = metrics.filter((r) => r.kind === 'eval');
  for (const k of numericKeys(evals)) {
    const splits = [...new Set(evals.map((r) => String(r.split ?? 'eval')))];
    const series: LineSeries[] = [];
    for (const s of splits) {
      const rows = evals.filter((r) => String(r.split ?? 'eval') === s && typeof r[k] === 'number');
      if (!rows.length) continue;
      series.push({ name: s, x: rows.map((r, i) => (typeof r.epoch === 'number' ? r.epoch : i + 1)), y: rows.map((r) => r[k] as number) });
    }
    if (!series.length) continue;
    const logY = /loss|mse/.test(k);
    const svg = await lineChartSvg({ title: `${title}${k} per epoch`, xLabel: 'epoch', yLabel: k, logY, xInteger: true, series });
    const p = saveFigure(out, `eval-${k.replace(/[^A-Za-z0-9._-]+/g, '_')}`, svg);
    written.push(p.svg, p.png);
  }
  return written;
}
