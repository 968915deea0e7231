/** Mean absolute error over paired values (NaN pairs are skipped). */
export function mae(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = Math.abs(actual[i] - forecast[i]);
    if (Number.isNaN(e)) continue;
    s += e;
    n++;
  }
  return n ? s / n : NaN;
}

/** Symmetric MAPE in percent: mean of 2|a-f|/(|a|+|f|), 0 where both are 0 (as in the EPF benchmark). */
export function smape(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const f = forecast[i];
    if (Number.isNaN(a) || Number.isNaN(f)) continue;
    const d = Math.abs(a) + Math.abs(f);
    s += d === 0 ? 0 : (2 * Math.abs(a - f)) / d;
    n++;
  }
  return n ? (100 * s) / n : NaN;
}

/** Empirical quantile (linear interpolation between order statistics) of `values`. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** Pinball (quantile) loss of forecast `f` at level q. */
export function pinball(actual: ArrayLike<number>, f: ArrayLike<number>, q: number): number {
  let s = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = actual[i] - f[i];
    s += e >= 0 ? q * e : (q - 1) * e;
  }
  return s / actual.length;
}
