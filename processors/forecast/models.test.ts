import { dnnModel } from './dnn.js';
import { learForecast } from './lear.js';
import { mae } from './metrics.js';
import { createModel, dnnScaledOptions, ensembleMembers, ensembleWeights, forecastModels } from './models.js';
import { rollingForecast } from './rolling.js';
import { readPriceCsv } from './table.js';

const table = readPriceCsv(new URL('./fixtures/np-2017h1.csv', import.meta.url).pathname, 'Real price');
const input = (d: number) => ({
  history: table.prices.subarray(0, d * 24),
  historyDays: table.days.slice(0, d),
  targetDate: table.days[d],
  perDay: 24,
});

describe('LEAR and DNN on a small real slice (NP, spring 2017)', () => {
  it('LEAR (84-day window) beats the weekly naive forecast over a week', () => {
    const actual: number[] = [];
    const lear: number[] = [];
    const naive: number[] = [];
    for (let d = 150; d < 157; d++) {
      actual.push(...table.prices.subarray(d * 24, d * 24 + 24));
      lear.push(...learForecast(input(d), 84));
      naive.push(...table.prices.subarray((d - 7) * 24, (d - 6) * 24));
    }
    expect(lear.every(Number.isFinite)).toBe(true);
    expect(mae(actual, lear)).toBeLessThan(0.9 * mae(actual, naive));
  }, 60_000);

  it('the seeded DNN is reproducible, stays within the range of recent prices and beats the weekly naive forecast over two weeks', async () => {
    const opts = { window: 140, retrainEvery: 7, seeds: [1, 2] };
    const a = dnnModel(opts);
    const b = dnnModel(opts);
    const actual: number[] = [];
    const fa: number[] = [];
    const naive: number[] = [];
    for (let d = 150; d < 164; d++) {
      const x = await a.forecastDay(input(d));
      expect(await b.forecastDay(input(d))).toEqual(x);
      fa.push(...x);
      actual.push(...table.prices.subarray(d * 24, d * 24 + 24));
      naive.push(...table.prices.subarray((d - 7) * 24, (d - 6) * 24));
    }
    const recent = Array.from(table.prices.subarray(120 * 24, 150 * 24));
    const span = Math.max(...recent) - Math.min(...recent);
    for (const f of fa) expect(f).toBeGreaterThan(Math.min(...recent) - span);
    for (const f of fa) expect(f).toBeLessThan(Math.max(...recent) + span);
    expect(mae(actual, fa)).toBeLessThan(mae(actual, naive));
  }, 60_000);

  it('the DNN retrains on the calendar schedule even when the caller keeps a fixed-length history', async () => {
    const sliding = (d: number) => ({
      history: table.prices.subarray((d - 90) * 24, d * 24),
      historyDays: table.days.slice(d - 90, d),
      targetDate: table.days[d],
      perDay: 24,
    });
    const opts = { window: 60, retrainEvery: 7, seeds: [1] };
    const a = dnnModel(opts);
    await a.forecastDay(sliding(120));
    const stale = await a.forecastDay(sliding(126)); // 6 days later: same networks
    const retrained = await a.forecastDay(sliding(127)); // 7 days later: retrained on the new window
    const fresh = dnnModel(opts);
    expect(await fresh.forecastDay(sliding(127))).toEqual(retrained);
    const fresh126 = dnnModel(opts);
    expect(await fresh126.forecastDay(sliding(126))).not.toEqual(stale);
  }, 60_000);

  it("the model 'dnn-scaled' is the DNN with dnnScaledOptions, and not the same network unscaled", async () => {
    expect(forecastModels).toContain('dnn-scaled');
    const named = createModel('dnn-scaled');
    expect(named.name).toBe('dnn-scaled');
    const x = await named.forecastDay(input(150));
    expect(await dnnModel(dnnScaledOptions).forecastDay(input(150))).toEqual(x);
    const unscaled = await dnnModel({ ...dnnScaledOptions, target: 'price' }).forecastDay(input(150));
    expect(unscaled).not.toEqual(x);
    const actual = Array.from(table.prices.subarray(150 * 24, 151 * 24));
    const naive = Array.from(table.prices.subarray(143 * 24, 144 * 24));
    expect(mae(actual, x)).toBeLessThan(mae(actual, naive));
  }, 60_000);

  it('the ensemble reports its members and combines them with the documented weights', async () => {
    const days = await rollingForecast({
      table,
      model: 'ensemble',
      evalFrom: table.days[170],
      evalTo: table.days[170],
      calibrationDays: 0,
    });
    const m = days[0].members!;
    expect(Object.keys(m).sort()).toEqual([...ensembleMembers].sort());
    const w = ensembleWeights;
    expect(ensembleMembers.reduce((a, name) => a + w[name], 0)).toBeCloseTo(1, 12);
    // One day, no scored history yet: the starting weights apply (they adapt after ensembleAdaptive.minDays).
    days[0].forecast.forEach((f, h) =>
      expect(f).toBeCloseTo(
        ensembleMembers.reduce((a, name) => a + w[name] * m[name][h], 0),
        9,
      ),
    );
  }, 60_000);
});

describe('ensemble-lear-adaptive (session 8 candidate, not default)', () => {
  it('combines lear-adaptive and gbdt-scaled; before any day is scored lear-adaptive is the plain lear-ensemble', async () => {
    expect(forecastModels).toEqual(expect.arrayContaining(['lear-adaptive', 'ensemble-lear-adaptive']));
    const [day] = await rollingForecast({
      table,
      model: 'ensemble-lear-adaptive',
      evalFrom: table.days[170],
      evalTo: table.days[170],
      calibrationDays: 0,
    });
    expect(Object.keys(day.members!)).toEqual(['lear-adaptive', 'gbdt-scaled']);
    const plain = createModel('lear-ensemble').forecastDay(input(170)) as number[];
    day.members!['lear-adaptive'].forEach((v, h) => expect(v).toBeCloseTo(plain[h], 9));
    day.forecast.forEach((f, h) =>
      expect(f).toBeCloseTo(
        ensembleWeights['lear-ensemble'] * day.members!['lear-adaptive'][h] +
          ensembleWeights['gbdt-scaled'] * day.members!['gbdt-scaled'][h],
        9,
      ),
    );
  }, 60_000);
});

describe('LEAR with exogenous inputs (BE, 70 days with two day-ahead fundamentals forecasts)', () => {
  const be = readPriceCsv(new URL('./fixtures/be-exog-70d.csv', import.meta.url).pathname, 'Price');
  const beInput = (d: number, exog: boolean) => ({
    history: be.prices.subarray(0, d * 24),
    historyDays: be.days.slice(0, d),
    targetDate: be.days[d],
    perDay: 24,
    ...(exog
      ? {
          exog: {
            load: be.columns.Exogenous1.subarray(0, (d + 1) * 24),
            generation: be.columns.Exogenous2.subarray(0, (d + 1) * 24),
          },
        }
      : {}),
  });

  it('the fundamentals of the target day lower the error of a 42-day LEAR over the last two weeks', () => {
    const actual: number[] = [];
    const withExog: number[] = [];
    const pricesOnly: number[] = [];
    for (let d = 56; d < 70; d++) {
      actual.push(...be.prices.subarray(d * 24, d * 24 + 24));
      withExog.push(...learForecast(beInput(d, true), 42));
      pricesOnly.push(...learForecast(beInput(d, false), 42));
    }
    expect(mae(actual, withExog)).toBeLessThan(0.97 * mae(actual, pricesOnly));
  });

  it('uses the fundamentals forecast of the target day itself', () => {
    const d = 60;
    const base = beInput(d, true);
    const load = Float64Array.from(base.exog!.load);
    for (let i = d * 24; i < load.length; i++) load[i] *= 1.3;
    const changed = learForecast({ ...base, exog: { ...base.exog!, load } }, 42);
    expect(changed).not.toEqual(learForecast(base, 42));
    const short = { ...base, exog: { ...base.exog!, load: base.exog!.load.subarray(0, d * 24) } };
    expect(() => learForecast(short, 42)).toThrow(/exogenous series "load" must cover the history and the target day/);
  });
});
