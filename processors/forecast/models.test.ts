import { dnnModel } from './dnn.js';
import { learForecast } from './lear.js';
import { mae } from './metrics.js';
import { rollingForecast } from './rolling.js';
import { readPriceCsv } from './table.js';

const table = readPriceCsv(new URL('./fixtures/np-2017h1.csv', import.meta.url).pathname, 'Real price');
const input = (d: number) => ({ history: table.prices.subarray(0, d * 24), historyDays: table.days.slice(0, d), targetDate: table.days[d], perDay: 24 });

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

  it('the seeded DNN is reproducible and forecasts within the range of recent prices', async () => {
    const opts = { window: 91, retrainEvery: 7 };
    const a = dnnModel(opts);
    const b = dnnModel(opts);
    const actual: number[] = [];
    const fa: number[] = [];
    const naive: number[] = [];
    for (let d = 150; d < 157; d++) {
      const x = await a.forecastDay(input(d));
      expect(await b.forecastDay(input(d))).toEqual(x);
      fa.push(...x);
      actual.push(...table.prices.subarray(d * 24, d * 24 + 24));
      naive.push(...table.prices.subarray((d - 7) * 24, (d - 6) * 24));
    }
    // Not yet better than the naive forecast on this slice (see README); it must stay in a sane range.
    const recent = Array.from(table.prices.subarray(120 * 24, 150 * 24));
    const span = Math.max(...recent) - Math.min(...recent);
    for (const f of fa) expect(f).toBeGreaterThan(Math.min(...recent) - span);
    for (const f of fa) expect(f).toBeLessThan(Math.max(...recent) + span);
    expect(mae(actual, fa)).toBeLessThan(3 * mae(actual, naive));
  }, 60_000);

  it('the ensemble reports its members and averages them', async () => {
    const days = await rollingForecast({ table, model: 'ensemble', evalFrom: table.days[170], evalTo: table.days[171], calibrationDays: 0 });
    const m = days[0].members!;
    expect(Object.keys(m).sort()).toEqual(['dnn', 'lear']);
    days[0].forecast.forEach((f, h) => expect(f).toBeCloseTo((m.lear[h] + m.dnn[h]) / 2, 9));
  }, 60_000);
});
