import { OptiBidError } from '@optibid/runtime';
import { lassoDesign, lassoFitCriteria, type Criterion, type LassoOptions } from './lasso.js';
import type { DayAheadModel, DayInput } from './model.js';
import {
  recentErrorWeights,
  recentErrorWeightsByInterval,
  rememberForecasts,
  type AdaptiveWeights,
} from './ensemble.js';
import { fitTransform, type TransformName } from './transforms.js';
import { dayType, type HolidayCalendar } from './holidays.js';

/** LEAR settings. */
export interface LearOptions {
  /**
   * Calibration windows in days; 0 stands for all the history there is (an expanding window).
   * The forecasts of every window x transform x criterion are averaged in price space.
   */
  windows?: number[];
  /** Day lags whose full price profile enters every hour's model (default 1, 2, 3, 7). */
  lags?: number[];
  /** Variance-stabilising transforms, each fitted per feature column and per target hour (default asinh). */
  transforms?: TransformName[];
  /** Penalty choice(s) along the lambda path (default the single `criterion`, itself default 'bic'). */
  criteria?: Criterion[];
  criterion?: Criterion;
  /** Adds the minimum, maximum and mean of day d-1 as features (default false). */
  extras?: boolean;
  /** Day lags of each exogenous series (default 0, 1, 7: the forecast for day d, and d-1, d-7). */
  exogLags?: number[];
  /**
   * Price level the model works relative to: `none` (default, as Lago et al.) or `d1`, where every price
   * feature and the target are taken relative to the mean price of day d-1 (which is itself a feature),
   * so the forecast follows level shifts instead of reverting to the window's mean.
   */
  level?: 'none' | 'd1';
  /**
   * Recency weighting of the calibration days: a day k days before the newest weighs 0.5^(k / halfLife)
   * in the least-squares part of the LASSO (default: none, every day weighs the same). With a long or
   * expanding window this lets old regimes fade instead of cutting them off.
   */
  halfLife?: number;
  /**
   * How `learModel` combines its members: by default their plain mean; with `adaptive`, each member
   * (window x transform x criterion) is weighted by its mean absolute error over the last
   * `adaptive.windowDays` days it forecast whose prices are known, to the power `-adaptive.power`
   * (equal weights until `adaptive.minDays` such days). The model then keeps the members' recent
   * forecasts between calls, so it must see the days in order, as a rolling backtest or the processor does.
   * With `adaptive.intervalPool` the weights are set per delivery interval (`memberWeights` then reports
   * each member's weight averaged over the intervals).
   */
  adaptive?: AdaptiveWeights;
  lasso?: LassoOptions;
}

/** Resolved settings with defaults. */
export interface LearSettings {
  windows: number[];
  lags: number[];
  maxLag: number;
  transforms: TransformName[];
  criteria: Criterion[];
  extras: boolean;
  exogLags: number[];
  relative: boolean;
  halfLife: number | undefined;
  adaptive: AdaptiveWeights | undefined;
  lasso: LassoOptions;
}

export function learSettings(opts: LearOptions): LearSettings {
  const lags = opts.lags ?? [1, 2, 3, 7];
  const exogLags = opts.exogLags ?? [0, 1, 7];
  const a = opts.adaptive;
  const whole = (v: number | undefined, min: number) => v !== undefined && Number.isInteger(v) && v >= min;
  if (
    a &&
    !(
      whole(a.windowDays, 1) &&
      whole(a.minDays, 1) &&
      a.power > 0 &&
      (a.intervalPool === undefined || whole(a.intervalPool, 0))
    )
  ) {
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `LEAR adaptive weights need whole windowDays ≥ 1, minDays ≥ 1 and intervalPool ≥ 0 and a positive power, got ${JSON.stringify(a)}`,
    );
  }
  return {
    windows: opts.windows ?? [56, 84, 182, 364],
    lags,
    maxLag: Math.max(...lags, ...exogLags),
    transforms: opts.transforms ?? ['asinh'],
    criteria: opts.criteria ?? [opts.criterion ?? 'bic'],
    extras: opts.extras ?? false,
    exogLags,
    relative: opts.level === 'd1',
    halfLife: opts.halfLife,
    adaptive: a,
    lasso: opts.lasso ?? {},
  };
}

/**
 * Raw (untransformed) features of days `from`..`to-1`, row-major: the price profiles of the lagged days,
 * optionally the min/max/mean of d-1, and the profiles of each exogenous series at its lags.
 * Exogenous series cover the target day as well (they are forecasts known before gate closure).
 */
export function rawFeatures(
  input: DayInput,
  s: LearSettings,
  from: number,
  to: number,
): { raw: Float64Array; cols: number } {
  const { history, perDay } = input;
  const exog = input.exog ? Object.values(input.exog) : [];
  const extras = s.extras || s.relative;
  const cols = s.lags.length * perDay + (extras ? 3 : 0) + exog.length * s.exogLags.length * perDay;
  const raw = new Float64Array((to - from) * cols);
  let k = 0;
  for (let day = from; day < to; day++) {
    const base = s.relative ? dayMean(history, perDay, day - 1) : 0;
    for (const lag of s.lags) {
      const start = (day - lag) * perDay;
      for (let h = 0; h < perDay; h++) raw[k++] = history[start + h] - base;
    }
    if (extras) {
      const start = (day - 1) * perDay;
      let min = Infinity;
      let max = -Infinity;
      let sum = 0;
      for (let h = 0; h < perDay; h++) {
        const v = history[start + h];
        min = Math.min(min, v);
        max = Math.max(max, v);
        sum += v;
      }
      raw[k++] = min - base;
      raw[k++] = max - base;
      raw[k++] = sum / perDay; // the level itself (in relative mode the other features are relative to it)
    }
    for (const series of exog) {
      for (const lag of s.exogLags) {
        const start = (day - lag) * perDay;
        for (let h = 0; h < perDay; h++) raw[k++] = series[start + h];
      }
    }
  }
  return { raw, cols };
}

/** Columns `writeDayType` fills: 7 day-of-week dummies, plus 2 with a calendar. */
export function dayTypeWidth(calendar: HolidayCalendar | undefined): number {
  return calendar ? 9 : 7;
}

/**
 * Day-type dummies at `at`: the day of week (a holiday counts as a Sunday) and, with a calendar, whether the
 * day is a holiday and whether the day before was one.
 */
export function writeDayType(
  row: Float64Array | Float32Array,
  at: number,
  date: string,
  calendar: HolidayCalendar | undefined,
): void {
  const { dow, holiday, holidayBefore } = dayType(date, calendar);
  row[at + (holiday ? 6 : dow)] = 1;
  if (calendar) {
    row[at + 7] = holiday ? 1 : 0;
    row[at + 8] = holidayBefore ? 1 : 0;
  }
}

/** Mean of day `day` of a day-major series. */
export function dayMean(series: ArrayLike<number>, perDay: number, day: number): number {
  let sum = 0;
  for (let h = 0; h < perDay; h++) sum += series[day * perDay + h];
  return sum / perDay;
}

/** Weights of n consecutive days, oldest first: 0.5^(age / halfLife), the newest day weighing 1. */
export function recencyWeights(n: number, halfLife: number): Float64Array {
  if (!(halfLife > 0)) throw new OptiBidError('OPTIBID_ERR_USAGE', `LEAR halfLife must be positive, got ${halfLife}`);
  const w = new Float64Array(n);
  for (let r = 0; r < n; r++) w[r] = Math.pow(0.5, (n - 1 - r) / halfLife);
  return w;
}

/** Number of the calibration window's first training day. */
function firstDay(t: number, window: number, maxLag: number): number {
  return window <= 0 ? maxLag : Math.max(maxLag, t - window);
}

/** Member key: `<transform>[+d1]/<window or all>/<criterion>`. */
export function learMemberKey(
  transform: TransformName,
  window: number,
  criterion: Criterion,
  relative = false,
): string {
  return `${transform}${relative ? '+d1' : ''}/${window <= 0 ? 'all' : window}/${criterion}`;
}

/**
 * Every LEAR member forecast for the day after `input.history`: for each calibration window and
 * transform, per delivery interval a LASSO on the transformed lagged features plus day-of-week dummies
 * (one Gram matrix per window and transform, shared by all intervals), the penalty picked by each
 * criterion along one lambda path. Forecasts are transformed back to prices.
 */
export function learMembers(input: DayInput, opts: LearOptions = {}): Map<string, number[]> {
  const s = learSettings(opts);
  const { history, historyDays, targetDate, perDay } = input;
  const t = history.length / perDay;
  for (const [name, series] of Object.entries(input.exog ?? {})) {
    if (series.length < (t + 1) * perDay) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `exogenous series "${name}" must cover the history and the target day ${targetDate}: ${series.length} values, need ${(t + 1) * perDay}`,
      );
    }
  }
  const firstAll = Math.min(...s.windows.map((w) => firstDay(t, w, s.maxLag)));
  const { raw, cols } = rawFeatures(input, s, firstAll, t + 1);
  const calendar = input.holidays;
  const p = cols + dayTypeWidth(calendar);
  const out = new Map<string, number[]>();
  // Windows longer than the history collapse onto the same first day: fit those once.
  const done = new Map<number, Map<string, number[]>>();
  for (const window of s.windows) {
    const first = firstDay(t, window, s.maxLag);
    const same = done.get(first);
    if (same) {
      for (const transform of s.transforms) {
        for (const c of s.criteria)
          out.set(learMemberKey(transform, window, c, s.relative), same.get(`${transform}/${c}`)!);
      }
      continue;
    }
    const fitted = new Map<string, number[]>();
    done.set(first, fitted);
    const n = t - first;
    const rows = raw.subarray((first - firstAll) * cols, (t + 1 - firstAll) * cols); // n training rows + target row
    const column = new Float64Array(n);
    const y = new Float64Array(n);
    for (const transform of s.transforms) {
      const x = new Float64Array(n * p);
      const xt = new Float64Array(p);
      for (let j = 0; j < cols; j++) {
        for (let r = 0; r < n; r++) column[r] = rows[r * cols + j];
        const f = fitTransform(transform, column);
        for (let r = 0; r < n; r++) x[r * p + j] = f.forward(column[r]);
        xt[j] = f.forward(rows[n * cols + j]);
      }
      for (let r = 0; r < n; r++) writeDayType(x, r * p + cols, historyDays[first + r], calendar);
      writeDayType(xt, cols, targetDate, calendar);
      const weights = s.halfLife ? recencyWeights(n, s.halfLife) : undefined;
      const design = lassoDesign(x, n, p, weights);
      const forecasts = s.criteria.map(() => new Array<number>(perDay));
      const targetBase = s.relative ? dayMean(history, perDay, t - 1) : 0;
      for (let h = 0; h < perDay; h++) {
        for (let r = 0; r < n; r++)
          y[r] = history[(first + r) * perDay + h] - (s.relative ? dayMean(history, perDay, first + r - 1) : 0);
        const f = fitTransform(transform, y);
        for (let r = 0; r < n; r++) y[r] = f.forward(y[r]);
        const fits = lassoFitCriteria(design, y, s.criteria, s.lasso);
        fits.forEach((fit, k) => {
          let z = fit.intercept;
          for (let j = 0; j < p; j++) if (fit.coef[j] !== 0) z += fit.coef[j] * xt[j];
          forecasts[k][h] = f.inverse(z) + targetBase;
        });
      }
      s.criteria.forEach((c, k) => {
        out.set(learMemberKey(transform, window, c, s.relative), forecasts[k]);
        fitted.set(`${transform}/${c}`, forecasts[k]);
      });
    }
  }
  return out;
}

/** Mean (in price space) of member forecasts. */
function average(members: Iterable<number[]>, perDay: number): number[] {
  const sum = new Array<number>(perDay).fill(0);
  let count = 0;
  for (const f of members) {
    for (let h = 0; h < perDay; h++) sum[h] += f[h];
    count++;
  }
  return sum.map((v) => v / count);
}

/** LEAR forecast of one calibration window (averaged over the configured transforms and criteria). */
export function learForecast(input: DayInput, window: number, opts: LearOptions = {}): number[] {
  return average(learMembers(input, { ...opts, windows: [window] }).values(), input.perDay);
}

/**
 * LEAR (Lago et al. 2021) recalibrated every day over calibration windows, transforms and criteria: the members'
 * mean, or with `adaptive` their recent-error-weighted combination.
 */
export function learModel(opts: LearOptions = {}, name = 'lear'): DayAheadModel {
  const s = learSettings(opts);
  const shortest = Math.min(...s.windows.map((w) => (w <= 0 ? 28 : w)), 28);
  let last: Map<string, number[]> = new Map();
  /** Member forecasts (in `keys` order) by target date, for the adaptive weights. */
  const past = new Map<string, number[][]>();
  let keys: string[] = [];
  let lastWeights: number[] = [];
  return {
    name,
    minHistoryDays: s.maxLag + shortest,
    forecastDay(input: DayInput): number[] {
      last = learMembers(input, opts);
      const adaptive = s.adaptive;
      if (!adaptive) return average(last.values(), input.perDay);
      const now = [...last.keys()];
      if (now.join('|') !== keys.join('|')) {
        keys = now;
        past.clear();
      }
      const forecasts = keys.map((k) => last.get(k)!);
      const fixed = keys.map(() => 1 / keys.length);
      const byInterval =
        adaptive.intervalPool === undefined
          ? undefined
          : recentErrorWeightsByInterval(past, input, adaptive, fixed, adaptive.intervalPool);
      const w = byInterval ? undefined : recentErrorWeights(past, input, adaptive, fixed);
      rememberForecasts(past, input.targetDate, forecasts, adaptive.windowDays);
      const rows = byInterval ?? new Array<number[]>(input.perDay).fill(w!);
      lastWeights = fixed.map((_, k) => rows.reduce((a, r) => a + r[k], 0) / rows.length);
      if (rows.every((r) => r === fixed)) return average(forecasts, input.perDay);
      return rows.map((r, h) => r.reduce((a, wk, k) => a + wk * forecasts[k][h], 0));
    },
    ...(s.adaptive ? { memberWeights: () => Object.fromEntries(keys.map((k, i) => [k, lastWeights[i]])) } : {}),
  };
}
