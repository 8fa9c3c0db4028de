/**
 * Aggregation of run directories over seeds (Node only): what `gle report` prints and writes.
 *
 * A run directory holds `config.json` ({experiment, seed, ...}), `metrics.jsonl` and (when the run finished)
 * `summary.json` ({final: {...}, ...}). For a metric M and split S (default acc / test):
 *
 *  - the curve of a run: its eval records with `split === S` carrying a numeric M, x = `epoch`; when it has none,
 *    its train records carrying M, x = `step` (e.g. loss of a regression run without epochs).
 *  - the final value of a run: `summary.final` at key `S_M`, `M_S`, `S/M`, `S.M` or `final[S][M]`; else `final[M]`
 *    when the curve comes from train records or S is 'test'; else the last point of the curve. A run with none of
 *    these is a UserError naming the run and what it has.
 *
 * Runs are grouped by `config.experiment`; each group gives per-seed rows and mean ± std (population std, ddof=0,
 * like numpy's default), min and max.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { saveFigure } from './figures.js';
import { csvLine, readMetrics, writeAtomic, type MetricRecord } from './metrics.js';
import { lineChartSvg, paletteColor, type LineSeries } from './plot.js';

export interface RunInfo {
  dir: string;
  experiment: string;
  seed: number;
  config: Record<string, unknown>;
  summary: Record<string, unknown> | null;
  metrics: MetricRecord[];
}

export interface RunResult {
  run: RunInfo;
  final: number;
  /** Where `final` came from: 'summary' or 'curve'. */
  finalSource: 'summary' | 'curve';
  curve: { xLabel: 'epoch' | 'step'; x: number[]; y: number[] };
}

export interface Stats {
  n: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface GroupReport {
  experiment: string;
  metric: string;
  split: string;
  results: RunResult[];
  stats: Stats;
}

function readJson(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${path}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/** Loads a run directory; UserError when it is not one (naming the missing file). */
export function loadRun(dir: string): RunInfo {
  if (!existsSync(dir)) throw new UserError(`${dir}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new UserError(`${dir}: not a run directory (it is a file)`);
  for (const f of ['config.json', 'metrics.jsonl']) {
    if (!existsSync(join(dir, f))) throw new UserError(`${dir}: not a run directory (missing ${f})`);
  }
  const config = readJson(join(dir, 'config.json'), 'run config');
  const summaryPath = join(dir, 'summary.json');
  const summary = existsSync(summaryPath) ? readJson(summaryPath, 'run summary') : null;
  const metrics = readMetrics(dir);
  const exp = config.experiment ?? summary?.experiment;
  const experiment = typeof exp === 'string' && exp !== '' ? exp : basename(resolve(dir));
  const s = config.seed ?? summary?.seed;
  const seed = typeof s === 'number' ? s : Number.NaN;
  return { dir, experiment, seed, config, summary, metrics };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The curve and final value of `metric` on `split` for one run (see the module header). */
export function runResult(run: RunInfo, metric: string, split: string): RunResult {
  const ev = run.metrics.filter((r) => r.kind === 'eval' && r.split === split && num(r[metric]) !== undefined);
  let curve: RunResult['curve'];
  if (ev.length) {
    // one point per epoch: the last record of each epoch wins
    const byEpoch = new Map<number, number>();
    ev.forEach((r, i) => byEpoch.set(num(r.epoch) ?? i + 1, r[metric] as number));
    const xs = [...byEpoch.keys()].sort((a, b) => a - b);
    curve = { xLabel: 'epoch', x: xs, y: xs.map((x) => byEpoch.get(x)!) };
  } else {
    const tr = run.metrics.filter((r) => r.kind === 'train' && num(r[metric]) !== undefined);
    curve = { xLabel: 'step', x: tr.map((r, i) => num(r.step) ?? i), y: tr.map((r) => r[metric] as number) };
  }
  const fin = run.summary?.final;
  let final: number | undefined;
  if (fin && typeof fin === 'object' && !Array.isArray(fin)) {
    const f = fin as Record<string, unknown>;
    const nested = f[split];
    final =
      num(f[`${split}_${metric}`]) ??
      num(f[`${metric}_${split}`]) ??
      num(f[`${split}/${metric}`]) ??
      num(f[`${split}.${metric}`]) ??
      (nested && typeof nested === 'object' ? num((nested as Record<string, unknown>)[metric]) : undefined);
    if (final === undefined && (!ev.length || split === 'test')) final = num(f[metric]);
  }
  if (final !== undefined) return { run, final, finalSource: 'summary', curve };
  if (curve.y.length) return { run, final: curve.y[curve.y.length - 1]!, finalSource: 'curve', curve };
  const splits = [...new Set(run.metrics.filter((r) => r.kind === 'eval').map((r) => String(r.split)))];
  const finKeys = fin && typeof fin === 'object' ? Object.keys(fin) : [];
  throw new UserError(
    `${run.dir}: run has no "${metric}" for split "${split}" ` +
      `(eval splits in metrics.jsonl: ${splits.join(', ') || 'none'}; summary.final keys: ${finKeys.join(', ') || 'none'})`,
  );
}

/** Mean, population std (ddof=0), min, max. */
export function stats(values: readonly number[]): Stats {
  const n = values.length;
  if (n === 0) return { n: 0, mean: NaN, std: NaN, min: NaN, max: NaN };
  let s = 0;
  for (const v of values) s += v;
  const mean = s / n;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  return { n, mean, std: Math.sqrt(ss / n), min: Math.min(...values), max: Math.max(...values) };
}

/** Loads all runs and groups them by experiment (groups in first-seen order, runs sorted by seed). */
export function aggregateRuns(dirs: readonly string[], metric = 'acc', split = 'test'): GroupReport[] {
  if (dirs.length === 0) throw new UserError('no run directories given');
  const groups = new Map<string, RunResult[]>();
  for (const d of dirs) {
    const r = runResult(loadRun(d), metric, split);
    const g = groups.get(r.run.experiment);
    if (g) g.push(r);
    else groups.set(r.run.experiment, [r]);
  }
  const out: GroupReport[] = [];
  for (const [experiment, results] of groups) {
    results.sort((a, b) => a.run.seed - b.run.seed || a.run.dir.localeCompare(b.run.dir));
    out.push({ experiment, metric, split, results, stats: stats(results.map((r) => r.final)) });
  }
  return out;
}

/**
 * What a reader of the mean ± std must know: within an experiment, runs that differ in --quick or in any other
 * parameter (they are not repeats of one configuration), the same seed twice, or the same directory twice.
 */
export function reportWarnings(groups: readonly GroupReport[]): string[] {
  const out: string[] = [];
  for (const g of groups) {
    const dirs = new Map<string, number>();
    const seeds = new Map<number, string[]>();
    const configs = new Map<string, string[]>();
    for (const r of g.results) {
      const d = resolve(r.run.dir);
      dirs.set(d, (dirs.get(d) ?? 0) + 1);
      seeds.set(r.run.seed, [...(seeds.get(r.run.seed) ?? []), r.run.dir]);
      const c = r.run.config;
      const key = `${c.quick === true ? 'quick' : 'full'} ${JSON.stringify(c.params ?? null)}`;
      configs.set(key, [...(configs.get(key) ?? []), r.run.dir]);
    }
    for (const [d, n] of dirs) if (n > 1) out.push(`${g.experiment}: ${d} is given ${n} times (counted ${n} times in n=${g.stats.n})`);
    for (const [seed, ds] of seeds) if (ds.length > 1 && new Set(ds.map((d) => resolve(d))).size > 1) out.push(`${g.experiment}: seed ${seed} appears in ${ds.length} runs (${ds.join(', ')}); they are not independent repeats`);
    if (configs.size > 1) {
      const quick = g.results.filter((r) => r.run.config.quick === true).map((r) => r.run.dir);
      const what = quick.length > 0 && quick.length < g.results.length ? `--quick runs (${quick.join(', ')}) mixed with full runs` : 'runs with different parameters';
      out.push(`${g.experiment}: ${what} are averaged together (${configs.size} configurations among ${g.results.length} runs)`);
    }
  }
  return out;
}

/** "test acc" for eval metrics; just "loss" when the values come from train records (no split). */
function label(g: GroupReport): string {
  return g.results.every((r) => r.curve.xLabel === 'step') ? g.metric : `${g.split} ${g.metric}`;
}

/** Whether values look like accuracies in [0, 1] to be shown as percent. */
function asPercent(g: GroupReport): boolean {
  return /acc/i.test(g.metric) && g.results.every((r) => r.final >= 0 && r.final <= 1);
}

function fmt(v: number, pct: boolean): string {
  if (!Number.isFinite(v)) return String(v);
  if (pct) return (100 * v).toFixed(2);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(5);
}

function pad(cells: string[][]): string {
  const w = cells[0]!.map((_, j) => Math.max(...cells.map((row) => row[j]!.length)));
  return cells.map((row) => row.map((c, j) => (j === 0 ? c.padEnd(w[j]!) : c.padStart(w[j]!))).join('  ')).join('\n');
}

/** The plain-text table printed by `gle report`. */
export function formatReportTable(groups: readonly GroupReport[]): string {
  const parts: string[] = [];
  for (const g of groups) {
    const pct = asPercent(g);
    const unit = pct ? ' [%]' : '';
    const rows: string[][] = [['seed', `${label(g)}${unit}`, 'run']];
    for (const r of g.results) rows.push([String(r.run.seed), fmt(r.final, pct), r.run.dir]);
    const s = g.stats;
    parts.push(
      `${g.experiment} (${s.n} run${s.n === 1 ? '' : 's'})\n` +
        pad(rows) +
        `\n${label(g)}${unit}: ${fmt(s.mean, pct)} ± ${fmt(s.std, pct)}  ` +
        `(min ${fmt(s.min, pct)}, max ${fmt(s.max, pct)}, n=${s.n}, std ddof=0)`,
    );
  }
  return parts.join('\n\n') + '\n';
}

/** report.md text. `figures` maps experiment -> figure file base name (relative to the report dir). */
export function formatReportMarkdown(groups: readonly GroupReport[], figures: ReadonlyMap<string, string> = new Map()): string {
  let md = '# gle report\n\n';
  for (const g of groups) {
    const pct = asPercent(g);
    const unit = pct ? ' [%]' : '';
    const s = g.stats;
    md += `## ${g.experiment}\n\n`;
    md += `**${label(g)}${unit}: ${fmt(s.mean, pct)} ± ${fmt(s.std, pct)}** `;
    md += `(mean ± std over ${s.n} seed${s.n === 1 ? '' : 's'}, ddof=0; min ${fmt(s.min, pct)}, max ${fmt(s.max, pct)})\n\n`;
    md += `| seed | ${label(g)}${unit} | source | run |\n|---:|---:|---|---|\n`;
    for (const r of g.results) {
      md += `| ${r.run.seed} | ${fmt(r.final, pct)} | ${r.finalSource === 'summary' ? 'summary.json' : `last ${r.curve.xLabel}`} | \`${r.run.dir}\` |\n`;
    }
    const fig = figures.get(g.experiment);
    if (fig) md += `\n![${g.experiment} learning curve](${fig}.svg)\n`;
    md += '\n';
  }
  return md;
}

/** report.csv text: one row per run (kind=run) and per group the rows kind=mean|std|min|max. Raw values. */
export function formatReportCsv(groups: readonly GroupReport[]): string {
  let csv = csvLine(['experiment', 'metric', 'split', 'kind', 'seed', 'value', 'n', 'run_dir']);
  for (const g of groups) {
    for (const r of g.results) csv += csvLine([g.experiment, g.metric, g.split, 'run', r.run.seed, r.final, 1, r.run.dir]);
    const s = g.stats;
    for (const k of ['mean', 'std', 'min', 'max'] as const) csv += csvLine([g.experiment, g.metric, g.split, k, '', s[k], s.n, '']);
  }
  return csv;
}

/** Learning-curve chart of one group: mean over seeds per x with a ±std band, plus thin per-seed lines. */
export async function learningCurveSvg(g: GroupReport): Promise<string> {
  const xLabel = g.results[0]?.curve.xLabel ?? 'epoch';
  const byX = new Map<number, number[]>();
  for (const r of g.results) {
    if (r.curve.xLabel !== xLabel) continue;
    r.curve.x.forEach((x, i) => {
      const arr = byX.get(x);
      if (arr) arr.push(r.curve.y[i]!);
      else byX.set(x, [r.curve.y[i]!]);
    });
  }
  const xs = [...byX.keys()].sort((a, b) => a - b);
  const st = xs.map((x) => stats(byX.get(x)!));
  const mean = st.map((s) => s.mean);
  const series: LineSeries[] = [];
  const color = paletteColor(0);
  g.results.forEach((r, i) => {
    if (r.curve.xLabel !== xLabel || r.curve.x.length === 0) return;
    series.push({
      name: `seed ${Number.isNaN(r.run.seed) ? i : r.run.seed}`,
      x: r.curve.x,
      y: r.curve.y,
      color: paletteColor(i + 1),
      strokeWidth: 0.8,
      opacity: 0.6,
      legend: g.results.length <= 10,
    });
  });
  series.unshift({
    name: `mean ± std (n=${g.results.length})`,
    x: xs,
    y: mean,
    lo: st.map((s) => s.mean - s.std),
    hi: st.map((s) => s.mean + s.std),
    color,
    strokeWidth: 2.5,
  });
  const s = g.stats;
  const pct = asPercent(g);
  const logY = /loss|mse|error/i.test(g.metric) && mean.some((v) => v > 0);
  return lineChartSvg({
    title: `${g.experiment}: ${label(g)} (final ${fmt(s.mean, pct)} ± ${fmt(s.std, pct)}${pct ? ' %' : ''}, n=${s.n})`,
    xLabel,
    yLabel: `${label(g)}`,
    logY,
    xInteger: xLabel === 'epoch',
    series,
  });
}

/** File-name-safe version of an experiment name. */
export function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'run';
}

export interface WriteReportOptions {
  metric?: string;
  split?: string;
  /** Write the learning-curve figures (default true). */
  figures?: boolean;
}

export interface WrittenReport {
  groups: GroupReport[];
  table: string;
  /** mixed or duplicate runs (see reportWarnings); also listed in report.md */
  warnings: string[];
  files: string[];
}

/** Everything `gle report` does except printing: aggregate, write report.md, report.csv and figures into outDir. */
export async function writeReport(dirs: readonly string[], outDir: string, opts: WriteReportOptions = {}): Promise<WrittenReport> {
  const groups = aggregateRuns(dirs, opts.metric ?? 'acc', opts.split ?? 'test');
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const figs = new Map<string, string>();
  if (opts.figures !== false) {
    for (const g of groups) {
      if (!g.results.some((r) => r.curve.x.length > 0)) continue;
      const name = `curve-${slug(g.experiment)}-${slug(g.split)}-${slug(g.metric)}`;
      const p = saveFigure(outDir, name, await learningCurveSvg(g));
      files.push(p.svg, p.png);
      figs.set(g.experiment, name);
    }
  }
  const warnings = reportWarnings(groups);
  const md = join(outDir, 'report.md');
  writeAtomic(md, formatReportMarkdown(groups, figs) + (warnings.length ? `\n## Warnings\n\n${warnings.map((w) => `- ${w}`).join('\n')}\n` : ''));
  const csv = join(outDir, 'report.csv');
  writeAtomic(csv, formatReportCsv(groups));
  files.unshift(md, csv);
  return { groups, table: formatReportTable(groups), files, warnings };
}
