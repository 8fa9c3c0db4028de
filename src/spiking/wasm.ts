/**
 * The wasm engines of the sampling network and of the layered SALNet (wasm/assembly/spiking.ts): one WebAssembly instance per network, all of
 * its arrays placed in the instance's memory at construction (so the typed-array views never detach), and a `run`
 * that writes the trace pointers into the i32 struct and calls `ssnRun` (`salRun`). float32 weights; the sampling
 * network has the dense drive, the SALNet both drives.
 * Browser-safe (the module bytes are embedded).
 */
import { SPIKING_WASM_BASE64 } from './wasm-binary.js';
import { NEVER, seedRng, type SpikingParams, type SpikingState } from './units.js';
import type { StdpRule } from './stdp.js';
import { SALNET_HEADER, SALNET_LAYER, SALNET_MAX_LAYERS, SALNET_PROJ, SALNET_STRUCT, salHeader, salLayer, salProj } from './salnet-layout.js';
import { SSN_HEADER, SSN_MAX_TRACES, SSN_STRUCT, ssnHeader, ssnTrace } from './ssn-layout.js';

interface SsnExports {
  heapBase(): number;
  ssnRun(S: number, steps: number, logTauRef: number): void;
}

interface SalExports {
  heapBase(): number;
  salRun(S: number, steps: number, logTauRef: number): void;
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

/**
 * One instance of the module with its own memory, sized for the named regions (bytes each), every region 16-byte
 * aligned after the module's heap base. The memory never grows, so views on it never detach.
 */
function instantiate<E>(sizes: Record<string, number>): { ex: E; buf: ArrayBuffer; offs: Record<string, number> } {
  // heapBase is fixed by the module; instantiate with one page first to read it, then size the real memory
  const probeMem = new WebAssembly.Memory({ initial: 1 });
  const base = (new WebAssembly.Instance(wasmModule(), { env: { memory: probeMem } }).exports as unknown as { heapBase(): number }).heapBase();
  let total = (base + 15) & ~15;
  const offs: Record<string, number> = {};
  for (const [k, v] of Object.entries(sizes)) {
    offs[k] = total;
    total = (total + v + 15) & ~15;
  }
  if (total > 2 ** 31) throw new Error(`the wasm spiking engine needs ${(total / 2 ** 30).toFixed(1)} GiB of memory (at most 2 GiB): use fewer chains`);
  const memory = new WebAssembly.Memory({ initial: Math.ceil(total / 65536) + 1 });
  const ex = new WebAssembly.Instance(wasmModule(), { env: { memory } }).exports as unknown as E;
  return { ex, buf: memory.buffer, offs };
}

export const WASM_MAX_TRACES = SSN_MAX_TRACES;

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
    S: SSN_STRUCT.WORDS * 4, W: n * n * 4, b: n * 4, hist: m * N * 4, spikes: m, kappa: m * 4, counts: m * 8, rng: 16, u: m * 4,
    hist2: (1 << n) * 8, tables: WASM_MAX_TRACES * 2 * maxLag * 8, D: WASM_MAX_TRACES * B * n * n * 8,
  };
  const { ex, buf, offs } = instantiate<SsnExports>(sizes);
  const S = new Int32Array(buf, offs.S, SSN_STRUCT.WORDS);
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
  const hdr: Record<(typeof SSN_HEADER)[number], number> = {
    n, batch: B, nLast: N, tauRef: p.tauRef, tauSyn: p.tauSyn, t: 0, W: offs.W, b: offs.b, hist: offs.hist, spikes: offs.spikes, kappa: offs.kappa,
    counts: offs.counts, rng: offs.rng, u: offs.u, nTraces: 0, stateHist: 0,
  };
  for (const k of SSN_HEADER) S[ssnHeader(k)] = hdr[k];
  // the words `run` writes, looked up once
  const wT = ssnHeader('t'), wNTraces = ssnHeader('nTraces'), wStateHist = ssnHeader('stateHist');
  const wKc = ssnTrace(0, 'kc'), wKa = ssnTrace(0, 'ka'), wLen = ssnTrace(0, 'winLen'), wD = ssnTrace(0, 'D'), step = SSN_STRUCT.TRACE_WORDS;
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
      S[wT] = s.t;
      S[wNTraces] = traces.length;
      for (let r = 0; r < traces.length; r++) {
        let k = 0;
        while (k < tables.length && tables[k].D !== traces[r].D) k++;
        if (k === tables.length) throw new Error('wasm sampling network: a trace must come from this network (net.trace(rule))');
        const e = tables[k];
        S[wKc + step * r] = e.kc;
        S[wKa + step * r] = e.ka;
        S[wLen + step * r] = e.rule.kc.length;
        S[wD + step * r] = offs.D + k * B * n * n * 8;
      }
      S[wStateHist] = hist ? offs.hist2 : 0;
      ex.ssnRun(offs.S, steps, p.logTauRef);
      s.t = S[wT];
    },
  };
}

/** The arrays of a SALNet in wasm memory (src/spiking/salnet.ts wraps them) and its run loop. */
export interface WasmSalNet {
  /** per layer: spiking state (views), u, bias */
  states: SpikingState[];
  u: Float32Array[];
  bias: Float32Array[];
  /** per gap g: forward W_{g+1} and feedback B_{g+1} (W, acc, kPrev), SAL trace of B_{g+1} (summed over the chains) */
  fw: { W: Float32Array; acc: Float64Array; kPrev: Float64Array }[];
  fb: { W: Float32Array; acc: Float64Array; kPrev: Float64Array }[];
  D: Float64Array[];
  /** run `steps` steps from time t; dirty / event per projection (forward, feedback per gap); returns the new t */
  run(steps: number, t: number, trace: boolean, dirty: readonly boolean[], event: boolean): number;
}

/** `seeds[l]`: the xoshiro seed of layer l's stream; `rule`: the SAL rule whose kernel tables the traces use. */
export function createWasmSalNet(sizes: readonly number[], p: SpikingParams, seeds: readonly number[], rule: StdpRule): WasmSalNet {
  if (p.dtype !== 'float32') throw new Error('the wasm SALNet engine runs float32 only');
  const nL = sizes.length, B = p.batch, N = p.nLast;
  if (nL > SALNET_MAX_LAYERS) throw new Error(`the wasm SALNet engine supports at most ${SALNET_MAX_LAYERS} layers, got ${nL}`);
  const L = rule.kc.length;
  const req: Record<string, number> = { S: SALNET_STRUCT.WORDS * 4, kc: L * 8, ka: L * 8 };
  sizes.forEach((n, l) => {
    const m = B * n;
    Object.assign(req, { [`hist${l}`]: m * N * 4, [`spikes${l}`]: m, [`kappa${l}`]: m * 4, [`counts${l}`]: m * 8, [`rng${l}`]: 16, [`u${l}`]: m * 4, [`bias${l}`]: n * 4 });
    Object.assign(req, { [`kcSum${l}`]: m * 8, [`kaSum${l}`]: m * 8 });
  });
  for (let g = 0; g < nL - 1; g++) {
    const a = sizes[g], b = sizes[g + 1];
    // forward: post g + 1 (b), pre g (a); feedback: post g (a), pre g + 1 (b)
    Object.assign(req, { [`fwW${g}`]: b * a * 4, [`fwWT${g}`]: b * a * 4, [`fwAcc${g}`]: B * b * 8, [`fwKp${g}`]: B * a * 8 });
    Object.assign(req, { [`fbW${g}`]: a * b * 4, [`fbWT${g}`]: a * b * 4, [`fbAcc${g}`]: B * a * 8, [`fbKp${g}`]: B * b * 8, [`D${g}`]: a * b * 8 });
  }
  const { ex, buf, offs } = instantiate<SalExports>(req);
  const S = new Int32Array(buf, offs.S, SALNET_STRUCT.WORDS);
  new Float64Array(buf, offs.kc, L).set(rule.kc);
  new Float64Array(buf, offs.ka, L).set(rule.ka);
  const hdr: Record<(typeof SALNET_HEADER)[number], number> = { nLayers: nL, batch: B, nLast: N, tauRef: p.tauRef, tauSyn: p.tauSyn, t: 0, trace: 0, kc: offs.kc, ka: offs.ka, winLen: L };
  for (const k of SALNET_HEADER) S[salHeader(k)] = hdr[k];
  const states: SpikingState[] = [], u: Float32Array[] = [], bias: Float32Array[] = [];
  sizes.forEach((n, l) => {
    const m = B * n;
    const s: SpikingState = {
      t: 0,
      hist: new Int32Array(buf, offs[`hist${l}`], m * N).fill(NEVER),
      spikes: new Uint8Array(buf, offs[`spikes${l}`], m),
      kappa: new Float32Array(buf, offs[`kappa${l}`], m),
      counts: new Float64Array(buf, offs[`counts${l}`], m),
      rng: new Uint32Array(buf, offs[`rng${l}`], 4),
    };
    seedRng(s.rng, seeds[l]);
    states.push(s);
    u.push(new Float32Array(buf, offs[`u${l}`], m));
    bias.push(new Float32Array(buf, offs[`bias${l}`], n));
    const rec: Record<(typeof SALNET_LAYER)[number], number> = {
      n, hist: offs[`hist${l}`], spikes: offs[`spikes${l}`], kappa: offs[`kappa${l}`], counts: offs[`counts${l}`], rng: offs[`rng${l}`], u: offs[`u${l}`], bias: offs[`bias${l}`],
      kcSum: offs[`kcSum${l}`], kaSum: offs[`kaSum${l}`],
    };
    for (const k of SALNET_LAYER) S[salLayer(l, k)] = rec[k];
  });
  const fw: WasmSalNet['fw'] = [], fb: WasmSalNet['fb'] = [], D: Float64Array[] = [];
  for (let g = 0; g < nL - 1; g++) {
    const a = sizes[g], b = sizes[g + 1];
    for (const isFb of [false, true]) {
      const [nPost, nPre, pre] = isFb ? [a, b, 'fb'] : [b, a, 'fw'];
      const rec: Record<(typeof SALNET_PROJ)[number], number> = {
        nPost, nPre, W: offs[`${pre}W${g}`], acc: offs[`${pre}Acc${g}`], kPrev: offs[`${pre}Kp${g}`], dirty: 1, event: 1, D: isFb ? offs[`D${g}`] : 0, WT: offs[`${pre}WT${g}`],
      };
      for (const k of SALNET_PROJ) S[salProj(g, isFb, k)] = rec[k];
      (isFb ? fb : fw).push({ W: new Float32Array(buf, rec.W, nPost * nPre), acc: new Float64Array(buf, rec.acc, B * nPost), kPrev: new Float64Array(buf, rec.kPrev, B * nPre) });
    }
    D.push(new Float64Array(buf, offs[`D${g}`], a * b));
  }
  // the words `run` writes, looked up once (projection k = 2g + fb, as `dirty` is ordered)
  const wT = salHeader('t'), wTrace = salHeader('trace');
  const wDirty = Int32Array.from({ length: 2 * (nL - 1) }, (_, k) => salProj(k >> 1, (k & 1) === 1, 'dirty'));
  const wEvent = Int32Array.from({ length: 2 * (nL - 1) }, (_, k) => salProj(k >> 1, (k & 1) === 1, 'event'));
  return {
    states, u, bias, fw, fb, D,
    run(steps, t, trace, dirty, event) {
      S[wT] = t;
      S[wTrace] = trace ? 1 : 0;
      for (let k = 0; k < wDirty.length; k++) {
        S[wDirty[k]] = dirty[k] ? 1 : 0;
        S[wEvent[k]] = event ? 1 : 0;
      }
      ex.salRun(offs.S, steps, p.logTauRef);
      return S[wT];
    },
  };
}
