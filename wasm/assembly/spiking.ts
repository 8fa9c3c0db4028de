// The spiking sampling network's run loop in WebAssembly (AssemblyScript; see wasm/build-spiking.mjs).
// Same semantics and operation order as src/spiking/{units,stdp,ssn}.ts with the dense drive and float32 weights:
// per step κ from the spike history, u = b + W κ (f64 sum stored as f32), spikes by σ(u − ln τ_ref) against a
// xoshiro128** uniform, history shift, STDP traces (f64), state histogram.
//
// `salRun` is the layered SALNet (src/spiking/salnet.ts) with the same operation order; its struct layout is generated
// from src/spiking/salnet-layout.ts (./salnet-layout.ts).
//
// Memory is imported and owned by the loader (src/spiking/wasm.ts). `S` points at an i32 struct: sizes, t (updated),
// array pointers, then one record per STDP trace (kc, ka, L, D); its layout is generated from
// src/spiking/ssn-layout.ts (./ssn-layout.ts).

import {
  SH_N_LAYERS, SH_BATCH, SH_N_LAST, SH_TAU_REF, SH_TAU_SYN, SH_T, SH_TRACE, SH_KC, SH_KA, SH_WIN_LEN,
  SN_LAYERS, SN_LAYER_WORDS, SN_PROJS, SN_PROJ_WORDS,
  SL_N, SL_HIST, SL_SPIKES, SL_KAPPA, SL_COUNTS, SL_RNG, SL_U, SL_BIAS, SL_KC_SUM, SL_KA_SUM,
  SP_N_POST, SP_N_PRE, SP_W, SP_ACC, SP_K_PREV, SP_DIRTY, SP_EVENT, SP_D, SP_WT,
} from './salnet-layout';
import {
  SSN_N, SSN_BATCH, SSN_N_LAST, SSN_TAU_REF, SSN_TAU_SYN, SSN_T, SSN_W, SSN_B, SSN_HIST, SSN_SPIKES, SSN_KAPPA, SSN_COUNTS,
  SSN_RNG, SSN_U, SSN_N_TRACES, SSN_STATE_HIST, SSN_TRACE_BASE, SSN_TRACE_WORDS, ST_KC, ST_KA, ST_WIN_LEN, ST_D,
} from './ssn-layout';

export function heapBase(): usize {
  return __heap_base;
}

@inline function I(S: usize, k: i32): i32 {
  return load<i32>(S + (<usize>k << 2));
}

@inline function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >>> (32 - k));
}

@inline function rand01(p: usize): f64 {
  const s0 = load<u32>(p), s1 = load<u32>(p, 4);
  const s2 = load<u32>(p, 8) ^ s0, s3 = load<u32>(p, 12) ^ s1;
  const r: u32 = rotl(s1 * 5, 7) * 9;
  store<u32>(p, s0 ^ s3);
  store<u32>(p, s1 ^ s2, 4);
  store<u32>(p, s2 ^ (s1 << 9), 8);
  store<u32>(p, rotl(s3, 11), 12);
  return <f64>r * 2.3283064365386963e-10;
}

function accumulate(S: usize, r: i32, t: i32): void {
  const n = I(S, SSN_N), B = I(S, SSN_BATCH), N = I(S, SSN_N_LAST);
  const kc: usize = <usize>I(S, (SSN_TRACE_BASE + ST_KC) + SSN_TRACE_WORDS * r), ka: usize = <usize>I(S, (SSN_TRACE_BASE + ST_KA) + SSN_TRACE_WORDS * r);
  const L = I(S, (SSN_TRACE_BASE + ST_WIN_LEN) + SSN_TRACE_WORDS * r);
  const D: usize = <usize>I(S, (SSN_TRACE_BASE + ST_D) + SSN_TRACE_WORDS * r);
  const hist: usize = <usize>I(S, SSN_HIST), sp: usize = <usize>I(S, SSN_SPIKES);
  for (let bb = 0; bb < B; bb++) {
    const o = bb * n, oD = bb * n * n;
    for (let i = 0; i < n; i++) {
      if (load<u8>(sp + <usize>(o + i)) == 0) continue;
      const hi: usize = hist + (<usize>((o + i) * N) << 2);
      for (let j = 0; j < n; j++) {
        if (j == i) continue;
        const h: usize = hist + (<usize>((o + j) * N) << 2);
        let acc: f64 = 0;
        for (let k = 0; k < N; k++) {
          const d = t - load<i32>(h + (<usize>k << 2));
          if (d >= L) break;
          acc += load<f64>(kc + (<usize>d << 3));
        }
        if (load<u8>(sp + <usize>(o + j)) != 0) {
          let a2: f64 = 0;
          for (let k = 0; k < N; k++) {
            const d = t - load<i32>(hi + (<usize>k << 2));
            if (d == 0) continue;
            if (d >= L) break;
            a2 += load<f64>(ka + (<usize>d << 3));
          }
          acc += a2;
        }
        if (acc != 0) {
          const q: usize = D + (<usize>(oD + i * n + j) << 3);
          store<f64>(q, load<f64>(q) + acc);
        }
      }
    }
    for (let j = 0; j < n; j++) {
      if (load<u8>(sp + <usize>(o + j)) == 0) continue;
      for (let i = 0; i < n; i++) {
        if (j == i || load<u8>(sp + <usize>(o + i)) != 0) continue;
        const h: usize = hist + (<usize>((o + i) * N) << 2);
        let acc: f64 = 0;
        for (let k = 0; k < N; k++) {
          const d = t - load<i32>(h + (<usize>k << 2));
          if (d == 0) continue;
          if (d >= L) break;
          acc += load<f64>(ka + (<usize>d << 3));
        }
        if (acc != 0) {
          const q: usize = D + (<usize>(oD + i * n + j) << 3);
          store<f64>(q, load<f64>(q) + acc);
        }
      }
    }
  }
}

// κ of m units: how many of each unit's last N spikes (hist: m × N, newest first) lie in (t − τ_syn, t)
function psps(hist: usize, kappa: usize, m: i32, N: i32, t: i32, tauSyn: i32): void {
  for (let q = 0; q < m; q++) {
    let c: i32 = 0;
    const o: usize = hist + (<usize>(q * N) << 2);
    for (let k = 0; k < N; k++) {
      const d = t - load<i32>(o + (<usize>k << 2));
      if (d >= tauSyn) break;
      if (d > 0) c++;
    }
    store<f32>(kappa + (<usize>q << 2), <f32>c);
  }
}

// the spikes of m units at time t: a unit out of its refractory time fires with σ(u − ln τ_ref); its history shifts,
// its count grows; returns how many fired
function drawSpikes(hist: usize, sp: usize, u: usize, counts: usize, rng: usize, m: i32, N: i32, t: i32, tauRef: i32, logTauRef: f64): i32 {
  let fired = 0;
  for (let q = 0; q < m; q++) {
    const o: usize = hist + (<usize>(q * N) << 2);
    store<u8>(sp + <usize>q, 0);
    if (t - load<i32>(o) < tauRef) continue;
    const pr: f64 = 1.0 / (1.0 + Math.exp(logTauRef - <f64>load<f32>(u + (<usize>q << 2))));
    if (rand01(rng) < pr) {
      for (let k = N - 1; k > 0; k--) store<i32>(o + (<usize>k << 2), load<i32>(o + (<usize>(k - 1) << 2)));
      store<i32>(o, t);
      store<u8>(sp + <usize>q, 1);
      const c: usize = counts + (<usize>q << 3);
      store<f64>(c, load<f64>(c) + 1.0);
      fired++;
    }
  }
  return fired;
}

export function ssnRun(S: usize, steps: i32, logTauRef: f64): void {
  const n = I(S, SSN_N), B = I(S, SSN_BATCH), N = I(S, SSN_N_LAST), tauRef = I(S, SSN_TAU_REF), tauSyn = I(S, SSN_TAU_SYN);
  const W: usize = <usize>I(S, SSN_W), b: usize = <usize>I(S, SSN_B), hist: usize = <usize>I(S, SSN_HIST), sp: usize = <usize>I(S, SSN_SPIKES);
  const kappa: usize = <usize>I(S, SSN_KAPPA), counts: usize = <usize>I(S, SSN_COUNTS), rng: usize = <usize>I(S, SSN_RNG), u: usize = <usize>I(S, SSN_U);
  const nT = I(S, SSN_N_TRACES), sh: usize = <usize>I(S, SSN_STATE_HIST);
  const m = B * n;
  let t = I(S, SSN_T);
  for (let step = 0; step < steps; step++) {
    // κ
    psps(hist, kappa, m, N, t, tauSyn);
    // u = b + W κ
    for (let bb = 0; bb < B; bb++) {
      const o = bb * n;
      for (let i = 0; i < n; i++) {
        let acc: f64 = <f64>load<f32>(b + (<usize>i << 2));
        const r = i * n;
        for (let j = 0; j < n; j++) acc += <f64>load<f32>(W + (<usize>(r + j) << 2)) * <f64>load<f32>(kappa + (<usize>(o + j) << 2));
        store<f32>(u + (<usize>(o + i) << 2), <f32>acc);
      }
    }
    // spikes
    const total = drawSpikes(hist, sp, u, counts, rng, m, N, t, tauRef, logTauRef);
    if (total > 0) for (let r = 0; r < nT; r++) accumulate(S, r, t);
    if (sh != 0) {
      for (let bb = 0; bb < B; bb++) {
        let idx = 0;
        for (let i = 0; i < n; i++) if (t - load<i32>(hist + (<usize>((bb * n + i) * N) << 2)) < tauRef) idx |= 1 << i;
        const c: usize = sh + (<usize>idx << 3);
        store<f64>(c, load<f64>(c) + 1.0);
      }
    }
    t++;
  }
  store<i32>(S + (<usize>SSN_T << 2), t);
}

// ---------------------------------------------------------------------------------------------------------------
// SALNet: layers of stochastic units, forward W_ℓ and feedback B_ℓ projections (event-driven or dense, f64
// accumulators over f32 weights), SAL traces of every B_ℓ. Same order of operations as src/spiking/salnet.ts.

@inline function LW(S: usize, l: i32, k: i32): usize {
  return <usize>load<i32>(S + (<usize>(SN_LAYERS + l * SN_LAYER_WORDS + k) << 2));
}
@inline function PW(S: usize, g: i32, fb: i32, k: i32): usize {
  return S + (<usize>(SN_PROJS + (2 * g + fb) * SN_PROJ_WORDS + k) << 2);
}

// acc = W κ_pre, kPrev = κ_pre (Projection.sync)
function projSync(P: usize, B: i32, kappa: usize): void {
  const nPost = load<i32>(P + (<usize>SP_N_POST << 2)), nPre = load<i32>(P + (<usize>SP_N_PRE << 2));
  const W: usize = <usize>load<i32>(P + (<usize>SP_W << 2)), acc: usize = <usize>load<i32>(P + (<usize>SP_ACC << 2));
  const kPrev: usize = <usize>load<i32>(P + (<usize>SP_K_PREV << 2));
  for (let bb = 0; bb < B; bb++) {
    const oq = bb * nPre, op = bb * nPost;
    const kq: usize = kappa + (<usize>oq << 2);
    for (let i = 0; i < nPost; i++) {
      let a: f64 = 0;
      const wr: usize = W + (<usize>(i * nPre) << 2);
      for (let j = 0; j < nPre; j++) a += <f64>load<f32>(wr + (<usize>j << 2)) * <f64>load<f32>(kq + (<usize>j << 2));
      store<f64>(acc + (<usize>(op + i) << 3), a);
    }
    for (let j = 0; j < nPre; j++) store<f64>(kPrev + (<usize>(oq + j) << 3), <f64>load<f32>(kq + (<usize>j << 2)));
  }
  if (load<i32>(P + (<usize>SP_DIRTY << 2)) != 0 && load<i32>(P + (<usize>SP_EVENT << 2)) != 0) {
    const WT: usize = <usize>load<i32>(P + (<usize>SP_WT << 2));
    for (let i = 0; i < nPost; i++)
      for (let j = 0; j < nPre; j++) store<f32>(WT + (<usize>(j * nPost + i) << 2), load<f32>(W + (<usize>(i * nPre + j) << 2)));
  }
  store<i32>(P + (<usize>SP_DIRTY << 2), 0);
}

// Projection.update
function projUpdate(P: usize, B: i32, kappa: usize): void {
  if (load<i32>(P + (<usize>SP_EVENT << 2)) == 0 || load<i32>(P + (<usize>SP_DIRTY << 2)) != 0) {
    projSync(P, B, kappa);
    return;
  }
  const nPost = load<i32>(P + (<usize>SP_N_POST << 2)), nPre = load<i32>(P + (<usize>SP_N_PRE << 2));
  // column j of W is row j of WT (the same values in the same order as js's W[i · nPre + j])
  const WT: usize = <usize>load<i32>(P + (<usize>SP_WT << 2)), acc: usize = <usize>load<i32>(P + (<usize>SP_ACC << 2));
  const kPrev: usize = <usize>load<i32>(P + (<usize>SP_K_PREV << 2));
  for (let bb = 0; bb < B; bb++) {
    const oq = bb * nPre;
    const ap: usize = acc + (<usize>(bb * nPost) << 3);
    for (let j = 0; j < nPre; j++) {
      const kp: usize = kPrev + (<usize>(oq + j) << 3);
      const k: f64 = <f64>load<f32>(kappa + (<usize>(oq + j) << 2));
      const dk: f64 = k - load<f64>(kp);
      if (dk == 0) continue;
      store<f64>(kp, k);
      const col: usize = WT + (<usize>(j * nPost) << 2);
      for (let i = 0; i < nPost; i++) {
        const q: usize = ap + (<usize>i << 3);
        store<f64>(q, load<f64>(q) + <f64>load<f32>(col + (<usize>i << 2)) * dk);
      }
    }
  }
}

// The step's kernel sums of every unit of a layer over its remembered spikes (as stdpAccumulate forms them):
// kcSum = Σ_k kc[t − ŝ_k] (the unit as presynaptic partner, its spike at t included), kaSum = Σ_k ka[t − ŝ_k] over
// ŝ_k < t (as postsynaptic partner). Both stop at the first spike outside the window, as stdpAccumulate does.
function kernelSums(S: usize, l: i32, t: i32): void {
  const B = load<i32>(S + (<usize>SH_BATCH << 2)), N = load<i32>(S + (<usize>SH_N_LAST << 2));
  const kc: usize = <usize>load<i32>(S + (<usize>SH_KC << 2)), ka: usize = <usize>load<i32>(S + (<usize>SH_KA << 2));
  const L = load<i32>(S + (<usize>SH_WIN_LEN << 2));
  const m = B * <i32>LW(S, l, SL_N), hist = LW(S, l, SL_HIST), cs = LW(S, l, SL_KC_SUM), as = LW(S, l, SL_KA_SUM);
  for (let q = 0; q < m; q++) {
    const h: usize = hist + (<usize>(q * N) << 2);
    let c: f64 = 0, a: f64 = 0;
    for (let k = 0; k < N; k++) {
      const d = t - load<i32>(h + (<usize>k << 2));
      if (d >= L) break;
      c += load<f64>(kc + (<usize>d << 3));
    }
    for (let k = 0; k < N; k++) {
      const d = t - load<i32>(h + (<usize>k << 2));
      if (d == 0) continue;
      if (d >= L) break;
      a += load<f64>(ka + (<usize>d << 3));
    }
    store<f64>(cs + (<usize>q << 3), c);
    store<f64>(as + (<usize>q << 3), a);
  }
}

// stdpAccumulate(rule, D, post = layer g, pre = layer g + 1, recurrent = false, sumChains = true), from the kernel
// sums: a pair's term in js depends on one partner only (post event of i: kcSum of j, plus kaSum of i when j
// spiked too; pre event of j: kaSum of i), so every D element receives the same value as in js. Each element is
// updated at most once per step, so the order of the updates does not change any sum.
function salPairs(S: usize, g: i32): void {
  const B = load<i32>(S + (<usize>SH_BATCH << 2));
  const nP = <i32>LW(S, g, SL_N), nQ = <i32>LW(S, g + 1, SL_N);
  const sP = LW(S, g, SL_SPIKES), sQ = LW(S, g + 1, SL_SPIKES);
  const aP = LW(S, g, SL_KA_SUM), cQ = LW(S, g + 1, SL_KC_SUM);
  const D: usize = <usize>load<i32>(PW(S, g, 1, SP_D));
  for (let bb = 0; bb < B; bb++) {
    const oP = bb * nP, oQ = bb * nQ;
    const spP: usize = sP + <usize>oP, spQ: usize = sQ + <usize>oQ;
    const cq: usize = cQ + (<usize>oQ << 3), ap: usize = aP + (<usize>oP << 3);
    for (let i = 0; i < nP; i++) {
      if (load<u8>(spP + <usize>i) == 0) continue;
      const a2 = load<f64>(ap + (<usize>i << 3));
      const row: usize = D + (<usize>(i * nQ) << 3);
      for (let j = 0; j < nQ; j++) {
        let acc = load<f64>(cq + (<usize>j << 3));
        if (load<u8>(spQ + <usize>j) != 0) acc += a2;
        if (acc != 0) {
          const q: usize = row + (<usize>j << 3);
          store<f64>(q, load<f64>(q) + acc);
        }
      }
    }
    for (let j = 0; j < nQ; j++) {
      if (load<u8>(spQ + <usize>j) == 0) continue;
      for (let i = 0; i < nP; i++) {
        if (load<u8>(spP + <usize>i) != 0) continue;
        const acc = load<f64>(ap + (<usize>i << 3));
        if (acc != 0) {
          const q: usize = D + (<usize>(i * nQ + j) << 3);
          store<f64>(q, load<f64>(q) + acc);
        }
      }
    }
  }
}

// SalNet.run(steps, trace): per step κ of every layer, the projections, u and spikes of every layer, SAL pairs, t++
export function salRun(S: usize, steps: i32, logTauRef: f64): void {
  const nL = load<i32>(S + (<usize>SH_N_LAYERS << 2)), B = load<i32>(S + (<usize>SH_BATCH << 2));
  const N = load<i32>(S + (<usize>SH_N_LAST << 2)), tauRef = load<i32>(S + (<usize>SH_TAU_REF << 2));
  const tauSyn = load<i32>(S + (<usize>SH_TAU_SYN << 2)), trace = load<i32>(S + (<usize>SH_TRACE << 2));
  let t = load<i32>(S + (<usize>SH_T << 2));
  for (let step = 0; step < steps; step++) {
    for (let l = 0; l < nL; l++) {
      psps(LW(S, l, SL_HIST), LW(S, l, SL_KAPPA), B * <i32>LW(S, l, SL_N), N, t, tauSyn);
    }
    for (let g = 0; g < nL - 1; g++) {
      projUpdate(PW(S, g, 0, 0), B, LW(S, g, SL_KAPPA));
      projUpdate(PW(S, g, 1, 0), B, LW(S, g + 1, SL_KAPPA));
    }
    let spiked = 0;
    for (let l = 0; l < nL; l++) {
      const n = <i32>LW(S, l, SL_N), hist = LW(S, l, SL_HIST), sp = LW(S, l, SL_SPIKES), counts = LW(S, l, SL_COUNTS);
      const rng = LW(S, l, SL_RNG), u = LW(S, l, SL_U), bias = LW(S, l, SL_BIAS);
      const up: usize = l > 0 ? <usize>load<i32>(PW(S, l - 1, 0, SP_ACC)) : 0;
      const down: usize = l < nL - 1 ? <usize>load<i32>(PW(S, l, 1, SP_ACC)) : 0;
      for (let bb = 0; bb < B; bb++)
        for (let i = 0; i < n; i++) {
          const q = bb * n + i;
          let x: f64 = <f64>load<f32>(bias + (<usize>i << 2));
          x += up ? load<f64>(up + (<usize>q << 3)) : 0;
          x += down ? load<f64>(down + (<usize>q << 3)) : 0;
          store<f32>(u + (<usize>q << 2), <f32>x);
        }
      spiked += drawSpikes(hist, sp, u, counts, rng, B * n, N, t, tauRef, logTauRef);
    }
    if (trace != 0 && spiked > 0) {
      for (let l = 0; l < nL; l++) kernelSums(S, l, t);
      for (let g = 0; g < nL - 1; g++) salPairs(S, g);
    }
    t++;
  }
  store<i32>(S + (<usize>SH_T << 2), t);
}
