/**
 * LE digits: a Latent Equilibrium classifier (LENetwork of gle/core, an MLP or a LeNet trained by `gle run le-mnist-*`)
 * fed a drawn digit continuously, next to a twin with the same parameters whose neurons are not prospective (τ = 0:
 * ŭ = u, the plain leaky membrane τ_m u̇ = −u + W r + b read out directly). Browser-safe (used by the lab's LE worker,
 * the asset script and the tests).
 *
 * In LE the prospective potential ŭ = u + τ u̇ equals W r̆ + b exactly when τ = τ_m, so the output follows a changing
 * input after one dt per stage (vanilla variant), while the leaky twin relaxes towards the same fixed point with τ_m per
 * stage (several τ). Time is counted in units of τ_m: dt = τ_m / stepsPerTau.
 *
 * Also here: MNIST-like preprocessing of a drawn image (the ink's bounding box scaled so its longer side is 20 px, area
 * averaged = anti-aliased, placed in 28 × 28 with its centre of mass at the centre), and the model's sources: the
 * lab's asset (spec.json + model.safetensors) or a CLI run directory (config.json + checkpoint/meta.json + state.bin).
 */
import { LENetwork, decodeSafetensors, leRunSpec, parseLeSpec, type Backend, type LeRunParams, type LeSpecInput } from 'gle/core';

/** An LE network's parameters: its spec (as the CLI's run built it) and the parameter tensors by state-buffer name. */
export interface LeModel {
  spec: LeSpecInput;
  tensors: Record<string, Float32Array | Float64Array>;
  /** where it came from (shown in the page) */
  source: string;
}

/** Tensor names of an LE network that are parameters (not batch-sized state). */
export function isParamName(name: string): boolean {
  return /^layer_\d+\.(weight|bias|feedback|tau|tau_m)$/.test(name);
}

/** A model from the lab's asset format: spec.json (an LE spec) + model.safetensors (layer_<i>.weight, .bias, …). */
export function modelFromSafetensors(specJson: unknown, model: Uint8Array, source: string): LeModel {
  const spec = parseLeSpec(specJson) as unknown as LeSpecInput; // throws with the field named
  const st = decodeSafetensors(model, source);
  const tensors: LeModel['tensors'] = {};
  for (const [name, t] of Object.entries(st.tensors)) {
    if (!isParamName(name)) continue;
    if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new Error(`${source}: tensor '${name}' has dtype ${t.dtype}, expected F32 or F64`);
    tensors[name] = t.data as Float32Array | Float64Array;
  }
  return { spec, tensors, source };
}

/**
 * A model from a CLI run of the `le` task: config.json (the run's parameters and seed) gives the spec (the same
 * `leRunSpec` the run used), checkpoint/meta.json the layout of checkpoint/state.bin (float64, buffers in order);
 * only the parameter ranges are read (`read(offset, length)` in bytes), so a large batch's state need not be loaded.
 */
export async function modelFromRun(config: unknown, meta: unknown, read: (offset: number, length: number) => Promise<ArrayBuffer>, source: string): Promise<LeModel> {
  const c = config as { task?: string; seed?: number; params?: LeRunParams };
  if (!c || c.task !== 'le' || !c.params) throw new Error(`config.json: not the config of an LE run (task ${JSON.stringify(c?.task)}; expected 'le', from gle run le-mnist-mlp or le-mnist-lenet)`);
  if (c.params.dataset !== 'mnist') throw new Error(`config.json: the run trained on ${c.params.dataset}; this view needs an MNIST network (28 × 28 inputs)`);
  const m = meta as { format?: string; layout?: [string, number][] };
  if (!m || m.format !== 'gle-le-run/1' || !Array.isArray(m.layout)) throw new Error('meta.json: not an LE run checkpoint (format gle-le-run/1; it is in the run\'s checkpoint/ folder)');
  const spec = leRunSpec({ ...c.params, hidden: c.params.hidden ?? [300, 100] }, c.seed ?? 0);
  const tensors: LeModel['tensors'] = {};
  let off = 0;
  for (const [name, n] of m.layout) {
    if (isParamName(name)) tensors[name] = new Float64Array(await read(off * 8, n * 8));
    off += n;
  }
  return { spec, tensors, source };
}

/** The network's shape in one line, e.g. `1×28×28-conv20k5-pool2-conv50k5-pool2-500-10` or `784-100-10`. */
export function describeLayers(spec: LeSpecInput): string {
  const dims = spec.layers.map((l) => (l.type === 'dense' ? String(l.size) : l.type === 'conv2d' ? `conv${l.channels}k${l.kernel}` : `pool${l.kernel}`));
  return `${spec.input_shape.join('×')}-${dims.join('-')}`;
}

const NO_LEARNING = { learn: false };

/** The two networks of the view: LE (prospective) and its leaky twin (τ = 0), batch 1, same parameters. */
export class LeDigitsSim {
  readonly le: LENetwork;
  readonly leaky: LENetwork;
  readonly x: Float64Array;
  /** τ_m of the spec: the page's unit of time */
  readonly tauM: number;
  readonly dt: number;
  steps = 0;
  readonly nIn: number;
  readonly nOut: number;

  constructor(k: Backend, model: LeModel, readonly stepsPerTau = 20) {
    const s = model.spec;
    this.tauM = s.tau_m ?? s.tau;
    if (!(this.tauM > 0)) throw new Error('the model has τ_m = 0: no dynamics to show');
    this.dt = this.tauM / stepsPerTau;
    const base = { ...s, dt: this.dt, noise_width: 0, feedback_alignment: false };
    this.le = new LENetwork(k, { ...base, tau: s.tau, tau_m: this.tauM }, 1);
    this.leaky = new LENetwork(k, { ...base, tau: 0, tau_m: this.tauM, layers: s.layers.map((l) => ('tau' in l ? { ...l, tau: 0 } : l)) }, 1);
    this.nIn = this.le.nIn;
    this.nOut = this.le.nOut;
    for (const net of [this.le, this.leaky]) {
      const leaky = net === this.leaky;
      for (const [name, buf] of net.stateBuffers()) {
        if (!isParamName(name) || name.endsWith('.feedback')) continue;
        const t = model.tensors[name];
        if (name.endsWith('.tau')) {
          if (leaky) buf.a.fill(0);
          else if (t && t.length === buf.a.length) buf.a.set(t);
          continue;
        }
        if (!t) {
          if (name.endsWith('.tau_m')) continue; // the spec's value
          throw new Error(`${model.source}: tensor '${name}' is missing`);
        }
        if (t.length !== buf.a.length) throw new Error(`${model.source}: tensor '${name}' has ${t.length} values, the network needs ${buf.a.length}`);
        buf.a.set(t);
      }
    }
    this.x = new Float64Array(this.nIn);
  }

  /** n steps of both networks on the current input (no target, no learning). */
  step(n: number): void {
    for (let i = 0; i < n; i++) {
      this.le.step(this.x, null, NO_LEARNING);
      this.leaky.step(this.x, null, NO_LEARNING);
      this.steps++;
    }
  }

  /** The output rates (a view into the network's buffer: copy it to keep it). */
  outLe(): ArrayLike<number> {
    return this.le.output().a;
  }
  outLeaky(): ArrayLike<number> {
    return this.leaky.output().a;
  }
}

export function argmax(a: ArrayLike<number>): number {
  let k = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[k]) k = i;
  return k;
}

/**
 * MNIST-like preprocessing of a drawn image: `ink` (w × h, row-major, 0 = paper, 1 = full ink) → 28 × 28 in [0, 1].
 * As MNIST was made: the bounding box of the ink is scaled (aspect kept) so that its longer side is 20 px, with area
 * averaging (each output pixel the mean of the input over its footprint, n × n samples: anti-aliased), and placed so
 * that its centre of mass is at the centre of the 28 × 28 field. Returns false (and zeros) when there is no ink.
 */
export function mnistPreprocess(ink: ArrayLike<number>, w: number, h: number, out: Float64Array | Float32Array = new Float64Array(784), threshold = 0.05): boolean {
  out.fill(0);
  let x0 = w, x1 = -1, y0 = h, y1 = -1, m = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = ink[y * w + x];
      if (v > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
      if (v > 0) {
        m += v;
        mx += v * (x + 0.5);
        my += v * (y + 0.5);
      }
    }
  if (x1 < 0 || !(m > 0)) return false;
  const side = Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const s = 20 / side; // output pixels per input pixel
  const cx = mx / m, cy = my / m; // centre of mass in input pixels
  const foot = 1 / s; // an output pixel's footprint in input pixels
  const n = Math.max(2, Math.min(12, Math.ceil(foot * 2)));
  for (let i = 0; i < 28; i++)
    for (let j = 0; j < 28; j++) {
      // output pixel (i, j) centre → input coordinates; the centre of mass lands at (14, 14)
      const sx = cx + (j + 0.5 - 14) * foot, sy = cy + (i + 0.5 - 14) * foot;
      let acc = 0;
      for (let a = 0; a < n; a++) {
        const yy = Math.floor(sy + ((a + 0.5) / n - 0.5) * foot);
        if (yy < 0 || yy >= h) continue;
        for (let b = 0; b < n; b++) {
          const xx = Math.floor(sx + ((b + 0.5) / n - 0.5) * foot);
          if (xx >= 0 && xx < w) acc += ink[yy * w + xx];
        }
      }
      out[i * 28 + j] = Math.min(1, acc / (n * n));
    }
  return true;
}

/**
 * Steps after an input change until an output stops moving: the last step whose change of any output exceeded `tol`
 * (per step), counted from the change. Feed it every step's output.
 */
export class SettleMeter {
  private prev: Float64Array;
  private changedAt = 0;
  private movedAt = 0;
  private step = 0;
  constructor(n: number, readonly tol = 1e-4) {
    this.prev = new Float64Array(n);
  }
  inputChanged(): void {
    this.changedAt = this.step;
    this.movedAt = this.step;
  }
  add(out: ArrayLike<number>): void {
    this.step++;
    let d = 0;
    for (let i = 0; i < this.prev.length; i++) {
      d = Math.max(d, Math.abs(out[i] - this.prev[i]));
      this.prev[i] = out[i];
    }
    if (d > this.tol) this.movedAt = this.step;
  }
  /** steps from the last input change to the last step that moved the output by more than tol */
  get settle(): number {
    return this.movedAt - this.changedAt;
  }
  /** steps since the last input change */
  get since(): number {
    return this.step - this.changedAt;
  }
}
