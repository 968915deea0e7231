import { learForecast, learMembers, learModel, recencyWeights } from './lear.js';
import { mae } from './metrics.js';
import { seededRng } from '../bidding/rng.js';

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

describe('recency-weighted LEAR calibration', () => {
  it('weighs the newest day 1 and a day halfLife days older 0.5', () => {
    const w = recencyWeights(61, 30);
    expect(w[60]).toBe(1);
    expect(w[30]).toBeCloseTo(0.5, 12);
    expect(w[0]).toBeCloseTo(0.25, 12);
    expect(() => recencyWeights(10, 0)).toThrow(/halfLife must be positive/);
  });

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

describe('LEAR members weighted by their recent error (adaptive)', () => {
  const { prices, days } = regimeChange();
  const input = (d: number) => ({
    history: prices.subarray(0, d * 6),
    historyDays: days.slice(0, d),
    targetDate: days[d],
    perDay: 6,
  });
  const base = { transforms: ['linear' as const], windows: [56, 0], criteria: ['bic' as const, 'aicv' as const] };

  it('after a regime change, moves weight to the short window and beats the plain mean of the members', async () => {
    const adaptive = { windowDays: 14, power: 8, minDays: 14 };
    const plain = learModel(base);
    const weighted = learModel({ ...base, adaptive });
    const actual: number[] = [];
    const fPlain: number[] = [];
    const fWeighted: number[] = [];
    const fShort: number[] = [];
    for (let d = 300; d < 340; d++) {
      const p = await plain.forecastDay(input(d));
      const w = await weighted.forecastDay(input(d));
      if (d < 300 + adaptive.minDays) expect(w).toEqual(p); // equal weights until 14 days are scored
      if (d >= 320) {
        actual.push(...prices.subarray(d * 6, d * 6 + 6));
        fPlain.push(...p);
        fWeighted.push(...w);
        fShort.push(...learForecast(input(d), 56, base));
      }
    }
    const weights = weighted.memberWeights!();
    expect(weights['linear/56/bic'] + weights['linear/56/aicv']).toBeGreaterThan(0.8);
    // The all-history members still carry the old regime (MAE about 2.3 against 1.6 for the 56-day ones): the mean
    // of all members is pulled off by them, the weighted combination is as good as the better window alone.
    expect(mae(actual, fWeighted)).toBeLessThan(0.95 * mae(actual, fPlain));
    expect(mae(actual, fWeighted)).toBeLessThan(1.02 * mae(actual, fShort));
  }, 30_000);

  it('weights each member by its MAE over the last windowDays scored days, to the power -power', async () => {
    const adaptive = { windowDays: 5, power: 2, minDays: 3 };
    const model = learModel({ ...base, windows: [28, 56], adaptive });
    const members: Map<string, number[]>[] = [];
    for (let d = 200; d < 209; d++) {
      const f = await model.forecastDay(input(d));
      const m = learMembers(input(d), { ...base, windows: [28, 56] });
      members.push(m);
      const scored = members.slice(Math.max(0, members.length - 1 - adaptive.windowDays), members.length - 1);
      if (scored.length < adaptive.minDays) continue;
      const keys = [...m.keys()];
      const raw = keys.map((k) => {
        let e = 0;
        scored.forEach((s, j) => {
          const day = d - scored.length + j;
          s.get(k)!.forEach((v, h) => (e += Math.abs(v - prices[day * 6 + h])));
        });
        return (e / scored.length) ** -adaptive.power;
      });
      const total = raw.reduce((a, b) => a + b, 0);
      const w = model.memberWeights!();
      keys.forEach((k, i) => expect(w[k]).toBeCloseTo(raw[i] / total, 12));
      f.forEach((v, h) =>
        expect(v).toBeCloseTo(
          keys.reduce((a, k, i) => a + (raw[i] / total) * m.get(k)![h], 0),
          9,
        ),
      );
    }
    // Forecasts made without the previous days' prices score nothing: weights stay equal.
    const cold = learModel({ ...base, windows: [28, 56], adaptive });
    for (const target of [250, 251, 252, 253, 254]) await cold.forecastDay({ ...input(250), targetDate: days[target] });
    expect(Object.values(cold.memberWeights!())).toEqual([0.25, 0.25, 0.25, 0.25]);
  }, 30_000);

  it('with intervalPool, weights each delivery interval by the members errors at the neighbouring intervals', async () => {
    const adaptive = { windowDays: 4, power: 4, minDays: 3, intervalPool: 1 };
    const opts = { ...base, windows: [28, 56] };
    const model = learModel({ ...opts, adaptive });
    const { intervalPool: _, ...perDayOnly } = adaptive;
    const wholeDay = learModel({ ...opts, adaptive: perDayOnly });
    const members: Map<string, number[]>[] = [];
    let differs = false;
    for (let d = 200; d < 207; d++) {
      const f = await model.forecastDay(input(d));
      const g = await wholeDay.forecastDay(input(d));
      const m = learMembers(input(d), opts);
      members.push(m);
      const scored = members.slice(Math.max(0, members.length - 1 - adaptive.windowDays), members.length - 1);
      if (scored.length < adaptive.minDays) continue;
      if (f.some((v, h) => Math.abs(v - g[h]) > 1e-6)) differs = true; // per-interval is not per-day weighting
      const keys = [...m.keys()];
      for (let h = 0; h < 6; h++) {
        const raw = keys.map((k) => {
          let e = 0;
          let n = 0;
          scored.forEach((s, j) => {
            const day = d - scored.length + j;
            for (let g = Math.max(0, h - 1); g <= Math.min(5, h + 1); g++) {
              e += Math.abs(s.get(k)![g] - prices[day * 6 + g]);
              n++;
            }
          });
          return (e / n) ** -adaptive.power;
        });
        const total = raw.reduce((a, b) => a + b, 0);
        expect(f[h]).toBeCloseTo(
          keys.reduce((a, k, i) => a + (raw[i] / total) * m.get(k)![h], 0),
          9,
        );
      }
    }
    expect(differs).toBe(true);
  }, 30_000);

  it('no look-ahead: prices from day D on may change, the adaptive forecasts up to D stay bit-identical', async () => {
    const adaptive = { windowDays: 5, power: 8, minDays: 3, intervalPool: 1 };
    const D = 212;
    const dirty = Float64Array.from(prices, (v, i) => (i >= D * 6 ? 1000 + 500 * Math.sin(i) : v));
    const run = async (series: Float64Array) => {
      const model = learModel({ ...base, adaptive });
      const out: number[][] = [];
      for (let d = 200; d <= D; d++)
        out.push(
          await model.forecastDay({
            history: series.subarray(0, d * 6),
            historyDays: days.slice(0, d),
            targetDate: days[d],
            perDay: 6,
          }),
        );
      return out;
    };
    const clean = await run(prices);
    expect(await run(dirty)).toEqual(clean);
    // ...and the weights did move away from the plain mean by then.
    expect(clean.at(-1)).not.toEqual(learModel(base).forecastDay(input(D)));
  }, 30_000);

  it('rejects bad adaptive settings', () => {
    expect(() => learModel({ adaptive: { windowDays: 14, power: 8, minDays: 14, intervalPool: -1 } })).toThrow(
      /intervalPool/,
    );
    expect(() => learModel({ adaptive: { windowDays: 0, power: 2, minDays: 1 } })).toThrow(/adaptive weights/);
    expect(() => learModel({ adaptive: { windowDays: 14, power: 0, minDays: 1 } })).toThrow(/positive power/);
  });
});
