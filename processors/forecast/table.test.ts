import { OptiBidError } from '@optibid/runtime';
import { addDays, dayOfWeek, joinColumns, parsePriceCsv, readPriceCsv, tableColumn } from './table.js';

const fixture = new URL('./fixtures/np-2017h1.csv', import.meta.url).pathname;

function hourlyCsv(days: number, extra = ''): string {
  const rows = ['timestamp,Real price,Other'];
  for (let d = 0; d < days; d++) {
    const date = addDays('2020-01-01', d);
    for (let h = 0; h < 24; h++) rows.push(`${date} ${String(h).padStart(2, '0')}:00:00,${d * 24 + h},${-h}`);
  }
  return rows.join('\n') + extra;
}

describe('readPriceCsv', () => {
  it('groups the real NP slice into whole days and keeps every column by name', () => {
    const t = readPriceCsv(fixture, 'Real price');
    expect(t.perDay).toBe(24);
    expect(t.days.length).toBe(180);
    expect(t.days[0]).toBe('2016-12-27');
    expect(t.prices[0]).toBeCloseTo(24.08, 6);
    expect(t.prices[1]).toBeCloseTo(22.52, 6);
    expect(tableColumn(t, 'LEAR Ensemble')[0]).toBeCloseTo(24.808625, 6);
    expect(t.columnNames).toContain('DNN Ensemble');
  });

  it('names the missing column and lists the available ones', () => {
    expect(() => parsePriceCsv(hourlyCsv(1), 'Price', 'x.csv')).toThrow(
      /x\.csv:1: no column "Price" \(columns: Real price, Other\)/,
    );
    const t = parsePriceCsv(hourlyCsv(1), 'Real price', 'x.csv');
    expect(() => tableColumn(t, 'Nope')).toThrow(OptiBidError);
  });

  it('rejects malformed rows with file:line', () => {
    const bad = hourlyCsv(1).replace('2020-01-01 05:00:00,5,', '2020-01-01 05:00:00,abc,');
    expect(() => parsePriceCsv(bad, 'Real price', 'p.csv')).toThrow(
      /p\.csv:7: column "Real price": "abc" is not a number/,
    );
    const short = hourlyCsv(2)
      .split('\n')
      .filter((l) => !l.startsWith('2020-01-02 03'))
      .join('\n');
    expect(() => parsePriceCsv(short, 'Real price', 'p.csv')).toThrow(/day 2020-01-02 has 23 rows/);
    const unordered = hourlyCsv(1).replace('2020-01-01 02:00:00', '2020-01-01 00:30:00');
    expect(() => parsePriceCsv(unordered, 'Real price', 'p.csv')).toThrow(/p\.csv:4: timestamp .* is not after/);
  });

  it('computes calendar helpers in UTC', () => {
    expect(addDays('2016-02-28', 2)).toBe('2016-03-01');
    expect(dayOfWeek('2024-01-01')).toBe(0); // a Monday
    expect(dayOfWeek('2024-01-07')).toBe(6);
  });
});

describe('joinColumns', () => {
  /** Hourly `timestamp,Load,Wind` rows from day `from` for `days` days, Load = 1000 + row, Wind = row of the day. */
  function exogCsv(from: number, days: number): string {
    const rows = ['timestamp,Load,Wind'];
    for (let d = from; d < from + days; d++) {
      const date = addDays('2020-01-01', d);
      for (let h = 0; h < 24; h++) rows.push(`${date} ${String(h).padStart(2, '0')}:00:00,${1000 + d * 24 + h},${h}`);
    }
    return rows.join('\n');
  }

  it('adds the columns by timestamp, from a file that covers more hours', () => {
    const prices = parsePriceCsv(hourlyCsv(3), 'Real price', 'prices.csv');
    const joined = joinColumns(prices, parsePriceCsv(exogCsv(-1, 5), 'Load', 'exog.csv'));
    expect(joined.columnNames).toEqual(['Real price', 'Other', 'Load', 'Wind']);
    expect(Array.from(joined.columns.Load!.subarray(0, 3))).toEqual([1000, 1001, 1002]);
    expect(joined.columns.Load![71]).toBe(1071);
    expect(joined.columns.Wind![30]).toBe(6);
    expect(joined.prices).toBe(prices.prices);
    expect(joined.source).toBe('prices.csv + exog.csv');
  });

  it('refuses a missing hour, an empty cell and a column the table has, naming the file and the hour', () => {
    const prices = parsePriceCsv(hourlyCsv(3), 'Real price', 'prices.csv');
    expect(() => joinColumns(prices, parsePriceCsv(exogCsv(1, 2), 'Load', 'exog.csv'))).toThrow(
      new OptiBidError('OPTIBID_ERR_USAGE', 'exog.csv: no row for 2020-01-01 00:00:00 (prices.csv has one)'),
    );
    const holed = exogCsv(0, 3).replace('2020-01-02 05:00:00,1029,5', '2020-01-02 05:00:00,1029,');
    expect(() => joinColumns(prices, parsePriceCsv(holed, 'Load', 'holed.csv'))).toThrow(
      'holed.csv: "Wind" at 2020-01-02 05:00:00 is not a number',
    );
    expect(() => joinColumns(prices, parsePriceCsv(hourlyCsv(3), 'Other', 'again.csv'))).toThrow(
      'again.csv: column "Real price" is already in prices.csv',
    );
  });
});
