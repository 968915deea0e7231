import { lassoDesign, lassoFit, type Criterion, type LassoOptions } from './lasso.js';
import type { DayAheadModel, DayInput } from './model.js';
import { asinhScale, columnStats, lagMatrix, medianMad } from './features.js';
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

  // Raw lag features for training rows (days first..t-1) and the target row (day t), then asinh(median/MAD).
  const raw = lagMatrix(history, perDay, first, t + 1, lags);
  const { med, mad } = columnStats(raw.subarray(0, n * nPrice), n, nPrice);
  const x = new Float64Array(n * p);
  const xt = new Float64Array(p);
  for (let r = 0; r < n; r++) for (let j = 0; j < nPrice; j++) x[r * p + j] = asinhScale(raw[r * nPrice + j], med[j], mad[j]);
  for (let j = 0; j < nPrice; j++) xt[j] = asinhScale(raw[n * nPrice + j], med[j], mad[j]);
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
