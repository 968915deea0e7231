import type { DayForecast } from '../forecast/index.js';
import { backtestDays } from './backtest.js';
import { defaultBattery } from './battery.js';
import { seededRng } from './rng.js';
import { ShapeBiasCorrector } from './shapebias.js';

/** A day shape with a morning trough and an evening peak (24 hourly prices). */
const shape = (h: number) => 40 + 15 * Math.sin(((h - 9) / 24) * 2 * Math.PI) + (h >= 17 && h <= 20 ? 25 : 0);

/** Days whose forecast misses the evening peak by `miss` and puts a phantom peak at 6..8, plus noise. */
function biasedDays(n: number, seed: number, miss: number, noise: number): DayForecast[] {
  const rng = seededRng(seed);
  return Array.from({ length: n }, (_, d) => {
    const level = 20 * (rng.next() - 0.5); // level errors, which must not matter
    const actual = Array.from({ length: 24 }, (_, h) => shape(h) + noise * (rng.next() - 0.5));
    const forecast = actual.map(
      (a, h) =>
        a + level - (h >= 17 && h <= 20 ? miss : 0) + (h >= 6 && h <= 8 ? miss : 0) + noise * (rng.next() - 0.5),
    );
    return { date: `d${d}`, timestamps: [], actual, forecast };
  });
}

const zeros = new Array<number>(24).fill(0);

describe('ShapeBiasCorrector', () => {
  it('learns a persistent intraday bias and ignores level errors', () => {
    const c = new ShapeBiasCorrector(24);
    const days = biasedDays(40, 7, 20, 4);
    for (const d of days.slice(0, 6)) c.observe(d.actual, d.forecast);
    expect([...c.correction(zeros)].every((v) => v === 0)).toBe(true); // fewer than minDays
    for (const d of days.slice(6)) c.observe(d.actual, d.forecast);
    const b = c.correction(zeros);
    // The residual actual - forecast, less its daily mean (20·4/24 from the peak, -20·3/24 from the phantom):
    const dayMean = (20 * 4 - 20 * 3) / 24;
    for (const h of [18, 19]) expect(b[h]).toBeCloseTo(20 - dayMean, 0);
    expect(b[7]).toBeCloseTo(-20 - dayMean, 0);
    expect(Math.abs(b[13])).toBeLessThan(2.5); // no bias at 13:00 (pooled with 12 and 14)
    const f = days[0].forecast;
    const corrected = c.correct(f);
    expect(corrected[19] - f[19]).toBeCloseTo(b[19], 12);
    expect(f).toEqual(days[0].forecast); // the input is untouched
  });

  it('applies nothing where the residuals are only noise', () => {
    const c = new ShapeBiasCorrector(24);
    for (const d of biasedDays(56, 11, 0, 30)) c.observe(d.actual, d.forecast);
    const b = c.correction(zeros);
    expect([...b].filter((v) => v === 0).length).toBeGreaterThanOrEqual(18); // shrunk to exactly zero unless about two standard errors out
    const raw = new ShapeBiasCorrector(24, { minT2: 0 });
    for (const d of biasedDays(56, 11, 0, 30)) raw.observe(d.actual, d.forecast);
    expect([...raw.correction(zeros)].filter((v) => v === 0).length).toBe(0);
  });

  it('keeps only the window, survives a snapshot, and rejects bad settings', () => {
    const c = new ShapeBiasCorrector(24, { windowDays: 10, minDays: 3 });
    for (const d of biasedDays(30, 3, 20, 4)) c.observe(d.actual, d.forecast);
    expect(c.days).toBe(10);
    const copy = new ShapeBiasCorrector(24, { windowDays: 10, minDays: 3 }).load(
      JSON.parse(JSON.stringify(c.snapshot())),
    );
    expect([...copy.correction(zeros)]).toEqual([...c.correction(zeros)]);
    expect(() => new ShapeBiasCorrector(24, { windowDays: 1 })).toThrow(/windowDays/);
    expect(() => new ShapeBiasCorrector(24, { minT2: -1 })).toThrow(/minT2/);
    expect(() => new ShapeBiasCorrector(24, { windowDays: 5 })).toThrow(/minDays/);
    expect(() => c.correct([1, 2, 3])).toThrow(/24 intervals/);
    expect(() => new ShapeBiasCorrector(24).load({ forecast: [[1]], actual: [[1]] })).toThrow(/snapshot/);
    expect(() => new ShapeBiasCorrector(24, { slopeShrink: -1 })).toThrow(/slopeShrink/);
  });

  it('a backtest scheduled on the corrected forecast captures more when the forecast misplaces the peak', () => {
    const days = biasedDays(60, 5, 30, 6);
    const plain = backtestDays(days, defaultBattery);
    const corrected = backtestDays(days, defaultBattery, { shapeBias: {} });
    expect(corrected.perfect_foresight).toBeCloseTo(plain.perfect_foresight, 9);
    // `expected` is still the revenue on the forecast as issued, where the plain schedule is the optimum.
    expect(corrected.expected).toBeLessThan(plain.expected);
    // The first 7 days are scheduled identically (no correction yet), later ones sell into the real peak.
    for (let d = 0; d < 7; d++) expect(corrected.daily[d].realized).toBeCloseTo(plain.daily[d].realized, 9);
    expect(corrected.capture).toBeGreaterThan(plain.capture + 0.1);
    // Unbiased forecasts: the correction changes (almost) nothing.
    const fair = biasedDays(60, 5, 0, 6);
    const a = backtestDays(fair, defaultBattery).capture;
    const b = backtestDays(fair, defaultBattery, { shapeBias: {} }).capture;
    expect(Math.abs(a - b)).toBeLessThan(0.01);
  });

  it('with slopeShrink, restores a swing the forecast compresses, and the battery trades it', () => {
    const rng = seededRng(9);
    const days: DayForecast[] = Array.from({ length: 60 }, (_, d) => {
      const actual = Array.from({ length: 24 }, (_, h) => shape(h) + 2 * (rng.next() - 0.5));
      const m = actual.reduce((a, b) => a + b, 0) / 24;
      // the forecast has the right shape at 3% of its swing (too flat to pay the losses), plus a level error
      const level = 10 * (rng.next() - 0.5);
      const forecast = actual.map((a) => m + level + 0.03 * (a - m));
      return { date: `d${d}`, timestamps: [], actual, forecast };
    });
    const c = new ShapeBiasCorrector(24, { windowDays: 56, slopeShrink: 0 });
    for (const d of days.slice(0, 56)) c.observe(d.actual, d.forecast);
    for (const d of days.slice(56)) {
      const fixed = c.correct(d.forecast);
      const am = d.actual.reduce((a, b) => a + b, 0) / 24;
      const fm = fixed.reduce((a, b) => a + b, 0) / 24;
      for (let h = 0; h < 24; h++) expect(Math.abs(fixed[h] - fm - (d.actual[h] - am))).toBeLessThan(2.5);
    }
    // A strong pull toward slope 1 leaves nearly only the mean shape residual (the swing stays compressed).
    const pulled = new ShapeBiasCorrector(24, { windowDays: 56, slopeShrink: 1e6 });
    const shapeOnly = new ShapeBiasCorrector(24, { windowDays: 56, minT2: 0 });
    for (const d of days.slice(0, 56)) {
      pulled.observe(d.actual, d.forecast);
      shapeOnly.observe(d.actual, d.forecast);
    }
    const a = pulled.correction(days[57].forecast);
    const b = shapeOnly.correction(days[57].forecast);
    for (let h = 0; h < 24; h++) expect(a[h]).toBeCloseTo(b[h], 3);
    // Capture from day 14 on (the correction starts after minDays).
    const late = (r: ReturnType<typeof backtestDays>) => {
      const ds = r.daily.slice(14);
      return ds.reduce((s, d) => s + d.realized, 0) / ds.reduce((s, d) => s + d.perfectForesight, 0);
    };
    const plain = late(backtestDays(days, defaultBattery));
    const slope = late(backtestDays(days, defaultBattery, { shapeBias: { slopeShrink: 0, minDays: 14 } }));
    expect(plain).toBeLessThan(0.5);
    expect(slope).toBeGreaterThan(0.95);
  });
});
