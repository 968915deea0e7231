import {
  dayLengthHours,
  localDate,
  localDay,
  localParts,
  localToUtc,
  nextDate,
  zoneOffsetMinutes,
  zonedTimeToUtc,
} from './time-zone.js';

const utc = (iso: string) => Date.parse(iso);

describe('time-zone arithmetic on Intl', () => {
  test('Europe/Paris switches from CET to CEST at 01:00 UTC on 2026-03-29 and back at 01:00 UTC on 2026-10-25', () => {
    expect(zoneOffsetMinutes('Europe/Paris', utc('2026-03-29T00:59:00Z'))).toBe(60);
    expect(zoneOffsetMinutes('Europe/Paris', utc('2026-03-29T01:00:00Z'))).toBe(120);
    expect(zoneOffsetMinutes('Europe/Paris', utc('2026-10-25T00:59:00Z'))).toBe(120);
    expect(zoneOffsetMinutes('Europe/Paris', utc('2026-10-25T01:00:00Z'))).toBe(60);
  });

  test('America/New_York switches on 2026-03-08 and 2026-11-01; Asia/Kolkata has no DST', () => {
    expect(zoneOffsetMinutes('America/New_York', utc('2026-03-08T06:59:00Z'))).toBe(-300);
    expect(zoneOffsetMinutes('America/New_York', utc('2026-03-08T07:00:00Z'))).toBe(-240);
    expect(zoneOffsetMinutes('America/New_York', utc('2026-11-01T05:59:00Z'))).toBe(-240);
    expect(zoneOffsetMinutes('America/New_York', utc('2026-11-01T06:00:00Z'))).toBe(-300);
    expect(zoneOffsetMinutes('Asia/Kolkata', utc('2026-03-29T12:00:00Z'))).toBe(330);
    expect(zoneOffsetMinutes('Asia/Kolkata', utc('2026-10-25T12:00:00Z'))).toBe(330);
  });

  test('wall time to UTC on DST days, including a time skipped by the spring gap and an ambiguous autumn one', () => {
    expect(zonedTimeToUtc('Europe/Paris', { year: 2026, month: 3, day: 29 }, 12 * 60)).toBe(
      utc('2026-03-29T10:00:00Z'),
    );
    expect(zonedTimeToUtc('Europe/Paris', { year: 2026, month: 3, day: 28 }, 12 * 60)).toBe(
      utc('2026-03-28T11:00:00Z'),
    );
    // 02:30 does not exist on 2026-03-29 in Paris: it maps to 03:30 CEST.
    expect(zonedTimeToUtc('Europe/Paris', { year: 2026, month: 3, day: 29 }, 2 * 60 + 30)).toBe(
      utc('2026-03-29T01:30:00Z'),
    );
    // 02:30 happens twice on 2026-10-25: the first (CEST) is chosen.
    expect(zonedTimeToUtc('Europe/Paris', { year: 2026, month: 10, day: 25 }, 2 * 60 + 30)).toBe(
      utc('2026-10-25T00:30:00Z'),
    );
    expect(zonedTimeToUtc('America/New_York', { year: 2026, month: 3, day: 8 }, 10 * 60 + 30)).toBe(
      utc('2026-03-08T14:30:00Z'),
    );
    expect(zonedTimeToUtc('America/New_York', { year: 2026, month: 3, day: 7 }, 10 * 60 + 30)).toBe(
      utc('2026-03-07T15:30:00Z'),
    );
    expect(zonedTimeToUtc('Asia/Kolkata', { year: 2026, month: 6, day: 1 }, 12 * 60)).toBe(utc('2026-06-01T06:30:00Z'));
  });

  test('DST days have 23 and 25 hours', () => {
    expect(dayLengthHours('Europe/Paris', { year: 2026, month: 3, day: 29 })).toBe(23);
    expect(dayLengthHours('Europe/Paris', { year: 2026, month: 10, day: 25 })).toBe(25);
    expect(dayLengthHours('Europe/Paris', { year: 2026, month: 6, day: 1 })).toBe(24);
    expect(dayLengthHours('America/New_York', { year: 2026, month: 3, day: 8 })).toBe(23);
    expect(dayLengthHours('America/New_York', { year: 2026, month: 11, day: 1 })).toBe(25);
  });

  test('local parts include the weekday', () => {
    const p = localParts('Europe/Brussels', utc('2026-03-29T00:30:00Z'));
    expect(p).toMatchObject({ year: 2026, month: 3, day: 29, hour: 1, minute: 30, weekday: 0 });
  });
});

describe('string date helpers', () => {
  test('local days are 23 and 25 hours long across the European DST switches', () => {
    const spring = localDay('2026-03-29', 'Europe/Brussels');
    expect((spring.end - spring.start) / 3_600_000).toBe(23);
    const autumn = localDay('2026-10-25', 'Europe/Brussels');
    expect((autumn.end - autumn.start) / 3_600_000).toBe(25);
    expect(new Date(autumn.start).toISOString()).toBe('2026-10-24T22:00:00.000Z');
  });

  test('wall times and local dates round-trip, IST included', () => {
    expect(localToUtc('2022-10-18T00:00', 'Asia/Kolkata')).toBe(Date.parse('2022-10-17T18:30:00Z'));
    expect(localToUtc('2026-03-28T12:00:30', 'Europe/Paris')).toBe(Date.parse('2026-03-28T11:00:30Z'));
    expect(localDate(Date.parse('2024-10-26T22:30:00Z'), 'Europe/Brussels')).toBe('2024-10-27');
    expect(nextDate('2024-02-28', 2)).toBe('2024-03-01');
    expect(() => localToUtc('28.03.2026', 'Europe/Paris')).toThrow(/not a local date-time/);
  });
});
