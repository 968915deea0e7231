import { learForecast, recencyWeights } from './lear.js';
import { mae } from './metrics.js';
import { seededRng } from '../bidding/rng.js';

describe('recency-weighted LEAR calibration', () => {
  it('weighs the newest day 1 and a day halfLife days older 0.5', () => {
    const w = recencyWeights(61, 30);
    expect(w[60]).toBe(1);
    expect(w[30]).toBeCloseTo(0.5, 12);
    expect(w[0]).toBeCloseTo(0.25, 12);
    expect(() => recencyWeights(10, 0)).toThrow(/halfLife must be positive/);
  });

  /**
   * Daily level around 40 follows an AR(1) whose coefficient flips from +0.9 to -0.6 for the last 100 of
   * 340 days; every one of 6 intervals carries the level plus a fixed shape and a little noise.
   */
  function regimeChange(): { prices: Float64Array; days: string[] } {
    const n = 340;
    const rng = seededRng(3);
    const days = Array.from({ length: n }, (_, i) => new Date(Date.UTC(2023, 0, 1 + i)).toISOString().slice(0, 10));
    const prices = new Float64Array(n * 6);
    let level = 0;
    for (let d = 0; d < n; d++) {
      level = (d < n - 100 ? 0.9 : -0.6) * level + 6 * (rng.next() - 0.5);
      for (let h = 0; h < 6; h++)
        prices[d * 6 + h] = 40 + level + 5 * Math.sin((h / 6) * 2 * Math.PI) + 0.3 * (rng.next() - 0.5);
    }
    return { prices, days };
  }

  it('with a half-life, an expanding window follows a regime change that the unweighted fit averages away', () => {
    const { prices, days } = regimeChange();
    const actual: number[] = [];
    const plain: number[] = [];
    const recent: number[] = [];
    const opts = { transforms: ['linear' as const] };
    for (let d = 320; d < 340; d++) {
      const input = {
        history: prices.subarray(0, d * 6),
        historyDays: days.slice(0, d),
        targetDate: days[d],
        perDay: 6,
      };
      actual.push(...prices.subarray(d * 6, d * 6 + 6));
      plain.push(...learForecast(input, 0, opts));
      recent.push(...learForecast(input, 0, { ...opts, halfLife: 20 }));
    }
    expect(recent.every(Number.isFinite)).toBe(true);
    expect(mae(actual, recent)).toBeLessThan(0.8 * mae(actual, plain));
  }, 30_000);
});
