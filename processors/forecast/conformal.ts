import { quantile } from './metrics.js';

/**
 * Split-conformal quantiles from recent out-of-sample errors: for each delivery interval it keeps the
 * last `window` residuals (actual - forecast) of days already delivered and shifts a new point forecast
 * by their empirical 10/50/90% quantiles. Residuals of neighbouring intervals (±`spread`) are pooled,
 * so a short history still gives stable tails.
 */
export class ConformalQuantiles {
  private readonly residuals: number[][];

  constructor(
    private readonly perDay: number,
    private readonly window = 84,
    private readonly spread = 1,
  ) {
    this.residuals = Array.from({ length: perDay }, () => []);
  }

  /** Number of residual days recorded so far (capped at the window). */
  get days(): number {
    return this.residuals[0].length;
  }

  /** Records a delivered day: its actual prices and the point forecast that was issued for it. */
  observe(actual: ArrayLike<number>, forecast: ArrayLike<number>): void {
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
      const pool: number[] = [];
      for (let k = h - this.spread; k <= h + this.spread; k++) {
        if (k >= 0 && k < this.perDay) pool.push(...this.residuals[k]);
      }
      const lo = quantile(pool, 0.1);
      const mid = quantile(pool, 0.5);
      const hi = quantile(pool, 0.9);
      q10.push(forecast[h] + lo);
      q50.push(forecast[h] + mid);
      q90.push(forecast[h] + hi);
    }
    return { q10, q50, q90 };
  }
}
