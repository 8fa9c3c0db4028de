/**
 * The one table of the sampling network's wasm kernel i32 struct (wasm/assembly/spiking.ts `ssnRun`, loader
 * src/spiking/wasm.ts `createWasmSsn`): a header, then one record per STDP trace. Pointers are byte offsets into the
 * instance's memory. The AssemblyScript constants (wasm/assembly/ssn-layout.ts) are generated from here by
 * `npm run gen:constants`, as the SALNet's are from ./salnet-layout.ts.
 */
export const SSN_MAX_TRACES = 4;

/**
 * header words, in order: sizes and times, W (f32 n·n), b (f32 n), hist (i32 B·n·N), spikes (u8 B·n), kappa (f32 B·n),
 * counts (f64 B·n), rng (u32 × 4), u (f32 B·n), the number of traces this run (≤ SSN_MAX_TRACES), the state
 * histogram (f64 2^n; 0 = none)
 */
export const SSN_HEADER = ['n', 'batch', 'nLast', 'tauRef', 'tauSyn', 't', 'W', 'b', 'hist', 'spikes', 'kappa', 'counts', 'rng', 'u', 'nTraces', 'stateHist'] as const;
/** per trace: the rule's kernel tables kc, ka (f64 each), their length, D (f64 B·n·n) */
export const SSN_TRACE = ['kc', 'ka', 'winLen', 'D'] as const;

export const SSN_STRUCT = {
  TRACE_BASE: SSN_HEADER.length,
  TRACE_WORDS: SSN_TRACE.length,
  WORDS: SSN_HEADER.length + SSN_MAX_TRACES * SSN_TRACE.length,
} as const;

/** word index of a header field */
export const ssnHeader = (k: (typeof SSN_HEADER)[number]): number => SSN_HEADER.indexOf(k);
/** word index of trace r's field */
export const ssnTrace = (r: number, k: (typeof SSN_TRACE)[number]): number => SSN_STRUCT.TRACE_BASE + r * SSN_STRUCT.TRACE_WORDS + SSN_TRACE.indexOf(k);
