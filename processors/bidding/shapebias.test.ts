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

describe('ShapeBiasCorrector', () => {
  it('learns a persistent intraday bias and ignores level errors', () => {
    const c = new ShapeBiasCorrector(24);
    const days = biasedDays(40, 7, 20, 4);
    for (const d of days.slice(0, 6)) c.observe(d.actual, d.forecast);
    expect([...c.bias()].every((v) => v === 0)).toBe(true); // fewer than minDays
    for (const d of days.slice(6)) c.observe(d.actual, d.forecast);
    const b = c.bias();
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
    const b = c.bias();
    const zeros = [...b].filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThanOrEqual(18); // shrunk to exactly zero unless about two standard errors out
    const raw = new ShapeBiasCorrector(24, { minT2: 0 });
    for (const d of biasedDays(56, 11, 0, 30)) raw.observe(d.actual, d.forecast);
    expect([...raw.bias()].filter((v) => v === 0).length).toBe(0);
  });

  it('keeps only the window, survives a snapshot, and rejects bad settings', () => {
    const c = new ShapeBiasCorrector(24, { windowDays: 10, minDays: 3 });
    for (const d of biasedDays(30, 3, 20, 4)) c.observe(d.actual, d.forecast);
    expect(c.days).toBe(10);
    const copy = new ShapeBiasCorrector(24, { windowDays: 10, minDays: 3 }).load(
      JSON.parse(JSON.stringify(c.snapshot())),
    );
    expect([...copy.bias()]).toEqual([...c.bias()]);
    expect(() => new ShapeBiasCorrector(24, { windowDays: 1 })).toThrow(/windowDays/);
    expect(() => new ShapeBiasCorrector(24, { minT2: -1 })).toThrow(/minT2/);
    expect(() => new ShapeBiasCorrector(24, { windowDays: 5 })).toThrow(/minDays/);
    expect(() => c.correct([1, 2, 3])).toThrow(/24 intervals/);
    expect(() => new ShapeBiasCorrector(24).load({ residuals: [[1]] })).toThrow(/snapshot/);
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
});
