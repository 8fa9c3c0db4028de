/**
 * The one table of the SALNet wasm kernel's i32 struct (wasm/assembly/spiking.ts `salRun`, loader
 * src/spiking/wasm.ts): a header, then one record per layer, then two projection records per gap between layers
 * (W_ℓ forward, B_ℓ feedback). Pointers are byte offsets into the instance's memory. The AssemblyScript constants
 * (wasm/assembly/salnet-layout.ts) are generated from here by `npm run gen:constants`.
 */
export const SALNET_MAX_LAYERS = 8;

/** header words, in order */
export const SALNET_HEADER = ['nLayers', 'batch', 'nLast', 'tauRef', 'tauSyn', 't', 'trace', 'kc', 'ka', 'winLen'] as const;
/**
 * per layer: size, spike history (i32), spikes (u8), κ (f32), counters (f64), xoshiro state (u32 × 4), u (f32),
 * bias (f32), and two f64 scratch arrays (batch × n) of the step's SAL kernel sums over each unit's remembered
 * spikes: causal side (kcSum, as a presynaptic unit) and anti-causal side without the current step (kaSum, as a
 * postsynaptic unit)
 */
export const SALNET_LAYER = ['n', 'hist', 'spikes', 'kappa', 'counts', 'rng', 'u', 'bias', 'kcSum', 'kaSum'] as const;
/**
 * per projection: sizes, W (f32 nPost × nPre), acc (f64), kPrev (f64), dirty (rebuild acc), event (1) / dense (0),
 * SAL trace D (f64 nPost × nPre summed over the chains, feedback only, 0 = none), WT (f32 nPre × nPost: the copy of
 * W the event drive reads column-wise, rebuilt with acc)
 */
export const SALNET_PROJ = ['nPost', 'nPre', 'W', 'acc', 'kPrev', 'dirty', 'event', 'D', 'WT'] as const;

export const SALNET_STRUCT = {
  LAYERS: 16,
  LAYER_WORDS: SALNET_LAYER.length,
  PROJS: 16 + SALNET_MAX_LAYERS * SALNET_LAYER.length,
  PROJ_WORDS: SALNET_PROJ.length,
  WORDS: 16 + SALNET_MAX_LAYERS * SALNET_LAYER.length + 2 * (SALNET_MAX_LAYERS - 1) * SALNET_PROJ.length,
} as const;

/** word index of a header field */
export const salHeader = (k: (typeof SALNET_HEADER)[number]): number => SALNET_HEADER.indexOf(k);
/** word index of layer l's field */
export const salLayer = (l: number, k: (typeof SALNET_LAYER)[number]): number => SALNET_STRUCT.LAYERS + l * SALNET_STRUCT.LAYER_WORDS + SALNET_LAYER.indexOf(k);
/** word index of a projection's field; gap g (layers g, g + 1), fb = the feedback projection B_{g+1} */
export const salProj = (g: number, fb: boolean, k: (typeof SALNET_PROJ)[number]): number =>
  SALNET_STRUCT.PROJS + (2 * g + (fb ? 1 : 0)) * SALNET_STRUCT.PROJ_WORDS + SALNET_PROJ.indexOf(k);
