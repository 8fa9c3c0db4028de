/**
 * GLE Lab page: builds the views (views/*.ts, one module per view), talks to the simulation worker, switches tabs
 * (ARIA tabs, arrow keys), keeps the page's settings in its link (#view?key=value&…) and draws at screen rate.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { download } from './plots.js';
import { encodeCheckpoint } from './checkpoint.js';
import type { BackendChoice, FromWorker, ToWorker } from './protocol.js';
import { $, toast, type View } from './ui.js';
import { createChainView } from './views/chain.js';
import { createOperatorsView } from './views/operators.js';
import { createMnistView } from './views/mnist.js';
import { createSpecView } from './views/spec.js';
import { createPalView } from './views/pal.js';
import { createLeDigitsView } from './views/le-digits.js';

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker): void => worker.postMessage(m);
// the MNIST-1D network's backend: auto (webgpu when navigator.gpu gives an adapter, else wasm) unless the page's
// link asks for one (?backend=webgpu|wasm|js) or the header's menu changes it
const CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'js'];
const asked = new URLSearchParams(location.search).get('backend') as BackendChoice | null;
const choiceEl = document.querySelector<HTMLSelectElement>('#backend-choice')!;
choiceEl.value = asked && CHOICES.includes(asked) ? asked : 'auto';
send({ type: 'backend', choice: choiceEl.value as BackendChoice });
choiceEl.onchange = () => {
  const q = new URLSearchParams(location.search);
  if (choiceEl.value === 'auto') q.delete('backend');
  else q.set('backend', choiceEl.value);
  history.replaceState(null, '', `${location.pathname}${q.size ? `?${q}` : ''}${location.hash}`);
  send({ type: 'backend', choice: choiceEl.value as BackendChoice });
};
let chainLabel = '';
/** The header: the backend each network actually runs on (data-mnist-backend for tests). */
function showBackends(mnistLabel: string): void {
  $('#backend').textContent = `chain: ${chainLabel} · MNIST-1D: ${mnistLabel}`;
  $('#backend').dataset.mnistBackend = mnistLabel;
}
const app = $('#app');

const chain = createChainView(app, send);
const operators = createOperatorsView(app, send);
const mnist = createMnistView(app, send, (s) => spec.setSpec(s));
const spec = createSpecView(app, send, () => mnist.clearHistory());
const pal = createPalView(app);
const le = createLeDigitsView(app);
const views = new Map<string, View>([chain, operators, mnist, spec, pal, le].map((v) => [v.name, v]));
let current = 'chain';
const tabs = Array.from(document.querySelectorAll<HTMLButtonElement>('#tabs [role="tab"]'));

function showView(name: string, focus = false): void {
  current = name;
  for (const [k, v] of views) v.el.hidden = k !== name;
  for (const b of tabs) {
    const on = b.dataset.view === name;
    b.classList.toggle('active', on);
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
    if (on && focus) b.focus();
  }
  send({ type: 'view', name }); // only the shown view's simulation runs
  const v = views.get(name);
  for (const c of v?.charts ?? []) c.resize();
  v?.onShow?.();
  writeLink();
}

// ---------------------------------------------------------------- the page's link
/** `#view?k=v&…` with the shown view's settings. */
function link(): string {
  const q = new URLSearchParams(views.get(current)?.getState?.() ?? {});
  const s = q.toString();
  return `#${current}${s ? `?${s}` : ''}`;
}
let linkTimer = 0;
function writeLink(): void {
  clearTimeout(linkTimer);
  const seen = location.hash;
  linkTimer = window.setTimeout(() => {
    // a navigation since then (a pasted link, back/forward) wins: its hashchange reads it and writes the link again
    if (location.hash === seen) history.replaceState(null, '', link());
  }, 200);
}
function readLink(): void {
  clearTimeout(linkTimer);
  const h = location.hash.slice(1);
  const [name, query] = h.split('?');
  const v = views.get(name);
  showView(v ? name : 'chain');
  if (v && query) v.setState?.(Object.fromEntries(new URLSearchParams(query)));
  writeLink();
}
// every control change updates the link
document.addEventListener('input', writeLink);
document.addEventListener('change', writeLink);
document.addEventListener('click', (e) => {
  if ((e.target as HTMLElement).closest('button')) writeLink();
});
$('#copy-link').onclick = async () => {
  history.replaceState(null, '', link());
  try {
    await navigator.clipboard.writeText(location.href);
    toast('link to this view and its settings copied', false);
  } catch {
    toast(`link: ${location.href}`, false);
  }
};

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case 'ready':
      chainLabel = m.chainBackend;
      showBackends(`${m.backend} (float32 specs)`);
      document.body.dataset.ready = '1';
      break;
    case 'backend':
      if (chainLabel) showBackends(m.mnist);
      break;
    case 'chain:data': chain.onData(m); break;
    case 'op:data': operators.onData(m); break;
    case 'mnist:data':
      mnist.onData(m);
      showBackends(m.backend);
      $('#backend').dataset.mnistLoss = String(m.loss); // the last record's mean loss over its steps (tests)
      break;
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

tabs.forEach((b, i) => {
  b.onclick = () => showView(b.dataset.view!);
  b.onkeydown = (e) => {
    const k = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      showView(tabs[e.key === 'Home' ? 0 : tabs.length - 1].dataset.view!, true);
    } else if (k) {
      e.preventDefault();
      showView(tabs[(i + k + tabs.length) % tabs.length].dataset.view!, true);
    }
  };
});
window.addEventListener('resize', () => views.get(current)?.charts.forEach((c) => c.resize()));
window.addEventListener('hashchange', readLink);
readLink();
requestAnimationFrame(frame);
