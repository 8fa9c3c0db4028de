/** uPlot helpers: streaming line charts and PNG / SVG export of any chart. */
import uPlot from 'uplot';

export interface SeriesDef {
  label: string;
  color: string;
  dash?: number[];
  /** draw as dots only (no line) */
  dots?: boolean;
}

export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

const SUP: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };
/** 10 to an integer power as text: 0.01, 0.1, 1, 10, 100 in full, 10⁻³, 10⁴ beyond. */
export function decade(e: number): string {
  if (Math.abs(e) <= 2) return String(Number(Math.pow(10, e).toPrecision(1)));
  return `10${String(e).replace(/./g, (c) => SUP[c] ?? c)}`;
}

/** Tick label on a log axis: decades only. */
function logTick(v: number | null): string {
  if (v == null || !(v > 0)) return '';
  const e = Math.log10(v);
  if (Math.abs(e - Math.round(e)) > 1e-6) return '';
  return decade(Math.round(e));
}

/** About `n` round linear ticks (1-2-5 steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): { ticks: number[]; step: number } {
  if (!(hi > lo)) return { ticks: [lo], step: 1 };
  const raw = (hi - lo) / Math.max(1, n);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  const step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { ticks, step };
}

/** Label of a linear tick: as many decimals as the step needs; powers of ten for very large or small values. */
export function linTick(v: number, step: number): string {
  if (v === 0) return '0';
  const a = Math.abs(step);
  if (a >= 1e4 || a < 1e-3) {
    const e = Math.floor(Math.log10(Math.abs(v)));
    const m = v / Math.pow(10, e);
    return `${Number(m.toPrecision(3))}×10${String(e).replace(/./g, (c) => SUP[c] ?? c)}`;
  }
  const dec = Math.max(0, -Math.floor(Math.log10(a) + 1e-9));
  return v.toFixed(dec);
}

export interface ChartOptions {
  xLabel?: string;
  yLabel?: string;
  logY?: boolean;
  logX?: boolean;
  height?: number;
  yRange?: [number, number];
  /** offer a lin/log toggle for y (default: true unless yRange is fixed) */
  yToggle?: boolean;
}

export class Chart {
  u!: uPlot;
  private data: ArrayLike<number>[] = [];
  readonly box: HTMLElement;
  logY: boolean;
  constructor(
    readonly title: string,
    readonly el: HTMLElement,
    readonly series: SeriesDef[],
    readonly opts: ChartOptions = {},
  ) {
    this.logY = !!opts.logY;
    el.classList.add('chart');
    el.setAttribute('role', 'figure');
    el.setAttribute('aria-label', `${title}${opts.yLabel ? `: ${opts.yLabel}` : ''} over ${opts.xLabel ?? 't'}`);
    const bar = document.createElement('div');
    bar.className = 'chart-bar';
    if (opts.yToggle ?? !opts.yRange) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'ylog';
      const label = () => (b.textContent = this.logY ? 'y: log' : 'y: lin');
      label();
      b.title = 'switch the y axis between linear and logarithmic';
      b.setAttribute('aria-pressed', String(this.logY));
      b.onclick = () => {
        this.setLogY(!this.logY);
        label();
        b.setAttribute('aria-pressed', String(this.logY));
      };
      bar.appendChild(b);
    }
    el.appendChild(bar);
    this.box = document.createElement('div');
    el.appendChild(this.box);
    this.build();
  }

  private build(): void {
    const opts = this.opts;
    const width = Math.max(280, this.el.clientWidth || 560);
    const o: uPlot.Options = {
      title: this.title,
      width,
      height: opts.height ?? 220,
      scales: {
        x: { time: false, distr: opts.logX ? 3 : 1 },
        y: this.logY ? { distr: 3 } : opts.yRange ? { range: opts.yRange } : {},
      },
      axes: [
        { label: opts.xLabel ?? 't', values: opts.logX ? (_u: uPlot, v: number[]) => v.map(logTick) : undefined },
        { label: opts.yLabel, values: this.logY ? (_u: uPlot, v: number[]) => v.map(logTick) : undefined, size: 56 },
      ],
      legend: { live: true },
      cursor: { show: true, drag: { x: false, y: false }, points: { show: true } },
      series: [
        { label: opts.xLabel ?? 't', value: (_u: uPlot, v: number | null) => (v == null ? '–' : Number(v.toPrecision(4)).toString()) },
        ...this.series.map((s) =>
          s.dots
            ? { label: s.label, stroke: s.color, fill: s.color, paths: () => null, points: { show: true, size: 7, stroke: s.color, fill: s.color }, value: readout }
            : { label: s.label, stroke: s.color, width: 1.5, dash: s.dash, points: { show: false }, value: readout },
        ),
      ],
    };
    this.box.textContent = '';
    this.u = new uPlot(o, [this.data[0] ?? [], ...this.series.map((_, i) => this.data[i + 1] ?? [])] as unknown as uPlot.AlignedData, this.box);
  }

  setLogY(on: boolean): void {
    if (on === this.logY) return;
    this.logY = on;
    this.u.destroy();
    this.build();
  }
  setData(x: ArrayLike<number>, ys: ArrayLike<number>[]): void {
    this.data = [x, ...ys];
    const d = this.logY ? this.data.map((a, i) => (i === 0 ? a : positive(a))) : this.data;
    this.u.setData(d as unknown as uPlot.AlignedData);
  }
  resize(): void {
    const w = Math.max(280, this.el.clientWidth);
    if (Math.abs(w - this.u.width) > 4) this.u.setSize({ width: w, height: this.u.height });
  }
  /** This chart as a publication-quality SVG panel (see svgPanel). */
  panel(width = 560): SvgPanel {
    return svgPanel({ title: this.title, x: this.data[0] ?? [], ys: this.data.slice(1), series: this.series, logX: !!this.opts.logX, logY: this.logY, xLabel: this.opts.xLabel ?? 't', yLabel: this.opts.yLabel ?? '', yRange: this.opts.yRange, width });
  }
}

/** Hover read-out of a series value. */
function readout(_u: uPlot, v: number | null): string {
  if (v == null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : Number(v.toPrecision(4)).toString();
}

/** Non-positive values as null (gaps on a log axis). */
function positive(a: ArrayLike<number | null>): (number | null)[] {
  return Array.from(a, (v) => (v != null && v > 0 ? v : null));
}

export interface SvgPanel {
  width: number;
  height: number;
  /** SVG elements, drawn with the panel's top-left corner at (0, 0) */
  body: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * One chart as SVG: framed plot area, round ticks (decades on log axes), axis labels, and the legend below the plot
 * (never over the data), every series. Gaps (null, NaN, non-positive values on a log axis) break lines.
 */
export function svgPanel(o: { title: string; x: ArrayLike<number>; ys: ArrayLike<number | null>[]; series: SeriesDef[]; logX?: boolean; logY?: boolean; xLabel: string; yLabel: string; yRange?: [number, number]; width?: number }): SvgPanel {
  const W = o.width ?? 560, PH = 250, L = 70, R = 14, T = 30;
  const ok = (v: number | null | undefined, log?: boolean): v is number => v != null && Number.isFinite(v) && (!log || v > 0);
  const tx = (v: number) => (o.logX ? Math.log10(v) : v), ty = (v: number) => (o.logY ? Math.log10(v) : v);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < o.x.length; i++) {
    if (!ok(o.x[i], o.logX)) continue;
    let any = false;
    for (const y of o.ys) if (ok(y[i], o.logY)) ((y0 = Math.min(y0, ty(y[i] as number))), (y1 = Math.max(y1, ty(y[i] as number))), (any = true));
    if (any) (x0 = Math.min(x0, tx(o.x[i]))), (x1 = Math.max(x1, tx(o.x[i])));
  }
  if (o.yRange && !o.logY) (y0 = o.yRange[0]), (y1 = o.yRange[1]);
  if (!(x1 > x0)) (x0 = Number.isFinite(x0) ? x0 - 1 : 0), (x1 = x0 + 2);
  if (!(y1 > y0)) (y0 = Number.isFinite(y0) ? y0 - 1 : 0), (y1 = y0 + 2);
  if (!o.logY && !o.yRange) {
    const pad = 0.04 * (y1 - y0);
    (y0 -= pad), (y1 += pad);
  }
  // ticks: decades on log axes (every one, or every k-th when many), 1-2-5 steps on linear ones
  const logTicks = (lo: number, hi: number) => {
    const a = Math.ceil(lo - 1e-9), b = Math.floor(hi + 1e-9);
    const k = Math.max(1, Math.ceil((b - a + 1) / 7));
    const t: number[] = [];
    for (let e = a; e <= b; e += k) t.push(e);
    return t;
  };
  const xt = o.logX ? logTicks(x0, x1).map((e) => ({ v: e, s: decade(e) })) : (() => { const n = niceTicks(x0, x1, 6); return n.ticks.map((v) => ({ v, s: linTick(v, n.step) })); })();
  const yt = o.logY ? logTicks(y0, y1).map((e) => ({ v: e, s: decade(e) })) : (() => { const n = niceTicks(y0, y1, 5); return n.ticks.map((v) => ({ v, s: linTick(v, n.step) })); })();
  const px = (v: number) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const py = (v: number) => T + (1 - (v - y0) / (y1 - y0)) * PH;
  const parts: string[] = [];
  parts.push(`<g class="panel" data-title="${esc(o.title)}" data-x-scale="${o.logX ? 'log' : 'linear'}" data-y-scale="${o.logY ? 'log' : 'linear'}">`);
  parts.push(`<text x="${L}" y="18" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${PH}" fill="none" stroke="#444" stroke-width="0.8"/>`);
  parts.push(`<clipPath id="clip-${hash(o.title)}"><rect x="${L}" y="${T}" width="${W - L - R}" height="${PH}"/></clipPath>`);
  for (const t of xt) {
    const X = px(t.v).toFixed(1);
    parts.push(`<line x1="${X}" y1="${T}" x2="${X}" y2="${T + PH}" stroke="#e4e4e4" stroke-width="0.6"/><line x1="${X}" y1="${T + PH}" x2="${X}" y2="${T + PH + 4}" stroke="#444"/>`);
    parts.push(`<text class="xtick" data-v="${t.v}" x="${X}" y="${T + PH + 16}" text-anchor="middle">${esc(t.s)}</text>`);
  }
  for (const t of yt) {
    const Y = py(t.v).toFixed(1);
    parts.push(`<line x1="${L}" y1="${Y}" x2="${W - R}" y2="${Y}" stroke="#e4e4e4" stroke-width="0.6"/><line x1="${L - 4}" y1="${Y}" x2="${L}" y2="${Y}" stroke="#444"/>`);
    parts.push(`<text class="ytick" data-v="${t.v}" x="${L - 6}" y="${(Number(Y) + 4).toFixed(1)}" text-anchor="end">${esc(t.s)}</text>`);
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${T + PH + 34}" text-anchor="middle" font-size="13">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text transform="translate(16 ${T + PH / 2}) rotate(-90)" text-anchor="middle" font-size="13">${esc(o.yLabel)}</text>`);
  parts.push(`<g clip-path="url(#clip-${hash(o.title)})">`);
  o.ys.forEach((y, j) => {
    const s = o.series[j];
    if (!s) return;
    if (s.dots) {
      for (let i = 0; i < o.x.length; i++) if (ok(o.x[i], o.logX) && ok(y[i], o.logY)) parts.push(`<circle cx="${px(tx(o.x[i])).toFixed(1)}" cy="${py(ty(y[i] as number)).toFixed(1)}" r="2.8" fill="${s.color}"/>`);
      return;
    }
    let seg: string[] = [];
    const flush = () => {
      if (seg.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.6" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash.join(' ')}"` : ''} points="${seg.join(' ')}"/>`);
      seg = [];
    };
    for (let i = 0; i < o.x.length; i++) {
      if (ok(o.x[i], o.logX) && ok(y[i], o.logY)) seg.push(`${px(tx(o.x[i])).toFixed(1)},${py(ty(y[i] as number)).toFixed(1)}`);
      else flush();
    }
    flush();
  });
  parts.push('</g>');
  // legend below the axis label, wrapped into rows
  let lx = L, ly = T + PH + 56;
  parts.push('<g class="legend">');
  for (const s of o.series) {
    const w = 34 + 7 * [...s.label].length;
    if (lx + w > W - R && lx > L) (lx = L), (ly += 18);
    parts.push(s.dots ? `<circle cx="${lx + 9}" cy="${ly - 4}" r="3" fill="${s.color}"/>` : `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash.join(' ')}"` : ''}/>`);
    parts.push(`<text x="${lx + 25}" y="${ly}">${esc(s.label)}</text>`);
    lx += w;
  }
  parts.push('</g></g>');
  return { width: W, height: ly + 10, body: parts.join('\n') };
}

function hash(s: string): string {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}

/** A whole view as one SVG figure: a heading, an optional caption (the settings), the panels on a grid. */
export function figureSvg(heading: string, caption: string, panels: SvgPanel[], cols = 2): string {
  const gap = 16, top = caption ? 52 : 34;
  const colW = Math.max(...panels.map((p) => p.width), 1);
  const nCols = Math.max(1, Math.min(cols, panels.length));
  const rows: SvgPanel[][] = [];
  for (let i = 0; i < panels.length; i += nCols) rows.push(panels.slice(i, i + nCols));
  const W = nCols * colW + (nCols + 1) * gap;
  let y = top;
  const body: string[] = [];
  for (const r of rows) {
    const h = Math.max(...r.map((p) => p.height));
    r.forEach((p, i) => body.push(`<g transform="translate(${gap + i * (colW + gap)} ${y})">${p.body}</g>`));
    y += h + gap;
  }
  const H = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12" fill="#111">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${gap}" y="24" font-size="17" font-weight="bold">${esc(heading)}</text>`,
    caption ? `<text x="${gap}" y="42" font-size="11" fill="#555">${esc(caption)}</text>` : '',
    ...body,
    '</svg>',
  ].join('\n');
}

/** Rasterise an SVG figure at `scale` × its size (2 = print/retina quality). */
export function svgToPng(svg: string, scale = 2): Promise<Blob> {
  const m = /width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(svg);
  const w = Number(m?.[1] ?? 800), h = Number(m?.[2] ?? 600);
  return new Promise((res, rej) => {
    const img = new Image();
    const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
    img.onload = () => {
      const c = document.createElement('canvas');
      c.width = Math.round(w * scale);
      c.height = Math.round(h * scale);
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0, c.width, c.height);
      URL.revokeObjectURL(url);
      c.toBlob((b) => (b ? res(b) : rej(new Error('PNG export failed'))), 'image/png');
    };
    img.onerror = () => {
      URL.revokeObjectURL(url);
      rej(new Error('PNG export: the SVG did not render'));
    };
    img.src = url;
  });
}

export function download(name: string, data: Blob | string | Uint8Array, type = 'application/octet-stream'): void {
  const blob = data instanceof Blob ? data : new Blob([data as BlobPart], { type });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** A fixed-capacity history that halves its resolution when full (keeps the whole run in bounded memory). */
export class History {
  cols: Float64Array[];
  n = 0;
  private stride = 1;
  private skip = 0;
  constructor(readonly nCols: number, readonly cap = 2000) {
    this.cols = Array.from({ length: nCols }, () => new Float64Array(cap));
  }
  push(vals: ArrayLike<number>, off = 0): void {
    if (this.skip++ % this.stride !== 0) return;
    if (this.n === this.cap) {
      for (const c of this.cols) for (let i = 0; i < this.cap / 2; i++) c[i] = c[2 * i];
      this.n = this.cap / 2;
      this.stride *= 2;
    }
    for (let j = 0; j < this.nCols; j++) this.cols[j][this.n] = vals[off + j];
    this.n++;
  }
  clear(): void {
    this.n = 0;
    this.stride = 1;
    this.skip = 0;
  }
  view(j: number): Float64Array {
    return this.cols[j].subarray(0, this.n);
  }
}

/** A sliding window over the most recent `cap` records. */
export class Window {
  cols: Float64Array[];
  n = 0;
  constructor(readonly nCols: number, readonly cap = 800) {
    this.cols = Array.from({ length: nCols }, () => new Float64Array(cap));
  }
  push(vals: ArrayLike<number>, off = 0): void {
    if (this.n === this.cap) {
      for (const c of this.cols) c.copyWithin(0, 1);
      this.n--;
    }
    for (let j = 0; j < this.nCols; j++) this.cols[j][this.n] = vals[off + j];
    this.n++;
  }
  clear(): void {
    this.n = 0;
  }
  view(j: number): Float64Array {
    return this.cols[j].subarray(0, this.n);
  }
}
