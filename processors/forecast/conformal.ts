import { quantile } from './metrics.js';

/** Settings of `ConformalQuantiles`. */
export interface ConformalOptions {
  /** Days of residuals kept per interval (default 84). */
  window?: number;
  /** Neighbouring intervals (±) whose residuals are pooled (default 1). */
  spread?: number;
  /**
   * Step of the adaptive levels per delivered day (default 0.12; 0 keeps the levels at 10% and 90%). After
   * each day, the lower level moves by `adaptRate × (0.1 − share of intervals below the issued q10)`, the upper
   * one likewise, so the bands widen after misses and narrow after calm days (adaptive conformal inference,
   * Gibbs and Candès 2021, with one update per day).
   */
  adaptRate?: number;
}

/** What `ConformalQuantiles.snapshot` returns: plain JSON, for keyed state. */
export interface ConformalSnapshot {
  residuals: number[][];
  lower: number;
  upper: number;
}

/** Bounds of the adaptive residual levels. */
const LOWEST = 0.005;
const HIGHEST = 0.45;

/**
 * Split-conformal quantiles from recent out-of-sample errors: for each delivery interval it keeps the
 * last `window` residuals (actual - forecast) of days already delivered and shifts a new point forecast
 * by their empirical quantiles. Residuals of neighbouring intervals (±`spread`) are pooled, so a short
 * history still gives stable tails. The residual levels behind q10 and q90 adapt to the misses observed
 * (see `ConformalOptions.adaptRate`), which keeps coverage near 80% when the error regime changes.
 */
export class ConformalQuantiles {
  private residuals: number[][];
  private readonly window: number;
  private readonly spread: number;
  private readonly adaptRate: number;
  /** Residual quantile levels behind q10 and q90 (start at 0.1 and 0.9). */
  private lower = 0.1;
  private upper = 0.9;

  constructor(
    private readonly perDay: number,
    opts: ConformalOptions = {},
  ) {
    this.window = opts.window ?? 84;
    this.spread = opts.spread ?? 1;
    this.adaptRate = opts.adaptRate ?? 0.12;
    this.residuals = Array.from({ length: perDay }, () => []);
  }

  /** Number of residual days recorded so far (capped at the window). */
  get days(): number {
    return this.residuals[0].length;
  }

  /** The residual levels q10 and q90 are currently taken at. */
  get levels(): { lower: number; upper: number } {
    return { lower: this.lower, upper: this.upper };
  }

  /** Its residuals and levels as plain JSON (for keyed state, so the bands survive a restart). */
  snapshot(): ConformalSnapshot {
    return { residuals: this.residuals.map((r) => [...r]), lower: this.lower, upper: this.upper };
  }

  /** Replaces its residuals and levels by a snapshot's (one taken with the same `perDay`). */
  load(snap: ConformalSnapshot): this {
    if (snap.residuals.length !== this.perDay)
      throw new Error(`conformal snapshot has ${snap.residuals.length} intervals, expected ${this.perDay}`);
    snap.residuals.forEach((r, h) => (this.residuals[h] = r.slice(-this.window)));
    this.lower = snap.lower;
    this.upper = snap.upper;
    return this;
  }

  private pool(h: number): number[] {
    const pool: number[] = [];
    for (let k = h - this.spread; k <= h + this.spread; k++) {
      if (k >= 0 && k < this.perDay) pool.push(...this.residuals[k]);
    }
    return pool;
  }

  /** Records a delivered day: its actual prices and the point forecast that was issued for it. */
  observe(actual: ArrayLike<number>, forecast: ArrayLike<number>): void {
    if (this.adaptRate > 0 && this.days > 0) {
      // Misses of the bands as they were issued for this day (before its residuals join the pools).
      let below = 0;
      let above = 0;
      for (let h = 0; h < this.perDay; h++) {
        const pool = this.pool(h);
        const r = actual[h] - forecast[h];
        if (r < quantile(pool, this.lower)) below++;
        else if (r > quantile(pool, this.upper)) above++;
      }
      const clamp = (v: number) => Math.min(HIGHEST, Math.max(LOWEST, v));
      this.lower = clamp(this.lower + this.adaptRate * (0.1 - below / this.perDay));
      this.upper = 1 - clamp(1 - this.upper + this.adaptRate * (0.1 - above / this.perDay));
    }
    for (let h = 0; h < this.perDay; h++) {
      const r = this.residuals[h];
      r.push(actual[h] - forecast[h]);
      if (r.length > this.window) r.shift();
    }
  }

  /** Quantile forecasts for a new day's point forecast; undefined until at least one day was observed. */
  quantiles(forecast: ArrayLike<number>): { q10: number[]; q50: number[]; q90: number[] } | undefined {
    if (this.days === 0) return undefined;
    const q10: number[] = [];
    const q50: number[] = [];
    const q90: number[] = [];
    for (let h = 0; h < this.perDay; h++) {
      const pool = this.pool(h);
      q10.push(forecast[h] + quantile(pool, this.lower));
      q50.push(forecast[h] + quantile(pool, 0.5));
      q90.push(forecast[h] + quantile(pool, this.upper));
    }
    return { q10, q50, q90 };
  }
}
