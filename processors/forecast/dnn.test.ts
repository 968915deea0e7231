import { dnnModel } from './dnn.js';
import { mae } from './metrics.js';
import type { DayInput } from './model.js';

/** A seeded PRNG for the synthetic series (independent of Math.random). */
function lcg(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

/** Synthetic hourly prices: a daily level (from `level(day)`) plus a fixed day shape, a weekend dip and noise. */
function series(days: number, level: (day: number) => number, seed = 7): Float64Array {
  const random = lcg(seed);
  const out = new Float64Array(days * 24);
  for (let d = 0; d < days; d++) {
    for (let h = 0; h < 24; h++) {
      const shape = 6 * Math.sin(((h - 6) * Math.PI) / 12) + (d % 7 >= 5 ? -3 : 0);
      out[d * 24 + h] = level(d) + shape + 1.5 * (random() - 0.5);
    }
  }
  return out;
}

const dates = (n: number): string[] =>
  Array.from({ length: n }, (_, d) => new Date(Date.UTC(2021, 0, 4 + d)).toISOString().slice(0, 10));

const inputOf = (prices: Float64Array, days: string[], d: number): DayInput => ({
  history: prices.subarray(0, d * 24),
  historyDays: days.slice(0, d),
  targetDate: days[d],
  perDay: 24,
});

describe('DNN options', () => {
  // Levels wander between 20 and 40 for 110 days, then jump to 90 and stay there.
  const n = 118;
  const jump = 110;
  const days = dates(n);
  const wander = (d: number) => 30 + 10 * Math.sin(d / 9);
  const prices = series(n, (d) => (d < jump ? wander(d) : 90));
  const quick = { window: 100, seeds: [1], maxSteps: 600, retrainEvery: 1000 };

  it("level 'd1' follows a level the window never saw; the absolute network does not", async () => {
    const absolute = dnnModel(quick);
    const relative = dnnModel({ ...quick, level: 'd1' });
    // Trained once, on day `jump` - 2's history (retrainEvery is long), then forecasting the days after the jump.
    await absolute.forecastDay(inputOf(prices, days, jump - 2));
    await relative.forecastDay(inputOf(prices, days, jump - 2));
    const actual: number[] = [];
    const fa: number[] = [];
    const fr: number[] = [];
    for (let d = jump + 1; d < n; d++) {
      actual.push(...prices.subarray(d * 24, (d + 1) * 24));
      fa.push(...(await absolute.forecastDay(inputOf(prices, days, d))));
      fr.push(...(await relative.forecastDay(inputOf(prices, days, d))));
    }
    expect(mae(actual, fr)).toBeLessThan(0.5 * mae(actual, fa));
    expect(mae(actual, fr)).toBeLessThan(10);
  }, 60_000);

  it('inputClip saturates inputs beyond the training range, so a wilder day changes nothing', async () => {
    const calm = series(n, wander);
    // One model per setting, trained once on the days before 100 (retrainEvery is long), then asked about
    // day 102 with day 101 (its d-1) far above anything in the window, at two different heights.
    const wildInput = (scale: number): DayInput => {
      const wild = Float64Array.from(calm.subarray(0, 102 * 24));
      for (let h = 0; h < 24; h++) wild[101 * 24 + h] = scale * (1 + h / 24);
      return inputOf(wild, days, 102);
    };
    const trained = async (opts: object) => {
      const model = dnnModel({ ...quick, ...opts });
      await model.forecastDay(inputOf(calm, days, 100));
      return model;
    };
    const clipped = await trained({ inputClip: 0 });
    const clipped500 = await clipped.forecastDay(wildInput(500));
    expect(await clipped.forecastDay(wildInput(5000))).toEqual(clipped500);
    const free = await trained({});
    expect(await free.forecastDay(wildInput(5000))).not.toEqual(await free.forecastDay(wildInput(500)));
    // With a margin the bounds are wider: the wild day is still clipped, but further out.
    const margin = await trained({ inputClip: 0.5 });
    const margin500 = await margin.forecastDay(wildInput(500));
    expect(margin500).not.toEqual(clipped500);
    expect(await margin.forecastDay(wildInput(5000))).toEqual(margin500);
  }, 60_000);

  it('without the options the inputs are unchanged (a calm day forecasts the same with inputClip on)', async () => {
    const calm = series(n, wander);
    const a = dnnModel(quick);
    const b = dnnModel({ ...quick, inputClip: 0.5 });
    // Day 100's inputs lie inside the range of the 100-day window, so the clip leaves them as they are.
    expect(await b.forecastDay(inputOf(calm, days, 100))).toEqual(await a.forecastDay(inputOf(calm, days, 100)));
  }, 60_000);
  it("target 'scaled' follows a tripled intraday swing; the d-1-relative network does not", async () => {
    // A fixed daily shape whose amplitude triples on day `swing`; both networks are trained once before it.
    const swing = 104;
    const m = swing + 16;
    const random = lcg(3);
    const swung = new Float64Array(m * 24);
    for (let d = 0; d < m; d++) {
      const amp = d < swing ? 8 : 24;
      for (let h = 0; h < 24; h++) {
        swung[d * 24 + h] = wander(d) + amp * Math.sin(((h - 6) * Math.PI) / 12) + 1.5 * (random() - 0.5);
      }
    }
    const at = dates(m);
    const relative = dnnModel({ ...quick, level: 'd1' });
    const scaled = dnnModel({ ...quick, target: 'scaled' });
    await relative.forecastDay(inputOf(swung, at, swing - 2));
    const before = await scaled.forecastDay(inputOf(swung, at, swing - 2));
    // Before the swing the scaled network is as good as a network should be on this series.
    expect(mae(Array.from(swung.subarray((swing - 2) * 24, (swing - 1) * 24)), before)).toBeLessThan(3);
    // From a week after the swing on, the week's spread has tripled too, so the scaled inputs look as before.
    const actual: number[] = [];
    const fr: number[] = [];
    const fs: number[] = [];
    for (let d = swing + 7; d < m; d++) {
      actual.push(...swung.subarray(d * 24, (d + 1) * 24));
      fr.push(...(await relative.forecastDay(inputOf(swung, at, d))));
      fs.push(...(await scaled.forecastDay(inputOf(swung, at, d))));
    }
    expect(mae(actual, fs)).toBeLessThan(0.5 * mae(actual, fr));
    expect(mae(actual, fs)).toBeLessThan(4);
  }, 60_000);
});
