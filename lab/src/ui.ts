/**
 * Small DOM helpers shared by the lab's views: element lookup and creation, sliders, toasts, chart creation, file
 * loading (picker and drop zone) and the per-view plot export bar. A view is a section element plus its charts; main.ts shows one at a time.
 */
import { Chart, download, figureSvg, svgToPng, type ChartOptions, type SeriesDef } from './plots.js';
import type { ToWorker } from './protocol.js';

export type Send = (m: ToWorker) => void;

/**
 * A view of the lab: one module in src/views/ exporting `create<Name>View(parent, ...)`, which appends a
 * `<section class="view" id="view-<name>" hidden role="tabpanel">` to `parent` and returns this object; main.ts adds
 * a tab for it (index.html's #tabs). Conventions: charts through `addChart` (axis labels with units, hover read-outs,
 * lin/log toggle, export), the export bar from `exportBar` (whole view as one SVG / 2× PNG), settings that belong in
 * the shared link through `getState`/`setState`, simulations in the worker (the page only draws), nothing running
 * while the view is hidden (main.ts tells the worker which view is shown).
 */
export interface View {
  name: string;
  /** the tab's and the figure's heading */
  title?: string;
  el: HTMLElement;
  charts: Chart[];
  /** called when the view becomes visible */
  onShow?(): void;
  /** settings for the page's link (string values; only what differs from the defaults) */
  getState?(): Record<string, string>;
  /** apply settings read from a link */
  setState?(s: Record<string, string>): void;
  /** one line describing the settings, printed under an exported figure */
  caption?(): string;
  /** extra SVG panels for the exported figure (e.g. a confusion matrix) */
  extraPanels?(): import('./plots.js').SvgPanel[];
}

export const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document): T => root.querySelector(sel) as T;

export function toast(msg: string, bad = true): void {
  const t = $('#toast');
  t.textContent = msg;
  t.className = bad ? 'show bad' : 'show';
  setTimeout(() => (t.className = ''), 5000);
}

export function el(html: string): HTMLElement {
  const d = document.createElement('div');
  d.innerHTML = html.trim();
  return d.firstElementChild as HTMLElement;
}

/**
 * A labelled range input. Log sliders move in steps of 0.01 decades on a grid that contains every power of ten
 * (so 1, 0.1, 10 are exactly reachable) and read out 3 significant digits. `unit` is shown after the value.
 */
export function slider(id: string, label: string, min: number, max: number, step: number, value: number, log = false, unit = ''): string {
  const pos = log ? Math.round(Math.log10(value) * 100) / 100 : value;
  const [lo, hi, st] = log ? [Math.ceil(Math.log10(min) * 100 - 1e-9) / 100, Math.floor(Math.log10(max) * 100 + 1e-9) / 100, 0.01] : [min, max, step];
  return `<label class="slider"><span>${label}</span> <input type="range" id="${id}" min="${lo}" max="${hi}" step="${st}" value="${pos}" data-log="${log ? 1 : 0}" aria-label="${label.replace(/<[^>]+>/g, '')}${unit ? ` (${unit})` : ''}"><output id="${id}-out" for="${id}">${fmt(value)}</output>${unit ? `<span class="unit">${unit}</span>` : ''}</label>`;
}
export function sliderValue(inp: HTMLInputElement): number {
  if (inp.dataset.exactAt === inp.value) return Number(inp.dataset.exact); // set from a link, not moved since
  const v = Number(inp.value);
  return inp.dataset.log === '1' ? Number(Math.pow(10, v).toPrecision(3)) : v;
}
/** Set a slider to a value (log sliders: to the nearest grid point); returns the value it now holds. */
export function setSlider(inp: HTMLInputElement, value: number): number {
  inp.value = String(inp.dataset.log === '1' ? Math.round(Math.log10(value) * 100) / 100 : value);
  // keep the exact value (e.g. 0.5 from a link) while the slider stays where it was put
  inp.dataset.exact = String(Math.min(Math.max(value, Math.pow(10, Number(inp.min))), Math.pow(10, Number(inp.max))));
  if (inp.dataset.log !== '1') inp.dataset.exact = String(Math.min(Math.max(value, Number(inp.min)), Number(inp.max)));
  inp.dataset.exactAt = inp.value;
  const v = sliderValue(inp);
  const out = document.getElementById(`${inp.id}-out`);
  if (out) out.textContent = fmt(v);
  return v;
}
export function fmt(v: number): string {
  return Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? String(Number(v.toPrecision(3))) : v.toExponential(1);
}

/**
 * Hand files to `load` from both ways a view takes them: chosen in the file input `input`, or dropped on `drop`
 * (highlighted with the class `over` while files are dragged over it).
 */
export function fileInputs(input: HTMLInputElement, drop: HTMLElement, load: (files: File[]) => void): void {
  input.onchange = () => load(Array.from(input.files ?? []));
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add('over');
  };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    load(Array.from(e.dataTransfer?.files ?? []));
  };
}

/** Append a new chart to `box` and to `charts`. */
export function addChart(box: HTMLElement, charts: Chart[], title: string, series: SeriesDef[], opts: ChartOptions = {}): Chart {
  const d = document.createElement('div');
  box.appendChild(d);
  const c = new Chart(title, d, series, opts);
  charts.push(c);
  return c;
}

/** The whole view as one figure: every chart of it (plus its extra panels) with the view's settings as caption. */
export function viewFigure(view: View): string {
  const panels = [...view.charts.filter((c) => !c.el.closest('[hidden]')).map((c) => c.panel()), ...(view.extraPanels?.() ?? [])];
  const caption = `${view.caption?.() ?? ''}${view.caption ? ' · ' : ''}GLE Lab, ${new Date().toISOString().slice(0, 10)}`;
  return figureSvg(view.title ?? view.name, caption, panels, 2);
}

/** One-click export of the whole view: SVG (vector, publication quality) or PNG at 2× its size. */
export function exportBar(view: () => View): HTMLElement {
  const bar = el(`<div class="row export"><span>Export this view:</span><button type="button" data-fmt="svg">SVG figure</button><button type="button" data-fmt="png">PNG (2×)</button></div>`);
  bar.querySelectorAll('button').forEach((b) =>
    b.addEventListener('click', async () => {
      const v = view();
      const svg = viewFigure(v);
      try {
        if (b.dataset.fmt === 'png') download(`gle-${v.name}.png`, await svgToPng(svg, 2));
        else download(`gle-${v.name}.svg`, svg, 'image/svg+xml');
      } catch (e) {
        toast((e as Error).message);
      }
    }),
  );
  return bar;
}
