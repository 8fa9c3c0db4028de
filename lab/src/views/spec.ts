/** The spec editor: the MNIST-1D network's spec as JSON, validated as you type by the CLI's own parseSpec. */
import { parseSpec } from 'gle/core';
import { DEFAULT_MNIST_SPEC } from '../sim/mnist.js';
import { $, el, toast, type Send, type View } from '../ui.js';

export interface SpecView extends View {
  /** show a spec (e.g. a loaded checkpoint's) in the editor and validate it */
  setSpec(spec: unknown): void;
}

/** Build the view into `parent`. `onApply` runs when a valid spec is applied to the MNIST-1D network. */
export function createSpecView(parent: HTMLElement, send: Send, onApply: () => void): SpecView {
  const view = el(`<section class="view" id="view-spec" hidden role="tabpanel" aria-labelledby="tab-spec">
  <p class="intro">The network spec (JSON) of the MNIST-1D network, checked as you type by the same validator the CLI uses (<code>parseSpec</code>).
  MNIST-1D needs <code>input_size: 1</code> and a top layer of size 10.</p>
  <div class="row controls">
    <button type="button" id="spec-apply">Apply to MNIST-1D</button>
    <label class="file">Upload spec <input type="file" id="spec-upload" accept=".json,application/json"></label>
    <button type="button" id="spec-reset">Default spec</button>
  </div>
  <label for="spec-text" class="muted-dark">Spec (JSON)</label>
  <textarea id="spec-text" spellcheck="false" data-testid="spec-text" aria-describedby="spec-result"></textarea>
  <div id="spec-result" data-testid="spec-result" class="ok" role="status" aria-live="polite"></div>
</section>`);
  parent.appendChild(view);
  const specText = $<HTMLTextAreaElement>('#spec-text', view);

/** Above this many parameters the page warns (a few steps per second); above the hard limit it refuses to apply. */
  const WARN_PARAMS = 200_000, MAX_PARAMS = 5_000_000;

  /** MNIST-1D's own requirements, read from the raw JSON so that they show with the validator's problems at once. */
  function mnistProblems(json: unknown): string[] {
    const j = json as { input_size?: unknown; layers?: { size?: unknown }[] } | null;
    const out: string[] = [];
    if (!j || typeof j !== 'object') return out;
    if (j.input_size !== undefined && j.input_size !== 1) out.push(`input_size: MNIST-1D streams one point per step, so it must be 1 (got ${JSON.stringify(j.input_size)})`);
    if (Array.isArray(j.layers) && j.layers.length) {
      const top = j.layers[j.layers.length - 1];
      if (top && typeof top === 'object' && top.size !== undefined && top.size !== 10) out.push(`layers[${j.layers.length - 1}].size: the top layer must have 10 outputs for MNIST-1D (got ${JSON.stringify(top.size)})`);
    }
    return out;
  }

  /** Validate the editor's text; returns the parsed JSON when valid (and small enough for the page). */
  function validate(): unknown | null {
    const out = $('#spec-result', view);
    let json: unknown;
    try {
      json = JSON.parse(specText.value);
    } catch (e) {
      out.className = 'error';
      out.textContent = `JSON syntax error: ${(e as Error).message}`;
      return null;
    }
    const problems = mnistProblems(json);
    try {
      const s = parseSpec(json);
      if (problems.length) {
        out.className = 'error';
        out.textContent = `spec is valid, but not for MNIST-1D:\n  - ${problems.join('\n  - ')}`;
        return null;
      }
      const params = s.resolved.reduce((a, l) => a + l.size * l.nIn + (l.bias ? l.size : 0), 0);
      const what = `${s.resolved.length} layers (${s.resolved.map((l) => l.size).join('–')}), ${params.toLocaleString('en')} weights and biases, dtype ${s.dtype}, loss ${s.loss}`;
      if (params > MAX_PARAMS) {
        out.className = 'error';
        out.textContent = `too large for the page: ${what}. Above ${MAX_PARAMS.toLocaleString('en')} parameters a tab would take minutes per sample; train it with the CLI (gle run) and load the checkpoint here.`;
        return null;
      }
      out.className = params > WARN_PARAMS ? 'warn' : 'ok';
      out.textContent = `valid: ${what}${params > WARN_PARAMS ? ` — large for a page: expect only a few samples per second (the default net has about 3,000)` : ''}`;
      return json;
    } catch (e) {
      out.className = 'error';
      out.textContent = [(e as Error).message, ...problems.map((p) => `  - ${p}`)].join('\n');
      return null;
    }
  }

  function setSpec(spec: unknown): void {
    specText.value = JSON.stringify(spec, null, 2);
    validate();
  }

  specText.value = JSON.stringify(DEFAULT_MNIST_SPEC, null, 2);
  let timer = 0;
  specText.oninput = () => {
    clearTimeout(timer);
    timer = window.setTimeout(validate, 150);
  };
  $('#spec-apply', view).onclick = () => {
    const json = validate();
    if (!json) return;
    onApply();
    send({ type: 'mnist:init', dataBase: new URL('data/', document.baseURI).href });
    send({ type: 'mnist:spec', spec: json as never });
    toast('spec applied to the MNIST-1D network', false);
  };
  $<HTMLInputElement>('#spec-upload', view).onchange = async (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    specText.value = await f.text();
    validate();
  };
  $('#spec-reset', view).onclick = () => setSpec(DEFAULT_MNIST_SPEC);
  validate();

  return { name: 'spec', title: 'Network spec', el: view, charts: [], setSpec };
}
