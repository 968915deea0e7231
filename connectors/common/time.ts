import { OptiBidError } from '@optibid/runtime';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/**
 * Minutes in an ISO 8601 duration of fixed length (PT15M, PT30M, PT60M, PT1H, P1D).
 * Calendar durations (months, years) have no fixed length and are refused.
 */
export function isoDurationMinutes(text: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(text.trim());
  if (!m || text.trim() === 'P' || text.trim().endsWith('T')) {
    throw new OptiBidError(
      'OPTIBID_ERR_DECODE',
      `unsupported resolution "${text}" (expected a fixed ISO 8601 duration such as PT15M)`,
    );
  }
  const minutes = Number(m[1] ?? 0) * 1440 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  if (minutes <= 0) throw new OptiBidError('OPTIBID_ERR_DECODE', `resolution "${text}" is zero`);
  return minutes;
}

/** Parses an ISO 8601 instant (with Z or an offset, minutes optional seconds) to ms; throws naming `what`. */
export function parseInstant(text: unknown, what: string): number {
  if (typeof text !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/.test(text.trim())) {
    throw new OptiBidError('OPTIBID_ERR_DECODE', `${what}: "${String(text)}" is not an ISO 8601 UTC instant`);
  }
  const ms = Date.parse(text.trim());
  if (Number.isNaN(ms)) throw new OptiBidError('OPTIBID_ERR_DECODE', `${what}: "${text}" is not a valid date`);
  return ms;
}

/** Offset of an IANA time zone from UTC at instant `ms`, in minutes (positive east of Greenwich). */
export function zoneOffsetMinutes(timeZone: string, ms: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / MINUTE_MS);
}

/** The UTC instant of local midnight starting `date` (YYYY-MM-DD) in `timeZone`. */
export function localMidnight(date: string, timeZone: string): number {
  return localToUtc(`${date}T00:00:00`, timeZone);
}

/**
 * The UTC instant of a local wall-clock time `YYYY-MM-DDTHH:MM[:SS]` in `timeZone`. A time that does
 * not exist (skipped by spring-forward) lands after the gap; an ambiguous one takes the first.
 */
export function localToUtc(wall: string, timeZone: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d))?)?$/.exec(wall);
  if (!m) throw new OptiBidError('OPTIBID_ERR_USAGE', `"${wall}" is not a local date-time (YYYY-MM-DDTHH:MM:SS)`);
  const naive = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
  );
  // Two passes settle the offset even when midnight is near a DST switch.
  let guess = naive - zoneOffsetMinutes(timeZone, naive) * MINUTE_MS;
  guess = naive - zoneOffsetMinutes(timeZone, guess) * MINUTE_MS;
  return guess;
}

/** The local calendar date (YYYY-MM-DD) of instant `ms` in `timeZone`. */
export function localDate(ms: number, timeZone: string): string {
  return new Date(ms + zoneOffsetMinutes(timeZone, ms) * MINUTE_MS).toISOString().slice(0, 10);
}

/** The day after `date` (YYYY-MM-DD). */
export function nextDate(date: string, days = 1): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Every date from `from` to `to` inclusive (YYYY-MM-DD). */
export function dateRange(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = nextDate(d)) out.push(d);
  return out;
}

/** The UTC interval [start, end) of a local delivery day: 23, 24 or 25 hours across DST switches. */
export function localDay(date: string, timeZone: string): { start: number; end: number } {
  return { start: localMidnight(date, timeZone), end: localMidnight(nextDate(date), timeZone) };
}

/** yyyyMMddHHmm in UTC, the form ENTSO-E and CAISO query parameters take. */
export function compactUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 12);
}

/** ISO string without milliseconds. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
