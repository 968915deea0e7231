import { medianMad } from './features.js';

/**
 * Variance-stabilising transforms (Uniejewski, Weron, Ziel 2018), each fitted on one sample (a feature
 * column or one delivery hour's prices in a calibration window) and applied to new values of it.
 * - `asinh`: area hyperbolic sine of the median/MAD-normalised value;
 * - `npit`: normal probability integral transform, the standard-normal quantile of the sample's
 *   (interpolated) empirical CDF; its inverse is the sample's empirical quantile function, so forecasts
 *   stay within the observed range;
 * - `log`: logarithm after a shift that makes the sample positive (a Box-Cox transform with lambda 0);
 * - `linear`: median/MAD normalisation only.
 */
export type TransformName = 'asinh' | 'npit' | 'log' | 'linear';

export const transformNames: TransformName[] = ['asinh', 'npit', 'log', 'linear'];

export interface FittedTransform {
  forward(x: number): number;
  inverse(z: number): number;
}

/** Fits `name` on `sample`. */
export function fitTransform(name: TransformName, sample: ArrayLike<number>): FittedTransform {
  switch (name) {
    case 'asinh': {
      const [med, mad] = medianMad(sample);
      return { forward: (x) => Math.asinh((x - med) / mad), inverse: (z) => Math.sinh(z) * mad + med };
    }
    case 'linear': {
      const [med, mad] = medianMad(sample);
      return { forward: (x) => (x - med) / mad, inverse: (z) => z * mad + med };
    }
    case 'log': {
      // log(1 + (x - min) / MAD): a Box-Cox transform (lambda 0) after shifting the sample to start at 1.
      const [, mad] = medianMad(sample);
      let min = Infinity;
      for (let i = 0; i < sample.length; i++) min = Math.min(min, sample[i]);
      return {
        forward: (x) => Math.log(Math.max(1e-3, 1 + (x - min) / mad)),
        inverse: (z) => (Math.exp(z) - 1) * mad + min,
      };
    }
    case 'npit':
      return npit(sample);
  }
}

function npit(sample: ArrayLike<number>): FittedTransform {
  const s = Float64Array.from(sample).sort();
  const n = s.length;
  // Interpolated rank in [0.5, n + 0.5] (ties get their mid rank), probability rank / (n + 1).
  const rank = (x: number): number => {
    if (x < s[0]) return 0.5;
    if (x > s[n - 1]) return n + 0.5;
    let lo = 0;
    let hi = n; // first index with s[i] > x
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (s[m] > x) hi = m;
      else lo = m + 1;
    }
    const upper = lo;
    let a = 0;
    let b = upper; // first index with s[i] >= x
    while (a < b) {
      const m = (a + b) >> 1;
      if (s[m] >= x) b = m;
      else a = m + 1;
    }
    const lower = a;
    if (lower < upper) return (lower + upper + 1) / 2; // x equals s[lower..upper-1]: mid rank (1-based)
    // s[upper-1] < x < s[upper]
    const i = upper - 1;
    return i + 1 + (x - s[i]) / (s[i + 1] - s[i]);
  };
  return {
    forward: (x) => normalQuantile(rank(x) / (n + 1)),
    inverse: (z) => {
      const r = Math.min(n, Math.max(1, normalCdf(z) * (n + 1))) - 1;
      const i = Math.min(n - 2, Math.floor(r));
      if (n === 1) return s[0];
      return s[i] + (r - i) * (s[i + 1] - s[i]);
    },
  };
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 on erf; absolute error below 1e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lowP = 0.02425;
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  if (p < lowP) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    );
  }
  if (p > 1 - lowP) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return (
      -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    );
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}
