/**
 * Small DOM helpers shared by the lab's views: element lookup and creation, sliders, toasts, chart creation and the
 * per-view plot export bar. A view is a section element plus its charts; main.ts shows one at a time.
 */
import { Chart, download, type SeriesDef } from './plots.js';
import type { ToWorker } from './protocol.js';

export type Send = (m: ToWorker) => void;

export interface View {
  name: string;
  el: HTMLElement;
  charts: Chart[];
  /** called when the view becomes visible */
  onShow?(): void;
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

export function slider(id: string, label: string, min: number, max: number, step: number, value: number, log = false): string {
  const pos = log ? Math.log10(value) : value;
  const [lo, hi, st] = log ? [Math.log10(min), Math.log10(max), 0.01] : [min, max, step];
  return `<label class="slider">${label} <input type="range" id="${id}" min="${lo}" max="${hi}" step="${st}" value="${pos}" data-log="${log ? 1 : 0}"><output id="${id}-out">${fmt(value)}</output></label>`;
}
export function sliderValue(inp: HTMLInputElement): number {
  const v = Number(inp.value);
  return inp.dataset.log === '1' ? Math.pow(10, v) : v;
}
export function fmt(v: number): string {
  return Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? String(Number(v.toPrecision(3))) : v.toExponential(1);
}

/** Append a new chart to `box` and to `charts`. */
export function addChart(box: HTMLElement, charts: Chart[], title: string, series: SeriesDef[], opts: ConstructorParameters<typeof Chart>[3] = {}): Chart {
  const d = document.createElement('div');
  box.appendChild(d);
  const c = new Chart(title, d, series, opts);
  charts.push(c);
  return c;
}

/** PNG / SVG download buttons for all charts of a view. */
export function exportBar(view: string, charts: Chart[]): HTMLElement {
  const bar = el(`<div class="row export"><span>Export plots:</span><button data-fmt="png">PNG</button><button data-fmt="svg">SVG</button></div>`);
  bar.querySelectorAll('button').forEach((b) =>
    b.addEventListener('click', async () => {
      for (const [i, c] of charts.entries()) {
        const base = `gle-${view}-${i + 1}`;
        if (b.dataset.fmt === 'png') download(`${base}.png`, await c.png());
        else download(`${base}.svg`, c.svg(), 'image/svg+xml');
      }
    }),
  );
  return bar;
}
