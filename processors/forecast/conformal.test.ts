import { seededRng } from '../bidding/rng.js';
import { ConformalQuantiles } from './conformal.js';

/** Standard normal draws from a seeded generator (Box–Muller). */
function normals(seed: number): () => number {
  const rng = seededRng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * Runs `days` days of 24 intervals whose errors have standard deviation `scale(day)` through the quantiles and
 * returns the share of actual values inside q10..q90 over the days from `from`.
 */
function coverage(c: ConformalQuantiles, days: number, scale: (day: number) => number, from: number): number {
  const z = normals(11);
  const forecast = Array.from({ length: 24 }, (_, h) => 50 + 10 * Math.sin(h / 4));
  let inside = 0;
  let n = 0;
  for (let d = 0; d < days; d++) {
    const actual = forecast.map((f) => f + scale(d) * z());
    const q = c.quantiles(forecast);
    if (q && d >= from) {
      actual.forEach((a, h) => {
        n++;
        if (a >= q.q10[h] && a <= q.q90[h]) inside++;
      });
    }
    c.observe(actual, forecast);
  }
  return inside / n;
}

describe('conformal quantiles', () => {
  it('has no quantiles before the first delivered day, then shifts the forecast by residual quantiles', () => {
    const c = new ConformalQuantiles(2, { adaptRate: 0, spread: 0 });
    expect(c.quantiles([10, 20])).toBeUndefined();
    for (const r of [-2, -1, 0, 1, 2]) c.observe([10 + r, 20 + 2 * r], [10, 20]);
    const q = c.quantiles([100, 200])!;
    expect(q.q50).toEqual([100, 200]);
    expect(q.q10[0]).toBeCloseTo(100 - 1.6, 9);
    expect(q.q90[1]).toBeCloseTo(200 + 3.2, 9);
  });

  it('covers about 80% of stationary errors, with or without adaptation', () => {
    for (const adaptRate of [0, 0.12]) {
      const share = coverage(new ConformalQuantiles(24, { adaptRate }), 400, () => 5, 100);
      expect(share).toBeGreaterThan(0.76);
      expect(share).toBeLessThan(0.84);
    }
  });

  it('after errors triple, adaptive levels restore coverage much faster than fixed ones', () => {
    const jump = (d: number) => (d < 150 ? 2 : 6);
    // The 30 days after the jump: fixed levels still draw on mostly calm residuals.
    const fixed = coverage(new ConformalQuantiles(24, { adaptRate: 0 }), 180, jump, 150);
    const adaptive = coverage(new ConformalQuantiles(24), 180, jump, 150);
    expect(fixed).toBeLessThan(0.6);
    expect(adaptive).toBeGreaterThan(fixed + 0.08);
  });

  it('keeps its levels inside (0, 0.5) and (0.5, 1) however long the misses last', () => {
    const c = new ConformalQuantiles(4);
    for (let d = 0; d < 10; d++) c.observe([0, 0, 0, 0], [0, 0, 0, 0]);
    for (let d = 0; d < 200; d++) c.observe([d * 10, d * 10, d * 10, d * 10], [0, 0, 0, 0]);
    const { lower, upper } = c.levels;
    expect(lower).toBeGreaterThan(0);
    expect(lower).toBeLessThan(0.5);
    expect(upper).toBeGreaterThan(0.5);
    expect(upper).toBeLessThan(1);
    expect(upper).toBeGreaterThan(0.99); // pushed to its bound by 200 days of misses above
  });
});
