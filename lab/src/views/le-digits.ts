/**
 * LE digits: draw a digit (mouse, touch or pen; or pick a test digit from the keyboard) and watch a Latent
 * Equilibrium network classify it while the pen moves. The drawn image is preprocessed like MNIST (sim/le-digits.ts)
 * once per frame while it changes and sent to the view's own worker (le-worker.ts), which steps the LE network and a
 * twin with the same parameters but no prospective coding (τ = 0, a plain leaky readout) in real time. The bars show
 * both outputs now; the charts show them over time: LE's output jumps to its new value within one dt per stage, the
 * leaky twin's relaxes over several τ_m. The network: one of the built-in LE networks, trained by the CLI — an MLP
 * 784-100-10 (public/le-digits/) or a LeNet-5 (public/le-digits/lenet/), each with a provenance.json that says how
 * and its test accuracy, which the status line shows — or a CLI run's checkpoint (config.json + checkpoint/meta.json + checkpoint/state.bin of
 * `gle run le-mnist-mlp | le-mnist-lenet`), or spec.json + model.safetensors in the asset's format.
 */
import '../le-digits.css';
import { COLORS, type SvgPanel } from '../plots.js';
import { $, addChart, el, exportBar, fileInputs, fmt, setSlider, slider, sliderValue, toast, type View } from '../ui.js';
import { readJsonFile } from '../checkpoint.js';
import { argmax, describeLayers, modelFromRun, modelFromSafetensors, mnistPreprocess, type LeModel } from '../sim/le-digits.js';
import type { FromLe, ToLe } from '../le-worker.js';

const SIZE = 280; // the drawing canvas's own pixels (10 per MNIST pixel)
const PEN = 22; // pen width in canvas pixels (≈ 2.2 MNIST pixels after scaling the digit to 20 px)
const WINDOW_TAU = 15; // the time charts show the last 15 τ_m
const DEFAULT_TAU_MS = 250;
/** the built-in networks: asset folder under the page's base, by the <select> value */
const BUILTIN: Record<string, { dir: string; name: string }> = {
  mlp: { dir: 'le-digits/', name: 'LE MLP 784-100-10' },
  lenet: { dir: 'le-digits/lenet/', name: 'LE LeNet-5' },
};
const DEFAULT_NET = 'mlp';

interface TestDigits {
  labels: number[];
  pixels: Uint8Array;
  source: string;
}

function b64(s: string): Uint8Array {
  const bin = atob(s);
  const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return u;
}

/**
 * The view's section is created at once (for the tabs); its content, charts, frame loop and worker only when it is first
 * shown, and its frame loop runs only while it is shown, so the other views never pay for it.
 */
export function createLeDigitsView(parent: HTMLElement): View {
  const view = el(`<section class="view" id="view-le" hidden role="tabpanel" aria-labelledby="tab-le"></section>`);
  parent.appendChild(view);
  let inner: LeDigitsParts | null = null;
  const self: View = {
    name: 'le',
    title: 'LE digits: a Latent Equilibrium network reads a drawn digit',
    el: view,
    charts: [],
    onShow: () => {
      inner ??= buildLeDigits(self);
      inner.onShow();
    },
    getState: () => inner?.getState() ?? {},
    setState: (st) => inner?.setState(st),
    caption: () => inner?.caption() ?? '',
    extraPanels: () => inner?.extraPanels() ?? [],
  };
  return self;
}

/** What the view does once built (the rest of its View). */
type LeDigitsParts = Required<Pick<View, 'onShow' | 'getState' | 'setState' | 'caption' | 'extraPanels'>>;

/** Build the view's content into `self.el` (its charts into `self.charts`) and start nothing yet. */
function buildLeDigits(self: View): LeDigitsParts {
  const { el: view, charts } = self;
  view.innerHTML = `
  <p class="intro">Latent Equilibrium (Haider et al. 2021): each neuron outputs φ of its <em>prospective</em> potential ŭ = u + τ u̇, which for
  τ = τ<sub>m</sub> equals W r + b at once, so a whole network answers a new input after one dt per layer instead of relaxing for several
  τ<sub>m</sub>. Draw a digit: the <b>LE</b> output follows the pen; its <b>leaky twin</b> (same weights, τ = 0: not prospective) lags behind.</p>
  <div class="row le-top">
    <div class="le-pad">
      <canvas id="le-canvas" width="${SIZE}" height="${SIZE}" role="img" aria-label="drawing pad: draw a digit with the mouse, a finger or a pen"></canvas>
      <div class="row controls">
        <button type="button" id="le-clear">Clear</button>
        <label>test digit <select id="le-digit" aria-label="a digit of the test split to show instead of drawing"></select></label>
        <button type="button" id="le-show">Show digit</button>
      </div>
      <canvas id="le-input" width="28" height="28" role="img" aria-label="the network's 28 × 28 input after MNIST-like preprocessing"></canvas>
      <span class="muted-dark">network input (28 × 28)</span>
    </div>
    <div class="le-bars-box">
      <svg id="le-bars" viewBox="0 0 420 260" role="img" aria-label="output rate per class, LE and leaky twin"></svg>
      <div class="status" role="status" aria-live="polite"><span id="le-pred">draw a digit</span></div>
    </div>
  </div>
  <div class="row controls">
    ${slider('le-tau', 'τ<sub>m</sub> on screen', 20, 2000, 0, DEFAULT_TAU_MS, true, 'ms')}
    <button type="button" id="le-run">Pause</button>
    <label class="file">Load network (a CLI run: config.json + checkpoint/meta.json + checkpoint/state.bin, or spec.json + model.safetensors) <input type="file" id="le-ckpt" multiple accept=".json,.bin,.safetensors"></label>
    <label>built-in network <select id="le-net" aria-label="the built-in network">${Object.entries(BUILTIN).map(([k, b]) => `<option value="${k}">${b.name}</option>`).join('')}</select></label>
    <button type="button" id="le-builtin">Built-in network</button>
  </div>
  <div id="le-drop" class="drop">…or drop the checkpoint files here</div>
  <div class="status"><span id="le-status">loading the built-in network…</span></div>
  <div class="status"><span id="le-settle-text"></span></div>
  <div class="grid" id="le-plots"></div>`;
  const box = $('#le-plots', view);
  const classSeries = Array.from({ length: 10 }, (_, i) => ({ label: String(i), color: COLORS[i] }));
  const chartLe = addChart(box, charts, 'LE output rates', classSeries, { xLabel: 'time (τ_m)', yLabel: 'rate r', yToggle: false });
  const chartLeaky = addChart(box, charts, 'leaky twin (τ = 0) output rates', classSeries.map((s) => ({ ...s, dash: [5, 3] })), { xLabel: 'time (τ_m)', yLabel: 'rate r', yToggle: false });

  const canvas = $<HTMLCanvasElement>('#le-canvas', view);
  const g = canvas.getContext('2d', { willReadFrequently: true })!;
  const small = $<HTMLCanvasElement>('#le-input', view);
  const gs = small.getContext('2d')!;
  const tauIn = $<HTMLInputElement>('#le-tau', view);
  const x = new Float64Array(784);
  const ink = new Float32Array(SIZE * SIZE);
  let worker: Worker | null = null;
  let running = true;
  let dirty = false;
  let inputsSent = 0;
  let nOut = 10;
  let modelInfo = '';
  let testDigits: TestDigits | null = null;
  // histories (the last WINDOW_TAU τ_m)
  let T: number[] = [];
  let H: { le: number[][]; leaky: number[][] } = { le: [], leaky: [] };
  let nowLe = new Float32Array(10), nowLeaky = new Float32Array(10);
  let lastData: Extract<FromLe, { type: 'data' }> | null = null;

  const send = (m: ToLe): void => worker?.postMessage(m);

  // ------------------------------------------------------------ drawing
  function clearPad(): void {
    g.clearRect(0, 0, SIZE, SIZE);
    dirty = true;
  }
  g.lineCap = 'round';
  g.lineJoin = 'round';
  let drawing = false, px = 0, py = 0;
  const pos = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * SIZE, ((e.clientY - r.top) / r.height) * SIZE];
  };
  function seg(x0: number, y0: number, x1: number, y1: number): void {
    g.strokeStyle = '#000';
    g.lineWidth = PEN;
    g.lineCap = 'round';
    g.beginPath();
    g.moveTo(x0, y0);
    g.lineTo(x1, y1);
    g.stroke();
    dirty = true;
  }
  canvas.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    try {
      canvas.setPointerCapture(e.pointerId);
    } catch {
      // a synthetic pointer without an active pointer id: drawing works without capture
    }
    drawing = true;
    [px, py] = pos(e);
    seg(px, py, px, py);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    const evs = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const c of evs.length ? evs : [e]) {
      const [nx, ny] = pos(c);
      seg(px, py, nx, ny);
      px = nx;
      py = ny;
    }
  });
  const end = (): void => {
    drawing = false;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  /** Read the pad, preprocess like MNIST, show the 28 × 28 input and send it to the worker. */
  function feed(): void {
    dirty = false;
    const img = g.getImageData(0, 0, SIZE, SIZE).data;
    for (let i = 0; i < ink.length; i++) ink[i] = img[4 * i + 3] / 255;
    const any = mnistPreprocess(ink, SIZE, SIZE, x);
    const id = gs.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = 255 - Math.round(255 * x[i]);
      id.data.set([v, v, v, 255], 4 * i);
    }
    gs.putImageData(id, 0, 0);
    send({ type: 'input', x: any ? Float64Array.from(x) : null });
    view.dataset.inputsSent = String(++inputsSent);
  }

  /** Put test digit i on the pad (10 × upscaled, its grey values as ink). */
  function showDigit(i: number): void {
    if (!testDigits) return;
    const id = g.createImageData(SIZE, SIZE);
    const p = testDigits.pixels.subarray(784 * i, 784 * (i + 1));
    const f = SIZE / 28;
    for (let yy = 0; yy < SIZE; yy++)
      for (let xx = 0; xx < SIZE; xx++) id.data[4 * (yy * SIZE + xx) + 3] = p[Math.floor(yy / f) * 28 + Math.floor(xx / f)];
    g.putImageData(id, 0, 0);
    dirty = true;
  }

  // ------------------------------------------------------------ the network
  const netSel = $<HTMLSelectElement>('#le-net', view);
  let loads = 0; // a later load wins over an earlier one still fetching
  async function loadBuiltin(): Promise<void> {
    const which = BUILTIN[netSel.value] ? netSel.value : DEFAULT_NET;
    const mine = ++loads;
    try {
      const base = new URL(BUILTIN[which].dir, document.baseURI);
      const get = (u: URL) => fetch(u).then((r) => {
        if (!r.ok) throw new Error(`${u.pathname}: HTTP ${r.status}`);
        return r;
      });
      const [spec, model, prov, digits] = await Promise.all([
        get(new URL('spec.json', base)).then((r) => r.json()),
        get(new URL('model.safetensors', base)).then((r) => r.arrayBuffer()),
        get(new URL('provenance.json', base)).then((r) => r.json() as Promise<{ summary?: string; cli_test_acc?: number }>),
        testDigits ? Promise.resolve(null) : get(new URL(`${BUILTIN[DEFAULT_NET].dir}test-digits.json`, document.baseURI)).then((r) => r.json() as Promise<{ labels: number[]; pixels: string; source: string }>),
      ]);
      if (digits) {
        testDigits = { labels: digits.labels, pixels: b64(digits.pixels), source: digits.source };
        const sel = $<HTMLSelectElement>('#le-digit', view);
        sel.innerHTML = digits.labels.map((l, i) => `<option value="${i}">${l} (#${i + 1})</option>`).join('');
      }
      if (mine !== loads) return;
      view.dataset.testAcc = typeof prov.cli_test_acc === 'number' ? String(prov.cli_test_acc) : '';
      setModel(modelFromSafetensors(spec, new Uint8Array(model), `built-in: ${prov.summary ?? BUILTIN[which].name}`));
    } catch (e) {
      $('#le-status', view).textContent = `the built-in network did not load: ${(e as Error).message}`;
    }
  }

  function setModel(m: LeModel): void {
    modelInfo = `${m.source} · ${describeLayers(m.spec)} · τ = ${m.spec.tau}, τ_m = ${m.spec.tau_m ?? m.spec.tau}`;
    send({ type: 'model', model: m });
  }

  async function loadFiles(files: File[]): Promise<void> {
    try {
      const by = (n: string) => files.find((f) => f.name === n);
      let m: LeModel;
      if (by('config.json') || by('state.bin')) {
        const cfg = by('config.json'), meta = by('meta.json'), state = by('state.bin');
        if (!cfg || !meta || !state) throw new Error('a CLI run needs three files: config.json (in the run folder), meta.json and state.bin (in its checkpoint/ folder)');
        m = await modelFromRun(await readJsonFile(cfg), await readJsonFile(meta), async (o, n) => {
          if (o + n > state.size) throw new Error(`state.bin: truncated (${state.size} bytes, the layout needs ${o + n})`);
          return state.slice(o, o + n).arrayBuffer();
        }, `CLI run ${cfg.name}`);
      } else {
        const spec = files.find((f) => f.name.endsWith('.json')), model = files.find((f) => f.name.endsWith('.safetensors'));
        if (!spec || !model) throw new Error('choose a CLI run\'s config.json + meta.json + state.bin, or spec.json + model.safetensors');
        m = modelFromSafetensors(await readJsonFile(spec), new Uint8Array(await model.arrayBuffer()), model.name);
      }
      loads++; // a built-in network still fetching does not replace this one
      if (m.spec.input_shape.reduce((a, b) => a * b, 1) !== 784) throw new Error(`the network's input is ${m.spec.input_shape.join('×')}; this view draws 28 × 28 digits`);
      view.dataset.testAcc = '';
      setModel(m);
    } catch (e) {
      toast(`LE digits: ${(e as Error).message}`);
      $('#le-status', view).textContent = `error: ${(e as Error).message}`;
    }
  }

  function startWorker(): void {
    if (worker) return;
    worker = new Worker(new URL('../le-worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (ev: MessageEvent<FromLe>) => onMessage(ev.data);
    worker.onerror = (e) => toast(`LE worker: ${e.message}`);
    send({ type: 'speed', tauMs: sliderValue(tauIn) });
    send({ type: 'run', on: running && !view.hidden });
    void loadBuiltin();
  }

  function onMessage(m: FromLe): void {
    if (m.type === 'error') {
      toast(`LE digits: ${m.message}`);
      $('#le-status', view).textContent = `error: ${m.message}`;
      return;
    }
    if (m.type === 'ready') {
      nOut = m.nOut;
      T = [];
      H = { le: Array.from({ length: nOut }, () => []), leaky: Array.from({ length: nOut }, () => []) };
      view.dataset.model = m.source;
      $('#le-status', view).textContent = `${modelInfo} · ${m.params.toLocaleString()} parameters · ${m.backend} · dt = τ_m / ${m.stepsPerTau}`;
      view.dataset.ready = '1';
      dirty = true;
      return;
    }
    lastData = m;
    const n = m.t.length;
    for (let i = 0; i < n; i++) {
      T.push(m.t[i]);
      for (let j = 0; j < nOut; j++) {
        H.le[j].push(m.le[i * nOut + j]);
        H.leaky[j].push(m.leaky[i * nOut + j]);
      }
    }
    nowLe = m.le.slice((n - 1) * nOut, n * nOut);
    nowLeaky = m.leaky.slice((n - 1) * nOut, n * nOut);
    const t0 = T[T.length - 1] - WINDOW_TAU;
    let cut = 0;
    while (cut < T.length && T[cut] < t0) cut++;
    if (cut > 0) {
      T.splice(0, cut);
      for (const a of [...H.le, ...H.leaky]) a.splice(0, cut);
    }
    // for tests and screen readers: the current predictions and the settling counts
    Object.assign(view.dataset, { predLe: String(m.predLe), predLeaky: String(m.predLeaky), inputs: String(m.inputs), since: String(m.since), settleLe: String(m.settleLe), settleLeaky: String(m.settleLeaky), steps: String(m.steps), stepsPerSec: String(Math.round(m.stepsPerSec)) });
  }

  // ------------------------------------------------------------ drawing the outputs
  function barsSvg(): string {
    const W = 420, L = 40, top = 24, bottom = 40, Hh = 260 - top - bottom, bw = (W - L - 10) / nOut;
    const all = [...nowLe, ...nowLeaky];
    const hi = Math.max(1, ...all), lo = Math.min(0, ...all);
    const y = (v: number) => top + ((hi - v) / (hi - lo)) * Hh;
    const p = [`<text x="${L}" y="14" font-size="13" font-weight="bold">output rate per class (LE solid, leaky twin pale)</text>`];
    const ticks = [0, 0.5, 1, ...(hi > 1.1 ? [hi] : []), ...(lo < -0.1 ? [lo] : [])];
    for (const v of ticks)
      p.push(`<line x1="${L}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 4}" y="${y(v) + 4}" text-anchor="end" font-size="10">${v === 0 ? '0' : fmt(v)}</text>`);
    const kLe = argmax(nowLe), kLk = argmax(nowLeaky);
    for (let j = 0; j < nOut; j++) {
      const x0 = L + j * bw + 3, w = (bw - 6) / 2;
      const a = nowLe[j] ?? 0, b = nowLeaky[j] ?? 0;
      p.push(`<rect x="${x0}" y="${Math.min(y(a), y(0))}" width="${w}" height="${Math.abs(y(a) - y(0))}" fill="${COLORS[j]}" stroke="${j === kLe ? '#000' : 'none'}"><title>class ${j}: LE rate ${a.toFixed(3)}</title></rect>`);
      p.push(`<rect x="${x0 + w}" y="${Math.min(y(b), y(0))}" width="${w}" height="${Math.abs(y(b) - y(0))}" fill="${COLORS[j]}" fill-opacity="0.35" stroke="${j === kLk ? '#555' : 'none'}" stroke-dasharray="3 2"><title>class ${j}: leaky twin rate ${b.toFixed(3)}</title></rect>`);
      p.push(`<text x="${x0 + w}" y="${top + Hh + 14}" text-anchor="middle" font-size="12">${j}</text>`);
    }
    p.push(`<text x="${L + (W - L) / 2}" y="${260 - 6}" text-anchor="middle" font-size="11">class</text><text transform="translate(12 ${top + Hh / 2}) rotate(-90)" text-anchor="middle" font-size="11">rate r</text>`);
    return p.join('');
  }

  let lastPred = '';
  let looping = false;
  function frame(): void {
    if (view.hidden) {
      looping = false; // resumes from onShow
      return;
    }
    if (dirty && worker) feed();
    if (lastData) {
      $('#le-bars', view).innerHTML = barsSvg();
      const d = lastData;
      const pred = `LE predicts ${d.predLe} · leaky twin ${d.predLeaky}`;
      if (pred !== lastPred) $('#le-pred', view).textContent = lastPred = pred;
      const tx = Float64Array.from(T);
      chartLe.setData(tx, H.le.map((a) => Float64Array.from(a)));
      chartLeaky.setData(tx, H.leaky.map((a) => Float64Array.from(a)));
      const st = $('#le-status', view);
      st.dataset.settle = `after the last change of the input (${d.since} steps ago): LE settled in ${d.settleLe} steps (${(d.settleLe / 20).toFixed(2)} τ_m), the leaky twin in ${d.settleLeaky}${d.settleLeaky >= d.since ? '+ (still moving)' : ''} steps (${(d.settleLeaky / 20).toFixed(2)} τ_m) · ${Math.round(d.stepsPerSec)} steps/s`;
      $('#le-settle-text', view).textContent = st.dataset.settle;
    }
    requestAnimationFrame(frame);
  }
  function startLoop(): void {
    if (looping) return;
    looping = true;
    requestAnimationFrame(frame);
  }

  // ------------------------------------------------------------ controls
  $<HTMLButtonElement>('#le-clear', view).onclick = clearPad;
  $<HTMLButtonElement>('#le-show', view).onclick = () => showDigit(Number($<HTMLSelectElement>('#le-digit', view).value));
  tauIn.oninput = () => {
    $('#le-tau-out', view).textContent = fmt(sliderValue(tauIn));
    send({ type: 'speed', tauMs: sliderValue(tauIn) });
  };
  $<HTMLButtonElement>('#le-run', view).onclick = () => {
    running = !running;
    $('#le-run', view).textContent = running ? 'Pause' : 'Run';
    send({ type: 'run', on: running && !view.hidden });
  };
  $<HTMLButtonElement>('#le-builtin', view).onclick = () => void loadBuiltin();
  netSel.onchange = () => void loadBuiltin();
  fileInputs($<HTMLInputElement>('#le-ckpt', view), $('#le-drop', view), (files) => void loadFiles(files));
  // hidden views are paused: the worker steps only while this view is shown
  new MutationObserver(() => send({ type: 'run', on: running && !view.hidden })).observe(view, { attributes: true, attributeFilter: ['hidden'] });

  view.appendChild(exportBar(() => self));
  return {
    onShow: () => {
      startWorker();
      startLoop();
    },
    getState: (): Record<string, string> => {
      const v = sliderValue(tauIn);
      return { ...(v !== DEFAULT_TAU_MS ? { tau: String(v) } : {}), ...(netSel.value !== DEFAULT_NET ? { net: netSel.value } : {}) };
    },
    setState: (s) => {
      if (s.tau !== undefined && Number(s.tau) > 0) send({ type: 'speed', tauMs: setSlider(tauIn, Number(s.tau)) });
      if (s.net !== undefined && BUILTIN[s.net] && s.net !== netSel.value) {
        netSel.value = s.net;
        if (worker) void loadBuiltin();
      }
    },
    caption: () => `${modelInfo}; τ_m shown as ${fmt(sliderValue(tauIn))} ms, dt = τ_m/20${lastData ? `; LE predicts ${lastData.predLe}, leaky twin ${lastData.predLeaky}` : ''}`,
    extraPanels: (): SvgPanel[] => [{ width: 560, height: 270, body: barsSvg() }],
  };
}
