import { MarketCalendar } from './calendar.js';

const utc = (iso: string) => new Date(iso).getTime();
const day = (s: string) => {
  const [year, month, d] = s.split('-').map(Number);
  return { year, month, day: d };
};

describe('market calendar', () => {
  const cal = new MarketCalendar();

  test('EPEX and Nord Pool gate closure is 12:00 CET/CEST on D−1 across both European DST changes', () => {
    // D−1 = 2026-03-28, still CET (UTC+1).
    expect(cal.gateClosure('EPEX', day('2026-03-29'))).toBe(utc('2026-03-28T11:00:00Z'));
    // D−1 = 2026-03-29, the 23-hour day, CEST (UTC+2) at noon.
    expect(cal.gateClosure('EPEX', day('2026-03-30'))).toBe(utc('2026-03-29T10:00:00Z'));
    expect(cal.gateClosure('NORDPOOL', day('2026-03-30'))).toBe(utc('2026-03-29T10:00:00Z'));
    // D−1 = 2026-10-24 (CEST), then 2026-10-25 (the 25-hour day, CET at noon).
    expect(cal.gateClosure('EPEX', day('2026-10-25'))).toBe(utc('2026-10-24T10:00:00Z'));
    expect(cal.gateClosure('EPEX', day('2026-10-26'))).toBe(utc('2026-10-25T11:00:00Z'));
  });

  test('PJM closes at 10:30 Eastern on D−1 across the US DST changes', () => {
    expect(cal.gateClosure('PJM', day('2026-03-08'))).toBe(utc('2026-03-07T15:30:00Z'));
    expect(cal.gateClosure('PJM', day('2026-03-09'))).toBe(utc('2026-03-08T14:30:00Z'));
    expect(cal.gateClosure('PJM', day('2026-11-01'))).toBe(utc('2026-10-31T14:30:00Z'));
    expect(cal.gateClosure('PJM', day('2026-11-02'))).toBe(utc('2026-11-01T15:30:00Z'));
  });

  test('IEX bidding window is 10:00–12:00 IST on D−1', () => {
    expect(cal.biddingOpens('IEX', day('2026-03-30'))).toBe(utc('2026-03-29T04:30:00Z'));
    expect(cal.gateClosure('IEX', day('2026-03-30'))).toBe(utc('2026-03-29T06:30:00Z'));
    expect(cal.biddingOpens('EPEX', day('2026-03-30'))).toBeUndefined();
  });

  test('delivery day is the calendar day in the market zone, so 23:00 UTC belongs to the next Belgian day', () => {
    expect(cal.deliveryDay('EPEX', utc('2026-03-28T23:00:00Z'))).toEqual(day('2026-03-29'));
    expect(cal.deliveryDay('EPEX', utc('2026-03-28T22:59:00Z'))).toEqual(day('2026-03-28'));
    expect(cal.deliveryDay('PJM', utc('2026-03-09T03:00:00Z'))).toEqual(day('2026-03-08'));
  });

  test('areas map to markets, and a rules file can override or add markets', () => {
    expect(cal.marketOf('BE')).toBe('EPEX');
    expect(cal.marketOf('NO1')).toBe('NORDPOOL');
    expect(cal.marketOf('XX')).toBeUndefined();
    const custom = new MarketCalendar({
      EPEX: { publicationDeadline: '12:55' },
      AEMO: { timeZone: 'Australia/Brisbane', gateClosure: '12:30', areas: ['QLD1'] },
    });
    expect(custom.marketOf('QLD1')).toBe('AEMO');
    expect(custom.gateClosure('AEMO', day('2026-03-30'))).toBe(utc('2026-03-29T02:30:00Z'));
    expect(custom.publicationDeadline('EPEX', day('2026-03-30'))).toBe(utc('2026-03-29T10:55:00Z'));
    expect(custom.gateClosure('EPEX', day('2026-03-30'))).toBe(utc('2026-03-29T10:00:00Z'));
  });

  test('next occurrence after an instant walks delivery days in the market zone', () => {
    const next = cal.nextOccurrence('EPEX', utc('2026-03-29T10:00:00Z'), (d) => cal.gateClosure('EPEX', d));
    expect(next.day).toEqual(day('2026-03-31'));
    expect(next.at).toBe(utc('2026-03-30T10:00:00Z'));
  });
});
