/** The MNIST-1D view: online learning and evaluation in the worker, checkpoint load and download, accuracy plots. */
import type { NetworkSpecInput } from 'gle/core';
import { COLORS, History } from '../plots.js';
import { readCheckpoint } from '../checkpoint.js';
import type { MnistData } from '../protocol.js';
import { $, addChart, el, exportBar, toast, type Send, type View } from '../ui.js';

export interface MnistView extends View {
  onData(m: MnistData): void;
  /** forget the accuracy history (a new network) */
  clearHistory(): void;
}

/**
 * Build the view into `parent` (appended first, so the charts get its width). `onCheckpointSpec` receives the spec
 * of a loaded checkpoint (the spec editor shows it).
 */
export function createMnistView(parent: HTMLElement, send: Send, onCheckpointSpec: (spec: NetworkSpecInput) => void): MnistView {
  const view = el(`<section class="view" id="view-mnist" hidden>
  <p class="intro">MNIST-1D (360 points per sample, one point per dt-step) streamed through a GLE network that learns online in this page
  (batch of 8 parallel streams, Adam step every dt-step, logits summed over each sample). The network comes from the spec editor or a CLI checkpoint.
  Two running accuracies: <em>in-stream</em> reads the learning network's own summed logits, so it includes the network's adaptation to the label held during
  each sample; <em>prequential</em> scores each sample with a copy of the parameters from before that sample (an honest online estimate; the confusion matrix uses it).
  <em>Evaluate on test split</em> measures held-out accuracy (no target, no learning).</p>
  <div class="row controls">
    <button id="mnist-run">Start learning</button>
    <button id="mnist-eval">Evaluate on test split</button>
    <label class="file">Load checkpoint (spec.json + model.safetensors) <input type="file" id="mnist-ckpt" multiple accept=".json,.safetensors"></label>
    <button id="mnist-export">Download checkpoint</button>
  </div>
  <div id="mnist-drop" class="drop">…or drop the two checkpoint files here</div>
  <div class="status"><span id="mnist-status">not loaded</span> · phase <b id="mnist-phase">train</b> · samples <span id="mnist-samples">0</span> ·
    running accuracy <b id="mnist-acc" data-testid="mnist-acc">–</b> (in-stream) / <b id="mnist-preq">–</b> (prequential) · overall (confusion matrix) <span id="mnist-overall">–</span> · <span id="mnist-rate">0</span> steps/s</div>
  <div class="grid" id="mnist-plots"></div>
  <div class="row"><div><h3>Summed logits of the last finished sample (stream 0): <span id="mnist-pred"></span></h3><div id="mnist-logits" class="bars"></div></div>
  <div><h3>Confusion matrix (prequential while learning; rows: true, columns: predicted)</h3><table id="mnist-confusion"></table></div></div>
</section>`);
  parent.appendChild(view);
  const charts: View['charts'] = [];
  const accHist = new History(4, 2000);
  let running = false;
  let last: MnistData | null = null;

  const box = $('#mnist-plots', view);
  addChart(box, charts, 'current sample (stream 0)', [{ label: 'x', color: COLORS[0] }], { xLabel: 'point' });
  addChart(box, charts, 'running accuracy over the last 200 training samples', [
    { label: 'in-stream (learning net, label held)', color: COLORS[2] },
    { label: 'prequential (scored before learning)', color: COLORS[3] },
    { label: 'chance', color: COLORS[8] },
  ], { xLabel: 'samples', yRange: [0, 1] });

  function onData(m: MnistData): void {
    if (m.phase === 'train') accHist.push([m.samples, m.running, m.prequential, 0.1]);
    last = m;
    if (m.evalDone) {
      running = false;
      $('#mnist-run').textContent = 'Start learning';
      $('#mnist-status').textContent = `test accuracy ${(100 * m.accuracy).toFixed(1)} % on ${m.samples} samples`;
    }
    draw();
  }

  function draw(): void {
    const m = last;
    if (!m || view.hidden) return;
    const [cs, ca] = charts;
    if (m.sample) cs.setData(Float64Array.from(m.sample, (_, i) => i), [m.sample]);
    ca.setData(accHist.view(0), [accHist.view(1), accHist.view(2), accHist.view(3)]);
    $('#mnist-phase').textContent = m.phase;
    $('#mnist-samples').textContent = String(m.samples);
    const acc = m.phase === 'train' ? m.running : m.accuracy;
    $('#mnist-acc').textContent = `${(100 * acc).toFixed(1)} %`;
    $('#mnist-acc').dataset.value = String(acc);
    $('#mnist-pred').textContent = `label ${m.label}, predicted ${m.pred}`;
    $('#mnist-overall').textContent = `${(100 * m.accuracy).toFixed(1)} %`;
    $('#mnist-preq').textContent = m.phase === 'train' ? `${(100 * m.prequential).toFixed(1)} %` : '–';
    $('#mnist-preq').dataset.value = String(m.prequential);
    $('#mnist-rate').textContent = m.stepsPerSec.toFixed(0);
    const max = Math.max(1e-9, ...Array.from(m.logits, Math.abs));
    $('#mnist-logits').innerHTML = Array.from(m.logits, (v, c) => `<div class="bar${c === m.label ? ' label' : ''}"><span style="width:${(50 * Math.abs(v)) / max}%;margin-left:${v < 0 ? 50 - (50 * Math.abs(v)) / max : 50}%"></span><i>${c}</i></div>`).join('');
    let rows = '<tr><th></th>' + Array.from({ length: 10 }, (_, c) => `<th>${c}</th>`).join('') + '</tr>';
    let cmax = 1;
    for (const v of m.confusion) cmax = Math.max(cmax, v);
    for (let r = 0; r < 10; r++) {
      rows += `<tr><th>${r}</th>`;
      for (let c = 0; c < 10; c++) {
        const v = m.confusion[r * 10 + c];
        rows += `<td style="background:rgba(${r === c ? '44,160,44' : '214,39,40'},${(v / cmax).toFixed(2)})">${v || ''}</td>`;
      }
      rows += '</tr>';
    }
    $('#mnist-confusion').innerHTML = rows;
  }

  async function loadCheckpointFiles(files: File[]): Promise<void> {
    try {
      const ck = await readCheckpoint(files);
      accHist.clear();
      send({ type: 'mnist:load', spec: ck.spec, tensors: ck.tensors });
      onCheckpointSpec(ck.spec);
    } catch (e) {
      toast((e as Error).message);
    }
  }

  const run = $<HTMLButtonElement>('#mnist-run', view);
  run.onclick = () => {
    running = !running;
    run.textContent = running ? 'Pause' : 'Start learning';
    send({ type: 'mnist:run', running });
  };
  $('#mnist-eval', view).onclick = () => {
    running = false;
    run.textContent = 'Start learning';
    send({ type: 'mnist:eval', limit: 1000 });
  };
  $<HTMLInputElement>('#mnist-ckpt', view).onchange = (e) => void loadCheckpointFiles(Array.from((e.target as HTMLInputElement).files ?? []));
  const drop = $('#mnist-drop', view);
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add('over');
  };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void loadCheckpointFiles(Array.from(e.dataTransfer?.files ?? []));
  };
  $('#mnist-export', view).onclick = () => send({ type: 'export', which: 'mnist' });
  view.appendChild(exportBar('mnist', charts));

  return {
    name: 'mnist',
    el: view,
    charts,
    onShow: () => send({ type: 'mnist:init', dataBase: new URL('data/', document.baseURI).href }),
    onData,
    clearHistory: () => accHist.clear(),
  };
}
