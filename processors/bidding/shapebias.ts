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
}

/** What `ShapeBiasCorrector.snapshot` returns: plain JSON, for keyed state. */
export interface ShapeBiasSnapshot {
  residuals: number[][];
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
  private readonly residuals: number[][];
  private readonly windowDays: number;
  private readonly spread: number;
  private readonly minT2: number;
  private readonly minDays: number;

  constructor(
    private readonly perDay: number,
    opts: ShapeBiasOptions = {},
  ) {
    this.windowDays = opts.windowDays ?? 56;
    this.spread = opts.spread ?? 1;
    this.minT2 = opts.minT2 ?? 4;
    this.minDays = opts.minDays ?? 7;
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
    this.residuals = Array.from({ length: perDay }, () => []);
  }

  /** Residual days recorded (capped at the window). */
  get days(): number {
    return this.residuals[0].length;
  }

  /** Records a delivered day: its actual prices and the point forecast that was issued for it. */
  observe(actual: ArrayLike<number>, forecast: ArrayLike<number>): void {
    if (actual.length !== this.perDay || forecast.length !== this.perDay) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `shape bias: expected ${this.perDay} intervals, got ${actual.length} actual and ${forecast.length} forecast`,
      );
    }
    let level = 0;
    for (let t = 0; t < this.perDay; t++) level += actual[t] - forecast[t];
    level /= this.perDay;
    if (!Number.isFinite(level)) return; // a day with a missing price teaches nothing
    for (let t = 0; t < this.perDay; t++) {
      const r = this.residuals[t];
      r.push(actual[t] - forecast[t] - level);
      if (r.length > this.windowDays) r.shift();
    }
  }

  /** The correction per interval that `correct` adds (zeros until `minDays` days are recorded). */
  bias(): Float64Array {
    const out = new Float64Array(this.perDay);
    if (this.days < this.minDays) return out;
    for (let t = 0; t < this.perDay; t++) {
      let sum = 0;
      let n = 0;
      let pooled = 0;
      for (let k = t - this.spread; k <= t + this.spread; k++) {
        if (k < 0 || k >= this.perDay) continue;
        pooled++;
        for (const v of this.residuals[k]) {
          sum += v;
          n++;
        }
      }
      const mean = sum / n;
      if (mean === 0) continue;
      let ss = 0;
      for (let k = Math.max(0, t - this.spread); k <= Math.min(this.perDay - 1, t + this.spread); k++)
        for (const v of this.residuals[k]) ss += (v - mean) ** 2;
      const sd = Math.sqrt(ss / (n - 1));
      // Neighbouring intervals of one day are not independent: count days, not pooled values.
      const t2 = sd === 0 ? Infinity : (mean / sd) ** 2 * (n / pooled);
      out[t] = mean * Math.max(0, 1 - this.minT2 / t2);
    }
    return out;
  }

  /** The forecast plus its recent shape bias (a copy; the input is not changed). */
  correct(forecast: ArrayLike<number>): Float64Array {
    if (forecast.length !== this.perDay) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `shape bias: expected ${this.perDay} intervals, got ${forecast.length}`,
      );
    }
    const b = this.bias();
    return Float64Array.from(forecast, (v, t) => v + b[t]);
  }

  /** Its residuals as plain JSON (for keyed state). */
  snapshot(): ShapeBiasSnapshot {
    return { residuals: this.residuals.map((r) => [...r]) };
  }

  /** Replaces its residuals by a snapshot's (one taken with the same `perDay`). */
  load(snap: ShapeBiasSnapshot): this {
    if (snap.residuals.length !== this.perDay) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `shape bias snapshot has ${snap.residuals.length} intervals, expected ${this.perDay}`,
      );
    }
    snap.residuals.forEach((r, t) => (this.residuals[t] = r.slice(-this.windowDays)));
    return this;
  }
}
