/**
 * Charts as SVG strings, rendered headless with vega (View with renderer 'none', `toSVG()`) from vega-lite specs.
 * Browser-safe: no `node:` imports (PNG conversion and file writing live in ./figures.ts).
 *
 * - {@link lineChartSvg}: several named line series with optional shaded bands (lo..hi), dashed lines, horizontal
 *   reference lines, linear or log axes, and a legend. Series longer than `maxPoints` are downsampled by min/max
 *   bucketing (each bucket keeps its lowest and highest point, so spikes survive). On a log axis, non-positive (and
 *   non-finite) values are dropped rather than crashing the renderer.
 * - {@link heatmapSvg}: a matrix as coloured cells (a confusion matrix), with the values printed when small enough.
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';

export interface LineSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Lower edge of a shaded band (same length as x). */
  lo?: ArrayLike<number>;
  /** Upper edge of a shaded band (same length as x). */
  hi?: ArrayLike<number>;
  /** Dashed line: true = dashes [6, 4], or a dash pattern in px (e.g. [2, 3] dotted). The legend shows the same. */
  dash?: boolean | number[];
  /** CSS colour; default: the category10 palette in series order. */
  color?: string;
  /** Line width in px (default 2). */
  strokeWidth?: number;
  /** Line opacity 0..1 (default 1). */
  opacity?: number;
  /** Show in the legend (default true). */
  legend?: boolean;
}

/** A horizontal reference line; lines at the same y share one label (their labels joined). */
export interface HLine {
  y: number;
  label?: string;
  color?: string;
}

/** A vertical reference line (e.g. "learning starts"), labelled at the top. */
export interface VLine {
  x: number;
  label?: string;
  color?: string;
}

export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logX?: boolean;
  logY?: boolean;
  /** Plot area size in px (default 560 x 320). */
  width?: number;
  height?: number;
  series: LineSeries[];
  hlines?: HLine[];
  vlines?: VLine[];
  /** Downsample series longer than this (default 4000 points). */
  maxPoints?: number;
  /** Fixed y domain [min, max]. */
  yDomain?: [number, number];
  /** Integer x ticks only (epochs). */
  xInteger?: boolean;
  /** Draw markers only, no connecting lines (for values that must not be joined, such as wrapped phases). */
  points?: boolean;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Default colour of the i-th series. */
export function paletteColor(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/**
 * Indices to keep when reducing a series of length n to at most ~maxPoints points by min/max bucketing over y:
 * ceil(maxPoints/2) buckets of consecutive points, each contributing its min-y and max-y index (in x order), plus the
 * first and last point. Returns all indices when n <= maxPoints. Non-finite y values are never chosen as min/max
 * unless the bucket has nothing else.
 */
export function minMaxBucketIndices(y: ArrayLike<number>, maxPoints: number): number[] {
  const n = y.length;
  if (n <= maxPoints || maxPoints < 4) {
    const all = new Array<number>(n);
    for (let i = 0; i < n; i++) all[i] = i;
    return all;
  }
  const buckets = Math.max(1, Math.floor((maxPoints - 2) / 2));
  const out: number[] = [0];
  for (let b = 0; b < buckets; b++) {
    const s = Math.floor((b * n) / buckets);
    const e = Math.floor(((b + 1) * n) / buckets);
    let iMin = -1;
    let iMax = -1;
    for (let i = s; i < e; i++) {
      const v = y[i]!;
      if (!Number.isFinite(v)) continue;
      if (iMin < 0 || v < y[iMin]!) iMin = i;
      if (iMax < 0 || v > y[iMax]!) iMax = i;
    }
    if (iMin < 0) continue;
    if (iMin === iMax) out.push(iMin);
    else if (iMin < iMax) out.push(iMin, iMax);
    else out.push(iMax, iMin);
  }
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  // dedupe (first/last may coincide with bucket picks)
  const dedup: number[] = [];
  for (const i of out) if (dedup.length === 0 || dedup[dedup.length - 1]! < i) dedup.push(i);
  return dedup;
}

interface Row {
  s: string;
  x: number;
  y?: number;
  lo?: number;
  hi?: number;
  d: string;
  w: number;
  o: number;
}

function okOnAxis(v: number | undefined, log: boolean): boolean {
  return v !== undefined && Number.isFinite(v) && (!log || v > 0);
}

/** Renders a vega-lite spec to an SVG string headlessly. */
export async function vegaLiteToSvg(spec: Record<string, unknown>): Promise<string> {
  const vgSpec = compile(spec as never).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Horizontal lines at (nearly) the same y drawn once, with their labels joined: no labels printed over each other. */
export function mergeHLines(hl: HLine[]): Array<{ y: number; label: string; c: string }> {
  const out: Array<{ y: number; label: string; c: string }> = [];
  for (const h of hl) {
    const same = out.find((o) => Math.abs(o.y - h.y) <= 1e-9 * Math.max(1, Math.abs(h.y)));
    if (!same) out.push({ y: h.y, label: h.label ?? '', c: h.color ?? '#555' });
    else if (h.label) same.label = same.label ? `${same.label}, ${h.label}` : h.label;
  }
  return out;
}

/** Axis settings for integer x values (epochs): each integer tick once, at most ~12 of them. */
function integerTicks(rows: Row[]): Record<string, unknown> {
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    lo = Math.min(lo, r.x);
    hi = Math.max(hi, r.x);
  }
  if (!Number.isFinite(lo)) return { tickMinStep: 1, format: 'd' };
  const step = Math.max(1, Math.ceil((Math.floor(hi) - Math.ceil(lo)) / 12));
  const values: number[] = [];
  for (let v = Math.ceil(lo); v <= hi; v += step) values.push(v);
  return { values, format: 'd' };
}

/** A line chart as an SVG string (see the module header). */
export async function lineChartSvg(opts: LineChartOptions): Promise<string> {
  const logX = !!opts.logX;
  const logY = !!opts.logY;
  const maxPoints = opts.maxPoints ?? 4000;
  const lineRows: Row[] = [];
  const bandRows: Row[] = [];
  const names: string[] = [];
  const colors: string[] = [];
  const legendNames: string[] = [];
  const dashes: number[][] = [];
  opts.series.forEach((ser, si) => {
    let name = ser.name;
    while (names.includes(name)) name += ' '; // names must be unique in the colour domain
    names.push(name);
    colors.push(ser.color ?? paletteColor(si));
    if (ser.legend !== false) legendNames.push(name);
    const n = Math.min(ser.x.length, ser.y.length);
    dashes.push(Array.isArray(ser.dash) ? ser.dash : ser.dash ? [6, 4] : [1, 0]);
    const d = ser.dash ? 'dash' : 'solid';
    const w = ser.strokeWidth ?? 2;
    const o = ser.opacity ?? 1;
    const idx = minMaxBucketIndices(n === ser.y.length ? ser.y : Array.prototype.slice.call(ser.y, 0, n), maxPoints);
    const band = ser.lo !== undefined && ser.hi !== undefined;
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k]!;
      const x = ser.x[i]!;
      if (!okOnAxis(x, logX)) continue;
      const y = ser.y[i]!;
      if (okOnAxis(y, logY)) lineRows.push({ s: name, x, y, d, w, o });
      if (band) {
        // band over the whole bucket this index represents: min lo / max hi between neighbouring kept indices
        const from = k === 0 ? i : idx[k - 1]! + 1;
        let lo = Infinity;
        let hi = -Infinity;
        for (let j = from; j <= i; j++) {
          const l = ser.lo![j]!;
          const h = ser.hi![j]!;
          if (Number.isFinite(l) && l < lo) lo = l;
          if (Number.isFinite(h) && h > hi) hi = h;
        }
        if (logY && lo <= 0) lo = okOnAxis(y, true) ? Math.min(y, hi) : NaN; // clip band at the axis floor
        if (okOnAxis(lo, logY) && okOnAxis(hi, logY) && hi >= lo) bandRows.push({ s: name, x, lo, hi, d, w, o });
      }
    }
  });

  const xScale: Record<string, unknown> = logX ? { type: 'log' } : { zero: false, nice: false };
  const yScale: Record<string, unknown> = logY ? { type: 'log' } : { zero: false };
  if (opts.yDomain) yScale.domain = opts.yDomain;
  const color = {
    field: 's',
    type: 'nominal',
    scale: { domain: names, range: colors },
    legend: legendNames.length ? { title: null, values: legendNames, symbolType: opts.points ? 'circle' : 'stroke', labelLimit: 260 } : null,
    sort: null,
  };
  const xEnc = {
    field: 'x',
    type: 'quantitative',
    title: opts.xLabel ?? 'x',
    scale: xScale,
    ...(opts.xInteger ? { axis: integerTicks(lineRows) } : {}),
  };
  const layers: Record<string, unknown>[] = [];
  if (bandRows.length) {
    layers.push({
      data: { values: bandRows },
      mark: { type: 'area', opacity: 0.2, interpolate: 'linear' },
      encoding: {
        x: xEnc,
        y: { field: 'lo', type: 'quantitative', title: opts.yLabel ?? 'y', scale: yScale },
        y2: { field: 'hi' },
        color: { ...color, legend: null },
        detail: { field: 's' },
      },
    });
  }
  if (opts.points) {
    layers.push({
      data: { values: lineRows },
      mark: { type: 'point', filled: true, size: 28, clip: true },
      encoding: { x: xEnc, y: { field: 'y', type: 'quantitative', title: opts.yLabel ?? 'y', scale: yScale }, color },
    });
  } else layers.push({
    data: { values: lineRows },
    // epoch charts have few points: mark each, so a one-epoch series is still visible
    mark: { type: 'line', interpolate: 'linear', clip: true, ...(opts.xInteger ? { point: { filled: true, size: 24 } } : {}) },
    encoding: {
      x: xEnc,
      y: { field: 'y', type: 'quantitative', title: opts.yLabel ?? 'y', scale: yScale },
      color,
      // on the series field, like colour, so the legend merges both and shows each series' dash pattern
      strokeDash: { field: 's', type: 'nominal', scale: { domain: names, range: dashes }, legend: color.legend, sort: null },
      strokeWidth: { field: 'w', type: 'quantitative', scale: null, legend: null },
      opacity: { field: 'o', type: 'quantitative', scale: null, legend: null },
      detail: { field: 's' },
    },
  });
  const hrows = mergeHLines((opts.hlines ?? []).filter((h) => okOnAxis(h.y, logY)));
  if (hrows.length) {
    layers.push({
      data: { values: hrows },
      mark: { type: 'rule', strokeDash: [4, 3], strokeWidth: 1 },
      encoding: { y: { field: 'y', type: 'quantitative' }, color: { field: 'c', type: 'nominal', scale: null, legend: null } },
    });
    layers.push({
      data: { values: hrows },
      mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -2, fontSize: 10 },
      encoding: {
        y: { field: 'y', type: 'quantitative' },
        x: { value: opts.width ?? 560 },
        text: { field: 'label' },
        color: { field: 'c', type: 'nominal', scale: null, legend: null },
      },
    });
  }
  const vl = (opts.vlines ?? []).filter((v) => okOnAxis(v.x, logX));
  if (vl.length) {
    const vrows = vl.map((v) => ({ x: v.x, label: v.label ?? '', c: v.color ?? '#555' }));
    const vx = { field: 'x', type: 'quantitative', scale: xScale };
    layers.push({
      data: { values: vrows },
      mark: { type: 'rule', strokeDash: [2, 2], strokeWidth: 1 },
      encoding: { x: vx, color: { field: 'c', type: 'nominal', scale: null, legend: null } },
    });
    layers.push({
      data: { values: vrows },
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 10 },
      encoding: { x: vx, y: { value: 0 }, text: { field: 'label' }, color: { field: 'c', type: 'nominal', scale: null, legend: null } },
    });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: opts.title ?? '',
    width: opts.width ?? 560,
    height: opts.height ?? 320,
    background: 'white',
    padding: 8,
    config: { font: 'DejaVu Sans, Arial, Helvetica, sans-serif', view: { stroke: '#ccc' }, axis: { grid: true, gridOpacity: 0.5 } },
    resolve: { scale: { color: 'independent', strokeDash: 'independent', opacity: 'independent', strokeWidth: 'independent' } },
    layer: layers,
  };
  return vegaLiteToSvg(spec);
}

export interface HeatmapOptions {
  title?: string;
  /** Row-major matrix: matrix[row][col] (for a confusion matrix: row = true class, col = predicted). */
  matrix: ArrayLike<ArrayLike<number>>;
  rowLabels?: string[];
  colLabels?: string[];
  xLabel?: string;
  yLabel?: string;
  /** Divide each row by its sum (show per-class rates). Default false. */
  normalizeRows?: boolean;
  /** Print the values in the cells (default: when the matrix has at most 20 x 20 cells). */
  showValues?: boolean;
  /** Cell size in px (default: fits a ~360 px square). */
  cellSize?: number;
  /** vega colour scheme (default 'blues'). */
  scheme?: string;
}

/** A heatmap (e.g. a confusion matrix) as an SVG string. */
export async function heatmapSvg(opts: HeatmapOptions): Promise<string> {
  const rows = opts.matrix.length;
  let cols = 0;
  for (let r = 0; r < rows; r++) cols = Math.max(cols, opts.matrix[r]!.length);
  const rl = opts.rowLabels ?? Array.from({ length: rows }, (_, i) => String(i));
  const cl = opts.colLabels ?? Array.from({ length: cols }, (_, i) => String(i));
  const values: Array<{ r: string; c: string; v: number; t: string }> = [];
  for (let r = 0; r < rows; r++) {
    const row = opts.matrix[r]!;
    let sum = 0;
    for (let c = 0; c < row.length; c++) sum += Number.isFinite(row[c]!) ? row[c]! : 0;
    for (let c = 0; c < row.length; c++) {
      let v = row[c]!;
      if (!Number.isFinite(v)) continue;
      if (opts.normalizeRows) v = sum > 0 ? v / sum : 0;
      const t = opts.normalizeRows ? (v === 0 ? '' : v.toFixed(2)) : Number.isInteger(v) ? String(v) : v.toPrecision(3);
      values.push({ r: rl[r] ?? String(r), c: cl[c] ?? String(c), v, t });
    }
  }
  const cell = opts.cellSize ?? Math.max(8, Math.min(48, Math.floor(360 / Math.max(rows, cols, 1))));
  const show = opts.showValues ?? (rows <= 20 && cols <= 20);
  let vmax = 0;
  for (const e of values) vmax = Math.max(vmax, e.v);
  const layers: Record<string, unknown>[] = [
    {
      mark: { type: 'rect' },
      encoding: {
        color: {
          field: 'v',
          type: 'quantitative',
          title: opts.normalizeRows ? 'rate' : 'count',
          scale: { scheme: opts.scheme ?? 'blues', domain: [0, vmax > 0 ? vmax : 1] },
        },
      },
    },
  ];
  if (show) {
    layers.push({
      mark: { type: 'text', fontSize: Math.max(7, Math.min(12, cell * 0.35)) },
      encoding: {
        text: { field: 't' },
        color: { condition: { test: `datum.v > ${0.5 * vmax}`, value: 'white' }, value: 'black' },
      },
    });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: opts.title ?? '',
    background: 'white',
    padding: 8,
    width: cell * cols,
    height: cell * rows,
    config: { font: 'DejaVu Sans, Arial, Helvetica, sans-serif', axis: { grid: false } },
    data: { values },
    encoding: {
      x: { field: 'c', type: 'ordinal', sort: cl, title: opts.xLabel ?? 'predicted', axis: { labelAngle: cols <= 20 ? 0 : -90 } },
      y: { field: 'r', type: 'ordinal', sort: rl, title: opts.yLabel ?? 'true' },
    },
    layer: layers,
  };
  return vegaLiteToSvg(spec);
}
