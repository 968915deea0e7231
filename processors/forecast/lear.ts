import { lassoDesign, lassoFit, type Criterion, type LassoOptions } from './lasso.js';
import type { DayAheadModel, DayInput } from './model.js';
import { dayOfWeek } from './table.js';

/** LEAR settings. */
export interface LearOptions {
  /** Calibration windows in days; the forecasts of all windows are averaged (default 56, 84, 182, 364). */
  windows?: number[];
  /** Day lags whose full price profile enters every hour's model (default 1, 2, 3, 7). */
  lags?: number[];
  criterion?: Criterion;
  lasso?: LassoOptions;
}

/** Robust location/scale per column: median and normal-consistent MAD. */
function medianMad(values: Float64Array): [number, number] {
  const sorted = Float64Array.from(values).sort();
  const med = medianOfSorted(sorted);
  for (let i = 0; i < sorted.length; i++) sorted[i] = Math.abs(sorted[i] - med);
  sorted.sort();
  const mad = 1.4826 * medianOfSorted(sorted);
  return [med, mad > 1e-9 ? mad : 1];
}

function medianOfSorted(s: Float64Array): number {
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * One LEAR forecast for the day after `history` from the last `window` days: per delivery interval a
 * LASSO on the asinh-transformed (median/MAD-normalised per calibration window) price profiles of the
 * lagged days plus day-of-week dummies, the penalty chosen by an information criterion.
 */
export function learForecast(input: DayInput, window: number, opts: LearOptions = {}): number[] {
  const { history, historyDays, targetDate, perDay } = input;
  const lags = opts.lags ?? [1, 2, 3, 7];
  const maxLag = Math.max(...lags);
  const t = history.length / perDay;
  const first = Math.max(maxLag, t - window);
  const n = t - first;
  const nPrice = lags.length * perDay;
  const p = nPrice + 7;

  // Raw lag features for training rows (days first..t-1) and the target row (day t).
  const raw = new Float64Array((n + 1) * nPrice);
  for (let r = 0; r <= n; r++) {
    const day = first + r;
    let k = r * nPrice;
    for (const lag of lags) {
      const from = (day - lag) * perDay;
      for (let h = 0; h < perDay; h++) raw[k++] = history[from + h];
    }
  }
  const x = new Float64Array(n * p);
  const xt = new Float64Array(p);
  const col = new Float64Array(n);
  for (let j = 0; j < nPrice; j++) {
    for (let r = 0; r < n; r++) col[r] = raw[r * nPrice + j];
    const [med, mad] = medianMad(col);
    for (let r = 0; r < n; r++) x[r * p + j] = Math.asinh((col[r] - med) / mad);
    xt[j] = Math.asinh((raw[n * nPrice + j] - med) / mad);
  }
  for (let r = 0; r < n; r++) x[r * p + nPrice + dayOfWeek(historyDays[first + r])] = 1;
  xt[nPrice + dayOfWeek(targetDate)] = 1;

  const design = lassoDesign(x, n, p);
  const lassoOpts = { criterion: opts.criterion, ...opts.lasso };
  const out: number[] = [];
  const y = new Float64Array(n);
  for (let h = 0; h < perDay; h++) {
    for (let r = 0; r < n; r++) y[r] = history[(first + r) * perDay + h];
    const [med, mad] = medianMad(y);
    for (let r = 0; r < n; r++) y[r] = Math.asinh((y[r] - med) / mad);
    const fit = lassoFit(design, y, lassoOpts);
    let s = fit.intercept;
    for (let j = 0; j < p; j++) s += fit.coef[j] * xt[j];
    out.push(Math.sinh(s) * mad + med);
  }
  return out;
}

/** LEAR (Lago et al. 2021) recalibrated every day, averaged over calibration windows. */
export function learModel(opts: LearOptions = {}, name = 'lear'): DayAheadModel {
  const windows = opts.windows ?? [56, 84, 182, 364];
  const maxLag = Math.max(...(opts.lags ?? [1, 2, 3, 7]));
  return {
    name,
    minHistoryDays: maxLag + Math.min(...windows, 28),
    forecastDay(input: DayInput): number[] {
      const sum = new Array<number>(input.perDay).fill(0);
      for (const w of windows) {
        const f = learForecast(input, w, opts);
        for (let h = 0; h < input.perDay; h++) sum[h] += f[h] / windows.length;
      }
      return sum;
    },
  };
}
