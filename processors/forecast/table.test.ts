import { OptiBidError } from '@optibid/runtime';
import { addDays, dayOfWeek, parsePriceCsv, readPriceCsv, tableColumn } from './table.js';

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
