import { isoDurationMinutes, localDay, localToUtc, localDate, dateRange, compactUtc } from './time.js';

describe('time helpers', () => {
  test('ISO durations', () => {
    expect([
      isoDurationMinutes('PT15M'),
      isoDurationMinutes('PT30M'),
      isoDurationMinutes('PT60M'),
      isoDurationMinutes('PT1H'),
      isoDurationMinutes('P1D'),
    ]).toEqual([15, 30, 60, 60, 1440]);
    expect(() => isoDurationMinutes('P1M')).toThrow(/unsupported resolution/);
    expect(() => isoDurationMinutes('PT')).toThrow(/unsupported resolution/);
  });

  test('delivery days of 23, 24 and 25 hours in Brussels', () => {
    const hours = (d: string): number => {
      const { start, end } = localDay(d, 'Europe/Brussels');
      return (end - start) / 3_600_000;
    };
    expect([hours('2024-03-31'), hours('2024-06-01'), hours('2024-10-27')]).toEqual([23, 24, 25]);
    expect(localDay('2024-10-27', 'Europe/Brussels').start).toBe(Date.parse('2024-10-26T22:00:00Z'));
  });

  test('local wall time across spring-forward, local dates, ranges', () => {
    expect(localToUtc('2024-03-31T03:30:00', 'Europe/Brussels')).toBe(Date.parse('2024-03-31T01:30:00Z'));
    expect(localToUtc('2024-03-31T01:30:00', 'Europe/Brussels')).toBe(Date.parse('2024-03-31T00:30:00Z'));
    expect(localDate(Date.parse('2024-10-26T22:30:00Z'), 'Europe/Brussels')).toBe('2024-10-27');
    expect(localDate(Date.parse('2022-10-17T18:30:00Z'), 'Asia/Kolkata')).toBe('2022-10-18');
    expect(dateRange('2024-02-28', '2024-03-01')).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
    expect(compactUtc(Date.parse('2024-09-01T22:00:00Z'))).toBe('202409012200');
  });
});
