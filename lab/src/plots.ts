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

/** Tick label on a log axis: decades only (1e-6, 0.01, 1, 100, ...). */
function logTick(v: number | null): string {
  if (v == null || !(v > 0)) return '';
  const e = Math.log10(v);
  if (Math.abs(e - Math.round(e)) > 1e-6) return '';
  return Math.abs(e) <= 2 ? String(Number(v.toPrecision(1))) : `1e${Math.round(e)}`;
}

export class Chart {
  readonly u: uPlot;
  constructor(
    readonly title: string,
    readonly el: HTMLElement,
    readonly series: SeriesDef[],
    opts: { xLabel?: string; logY?: boolean; logX?: boolean; height?: number; yRange?: [number, number] } = {},
  ) {
    const width = Math.max(300, el.clientWidth || 560);
    const o: uPlot.Options = {
      title,
      width,
      height: opts.height ?? 220,
      scales: {
        x: { time: false, distr: opts.logX ? 3 : 1 },
        y: opts.logY ? { distr: 3 } : opts.yRange ? { range: opts.yRange } : {},
      },
      axes: [
        { label: opts.xLabel ?? 't', values: opts.logX ? (_u: uPlot, v: number[]) => v.map(logTick) : undefined },
        { values: opts.logY ? (_u: uPlot, v: number[]) => v.map(logTick) : undefined },
      ],
      legend: { live: false },
      cursor: { show: false },
      series: [
        {},
        ...series.map((s) =>
          s.dots
            ? { label: s.label, stroke: s.color, fill: s.color, paths: () => null, points: { show: true, size: 7, stroke: s.color, fill: s.color } }
            : { label: s.label, stroke: s.color, width: 1.5, dash: s.dash, points: { show: false } },
        ),
      ],
    };
    this.u = new uPlot(o, [[], ...series.map(() => [])] as unknown as uPlot.AlignedData, el);
  }
  setData(x: ArrayLike<number>, ys: ArrayLike<number>[]): void {
    this.u.setData([x, ...ys] as unknown as uPlot.AlignedData);
  }
  resize(): void {
    const w = Math.max(300, this.el.clientWidth);
    if (Math.abs(w - this.u.width) > 4) this.u.setSize({ width: w, height: this.u.height });
  }
  png(): Promise<Blob> {
    const src = this.u.ctx.canvas;
    const c = document.createElement('canvas');
    const title = 28;
    c.width = src.width;
    c.height = src.height + title;
    const g = c.getContext('2d')!;
    g.fillStyle = '#fff';
    g.fillRect(0, 0, c.width, c.height);
    g.drawImage(src, 0, title);
    g.fillStyle = '#000';
    g.font = '16px sans-serif';
    g.fillText(this.title, 8, 20);
    let x = 300;
    this.series.forEach((s) => {
      g.fillStyle = s.color;
      g.fillText(s.label, x, 20);
      x += g.measureText(s.label).width + 16;
    });
    return new Promise((res, rej) => c.toBlob((b) => (b ? res(b) : rej(new Error('PNG export failed'))), 'image/png'));
  }
  svg(): string {
    const d = this.u.data as unknown as ArrayLike<number>[];
    return svgChart(this.title, d[0], d.slice(1), this.series, this.u.scales.y.distr === 3);
  }
}

/** A self-contained SVG line chart of the given data (linear x; linear or log y). */
export function svgChart(title: string, x: ArrayLike<number>, ys: ArrayLike<number>[], series: SeriesDef[], logY = false): string {
  const W = 720, H = 320, L = 60, R = 10, T = 30, B = 30;
  const fy = (v: number) => (logY ? Math.log10(Math.max(v, 1e-300)) : v);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < x.length; i++) {
    x0 = Math.min(x0, x[i]);
    x1 = Math.max(x1, x[i]);
    for (const y of ys) if (Number.isFinite(y[i]) && (!logY || y[i] > 0)) (y0 = Math.min(y0, fy(y[i]))), (y1 = Math.max(y1, fy(y[i])));
  }
  if (!(x1 > x0)) (x0 = 0), (x1 = 1);
  if (!(y1 > y0)) (y0 -= 1), (y1 += 1);
  const px = (v: number) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const py = (v: number) => T + (1 - (fy(v) - y0) / (y1 - y0)) * (H - T - B);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="#fff"/>`, `<text x="${L}" y="18" font-size="14">${esc(title)}</text>`, `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#888"/>`];
  for (let k = 0; k <= 4; k++) {
    const yv = y0 + ((y1 - y0) * k) / 4, xv = x0 + ((x1 - x0) * k) / 4;
    const yl = logY ? `1e${yv.toFixed(1)}` : yv.toPrecision(3);
    parts.push(`<text x="${L - 4}" y="${T + (1 - k / 4) * (H - T - B) + 4}" text-anchor="end">${yl}</text>`);
    parts.push(`<text x="${px(xv)}" y="${H - 12}" text-anchor="middle">${xv.toPrecision(4)}</text>`);
  }
  ys.forEach((y, j) => {
    const pts: string[] = [];
    for (let i = 0; i < x.length; i++) if (Number.isFinite(y[i]) && (!logY || y[i] > 0)) pts.push(`${px(x[i]).toFixed(1)},${py(y[i]).toFixed(1)}`);
    const s = series[j];
    if (s.dots) {
      for (const pt of pts) parts.push(`<circle cx="${pt.split(',')[0]}" cy="${pt.split(',')[1]}" r="3" fill="${s.color}"/>`);
      parts.push(`<text x="${W - R - 150}" y="${T + 14 + 13 * j}" fill="${s.color}">${esc(s.label)}</text>`);
      return;
    }
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5"${s.dash ? ` stroke-dasharray="${s.dash.join(' ')}"` : ''} points="${pts.join(' ')}"/>`);
    parts.push(`<text x="${W - R - 150}" y="${T + 14 + 13 * j}" fill="${s.color}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
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
