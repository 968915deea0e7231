import { gbdtFeatureCount, gbdtModel, richFeatureCount, weekSpread, writeRichFeatures } from './gbdt.js';
import { mae } from './metrics.js';
import type { DayInput } from './model.js';
import { seededRng } from '../bidding/rng.js';
import { readPriceCsv } from './table.js';

/** Consecutive dates from 2024-01-01 (a Monday). */
function dates(n: number): string[] {
  return Array.from({ length: n }, (_, i) => new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10));
}

function inputOf(prices: Float64Array, days: string[], d: number): DayInput {
  return { history: prices.subarray(0, d * 24), historyDays: days.slice(0, d), targetDate: days[d], perDay: 24 };
}

/** A daytime plateau and a weekend discount: a non-linear calendar rule with a little seeded noise. */
function synthetic(n: number, spikes = 0): { prices: Float64Array; days: string[] } {
  const days = dates(n);
  const rng = seededRng(7);
  const prices = new Float64Array(n * 24);
  for (let d = 0; d < n; d++) {
    const weekend = d % 7 >= 5;
    for (let h = 0; h < 24; h++) {
      prices[d * 24 + h] = 40 + (h >= 8 && h < 20 ? 12 : 0) - (weekend ? 15 : 0) + (rng.next() - 0.5);
    }
  }
  for (let k = 0; k < spikes; k++) prices[rng.int((n - 1) * 24)] += 2000;
  return { prices, days };
}

const fast = { rounds: 120, depths: [4], minLeaf: 20 };

describe('gbdt: least-absolute-deviation gradient-boosted trees', () => {
  it('learns a weekend discount that the same hour of yesterday gets wrong', () => {
    const { prices, days } = synthetic(140);
    const model = gbdtModel(fast);
    const actual: number[] = [];
    const forecast: number[] = [];
    const yesterday: number[] = [];
    for (let d = 126; d < 140; d++) {
      actual.push(...prices.subarray(d * 24, d * 24 + 24));
      forecast.push(...model.forecastDay(inputOf(prices, days, d)));
      yesterday.push(...prices.subarray((d - 1) * 24, d * 24));
    }
    expect(mae(actual, forecast)).toBeLessThan(0.25 * mae(actual, yesterday));
  });

  it('is barely moved by a few huge price spikes in its training history (median, not mean)', () => {
    const clean = synthetic(120);
    const spiky = synthetic(120, 12);
    const d = 119;
    const a = gbdtModel(fast).forecastDay(inputOf(clean.prices, clean.days, d));
    const b = gbdtModel(fast).forecastDay(inputOf(spiky.prices, spiky.days, d));
    expect(mae(a, b)).toBeLessThan(1.5);
  });

  it('is reproducible for the same seeds, retrains on its schedule, and differs for other seeds', () => {
    const table = readPriceCsv(new URL('./fixtures/np-2017h1.csv', import.meta.url).pathname, 'Real price');
    const input = (d: number) => inputOf(table.prices, table.days, d);
    const opts = { ...fast, retrainEvery: 7, seeds: [1, 2] };
    const a = gbdtModel(opts);
    const b = gbdtModel(opts);
    const actual: number[] = [];
    const fa: number[] = [];
    const naive: number[] = [];
    for (let d = 150; d < 164; d++) {
      const x = a.forecastDay(input(d));
      expect(b.forecastDay(input(d))).toEqual(x);
      fa.push(...x);
      actual.push(...table.prices.subarray(d * 24, d * 24 + 24));
      naive.push(...table.prices.subarray((d - 7) * 24, (d - 6) * 24));
    }
    expect(fa.every(Number.isFinite)).toBe(true);
    expect(mae(actual, fa)).toBeLessThan(0.9 * mae(actual, naive));
    // Day 157 came 7 days after the training on day 150: a fresh model trained on day 157 agrees with it.
    expect(gbdtModel(opts).forecastDay(input(157))).toEqual(fa.slice(7 * 24, 8 * 24));
    // Day 156 still used the trees of day 150, so a model trained on day 156 itself differs.
    expect(gbdtModel(opts).forecastDay(input(156))).not.toEqual(fa.slice(6 * 24, 7 * 24));
    expect(gbdtModel({ ...opts, seeds: [3] }).forecastDay(input(150))).not.toEqual(fa.slice(0, 24));
  });

  it('rich features: weekly context of the interval, computed from the right days', () => {
    // Day k of the history has price 100*k + h at interval h (perDay 4), so every feature is checkable.
    const perDay = 4;
    const history = new Float64Array(20 * perDay).map((_, i) => 100 * Math.floor(i / perDay) + (i % perDay));
    const out = new Float64Array(richFeatureCount + 1).fill(NaN);
    const day = 20;
    const h = 2;
    const base = 100 * 19 + 1.5; // mean of day d-1
    writeRichFeatures(history, perDay, day, h, 3, base, out, 1);
    expect(out[0]).toBeNaN(); // writes from `at`
    const lastWeek = [13, 14, 15, 16, 17, 18, 19].map((k) => 100 * k + h);
    const mean = lastWeek.reduce((a, b) => a + b) / 7;
    expect(out[1]).toBeCloseTo(mean - base, 9);
    expect(out[2]).toBeCloseTo(Math.sqrt(lastWeek.reduce((a, v) => a + (v - mean) ** 2, 0) / 7), 9);
    expect(out[3]).toBeCloseTo(100 * 6 + h - base, 9); // d-14
    expect(out[4]).toBeCloseTo(100 * 18 + 1.5 - base, 9); // level of d-2
    expect(out[5]).toBeCloseTo(100 * 16 + 1.5 - base, 9); // level of d-1..d-7
    expect(out[6]).toBeCloseTo(h - 1.5, 9); // shape of d-7 at h
    expect(out[7]).toBe(3 * perDay + h); // hour of week
    expect(gbdtFeatureCount(perDay)).toBe(15 + perDay);
  });

  it('rich features learn a rule the base set cannot see (same interval two weeks back)', () => {
    // Interval h of day d repeats interval h of day d-14 (plus noise); d-1..d-7 carry no information on it.
    const n = 150;
    const rng = seededRng(5);
    const days = dates(n);
    const prices = new Float64Array(n * 24);
    for (let d = 0; d < n; d++) {
      for (let h = 0; h < 24; h++)
        prices[d * 24 + h] = d < 14 ? 40 + 20 * rng.next() : prices[(d - 14) * 24 + h] + 0.2 * (rng.next() - 0.5);
    }
    const base = gbdtModel(fast);
    const rich = gbdtModel({ ...fast, features: 'rich' });
    expect(rich.minHistoryDays).toBeGreaterThan(base.minHistoryDays);
    const actual: number[] = [];
    const fb: number[] = [];
    const fr: number[] = [];
    for (let d = 136; d < 150; d++) {
      actual.push(...prices.subarray(d * 24, d * 24 + 24));
      fb.push(...base.forecastDay(inputOf(prices, days, d)));
      fr.push(...rich.forecastDay(inputOf(prices, days, d)));
    }
    expect(mae(actual, fr)).toBeLessThan(0.6 * mae(actual, fb));
  });

  it('weekSpread: root mean square intraday deviation of d-1..d-7, floored for a flat week', () => {
    const perDay = 4;
    // Days 0..9: day k is [k, k+2, k+4, k+6] scaled by (k+1): deviations from the day mean are (k+1)*[-3,-1,1,3].
    const history = new Float64Array(10 * perDay).map((_, i) => {
      const k = Math.floor(i / perDay);
      return (k + 1) * (k + 2 * (i % perDay));
    });
    const day = 9; // uses days 2..8
    let ss = 0;
    for (let k = 2; k <= 8; k++) ss += (k + 1) ** 2 * (9 + 1 + 1 + 9);
    expect(weekSpread(history, perDay, day, 0)).toBeCloseTo(Math.sqrt(ss / 28), 9);
    const flat = new Float64Array(10 * perDay).fill(50);
    expect(weekSpread(flat, perDay, day, 50)).toBeCloseTo(0.51, 12);
    expect(weekSpread(flat, perDay, day, -50)).toBeCloseTo(0.51, 12);
  });

  it('exogenous series: a load forecast that moves the daily peak is learnt, and only days before d train', () => {
    // The peak hour moves at random from day to day with a known load forecast: lagged prices cannot place it.
    const n = 84;
    const days = dates(n);
    const rng = seededRng(11);
    const load = new Float64Array(n * 24);
    const prices = new Float64Array(n * 24);
    for (let d = 0; d < n; d++) {
      const peak = 6 + rng.int(15);
      for (let h = 0; h < 24; h++) {
        load[d * 24 + h] = 1000 + 600 * Math.exp(-((h - peak) ** 2) / 3) + 30 * rng.next();
        prices[d * 24 + h] = 0.05 * load[d * 24 + h] - 20 + rng.next();
      }
    }
    const plain = gbdtModel({ ...fast, target: 'scaled' });
    const withLoad = gbdtModel({ ...fast, target: 'scaled' });
    const actual: number[] = [];
    const [a, b]: number[][] = [[], []];
    for (let d = 70; d < n; d++) {
      actual.push(...prices.subarray(d * 24, d * 24 + 24));
      a.push(...plain.forecastDay(inputOf(prices, days, d)));
      const exog = { Load: load.subarray(0, (d + 1) * 24) };
      b.push(...withLoad.forecastDay({ ...inputOf(prices, days, d), exog }));
    }
    expect(mae(actual, b)).toBeLessThan(0.35 * mae(actual, a));
    // Prices of day d and later never reach the model: garbage there leaves the forecast of d unchanged.
    const d = 76;
    const spoiled = prices.slice();
    spoiled.fill(1e6, d * 24);
    const input = (p: Float64Array) => ({ ...inputOf(p, days, d), exog: { Load: load.subarray(0, (d + 1) * 24) } });
    expect(gbdtModel(fast).forecastDay(input(spoiled))).toEqual(gbdtModel(fast).forecastDay(input(prices)));
  });

  it("target 'scaled' follows a tripled intraday swing that the price-difference trees cannot reach", () => {
    // The same daily shape throughout; its amplitude triples for the last 3 weeks. Trees on price differences
    // never saw swings that large, trees on differences / weekSpread see the same shape as before.
    const n = 160;
    const rng = seededRng(11);
    const days = dates(n);
    const prices = new Float64Array(n * 24);
    for (let d = 0; d < n; d++) {
      const amp = d < n - 21 ? 10 : 30;
      for (let h = 0; h < 24; h++) {
        prices[d * 24 + h] = 50 + amp * Math.sin((Math.PI * (h - 6)) / 12) + 0.5 * (rng.next() - 0.5);
      }
    }
    const diff = gbdtModel(fast);
    const scaled = gbdtModel({ ...fast, target: 'scaled' });
    const actual: number[] = [];
    const fd: number[] = [];
    const fs: number[] = [];
    for (let d = n - 12; d < n; d++) {
      actual.push(...prices.subarray(d * 24, d * 24 + 24));
      fd.push(...diff.forecastDay(inputOf(prices, days, d)));
      fs.push(...scaled.forecastDay(inputOf(prices, days, d)));
    }
    expect(mae(actual, fs)).toBeLessThan(0.5 * mae(actual, fd));
    // On the old regime both work, and they are different models (not the same trees under another name).
    const old = n - 40;
    const a = prices.subarray(old * 24, old * 24 + 24);
    const xd = gbdtModel(fast).forecastDay(inputOf(prices, days, old));
    const xs = gbdtModel({ ...fast, target: 'scaled' }).forecastDay(inputOf(prices, days, old));
    expect(mae(Array.from(a), xs)).toBeLessThan(1.5);
    expect(xs).not.toEqual(xd);
  });
});
