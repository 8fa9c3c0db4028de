/**
 * `gle report SWEEP_DIR` (Node only): one line per setting (rows with the same label), mean ± sd over its seeds of
 * the final metric and of the best value over training (std with ddof = 0, as numpy's default and the papers'
 * plotting code), n, the mean wall time per run, the paper's value where the sweep file gives one (`paper:`), and the
 * rows that are missing (not finished) with their state. Writes report.md, report.csv and a figure of the mean
 * learning curve per setting into the output directory; with `--x PARAM`, also a figure of the final metric against
 * that swept parameter (one line per setting with PARAM taken out of its label, mean ± sd over seeds).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadRun, runResult, stats, type Stats } from '../report/aggregate.js';
import { csvLine, writeAtomic } from '../report/metrics.js';
import { lineChartSvg, type LineSeries } from '../report/plot.js';
import { saveFigure } from '../report/figures.js';
import { loadSweep, rowDir, rowStatus, type RowStatus } from './dir.js';
import { UserError } from '../util/errors.js';

export interface SettingReport {
  label: string;
  experiment: string;
  paper: string | null;
  /** the setting's --set assignments (key=JSON), as its rows run them */
  set: string[];
  seeds: number[];
  finals: number[];
  final: Stats;
  best: Stats;
  wall: Stats;
  missing: Array<{ index: number; seed: number; status: RowStatus }>;
  curve: { x: number[]; y: number[]; xLabel: string } | null;
}

export interface SweepReport {
  name: string;
  dir: string;
  metric: string;
  split: string;
  settings: SettingReport[];
  rows: number;
  done: number;
  /** sum of the finished runs' wall times */
  cpuSeconds: number;
}

export function isSweepDir(dir: string): boolean {
  return existsSync(join(dir, 'sweep.json'));
}

export function aggregateSweep(dir: string, metric = 'acc', split = 'test'): SweepReport {
  const sw = loadSweep(dir);
  const by = new Map<string, SettingReport>();
  let done = 0, cpu = 0;
  const acc = new Map<string, { best: number[]; wall: number[]; curves: Array<{ x: number[]; y: number[]; xLabel: string }> }>();
  for (const row of sw.rows) {
    let s = by.get(row.label);
    if (!s) {
      s = { label: row.label, experiment: row.experiment, paper: row.paper ?? null, set: row.set, seeds: [], finals: [], final: stats([]), best: stats([]), wall: stats([]), missing: [], curve: null };
      by.set(row.label, s);
      acc.set(row.label, { best: [], wall: [], curves: [] });
    }
    const st = rowStatus(sw.dir, row.index);
    if (st !== 'done') {
      s.missing.push({ index: row.index, seed: row.seed, status: st });
      continue;
    }
    done++;
    const run = loadRun(rowDir(sw.dir, row.index));
    const r = runResult(run, metric, split);
    s.seeds.push(row.seed);
    s.finals.push(r.final);
    const fin = (run.summary?.final ?? {}) as Record<string, number>;
    const bestKey = `best_${split}_${metric}`;
    const best = typeof fin[bestKey] === 'number' ? fin[bestKey] : r.curve.y.length ? Math.max(...r.curve.y) : r.final;
    const a = acc.get(row.label)!;
    a.best.push(best);
    const w = typeof run.summary?.wall_s === 'number' ? (run.summary.wall_s as number) : NaN;
    if (Number.isFinite(w)) {
      a.wall.push(w);
      cpu += w;
    }
    a.curves.push(r.curve);
  }
  for (const s of by.values()) {
    const a = acc.get(s.label)!;
    s.final = stats(s.finals);
    s.best = stats(a.best);
    s.wall = stats(a.wall);
    // mean curve over the seeds at the x values all of them share
    const cs = a.curves;
    if (cs.length) {
      const xs = cs[0].x.filter((x) => cs.every((c) => c.x.includes(x)));
      s.curve = { xLabel: cs[0].xLabel, x: xs, y: xs.map((x) => cs.reduce((a, c) => a + c.y[c.x.indexOf(x)], 0) / cs.length) };
    }
  }
  return { name: sw.name, dir: sw.dir, metric, split, settings: [...by.values()], rows: sw.rows.length, done, cpuSeconds: cpu };
}

function pctLike(r: SweepReport): boolean {
  return /acc/i.test(r.metric) && r.settings.every((s) => s.finals.every((v) => v >= 0 && v <= 1));
}

function ms(s: Stats, pct: boolean): string {
  if (!s.n) return '-';
  const f = (v: number) => (pct ? (100 * v).toFixed(2) : Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5 ? v.toExponential(3) : v.toPrecision(5));
  return `${f(s.mean)} ± ${f(s.std)}`;
}

function missingText(s: SettingReport): string {
  return s.missing.map((m) => `#${m.index} (seed ${m.seed}, ${m.status})`).join(', ');
}

export function sweepMarkdown(r: SweepReport, figure: string | null): string {
  const pct = pctLike(r);
  const unit = pct ? ' [%]' : '';
  const hasPaper = r.settings.some((s) => s.paper);
  const head = ['setting', 'experiment', 'n', `final ${r.split} ${r.metric}${unit}`, `best over training${unit}`, ...(hasPaper ? ['paper'] : []), 'wall per run [s]', 'missing rows'];
  const lines = [
    `# Sweep ${r.name}`,
    '',
    `${r.done} of ${r.rows} rows finished; mean ± sd over seeds, sd with ddof = 0 (numpy's default); ${r.dir}`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((h, i) => (i < 2 || h === 'missing rows' || h === 'paper' ? '---' : '---:')).join('|')}|`,
    ...r.settings.map((s) => `| ${[s.label, s.experiment, String(s.final.n), ms(s.final, pct), ms(s.best, pct), ...(hasPaper ? [s.paper ?? ''] : []), s.wall.n ? s.wall.mean.toFixed(1) : '-', missingText(s) || 'none'].join(' | ')} |`),
    '',
    `Sum of the finished runs' wall times: ${(r.cpuSeconds / 3600).toFixed(2)} h.`,
    '',
  ];
  if (figure) lines.push(`![mean learning curve per setting](${figure})`, '');
  return lines.join('\n');
}

export function sweepCsv(r: SweepReport): string {
  const rows = [['setting', 'experiment', 'n', 'final_mean', 'final_std_ddof0', 'best_mean', 'best_std_ddof0', 'paper', 'wall_mean_s', 'seeds', 'finals', 'missing_rows'].join(',')];
  for (const s of r.settings) {
    rows.push(
      csvLine([s.label, s.experiment, s.final.n, s.final.mean, s.final.std, s.best.mean, s.best.std, s.paper ?? '', s.wall.n ? s.wall.mean : '', s.seeds.join(' '), s.finals.join(' '), s.missing.map((m) => m.index).join(' ')]).replace(/\n$/, ''),
    );
  }
  return rows.join('\n') + '\n';
}

/**
 * The final metric against one swept parameter: the settings that set `key` to a number, grouped into lines by their
 * label with the `key=value` part taken out (the label's other `k=v` parts moved to its front), each line's points sorted by the value (mean and sd over seeds; settings
 * without finished rows are left out). Throws UserError when no setting sets `key` to a number.
 */
export function finalVsParam(r: SweepReport, key: string): Array<{ name: string; x: number[]; mean: number[]; sd: number[]; n: number[] }> {
  const lines = new Map<string, Array<{ x: number; mean: number; sd: number; n: number }>>();
  let any = false;
  for (const s of r.settings) {
    const a = s.set.find((e) => e.startsWith(`${key}=`));
    const v = a === undefined ? NaN : Number(JSON.parse(a.slice(key.length + 1)));
    if (!Number.isFinite(v)) continue;
    any = true;
    if (!s.final.n) continue;
    // the other swept values first (a long group label may be cut short in the legend)
    const toks = s.label.split(' ').filter((t) => !t.startsWith(`${key}=`));
    const swept = toks.filter((t) => /^[\w.]+=\S+$/.test(t));
    const name = [...swept, ...toks.filter((t) => !swept.includes(t))].join(' ') || s.experiment;
    if (!lines.has(name)) lines.set(name, []);
    lines.get(name)!.push({ x: v, mean: s.final.mean, sd: s.final.std, n: s.final.n });
  }
  if (!any) {
    const keys = [...new Set(r.settings.flatMap((s) => s.set.map((e) => e.slice(0, e.indexOf('=')))))];
    throw new UserError(`--x: no setting of sweep ${r.name} sets '${key}' to a number (its parameters: ${keys.join(', ') || 'none'})`);
  }
  return [...lines].map(([name, pts]) => {
    pts.sort((a, b) => a.x - b.x);
    return { name, x: pts.map((p) => p.x), mean: pts.map((p) => p.mean), sd: pts.map((p) => p.sd), n: pts.map((p) => p.n) };
  });
}

export async function writeSweepReport(dir: string, outDir: string, o: { metric?: string; split?: string; figures?: boolean; x?: string } = {}): Promise<{ text: string; files: string[] }> {
  const r = aggregateSweep(dir, o.metric ?? 'acc', o.split ?? 'test');
  const vs = o.x ? finalVsParam(r, o.x) : null;
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  /** write figures/NAME.svg and .png (saveFigure makes the folder); its path relative to outDir for report.md */
  const figure = (name: string, svg: string): string => {
    const saved = saveFigure(join(outDir, 'figures'), name, svg);
    files.push(saved.svg, saved.png);
    return `figures/${basename(saved.svg)}`;
  };
  const pct = pctLike(r), unit = pct ? ' [%]' : '';
  let fig: string | null = null;
  let figX: string | null = null;
  if (vs && o.x) {
    const f = pct ? 100 : 1;
    const xs = vs.flatMap((l) => l.x);
    const logX = xs.every((x) => x > 0) && Math.max(...xs) / Math.min(...xs) >= 20;
    const series: LineSeries[] = vs.map((l) => ({
      name: l.name, x: l.x, y: l.mean.map((v) => f * v),
      ...(l.n.some((n) => n > 1) ? { lo: l.mean.map((v, i) => f * (v - l.sd[i])), hi: l.mean.map((v, i) => f * (v + l.sd[i])) } : {}),
    }));
    const svg = await lineChartSvg({ title: `${r.name}: final ${r.split} ${r.metric} vs ${o.x}`, xLabel: o.x, yLabel: `final ${r.split} ${r.metric}${unit}`, logX, series });
    figX = figure(`sweep-${o.x.replace(/[^\w.-]/g, '_')}`, svg);
  }
  const withCurves = r.settings.filter((s) => s.curve && s.curve.x.length > 1);
  if (o.figures !== false && withCurves.length) {
    const series: LineSeries[] = withCurves.map((s) => ({ name: s.label, x: s.curve!.x, y: s.curve!.y.map((v) => (pct ? 100 * v : v)) }));
    const svg = await lineChartSvg({ title: `${r.name}: mean ${r.split} ${r.metric} per setting`, xLabel: withCurves[0].curve!.xLabel, yLabel: `${r.split} ${r.metric}${unit}`, series });
    fig = figure('sweep-curves', svg);
  }
  const md = sweepMarkdown(r, fig) + (figX ? `![final ${r.split} ${r.metric} vs ${o.x}](${figX})\n` : '');
  writeAtomic(join(outDir, 'report.md'), md);
  writeAtomic(join(outDir, 'report.csv'), sweepCsv(r));
  files.unshift(join(outDir, 'report.md'), join(outDir, 'report.csv'));
  return { text: md, files };
}
