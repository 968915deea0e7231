import { ensembleModel, recentErrorWeightsByInterval } from './ensemble.js';
import { defaultEnsemble, ensembleAdaptive, ensembleMembers, ensembleWeights } from './models.js';
import type { DayAheadModel, DayInput } from './model.js';

const perDay = 24;
const days = 40;
const dates = Array.from({ length: days }, (_, i) => new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10));
const prices = Float64Array.from({ length: days * perDay }, (_, i) => 50 + 10 * Math.sin(i / 5));
const input = (d: number): DayInput => ({
  history: prices.subarray(0, d * perDay),
  historyDays: dates.slice(0, d),
  targetDate: dates[d],
  perDay,
});

/** A member that forecasts the true prices of its target day plus `bias(day)`. */
function biased(name: string, bias: (day: number) => number): DayAheadModel {
  return {
    name,
    minHistoryDays: 1,
    forecastDay: ({ targetDate }) => {
      const d = dates.indexOf(targetDate);
      return Array.from(prices.subarray(d * perDay, (d + 1) * perDay), (p) => p + bias(d));
    },
  };
}

describe('ensemble', () => {
  it('uses the fixed weights until enough days are scored, then weights by recent error to the power -p', async () => {
    const adaptive = { windowDays: 5, power: 2, minDays: 3 };
    const e = ensembleModel(
      [biased('a', () => 1), biased('b', (d) => (d < 12 ? 8 : 2))],
      'ensemble',
      [0.5, 0.5],
      adaptive,
    );
    for (let d = 10; d < 13; d++) {
      await e.forecastDay(input(d));
      expect(e.memberWeights!()).toEqual({ a: 0.5, b: 0.5 }); // 0, 1, 2 days scored
    }
    const f = await e.forecastDay(input(13)); // days 10, 11, 12 scored: MAE a = 1, b = (8 + 8 + 2) / 3 = 6
    const wa = 1 / (1 + 1 / 36);
    expect(e.memberWeights!().a).toBeCloseTo(wa, 12);
    f.forEach((v, h) => expect(v).toBeCloseTo(prices[13 * perDay + h] + wa * 1 + (1 - wa) * 2, 9));
    for (let d = 14; d < 18; d++) await e.forecastDay(input(d));
    // Only the last 5 scored days (12..16) count, so b's early errors of 8 are forgotten: MAE a = 1, b = 2.
    await e.forecastDay(input(18));
    expect(e.memberWeights!().a).toBeCloseTo(1 / (1 + 1 / 4), 12);
  });

  it('scores only days whose actual prices it was given, and fixed weights stay fixed', async () => {
    const adaptive = { windowDays: 10, power: 1, minDays: 2 };
    const e = ensembleModel([biased('a', () => 1), biased('b', () => 3)], 'ensemble', [0.25, 0.75], adaptive);
    // Forecasts for days 20..22 all made from a history ending at day 20: nothing is scored yet.
    for (const target of [20, 21, 22]) await e.forecastDay({ ...input(20), targetDate: dates[target] });
    expect(e.memberWeights!()).toEqual({ a: 0.25, b: 0.75 });
    const fixed = ensembleModel([biased('a', () => 1), biased('b', () => 3)], 'ensemble', [0.25, 0.75]);
    for (let d = 20; d < 30; d++) await fixed.forecastDay(input(d));
    expect(fixed.memberWeights!()).toEqual({ a: 0.25, b: 0.75 });
  });

  it('the ensemble behind default starts from ensembleWeights and then weights by recent error', async () => {
    const maes = ensembleMembers.map((_, k) => k + 1.5);
    const e = defaultEnsemble(ensembleMembers.map((name, k) => biased(name, () => maes[k])));
    const first = ensembleAdaptive.minDays;
    for (let d = 1; d <= first; d++) {
      await e.forecastDay(input(d));
      expect(e.memberWeights!()).toEqual(ensembleWeights);
    }
    await e.forecastDay(input(first + 1));
    const raw = maes.map((mae) => mae ** -ensembleAdaptive.power);
    const total = raw.reduce((a, b) => a + b, 0);
    const w = e.memberWeights!();
    ensembleMembers.forEach((name, k) => expect(w[name]).toBeCloseTo(raw[k] / total, 12));
  });

  it('defaultEnsemble rejects a member without a starting weight', () => {
    expect(() => defaultEnsemble([biased('lear-ensemble', () => 1), biased('no-such-member', () => 2)])).toThrow(
      /ensemble member "no-such-member" has no starting weight/,
    );
  });

  it('per-interval weights pool the errors of neighbouring intervals, and only score days with known prices', () => {
    // Two members over 6 intervals: a errs by 1 in intervals 0-2 and by 5 in 3-5, b the other way round.
    const errA = [1, 1, 1, 5, 5, 5];
    const errB = [5, 5, 5, 1, 1, 1];
    const past = new Map<string, number[][]>();
    const six = (d: number) => Array.from({ length: 6 }, (_, h) => 100 * d + h);
    for (let d = 0; d < 4; d++)
      past.set(`d${d}`, [six(d).map((v, h) => v + errA[h]), six(d).map((v, h) => v - errB[h])]);
    const history = Float64Array.from([0, 1, 2, 3].flatMap(six));
    const input: DayInput = { history, historyDays: ['d0', 'd1', 'd2', 'd3'], targetDate: 'd4', perDay: 6 };
    const adaptive = { windowDays: 3, power: 2, minDays: 3 };
    const w = recentErrorWeightsByInterval(past, input, adaptive, [0.5, 0.5], 1);
    const expected = (a: number, b: number) => a ** -2 / (a ** -2 + b ** -2);
    expect(w[0][0]).toBeCloseTo(expected(1, 5), 12); // intervals 0..1
    expect(w[2][0]).toBeCloseTo(expected(7 / 3, 11 / 3), 12); // intervals 1..3
    expect(w[5][0]).toBeCloseTo(expected(5, 1), 12); // intervals 4..5
    w.forEach((row) => expect(row[0] + row[1]).toBeCloseTo(1, 12));
    expect(recentErrorWeightsByInterval(past, input, adaptive, [0.5, 0.5], 0)[2][0]).toBeCloseTo(expected(1, 5), 12);
    // Only two of the days are in the history: fewer than minDays scored, so the fixed weights.
    const short = { ...input, history: history.subarray(0, 12), historyDays: ['d0', 'd1'] };
    expect(recentErrorWeightsByInterval(past, short, adaptive, [0.3, 0.7], 1)).toEqual(Array(6).fill([0.3, 0.7]));
    expect(() =>
      ensembleModel([biased('a', () => 1)], 'e', [1], { windowDays: 5, power: 2, minDays: 3, intervalPool: 1 }),
    ).toThrow(/intervalPool is supported by LEAR/);
  });
});
