import { gbdtModel } from './gbdt.js';
import { easterSunday, holidayCalendar, holidayCalendars, nthWeekday, type HolidayCalendar } from './holidays.js';
import { learModel } from './lear.js';
import type { DayAheadModel, DayInput } from './model.js';
import { seededRng } from '../bidding/rng.js';
import { fileURLToPath } from 'node:url';
import { mae } from './metrics.js';
import { rollingForecast } from './rolling.js';
import { addDays, readPriceCsv } from './table.js';

describe('holiday calendars', () => {
  it('computes Easter Sunday for years on both sides of the March/April boundary', () => {
    expect(easterSunday(2016)).toBe('2016-03-27');
    expect(easterSunday(2018)).toBe('2018-04-01');
    expect(easterSunday(2019)).toBe('2019-04-21');
    expect(easterSunday(2024)).toBe('2024-03-31');
    expect(easterSunday(2025)).toBe('2025-04-20');
    expect(easterSunday(2038)).toBe('2038-04-25'); // the latest possible date
  });

  it('finds the n-th and the last weekday of a month', () => {
    expect(nthWeekday(2018, 11, 3, 4)).toBe('2018-11-22'); // Thanksgiving
    expect(nthWeekday(2018, 5, 0, -1)).toBe('2018-05-28'); // Memorial Day
    expect(nthWeekday(2026, 11, 3, 4)).toBe('2026-11-26');
    expect(nthWeekday(2018, 9, 0, 1)).toBe('2018-09-03'); // Labor Day (1 September was a Saturday)
  });

  it('US: moveable feasts, the Friday after Thanksgiving, and weekend holidays observed on the nearest weekday', () => {
    const us = holidayCalendar('us');
    expect(us.code).toBe('US');
    for (const d of ['2018-01-15', '2018-11-22', '2018-11-23', '2018-12-24', '2018-12-25', '2026-11-26'])
      expect([d, us.isHoliday(d)]).toEqual([d, true]);
    expect(us.isHoliday('2020-07-03')).toBe(true); // 4 July 2020 was a Saturday
    expect(us.isHoliday('2021-12-31')).toBe(true); // 1 January 2022 was a Saturday
    expect(us.isHoliday('2023-06-19')).toBe(true); // Juneteenth, from 2021
    expect(us.isHoliday('2018-06-19')).toBe(false);
    expect(us.isHoliday('2018-11-21')).toBe(false);
    expect(us.isHoliday('2018-12-31')).toBe(false);
  });

  it('NERC (PJM, CAISO, ERCOT): the six off-peak holidays, a Sunday one observed on Monday, a Saturday one not moved', () => {
    const nerc = holidayCalendar('PJM');
    expect(nerc.code).toBe('NERC');
    for (const d of ['2018-01-01', '2018-05-28', '2018-07-04', '2018-09-03', '2018-11-22', '2018-12-25', '2017-01-02'])
      expect([d, nerc.isHoliday(d)]).toEqual([d, true]);
    // Federal-only days, the Friday after Thanksgiving, and the Friday before a Saturday 4 July are working days.
    for (const d of ['2018-01-15', '2018-10-08', '2018-11-12', '2018-11-23', '2018-12-24', '2020-07-03'])
      expect([d, nerc.isHoliday(d)]).toEqual([d, false]);
    expect(nerc.isHoliday('2020-07-04')).toBe(true);
  });

  it('Nordic, Belgian, German and French days around Easter and fixed dates', () => {
    const np = holidayCalendar('np');
    for (const d of ['2018-03-29', '2018-03-30', '2018-04-02', '2018-05-10', '2018-05-17', '2018-05-21', '2018-12-24'])
      expect([d, np.isHoliday(d)]).toEqual([d, true]);
    expect(np.isHoliday('2018-04-03')).toBe(false);
    const be = holidayCalendar('BE');
    expect(['2016-03-28', '2016-05-05', '2016-05-16', '2016-07-21'].every((d) => be.isHoliday(d))).toBe(true);
    expect(be.isHoliday('2016-03-25')).toBe(false); // Good Friday is a working day in Belgium
    expect(holidayCalendar('DE').isHoliday('2024-10-03')).toBe(true);
    expect(holidayCalendar('FR').isHoliday('2024-07-14')).toBe(true);
  });

  it('rejects an unknown calendar and names the ones it knows', () => {
    expect(() => holidayCalendar('XX')).toThrow(
      /unknown holiday calendar "XX": use one of US, NERC, NORDIC, BE, DE, FR, PJM/,
    );
    expect(Object.keys(holidayCalendars())).toEqual(expect.arrayContaining(['US', 'NORDIC', 'NP', 'PJM']));
  });
});

/** A calendar with the given days as holidays. */
function calendarOf(days: Set<string>): HolidayCalendar {
  return { code: 'TEST', isHoliday: (d) => days.has(d) };
}

/**
 * 280 days from Monday 2024-01-01: a daytime plateau, Sundays and holidays at the Sunday level, the day after
 * a holiday a working day as usual. A holiday falls on a weekday every 19 days.
 */
function withHolidays(): { prices: Float64Array; days: string[]; holidays: Set<string> } {
  const n = 280;
  const rng = seededRng(3);
  const days = Array.from({ length: n }, (_, i) => addDays('2024-01-01', i));
  const holidays = new Set(days.filter((_, i) => i % 19 === 10 && i % 7 < 5));
  const prices = new Float64Array(n * 24);
  for (let d = 0; d < n; d++) {
    const off = d % 7 === 6 || holidays.has(days[d]);
    for (let h = 0; h < 24; h++) prices[d * 24 + h] = 50 + (h >= 8 && h < 20 ? 10 : 0) - (off ? 25 : 0) + rng.next();
  }
  return { prices, days, holidays };
}

/** Mean absolute error of `model` over the holidays of the last 100 days and over the days right after them. */
async function holidayErrors(model: () => DayAheadModel, calendar: boolean): Promise<[number, number]> {
  const { prices, days, holidays } = withHolidays();
  const m = model();
  const errors: [number[], number[]] = [[], []];
  for (let d = 180; d < days.length; d++) {
    const after = holidays.has(days[d - 1]);
    if (!holidays.has(days[d]) && !after) continue;
    const input: DayInput = {
      history: prices.subarray(0, d * 24),
      historyDays: days.slice(0, d),
      targetDate: days[d],
      perDay: 24,
      ...(calendar ? { holidays: calendarOf(holidays) } : {}),
    };
    const f = await m.forecastDay(input);
    for (let h = 0; h < 24; h++) errors[after ? 1 : 0].push(Math.abs(f[h] - prices[d * 24 + h]));
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  return [mean(errors[0]), mean(errors[1])];
}

describe('models with a holiday calendar', () => {
  const models: [string, () => DayAheadModel][] = [
    ['lear', () => learModel({ windows: [0] })],
    ['gbdt', () => gbdtModel({ rounds: 120, depths: [4], minLeaf: 10 })],
  ];
  it.each(models)(
    '%s forecasts a weekday holiday like a Sunday and the day after like a working day',
    async (_, model) => {
      const [holidayWithout, afterWithout] = await holidayErrors(model, false);
      const [holiday, after] = await holidayErrors(model, true);
      // Without the calendar the weekday rule misses the 25-unit drop; with it the error is a fraction.
      expect(holidayWithout).toBeGreaterThan(10);
      expect(holiday).toBeLessThan(0.3 * holidayWithout);
      expect(after).toBeLessThanOrEqual(afterWithout + 0.5);
      expect(after).toBeLessThan(5);
    },
  );
});

describe('holidays on real prices', () => {
  it('Nord Pool, Easter 2017: LEAR with the Nordic calendar forecasts Maundy Thursday to Easter Monday better', async () => {
    // Nord Pool system prices 2016-12-27 .. 2017-06-24 (fixtures/README.md); the history holds no holiday
    // before Easter, so all the calendar can do is forecast the four holidays like Sundays.
    const table = readPriceCsv(fileURLToPath(new URL('./fixtures/np-2017h1.csv', import.meta.url)), 'Real price');
    const easter = async (holidays?: HolidayCalendar) => {
      const days = await rollingForecast({
        table,
        model: 'lear',
        evalFrom: '2017-04-13',
        evalTo: '2017-04-17',
        holidays,
      });
      const hol = days.filter((d) => d.date !== '2017-04-15' && d.date !== '2017-04-16');
      return mae(
        hol.flatMap((d) => d.actual),
        hol.flatMap((d) => d.forecast),
      );
    };
    const without = await easter();
    const nordic = await easter(holidayCalendar('NORDIC'));
    expect(nordic).toBeLessThan(0.8 * without);
  });
});
