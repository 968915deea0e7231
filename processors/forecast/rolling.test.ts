import { mae } from './metrics.js';
import { rollingForecast } from './rolling.js';
import { readPriceCsv, type PriceTable } from './table.js';

const fixture = new URL('./fixtures/np-2017h1.csv', import.meta.url).pathname;

/** A copy of the table where every price after `date` is replaced by garbage. */
function corruptAfter(table: PriceTable, date: string): PriceTable {
  const cut = (table.days.indexOf(date) + 1) * table.perDay;
  const prices = Float64Array.from(table.prices);
  for (let i = cut; i < prices.length; i++) prices[i] = 1000 + Math.sin(i) * 500;
  return { ...table, prices, columns: { ...table.columns, [table.priceColumn]: prices } };
}

describe('rollingForecast', () => {
  const table = readPriceCsv(fixture, 'Real price');

  it('naive models replay the price of the same hour 1 and 7 days earlier', async () => {
    const daily = await rollingForecast({ table, model: 'naive-daily', evalFrom: '2017-02-01', evalTo: '2017-02-03' });
    const weekly = await rollingForecast({
      table,
      model: 'naive-weekly',
      evalFrom: '2017-02-01',
      evalTo: '2017-02-03',
    });
    expect(daily.map((d) => d.date)).toEqual(['2017-02-01', '2017-02-02', '2017-02-03']);
    const row = table.days.indexOf('2017-02-02') * 24;
    expect(daily[1].forecast).toEqual(Array.from(table.prices.subarray(row - 24, row)));
    expect(weekly[1].forecast).toEqual(Array.from(table.prices.subarray(row - 168, row - 144)));
    expect(daily[1].actual).toEqual(Array.from(table.prices.subarray(row, row + 24)));
    expect(daily[1].timestamps[0]).toBe('2017-02-02 00:00:00');
  });

  it('replays a CSV column with column:NAME', async () => {
    const days = await rollingForecast({
      table,
      model: 'column:LEAR Ensemble',
      evalFrom: '2017-03-01',
      evalTo: '2017-03-31',
    });
    expect(days).toHaveLength(31);
    const all = days.flatMap((d) => d.actual);
    const lear = mae(
      all,
      days.flatMap((d) => d.forecast),
    );
    const naive = mae(
      all,
      (await rollingForecast({ table, model: 'naive-weekly', evalFrom: '2017-03-01', evalTo: '2017-03-31' })).flatMap(
        (d) => d.forecast,
      ),
    );
    expect(lear).toBeLessThan(naive);
  });

  it('attaches ordered conformal quantiles that cover roughly 80% of outcomes', async () => {
    const days = await rollingForecast({ table, model: 'naive-daily', evalFrom: '2017-03-01', evalTo: '2017-05-31' });
    let inside = 0;
    let n = 0;
    for (const d of days) {
      expect(d.q10).toBeDefined();
      for (let h = 0; h < 24; h++) {
        expect(d.q10![h]).toBeLessThanOrEqual(d.q50![h]);
        expect(d.q50![h]).toBeLessThanOrEqual(d.q90![h]);
        if (d.actual[h] >= d.q10![h] && d.actual[h] <= d.q90![h]) inside++;
        n++;
      }
    }
    expect(inside / n).toBeGreaterThan(0.6);
    expect(inside / n).toBeLessThan(0.95);
  });

  it('rejects days outside the file and models without enough history', async () => {
    await expect(rollingForecast({ table, model: 'naive-weekly', evalFrom: '2030-01-01' })).rejects.toThrow(
      /not a day of/,
    );
    await expect(rollingForecast({ table, model: 'naive-weekly', evalFrom: '2016-12-29' })).rejects.toThrow(
      /needs 7 days of history/,
    );
    await expect(rollingForecast({ table, model: 'magic', evalFrom: '2017-02-01' })).rejects.toThrow(
      /unknown forecast model "magic"/,
    );
  });

  it.each(['naive-weekly', 'lear', 'gbdt', 'default'])(
    'no look-ahead (%s): changing every price after day D leaves forecasts up to D bit-identical',
    async (model) => {
      const D = '2017-03-10';
      const clean = await rollingForecast({ table, model, evalFrom: '2017-03-08', evalTo: D, calibrationDays: 2 });
      const dirty = await rollingForecast({
        table: corruptAfter(table, D),
        model,
        evalFrom: '2017-03-08',
        evalTo: D,
        calibrationDays: 2,
      });
      expect(dirty.map((d) => d.forecast)).toEqual(clean.map((d) => d.forecast));
      expect(dirty.map((d) => d.q90)).toEqual(clean.map((d) => d.q90));
      expect(clean).toHaveLength(3);
    },
    60_000,
  );

  it('no look-ahead with exogenous columns: prices after D-1 and fundamentals after D may change freely', async () => {
    const be = readPriceCsv(new URL('./fixtures/be-exog-70d.csv', import.meta.url).pathname, 'Price');
    const D = be.days[60];
    const opts = {
      model: 'lear',
      evalFrom: be.days[58],
      evalTo: D,
      calibrationDays: 0,
      exog: ['Exogenous1', 'Exogenous2'],
    };
    const clean = await rollingForecast({ table: be, ...opts });
    const cut = (be.days.indexOf(D) + 1) * 24;
    const noisy = (v: Float64Array, from: number) => v.map((x, i) => (i >= from ? x * (1.5 + Math.sin(i)) : x));
    const prices = noisy(be.prices, cut);
    const dirty = {
      ...be,
      prices,
      columns: {
        ...be.columns,
        Price: prices,
        Exogenous1: noisy(be.columns.Exogenous1, cut),
        Exogenous2: noisy(be.columns.Exogenous2, cut),
      },
    };
    expect((await rollingForecast({ table: dirty, ...opts })).map((d) => d.forecast)).toEqual(
      clean.map((d) => d.forecast),
    );
    // ...while the fundamentals of day D itself are used for D.
    const dayD = { ...be, columns: { ...be.columns, Exogenous1: noisy(be.columns.Exogenous1, cut - 24) } };
    const changed = await rollingForecast({ table: dayD, ...opts });
    expect(changed.slice(0, 2).map((d) => d.forecast)).toEqual(clean.slice(0, 2).map((d) => d.forecast));
    expect(changed[2].forecast).not.toEqual(clean[2].forecast);
    await expect(rollingForecast({ table: be, ...opts, exog: ['Wind'] })).rejects.toThrow(/no column "Wind"/);
  });
});
