/**
 * GLE Lab page: builds the four views (views/*.ts), talks to the simulation worker, switches tabs and draws the
 * LagLine view at screen rate with uPlot.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { download } from './plots.js';
import { encodeCheckpoint } from './checkpoint.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { $, toast, type View } from './ui.js';
import { createChainView } from './views/chain.js';
import { createOperatorsView } from './views/operators.js';
import { createMnistView } from './views/mnist.js';
import { createSpecView } from './views/spec.js';
import { createPalView } from './views/pal.js';

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker): void => worker.postMessage(m);
const app = $('#app');

const chain = createChainView(app, send);
const operators = createOperatorsView(app);
const mnist = createMnistView(app, send, (s) => spec.setSpec(s));
const spec = createSpecView(app, send, () => mnist.clearHistory());
const pal = createPalView(app);
const views = new Map<string, View>([chain, operators, mnist, spec, pal].map((v) => [v.name, v]));
let current = 'chain';

function showView(name: string): void {
  current = name;
  for (const [k, v] of views) v.el.hidden = k !== name;
  document.querySelectorAll('#tabs button').forEach((b) => b.classList.toggle('active', (b as HTMLElement).dataset.view === name));
  const v = views.get(name);
  for (const c of v?.charts ?? []) c.resize();
  v?.onShow?.();
  history.replaceState(null, '', `#${name}`);
}

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case 'ready':
      $('#backend').textContent = `backend: ${m.backend} (float32), js (float64 chain)`;
      document.body.dataset.ready = '1';
      break;
    case 'chain:data': chain.onData(m); break;
    case 'mnist:data': mnist.onData(m); break;
    case 'mnist:status': $('#mnist-status').textContent = m.text; break;
    case 'checkpoint': {
      const { specJson, model } = encodeCheckpoint(m.spec, m.tensors);
      download('spec.json', specJson, 'application/json');
      setTimeout(() => download('model.safetensors', model), 300);
      break;
    }
    case 'error':
      toast(`${m.where}: ${m.message}`);
      $('#mnist-status').textContent = `error: ${m.message}`;
      break;
  }
};
worker.onerror = (e) => toast(`worker: ${e.message}`);

function frame(): void {
  chain.draw();
  requestAnimationFrame(frame);
}

document.querySelectorAll<HTMLButtonElement>('#tabs button').forEach((b) => (b.onclick = () => showView(b.dataset.view!)));
window.addEventListener('resize', () => views.get(current)?.charts.forEach((c) => c.resize()));
const initial = location.hash.slice(1);
showView(views.has(initial) ? initial : 'chain');
requestAnimationFrame(frame);
