import { OptiBidError } from '@optibid/runtime';

/** Settings of `ShapeBiasCorrector`. */
export interface ShapeBiasOptions {
  /** Days of residuals kept (default 56, the ensemble's weighting window). */
  windowDays?: number;
  /** Neighbouring intervals (±) whose residuals are pooled (default 1). */
  spread?: number;
  /**
   * Shrinkage threshold c (default 4): an interval's mean shape residual m is applied as m·max(0, 1 − c/t²),
   * t = m / (sd / √n) with n the residual days behind it, so a bias about two standard errors or fewer from zero
   * is (nearly) ignored. 0 applies the raw mean.
   */
  minT2?: number;
  /** Residual days needed before any correction (default 7). */
  minDays?: number;
  /**
   * Also calibrate the swing (λ ≥ 0; off by default): per interval, the day's demeaned actual is regressed on the
   * day's demeaned forecast over the window (pooled as above), and the slope b is taken as (b_least-squares + λ)/(1 + λ),
   * shrunk toward 1. The corrected forecast is the day's mean + a + b·(forecast − the day's mean), with the intercept
   * a = mean(actual) − b·mean(forecast) of the pooled demeaned values, not shrunk (`minT2` is not used then).
   */
  slopeShrink?: number;
}

/**
 * The two scheduling rules chosen on the first year of the EPF files and checked once on the second
 * (README): `shape` corrects the recent hour-of-day shape bias with the defaults; `swing` also calibrates
 * each hour's swing. Named here so the CLI (`--shape-bias`) and the bench use the same settings.
 */
export const shapeBiasRules = {
  shape: {},
  swing: { windowDays: 112, slopeShrink: 1, minDays: 14 },
} as const satisfies Record<string, ShapeBiasOptions>;

/** What `ShapeBiasCorrector.snapshot` returns: plain JSON, for keyed state. */
export interface ShapeBiasSnapshot {
  /** Per interval, each recorded day's forecast minus that day's mean forecast. */
  forecast: number[][];
  /** Per interval, each recorded day's actual price minus that day's mean actual. */
  actual: number[][];
}

/**
 * Corrects a point forecast's persistent intraday shape bias before a battery is scheduled on it.
 *
 * A schedule's revenue is linear in the prices, so the schedule worth having is the one optimised on the
 * expected shape of the day; forecasts fitted to absolute error aim at medians and can keep an hour-of-day bias
 * for weeks. For every delivered day it records the residuals (actual − forecast) minus that day's mean
 * residual, so the level error drops out and only the shape remains. A new forecast gets, per interval, the mean
 * of those shape residuals over the last `windowDays` days (pooled with ±`spread` neighbouring intervals),
 * shrunk toward zero unless it stands clear of its own noise (see `ShapeBiasOptions.minT2`).
 *
 * For scheduling only: the published forecast is not changed. Chosen on the first year of the EPF files and
 * checked once on the evaluation year (README).
 */
export class ShapeBiasCorrector {
  private forecasts: number[][];
  private actuals: number[][];
  private readonly windowDays: number;
  private readonly spread: number;
  private readonly minT2: number;
  private readonly minDays: number;
  private readonly slopeShrink: number | undefined;

  constructor(
    private readonly perDay: number,
    opts: ShapeBiasOptions = {},
  ) {
    this.windowDays = opts.windowDays ?? 56;
    this.spread = opts.spread ?? 1;
    this.minT2 = opts.minT2 ?? 4;
    this.minDays = opts.minDays ?? 7;
    this.slopeShrink = opts.slopeShrink;
    const bad = (field: string, why: string): never => {
      throw new OptiBidError('OPTIBID_ERR_CONFIG', `shape bias ${field} ${why}`, { context: { field } });
    };
    if (!(Number.isInteger(perDay) && perDay > 0)) bad('perDay', `must be a positive integer, got ${perDay}`);
    if (!(Number.isInteger(this.windowDays) && this.windowDays >= 2))
      bad('windowDays', `must be an integer ≥ 2, got ${this.windowDays}`);
    if (!(Number.isInteger(this.spread) && this.spread >= 0))
      bad('spread', `must be an integer ≥ 0, got ${this.spread}`);
    if (!(this.minT2 >= 0 && Number.isFinite(this.minT2))) bad('minT2', `must be ≥ 0, got ${this.minT2}`);
    if (!(Number.isInteger(this.minDays) && this.minDays >= 2 && this.minDays <= this.windowDays))
      bad('minDays', `must be an integer in [2, windowDays], got ${this.minDays}`);
    if (this.slopeShrink !== undefined && !(this.slopeShrink >= 0 && Number.isFinite(this.slopeShrink)))
      bad('slopeShrink', `must be ≥ 0, got ${this.slopeShrink}`);
    this.forecasts = Array.from({ length: perDay }, () => []);
    this.actuals = Array.from({ length: perDay }, () => []);
  }

  /** Days recorded (capped at the window). */
  get days(): number {
    return this.actuals[0].length;
  }

  /** Records a delivered day: its actual prices and the point forecast that was issued for it. */
  observe(actual: ArrayLike<number>, forecast: ArrayLike<number>): void {
    this.checkLength(actual.length);
    this.checkLength(forecast.length);
    const fm = mean(forecast);
    const am = mean(actual);
    if (!Number.isFinite(fm) || !Number.isFinite(am)) return; // a day with a missing price teaches nothing
    for (let t = 0; t < this.perDay; t++) {
      this.forecasts[t].push(forecast[t] - fm);
      this.actuals[t].push(actual[t] - am);
      if (this.actuals[t].length > this.windowDays) {
        this.forecasts[t].shift();
        this.actuals[t].shift();
      }
    }
  }

  /** What `correct` adds to each interval of this forecast (zeros until `minDays` days are recorded). */
  correction(forecast: ArrayLike<number>): Float64Array {
    this.checkLength(forecast.length);
    const out = new Float64Array(this.perDay);
    if (this.days < this.minDays) return out;
    const fm = mean(forecast);
    for (let t = 0; t < this.perDay; t++) {
      let n = 0;
      let pooled = 0;
      let sx = 0;
      let sy = 0;
      for (let k = Math.max(0, t - this.spread); k <= Math.min(this.perDay - 1, t + this.spread); k++) {
        pooled++;
        const xs = this.forecasts[k];
        const ys = this.actuals[k];
        for (let i = 0; i < ys.length; i++, n++) {
          sx += xs[i];
          sy += ys[i];
        }
      }
      const mx = sx / n;
      const my = sy / n;
      if (this.slopeShrink !== undefined) {
        let vxx = 0;
        let cxy = 0;
        for (let k = Math.max(0, t - this.spread); k <= Math.min(this.perDay - 1, t + this.spread); k++) {
          const xs = this.forecasts[k];
          const ys = this.actuals[k];
          for (let i = 0; i < ys.length; i++) {
            vxx += (xs[i] - mx) ** 2;
            cxy += (xs[i] - mx) * (ys[i] - my);
          }
        }
        const ols = vxx > 0 ? cxy / vxx : 1;
        const b = (ols + this.slopeShrink) / (1 + this.slopeShrink);
        out[t] = my - b * mx + (b - 1) * (forecast[t] - fm);
        continue;
      }
      const bias = my - mx; // mean shape residual
      if (bias === 0) continue;
      let ss = 0;
      for (let k = Math.max(0, t - this.spread); k <= Math.min(this.perDay - 1, t + this.spread); k++) {
        const xs = this.forecasts[k];
        const ys = this.actuals[k];
        for (let i = 0; i < ys.length; i++) ss += (ys[i] - xs[i] - bias) ** 2;
      }
      const sd = Math.sqrt(ss / (n - 1));
      // Neighbouring intervals of one day are not independent: count days, not pooled values.
      const t2 = sd === 0 ? Infinity : (bias / sd) ** 2 * (n / pooled);
      out[t] = bias * Math.max(0, 1 - this.minT2 / t2);
    }
    return out;
  }

  /** The forecast plus its correction (a copy; the input is not changed). */
  correct(forecast: ArrayLike<number>): Float64Array {
    const c = this.correction(forecast);
    return Float64Array.from(forecast, (v, t) => v + c[t]);
  }

  /** Its recorded days as plain JSON (for keyed state). */
  snapshot(): ShapeBiasSnapshot {
    return { forecast: this.forecasts.map((r) => [...r]), actual: this.actuals.map((r) => [...r]) };
  }

  /** Replaces its recorded days by a snapshot's (one taken with the same `perDay`). */
  load(snap: ShapeBiasSnapshot): this {
    if (snap.forecast.length !== this.perDay || snap.actual.length !== this.perDay) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `shape bias snapshot has ${snap.actual.length} intervals, expected ${this.perDay}`,
      );
    }
    this.forecasts = snap.forecast.map((r) => r.slice(-this.windowDays));
    this.actuals = snap.actual.map((r) => r.slice(-this.windowDays));
    return this;
  }

  private checkLength(n: number): void {
    if (n !== this.perDay)
      throw new OptiBidError('OPTIBID_ERR_USAGE', `shape bias: expected ${this.perDay} intervals, got ${n}`);
  }
}

function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s / v.length;
}
