/**
 * The wasm engine of the sampling network (wasm/assembly/spiking.ts): one WebAssembly instance per network, all of
 * its arrays placed in the instance's memory at construction (so the typed-array views never detach), and a `run`
 * that writes the trace pointers into the i32 struct and calls `ssnRun`. float32 weights, dense drive.
 * Browser-safe (the module bytes are embedded).
 */
import { SPIKING_WASM_BASE64 } from './wasm-binary.js';
import { NEVER, seedRng, type SpikingParams, type SpikingState } from './units.js';
import type { StdpRule } from './stdp.js';

interface SsnExports {
  heapBase(): number;
  ssnRun(S: number, steps: number, logTauRef: number): void;
}

let module: WebAssembly.Module | null = null;
function wasmModule(): WebAssembly.Module {
  if (!module) {
    const bin = atob(SPIKING_WASM_BASE64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    module = new WebAssembly.Module(bytes);
  }
  return module;
}

export const WASM_MAX_TRACES = 4;

export interface WasmSsn {
  W: Float32Array;
  b: Float32Array;
  s: SpikingState;
  u: Float32Array;
  /** the state histogram the engine fills (2^n) */
  stateHist: Float64Array;
  /** a trace buffer (D) in wasm memory for a rule; at most WASM_MAX_TRACES per network */
  trace(rule: StdpRule): Float64Array;
  /** run; with `countStates` the visited states are added to `stateHist` */
  run(steps: number, traces: readonly { rule: StdpRule; D: Float64Array }[], countStates: boolean): void;
}

/** `maxLag`: the longest STDP window (table length) the network's traces may use. */
export function createWasmSsn(p: SpikingParams, seed: number, maxLag: number): WasmSsn {
  if (p.dtype !== 'float32') throw new Error('the wasm spiking engine runs float32 only');
  if (p.n > 20) throw new Error('the wasm sampling network supports n <= 20');
  const n = p.n, B = p.batch, N = p.nLast, m = B * n;
  const sizes = {
    S: 40 * 4, W: n * n * 4, b: n * 4, hist: m * N * 4, spikes: m, kappa: m * 4, counts: m * 8, rng: 16, u: m * 4,
    hist2: (1 << n) * 8, tables: WASM_MAX_TRACES * 2 * maxLag * 8, D: WASM_MAX_TRACES * B * n * n * 8,
  };
  // heapBase is fixed by the module; instantiate with one page first to read it, then size the real memory
  const probeMem = new WebAssembly.Memory({ initial: 1 });
  const base = (new WebAssembly.Instance(wasmModule(), { env: { memory: probeMem } }).exports as unknown as SsnExports).heapBase();
  let total = (base + 15) & ~15;
  const offs: Record<string, number> = {};
  for (const [k, v] of Object.entries(sizes)) {
    offs[k] = total;
    total = (total + v + 15) & ~15;
  }
  const memory = new WebAssembly.Memory({ initial: Math.ceil(total / 65536) + 1 });
  const ex = new WebAssembly.Instance(wasmModule(), { env: { memory } }).exports as unknown as SsnExports;
  const buf = memory.buffer;
  const S = new Int32Array(buf, offs.S, 40);
  const W = new Float32Array(buf, offs.W, n * n), b = new Float32Array(buf, offs.b, n);
  const s: SpikingState = {
    t: 0,
    hist: new Int32Array(buf, offs.hist, m * N).fill(NEVER),
    spikes: new Uint8Array(buf, offs.spikes, m),
    kappa: new Float32Array(buf, offs.kappa, m),
    counts: new Float64Array(buf, offs.counts, m),
    rng: new Uint32Array(buf, offs.rng, 4),
  };
  seedRng(s.rng, seed);
  const u = new Float32Array(buf, offs.u, m);
  const stateHist = new Float64Array(buf, offs.hist2, 1 << n);
  S.set([n, B, N, p.tauRef, p.tauSyn, 0, offs.W, offs.b, offs.hist, offs.spikes, offs.kappa, offs.counts, offs.rng, offs.u, 0, 0]);
  const tables: { rule: StdpRule; kc: number; ka: number; D: Float64Array }[] = [];
  return {
    W, b, s, u, stateHist,
    trace(rule: StdpRule): Float64Array {
      if (tables.length >= WASM_MAX_TRACES) throw new Error(`the wasm sampling network holds at most ${WASM_MAX_TRACES} traces`);
      const L = rule.kc.length;
      if (L > maxLag) throw new Error(`STDP window of ${L} steps exceeds the wasm network's maxLag ${maxLag}`);
      const k = tables.length;
      const kc = offs.tables + 2 * k * maxLag * 8, ka = kc + maxLag * 8;
      new Float64Array(buf, kc, L).set(rule.kc);
      new Float64Array(buf, ka, L).set(rule.ka);
      const D = new Float64Array(buf, offs.D + k * B * n * n * 8, B * n * n);
      tables.push({ rule, kc, ka, D });
      return D;
    },
    run(steps, traces, hist: boolean) {
      S[5] = s.t;
      S[14] = traces.length;
      for (let r = 0; r < traces.length; r++) {
        let k = 0;
        while (k < tables.length && tables[k].D !== traces[r].D) k++;
        if (k === tables.length) throw new Error('wasm sampling network: a trace must come from this network (net.trace(rule))');
        const e = tables[k];
        S[16 + 4 * r] = e.kc;
        S[17 + 4 * r] = e.ka;
        S[18 + 4 * r] = e.rule.kc.length;
        S[19 + 4 * r] = offs.D + k * B * n * n * 8;
      }
      S[15] = hist ? offs.hist2 : 0;
      ex.ssnRun(offs.S, steps, p.logTauRef);
      s.t = S[5];
    },
  };
}
