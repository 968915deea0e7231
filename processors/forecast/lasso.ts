/**
 * LASSO by cyclic coordinate descent on a precomputed Gram matrix ("covariance updates", Friedman,
 * Hastie, Tibshirani 2010), along a log-spaced lambda path with warm starts and an active set,
 * with the penalty picked by an information criterion. Objective: (1/2n)||y - Xb||^2 + lambda ||b||_1,
 * features centred and scaled to unit variance inside (so the intercept is unpenalised).
 */

/** Standardised design: Gram matrix and per-feature centring/scaling, shared by every target of one X. */
export interface LassoDesign {
  n: number;
  p: number;
  /** Row-major n x p standardised features. */
  z: Float64Array;
  /** Gram matrix z'z/n, p x p. */
  gram: Float64Array;
  mean: Float64Array;
  scale: Float64Array;
  /**
   * Square roots of the row weights, normalised to sum to n (absent: every row weighs 1). The rows of `z`
   * are already multiplied by them, so `gram` is the weighted Gram matrix.
   */
  rootWeights?: Float64Array;
}

/**
 * `bic`/`aic`/`aicc`: n log(RSS/n) + penalty; `aicv`: n RSS / (n var(y)) + 2 df, the form older
 * scikit-learn LassoLarsIC used (noise variance estimated by the variance of y).
 */
export type Criterion = 'aic' | 'bic' | 'aicc' | 'aicv';

export interface LassoOptions {
  /** Lambda path length (default 25). */
  pathLength?: number;
  /** Smallest lambda as a fraction of lambda_max (default 1e-2). */
  minRatio?: number;
  /** Penalty choice (default 'bic'). */
  criterion?: Criterion;
  /** Convergence: largest coefficient change in a sweep, on standardised features (default 1e-4). */
  tolerance?: number;
  /** Sweeps per lambda at most (default 200). */
  maxSweeps?: number;
  /** Stop the path once this share of n coefficients is non-zero (default 0.5): criteria are unreliable beyond. */
  maxDfRatio?: number;
  /**
   * Stop the path once no criterion has improved for this many consecutive lambdas (default: never);
   * the small-lambda end of the path is the costly one and rarely wins.
   */
  patience?: number;
}

export interface LassoFit {
  /** Coefficients on the raw (unstandardised) features. */
  coef: Float64Array;
  intercept: number;
  lambda: number;
  /** Non-zero coefficients. */
  df: number;
}

/**
 * Centres and scales the columns of row-major `x` (n x p) and computes the Gram matrix. With `weights`
 * (one per row, positive) the objective becomes the weighted one, (1/2n) sum w_i (y_i - x_i b)^2 + lambda
 * ||b||_1 with the weights normalised to sum to n: means, scales and the Gram matrix are weighted.
 */
export function lassoDesign(x: Float64Array, n: number, p: number, weights?: ArrayLike<number>): LassoDesign {
  const mean = new Float64Array(p);
  const scale = new Float64Array(p);
  const w = new Float64Array(n).fill(1);
  if (weights) {
    if (weights.length !== n) throw new Error(`lassoDesign: ${weights.length} weights for ${n} rows`);
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (!(weights[i] > 0)) throw new Error(`lassoDesign: weight ${weights[i]} of row ${i} is not positive`);
      total += weights[i];
    }
    for (let i = 0; i < n; i++) w[i] = (weights[i] * n) / total;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mean[j] += w[i] * x[i * p + j];
  for (let j = 0; j < p; j++) mean[j] /= n;
  const z = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) {
      const v = x[i * p + j] - mean[j];
      z[i * p + j] = v;
      scale[j] += w[i] * v * v;
    }
  }
  for (let j = 0; j < p; j++) scale[j] = Math.sqrt(scale[j] / n) || 1;
  const rootWeights = weights ? w.map(Math.sqrt) : undefined;
  for (let i = 0; i < n; i++) {
    // Without weights, exactly the unweighted arithmetic (bit-identical fits to before weights existed).
    if (rootWeights) for (let j = 0; j < p; j++) z[i * p + j] *= rootWeights[i] / scale[j];
    else for (let j = 0; j < p; j++) z[i * p + j] /= scale[j];
  }
  const gram = new Float64Array(p * p);
  for (let i = 0; i < n; i++) {
    const row = i * p;
    for (let j = 0; j < p; j++) {
      const zj = z[row + j];
      if (zj === 0) continue;
      const gj = j * p;
      for (let k = j; k < p; k++) gram[gj + k] += zj * z[row + k];
    }
  }
  for (let j = 0; j < p; j++) {
    for (let k = j; k < p; k++) {
      const v = gram[j * p + k] / n;
      gram[j * p + k] = v;
      gram[k * p + j] = v;
    }
  }
  return { n, p, z, gram, mean, scale, ...(rootWeights ? { rootWeights } : {}) };
}

/** Fits y on the design along the lambda path and returns the fit the criterion prefers. */
export function lassoFit(design: LassoDesign, y: ArrayLike<number>, opts: LassoOptions = {}): LassoFit {
  return lassoFitCriteria(design, y, [opts.criterion ?? 'bic'], opts)[0];
}

/** One pass along the lambda path; returns, for each criterion, the fit it prefers. */
export function lassoFitCriteria(
  design: LassoDesign,
  y: ArrayLike<number>,
  criteria: Criterion[],
  opts: LassoOptions = {},
): LassoFit[] {
  const { n, p, z, gram, mean, scale, rootWeights } = design;
  const pathLength = opts.pathLength ?? 25;
  const minRatio = opts.minRatio ?? 1e-2;
  const tol = opts.tolerance ?? 1e-4;
  const maxSweeps = opts.maxSweeps ?? 200;
  const maxDf = Math.max(1, Math.floor((opts.maxDfRatio ?? 0.5) * n));

  // Weighted (when the design is) mean of y; the rows of z carry the root weights, so yi does too.
  let ymean = 0;
  for (let i = 0; i < n; i++) ymean += rootWeights ? rootWeights[i] * rootWeights[i] * y[i] : y[i];
  ymean /= n;
  const c = new Float64Array(p);
  let yy = 0;
  for (let i = 0; i < n; i++) {
    const yi = (y[i] - ymean) * (rootWeights ? rootWeights[i] : 1);
    yy += yi * yi;
    const row = i * p;
    for (let j = 0; j < p; j++) c[j] += z[row + j] * yi;
  }
  yy /= n;
  let lambdaMax = 0;
  for (let j = 0; j < p; j++) {
    c[j] /= n;
    lambdaMax = Math.max(lambdaMax, Math.abs(c[j]));
  }

  const b = new Float64Array(p);
  const r = Float64Array.from(c); // r = c - G b
  const active = new Uint8Array(p);
  const scoreOf = (criterion: Criterion, rss: number, df: number): number => {
    if (criterion === 'aicv') return (n * rss) / Math.max(yy, 1e-300) + 2 * df;
    const fit = n * Math.log(Math.max(rss, 1e-12 * yy + 1e-300));
    if (criterion === 'bic') return fit + Math.log(n) * df;
    if (criterion === 'aicc') return df >= n - 1 ? Infinity : fit + 2 * df + (2 * df * (df + 1)) / (n - df - 1);
    return fit + 2 * df;
  };
  const best = criteria.map((c) => ({ score: scoreOf(c, yy, 0), b: new Float64Array(p), lambda: lambdaMax, df: 0 }));

  const sweep = (lambda: number, onlyActive: boolean): number => {
    let maxDelta = 0;
    for (let j = 0; j < p; j++) {
      if (onlyActive && !active[j]) continue;
      const gjj = gram[j * p + j];
      if (gjj === 0) continue;
      const bj = b[j];
      const zj = r[j] + gjj * bj;
      const nb = zj > lambda ? (zj - lambda) / gjj : zj < -lambda ? (zj + lambda) / gjj : 0;
      const delta = nb - bj;
      if (delta !== 0) {
        b[j] = nb;
        if (nb !== 0) active[j] = 1;
        const gcol = j * p;
        for (let k = 0; k < p; k++) r[k] -= delta * gram[gcol + k];
        if (Math.abs(delta) > maxDelta) maxDelta = Math.abs(delta);
      }
    }
    return maxDelta;
  };

  const patience = opts.patience ?? Infinity;
  let stale = 0;
  for (let step = 1; step < pathLength; step++) {
    const lambda = lambdaMax * Math.pow(minRatio, step / (pathLength - 1));
    for (let sweeps = 0; sweeps < maxSweeps;) {
      sweeps++;
      if (sweep(lambda, false) < tol) break;
      while (sweeps < maxSweeps && sweep(lambda, true) >= tol) sweeps++;
    }
    let df = 0;
    let bc = 0;
    let br = 0;
    for (let j = 0; j < p; j++) {
      if (b[j] !== 0) df++;
      bc += b[j] * c[j];
      br += b[j] * r[j];
    }
    const rss = Math.max(0, yy - bc - br); // (1/n)||y - Zb||^2 = yy - 2b'c + b'Gb, and Gb = c - r
    let improved = false;
    for (let k = 0; k < criteria.length; k++) {
      const score = scoreOf(criteria[k], rss, df);
      if (score < best[k].score) {
        best[k] = { score, b: Float64Array.from(b), lambda, df };
        improved = true;
      }
    }
    stale = improved ? 0 : stale + 1;
    if (df >= maxDf || stale >= patience) break;
  }

  return best.map((pick) => {
    const coef = new Float64Array(p);
    let intercept = ymean;
    for (let j = 0; j < p; j++) {
      coef[j] = pick.b[j] / scale[j];
      intercept -= coef[j] * mean[j];
    }
    return { coef, intercept, lambda: pick.lambda, df: pick.df };
  });
}

/** Prediction of a fit for one raw feature row. */
export function lassoPredict(fit: LassoFit, x: ArrayLike<number>): number {
  let s = fit.intercept;
  for (let j = 0; j < fit.coef.length; j++) s += fit.coef[j] * x[j];
  return s;
}
