// The spiking sampling network's run loop in WebAssembly (AssemblyScript; see wasm/build-spiking.mjs).
// Same semantics and operation order as src/spiking/{units,stdp,ssn}.ts with the dense drive and float32 weights:
// per step κ from the spike history, u = b + W κ (f64 sum stored as f32), spikes by σ(u − ln τ_ref) against a
// xoshiro128** uniform, history shift, STDP traces (f64), state histogram.
//
// Memory is imported and owned by the loader (src/spiking/wasm.ts). `S` points at an i32 struct:
//   0 n, 1 batch, 2 nLast, 3 tauRef, 4 tauSyn, 5 t (updated), 6 W (f32 n·n), 7 b (f32 n), 8 hist (i32 B·n·N),
//   9 spikes (u8 B·n), 10 kappa (f32 B·n), 11 counts (f64 B·n), 12 rng (u32 ×4), 13 u (f32 B·n),
//   14 nTraces (≤ 4), 15 stateHist (f64 2^n, 0 = none), then per trace r at 16 + 4r: kc (f64), ka (f64), L, D (f64)

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
  const n = I(S, 0), B = I(S, 1), N = I(S, 2);
  const kc: usize = <usize>I(S, 16 + 4 * r), ka: usize = <usize>I(S, 17 + 4 * r), L = I(S, 18 + 4 * r);
  const D: usize = <usize>I(S, 19 + 4 * r);
  const hist: usize = <usize>I(S, 8), sp: usize = <usize>I(S, 9);
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

export function ssnRun(S: usize, steps: i32, logTauRef: f64): void {
  const n = I(S, 0), B = I(S, 1), N = I(S, 2), tauRef = I(S, 3), tauSyn = I(S, 4);
  const W: usize = <usize>I(S, 6), b: usize = <usize>I(S, 7), hist: usize = <usize>I(S, 8), sp: usize = <usize>I(S, 9);
  const kappa: usize = <usize>I(S, 10), counts: usize = <usize>I(S, 11), rng: usize = <usize>I(S, 12), u: usize = <usize>I(S, 13);
  const nT = I(S, 14), sh: usize = <usize>I(S, 15);
  const m = B * n;
  let t = I(S, 5);
  for (let step = 0; step < steps; step++) {
    // κ
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
    let total = 0;
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
        total++;
      }
    }
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
  store<i32>(S + 20, t);
}
