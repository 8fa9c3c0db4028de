/**
 * The LE digits view's worker (its own, apart from the main simulation worker): steps the LE network and its leaky
 * twin (sim/le-digits.ts) in real time — τ_m on screen lasts `tauMs` milliseconds of wall-clock time, dt = τ_m / 20 —
 * on the latest input the page sent, and posts every step's output rates once per tick (~60 Hz). Runs only while the
 * view is shown (the page sends run: false when it is hidden).
 */
import { JsBackend, createBackend, type Backend } from 'gle/core';
import { LeDigitsSim, SettleMeter, argmax, type LeModel } from './sim/le-digits.js';

export type ToLe =
  | { type: 'model'; model: LeModel }
  | { type: 'input'; x: Float64Array | null }
  | { type: 'run'; on: boolean }
  | { type: 'speed'; tauMs: number };

export type FromLe =
  | { type: 'ready'; backend: string; nIn: number; nOut: number; source: string; params: number; stepsPerTau: number }
  | {
      type: 'data';
      /** time of each record in τ_m */
      t: Float64Array;
      /** nOut rates per record, record-major */
      le: Float32Array;
      leaky: Float32Array;
      steps: number;
      /** input messages received so far (the page counts those it sent: equal = this record is of the latest input) */
      inputs: number;
      /** steps since the last input change, and until each output stopped moving after it (change per step < 1e-4) */
      since: number;
      settleLe: number;
      settleLeaky: number;
      predLe: number;
      predLeaky: number;
      stepsPerSec: number;
    }
  | { type: 'error'; message: string };

interface WorkerScope {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent<ToLe>) => void) | null;
}
const ctx = self as unknown as WorkerScope;
const post = (m: FromLe, transfer: Transferable[] = []): void => ctx.postMessage(m, transfer);

const STEPS_PER_TAU = 20;
const MAX_STEPS_PER_TICK = 400;
let backend: Backend | null = null;
let sim: LeDigitsSim | null = null;
let meterLe: SettleMeter, meterLeaky: SettleMeter;
let running = false;
let tauMs = 250;
let carry = 0;
let last = performance.now();
let inputs = 0;
let rateSteps = 0, rateT0 = performance.now(), stepsPerSec = 0;

async function getBackend(): Promise<Backend> {
  if (!backend) {
    try {
      backend = await createBackend({ backend: 'auto', dtype: 'float32', onNotice: () => undefined });
    } catch {
      backend = new JsBackend('float32');
    }
  }
  return backend;
}

ctx.onmessage = async (ev) => {
  const m = ev.data;
  try {
    switch (m.type) {
      case 'model': {
        const k = await getBackend();
        const next = new LeDigitsSim(k, m.model, STEPS_PER_TAU);
        const x = sim?.x;
        sim = next;
        if (x && x.length === sim.x.length) sim.x.set(x);
        meterLe = new SettleMeter(sim.nOut);
        meterLeaky = new SettleMeter(sim.nOut);
        let params = 0;
        for (const [name, t] of Object.entries(m.model.tensors)) if (/\.(weight|bias)$/.test(name)) params += t.length;
        post({ type: 'ready', backend: k.name, nIn: sim.nIn, nOut: sim.nOut, source: m.model.source, params, stepsPerTau: STEPS_PER_TAU });
        break;
      }
      case 'input':
        inputs++;
        if (!sim) break;
        if (m.x) sim.x.set(m.x);
        else sim.x.fill(0);
        meterLe.inputChanged();
        meterLeaky.inputChanged();
        break;
      case 'run':
        running = m.on;
        last = performance.now();
        carry = 0;
        break;
      case 'speed':
        tauMs = m.tauMs;
        break;
    }
  } catch (e) {
    post({ type: 'error', message: (e as Error).message });
  }
};

function tick(): void {
  const now = performance.now();
  const wall = Math.min(100, now - last); // a stalled tab does not make up for lost time
  last = now;
  if (!running || !sim) return;
  carry += (wall / tauMs) * STEPS_PER_TAU;
  const n = Math.min(MAX_STEPS_PER_TICK, Math.floor(carry));
  carry -= n;
  if (n <= 0) return;
  const K = sim.nOut;
  const t = new Float64Array(n), le = new Float32Array(n * K), leaky = new Float32Array(n * K);
  for (let i = 0; i < n; i++) {
    sim.step(1);
    const a = sim.outLe(), b = sim.outLeaky();
    meterLe.add(a);
    meterLeaky.add(b);
    t[i] = sim.steps / STEPS_PER_TAU;
    for (let j = 0; j < K; j++) {
      le[i * K + j] = a[j];
      leaky[i * K + j] = b[j];
    }
  }
  rateSteps += n;
  if (now - rateT0 >= 1000) {
    stepsPerSec = (rateSteps * 1000) / (now - rateT0);
    rateSteps = 0;
    rateT0 = now;
  }
  post(
    {
      type: 'data', t, le, leaky, steps: sim.steps, inputs, since: meterLe.since, settleLe: meterLe.settle, settleLeaky: meterLeaky.settle,
      predLe: argmax(sim.outLe()), predLeaky: argmax(sim.outLeaky()), stepsPerSec,
    },
    [t.buffer, le.buffer, leaky.buffer],
  );
}
setInterval(tick, 16);
