import { lassoDesign, lassoFit, lassoFitCriteria, lassoPredict } from './lasso.js';

/** Deterministic pseudo-random numbers for synthetic designs. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

describe('coordinate-descent LASSO', () => {
  const n = 200;
  const p = 30;
  const rand = lcg(7);
  const x = new Float64Array(n * p).map(() => rand());
  const truth = new Float64Array(p);
  truth[2] = 3;
  truth[11] = -2;
  truth[25] = 1.5;
  const y = Array.from({ length: n }, (_, i) => 4 + truth.reduce((s, b, j) => s + b * x[i * p + j], 0) + 0.05 * rand());

  it('recovers a sparse linear model and its intercept, choosing the penalty by BIC', () => {
    const fit = lassoFit(lassoDesign(x, n, p), y);
    expect(fit.df).toBeLessThanOrEqual(6);
    expect(fit.coef[2]).toBeCloseTo(3, 1);
    expect(fit.coef[11]).toBeCloseTo(-2, 1);
    expect(fit.coef[25]).toBeCloseTo(1.5, 1);
    expect(fit.intercept).toBeCloseTo(4, 1);
    const row = x.subarray(5 * p, 6 * p);
    expect(lassoPredict(fit, row)).toBeCloseTo(y[5], 0);
  });

  it('satisfies the LASSO optimality (KKT) conditions at the chosen lambda', () => {
    const design = lassoDesign(x, n, p);
    const fit = lassoFit(design, y, { tolerance: 1e-9 });
    const resid = y.map((yi, i) => yi - lassoPredict(fit, x.subarray(i * p, (i + 1) * p)));
    for (let j = 0; j < p; j++) {
      let g = 0;
      for (let i = 0; i < n; i++) g += design.z[i * p + j] * resid[i];
      g /= n;
      const b = fit.coef[j] * design.scale[j];
      if (b !== 0) expect(g).toBeCloseTo(Math.sign(b) * fit.lambda, 4);
      else expect(Math.abs(g)).toBeLessThanOrEqual(fit.lambda + 1e-6);
    }
  });

  it('shrinks everything to zero when y does not depend on x (BIC prefers the empty model)', () => {
    const noise = Array.from({ length: n }, () => rand());
    const fit = lassoFit(lassoDesign(x, n, p), noise);
    expect(fit.df).toBeLessThanOrEqual(1);
  });

  it('picks one fit per criterion from a single path; AIC never keeps fewer coefficients than BIC', () => {
    const design = lassoDesign(x, n, p);
    const noisy = y.map((v) => v + 0.5 * rand());
    const [bic, aic, aicv] = lassoFitCriteria(design, noisy, ['bic', 'aic', 'aicv']);
    expect(Array.from(bic.coef)).toEqual(Array.from(lassoFit(design, noisy, { criterion: 'bic' }).coef));
    expect(Array.from(aic.coef)).toEqual(Array.from(lassoFit(design, noisy, { criterion: 'aic' }).coef));
    expect(aic.df).toBeGreaterThanOrEqual(bic.df);
    expect(aic.lambda).toBeLessThanOrEqual(bic.lambda);
    expect(aicv.coef[2]).toBeCloseTo(3, 0);
  });

  it('with patience, stops the path early but keeps the criterion choice when it lies before the stop', () => {
    const design = lassoDesign(x, n, p);
    const full = lassoFit(design, y, { pathLength: 40, minRatio: 1e-4 });
    const early = lassoFit(design, y, { pathLength: 40, minRatio: 1e-4, patience: 5 });
    expect(early.lambda).toBe(full.lambda);
    expect(Array.from(early.coef)).toEqual(Array.from(full.coef));
  });
});

describe('weighted LASSO (row weights in the design)', () => {
  const n = 240;
  const p = 12;
  const rand = lcg(11);
  const x = new Float64Array(n * p).map(() => rand());
  // Two regimes: feature 0 has slope 3 in the first half of the rows, -2 in the second half.
  const y = Array.from({ length: n }, (_, i) => 1 + (i < n / 2 ? 3 : -2) * x[i * p] + 0.02 * rand());

  it('satisfies the weighted KKT conditions at the chosen lambda', () => {
    const w = Array.from({ length: n }, (_, i) => 0.5 ** ((n - 1 - i) / 40));
    const design = lassoDesign(x, n, p, w);
    const fit = lassoFit(design, y, { tolerance: 1e-10 });
    const total = w.reduce((a, b) => a + b, 0);
    for (let j = 0; j < p; j++) {
      // d/db_j of (1/2n) sum v_i (y_i - x_i b)^2 on the standardised scale, v = w normalised to sum n.
      let g = 0;
      let mean = 0;
      for (let i = 0; i < n; i++) mean += (w[i] / total) * x[i * p + j];
      for (let i = 0; i < n; i++) {
        const v = (w[i] * n) / total;
        g += (v * (x[i * p + j] - mean) * (y[i] - lassoPredict(fit, x.subarray(i * p, (i + 1) * p)))) / design.scale[j];
      }
      g /= n;
      const b = fit.coef[j] * design.scale[j];
      if (b !== 0) expect(g).toBeCloseTo(Math.sign(b) * fit.lambda, 4);
      else expect(Math.abs(g)).toBeLessThanOrEqual(fit.lambda + 1e-6);
    }
  });

  it('follows the heavily weighted recent regime; equal weights give the unweighted fit', () => {
    const recent = Array.from({ length: n }, (_, i) => 0.5 ** ((n - 1 - i) / 10));
    const weighted = lassoFit(lassoDesign(x, n, p, recent), y);
    const plain = lassoFit(lassoDesign(x, n, p), y);
    expect(weighted.coef[0]).toBeLessThan(-1.8);
    expect(plain.coef[0]).toBeGreaterThan(-0.5);
    const equal = lassoFit(lassoDesign(x, n, p, new Array<number>(n).fill(5)), y);
    expect(equal.lambda).toBeCloseTo(plain.lambda, 10);
    Array.from(plain.coef).forEach((c, j) => expect(equal.coef[j]).toBeCloseTo(c, 9));
    expect(equal.intercept).toBeCloseTo(plain.intercept, 9);
  });

  it('rejects weights that are not one positive number per row', () => {
    expect(() => lassoDesign(x, n, p, [1, 2])).toThrow(/2 weights for 240 rows/);
    expect(() => lassoDesign(x, n, p, new Array<number>(n).fill(0))).toThrow(/not positive/);
  });
});
