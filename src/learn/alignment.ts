/**
 * How well feedback weights B match the transpose of forward weights W — shared by the feedback-learning rules (FA,
 * PAL, SAL, KP…). Browser-safe, no dependencies.
 *
 * W is nOut × nIn (row-major, row = post), B is nIn × nOut (row = the lower neuron it feeds back to), so Bᵀ has W's
 * shape. With w = vec(W), c = vec(Bᵀ):
 *
 *   angle    = arccos(w·c / (|w| |c|)) in degrees (90° for unrelated random B, 0° for B = Wᵀ; NaN if either is zero)
 *   varDiff  = var(w − c)
 *   corr     = Pearson correlation of w and c
 *   signAgree = fraction of entries with sign(w) = sign(c)
 *   normRatio = |c| / |w| (Frobenius norms: the feedback's scale against the forward weights'; 1 for B = Wᵀ)
 */

/** Bᵀ[i, j] of a B stored nIn × nOut, read at W's index (i = out, j = in). */
function bt(B: ArrayLike<number>, nOut: number, i: number, j: number): number {
  return B[j * nOut + i];
}

export function alignmentAngle(W: ArrayLike<number>, B: ArrayLike<number>, nOut: number, nIn: number): number {
  if (W.length !== nOut * nIn || B.length !== nOut * nIn) throw new Error(`alignmentAngle: W and B must have ${nOut}×${nIn} entries`);
  let dot = 0, ww = 0, cc = 0;
  for (let i = 0; i < nOut; i++)
    for (let j = 0; j < nIn; j++) {
      const w = W[i * nIn + j], c = bt(B, nOut, i, j);
      dot += w * c;
      ww += w * w;
      cc += c * c;
    }
  if (ww === 0 || cc === 0) return NaN;
  const cos = Math.max(-1, Math.min(1, dot / Math.sqrt(ww * cc)));
  return (Math.acos(cos) * 180) / Math.PI;
}

export interface AlignmentStats {
  angle: number;
  varDiff: number;
  corr: number;
  signAgree: number;
  normRatio: number;
}

export function alignmentStats(W: ArrayLike<number>, B: ArrayLike<number>, nOut: number, nIn: number): AlignmentStats {
  const m = nOut * nIn;
  let sw = 0, sc = 0;
  for (let i = 0; i < nOut; i++)
    for (let j = 0; j < nIn; j++) {
      sw += W[i * nIn + j];
      sc += bt(B, nOut, i, j);
    }
  const mw = sw / m, mc = sc / m;
  let cov = 0, vw = 0, vc = 0, ww = 0, cc = 0, sd = 0, sd2 = 0, agree = 0;
  for (let i = 0; i < nOut; i++)
    for (let j = 0; j < nIn; j++) {
      const w = W[i * nIn + j], c = bt(B, nOut, i, j);
      cov += (w - mw) * (c - mc);
      vw += (w - mw) ** 2;
      vc += (c - mc) ** 2;
      ww += w * w;
      cc += c * c;
      sd += w - c;
      sd2 += (w - c) ** 2;
      if (Math.sign(w) === Math.sign(c)) agree++;
    }
  const md = sd / m;
  return {
    angle: alignmentAngle(W, B, nOut, nIn),
    varDiff: sd2 / m - md * md,
    corr: vw > 0 && vc > 0 ? cov / Math.sqrt(vw * vc) : NaN,
    signAgree: agree / m,
    normRatio: Math.sqrt(cc / ww),
  };
}
