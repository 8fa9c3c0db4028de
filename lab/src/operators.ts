/**
 * Operator explorer maths (paper Fig. 3). Analytic transfer functions of the retrospective operator
 * I⁻_τm = 1/(1+iωτm), the prospective operator D⁺_τr = 1+iωτr, the neuron's membrane→rate path D⁺_τr I⁻_τm and the
 * error neuron's path (τm and τr swapped), plus the same gains and phases measured by simulating the discrete GLE
 * neuron of the project's core (a single linear 1→1 layer) on sine inputs.
 */
import { GLENetwork, JsBackend } from 'gle/core';

export interface Response {
  gain: number;
  phase: number; // radians, positive = leads
}

export const OPERATORS = ['retro', 'prosp', 'neuron', 'error'] as const;
export type OperatorName = (typeof OPERATORS)[number];
export const OPERATOR_LABEL: Record<OperatorName, string> = {
  retro: 'I⁻ (retrospective)',
  prosp: 'D⁺ (prospective)',
  neuron: 'neuron D⁺I⁻',
  error: 'error neuron',
};

export function analytic(op: OperatorName, w: number, tauM: number, tauR: number): Response {
  switch (op) {
    case 'retro':
      return { gain: 1 / Math.sqrt(1 + w * w * tauM * tauM), phase: -Math.atan(w * tauM) };
    case 'prosp':
      return { gain: Math.sqrt(1 + w * w * tauR * tauR), phase: Math.atan(w * tauR) };
    case 'neuron':
      return { gain: Math.sqrt((1 + w * w * tauR * tauR) / (1 + w * w * tauM * tauM)), phase: Math.atan(w * tauR) - Math.atan(w * tauM) };
    case 'error':
      return { gain: Math.sqrt((1 + w * w * tauM * tauM) / (1 + w * w * tauR * tauR)), phase: Math.atan(w * tauM) - Math.atan(w * tauR) };
  }
}

/** Log-spaced angular frequencies. */
export function freqs(lo: number, hi: number, n: number): Float64Array {
  const f = new Float64Array(n);
  for (let i = 0; i < n; i++) f[i] = lo * Math.pow(hi / lo, i / (n - 1));
  return f;
}

/** A 1→1 linear GLE layer of the core: W = w, no bias, γ = 0, prospective errors, β = 1, mse. */
function unit(tauM: number, tauR: number, dt: number, w: number): GLENetwork {
  return new GLENetwork(
    {
      input_size: 1,
      dt,
      dtype: 'float64',
      loss: 'mse',
      beta: 1,
      prospective_errors: true,
      layers: [{ size: 1, phi: 'linear', bias: false, tau_m: tauM, tau_r: tauR, gamma: 0, init: { weight: [[w]] } }],
    },
    new JsBackend('float64'),
  );
}

/**
 * Simulate x(t) = sin(ωt) through the discrete neuron and error neuron; returns time series of `steps` samples:
 * input, u (I⁻ x), prospective u (neuron output D⁺I⁻ x) and the error neuron's prospective error for input x.
 */
export function simulate(w: number, tauM: number, tauR: number, dt: number, steps: number): { t: Float64Array; x: Float64Array; u: Float64Array; neuron: Float64Array; error: Float64Array } {
  const n = unit(tauM, tauR, dt, 1);
  const e = unit(tauM, tauR, dt, 0); // W = 0: r = 0, so the top error is β·target, filtered by the error neuron
  n.training = e.training = false;
  const x1 = new Float64Array(1), tg = new Float64Array(1);
  const out = { t: new Float64Array(steps), x: new Float64Array(steps), u: new Float64Array(steps), neuron: new Float64Array(steps), error: new Float64Array(steps) };
  for (let k = 0; k < steps; k++) {
    const t = k * dt;
    x1[0] = Math.sin(w * t);
    tg[0] = x1[0];
    n.step(x1);
    e.step(x1, tg);
    out.t[k] = t;
    out.x[k] = x1[0];
    out.u[k] = n.state(0).u.a[0];
    out.neuron[k] = n.scratch(0).prospU.a[0];
    out.error[k] = e.scratch(0).prospV.a[0];
  }
  return out;
}

/** Least-squares gain and phase of y relative to sin(ωt) over samples [from, to). */
function fit(y: Float64Array, t: Float64Array, w: number, from: number, to: number): Response {
  let ss = 0, sc = 0, cc = 0, ys = 0, yc = 0;
  for (let k = from; k < to; k++) {
    const s = Math.sin(w * t[k]), c = Math.cos(w * t[k]);
    ss += s * s; sc += s * c; cc += c * c; ys += y[k] * s; yc += y[k] * c;
  }
  const det = ss * cc - sc * sc;
  const a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det; // y ≈ a sin + b cos = g sin(ωt + φ)
  return { gain: Math.hypot(a, b), phase: Math.atan2(b, a) };
}

/** Measured responses at the given frequencies (settle ~8 τ, then fit over whole periods). */
export function measure(ws: ArrayLike<number>, tauM: number, tauR: number, dt: number): Record<OperatorName, Response[]> {
  const res: Record<OperatorName, Response[]> = { retro: [], prosp: [], neuron: [], error: [] };
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i];
    const period = (2 * Math.PI) / w;
    const settle = 8 * Math.max(tauM, tauR);
    const periods = Math.max(2, Math.ceil(Math.min(20 * dt * 1000, 4 * period) / period));
    const from = Math.ceil(settle / dt);
    const len = Math.round((periods * period) / dt);
    const sim = simulate(w, tauM, tauR, dt, from + len);
    const to = from + len;
    const r = fit(sim.u, sim.t, w, from, to);
    const nrn = fit(sim.neuron, sim.t, w, from, to);
    res.retro.push(r);
    res.neuron.push(nrn);
    res.prosp.push({ gain: nrn.gain / r.gain, phase: nrn.phase - r.phase }); // D⁺ = (D⁺I⁻)/I⁻
    res.error.push(fit(sim.error, sim.t, w, from, to));
  }
  return res;
}
