import { OptiBidError, nextDate } from '@optibid/runtime';

// Time-zone arithmetic lives in the runtime (one implementation for connectors, alerting and bidding).
export { zoneOffsetMinutes, localToUtc, localMidnight, localDate, nextDate, localDay } from '@optibid/runtime';

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

/** Every date from `from` to `to` inclusive (YYYY-MM-DD). */
export function dateRange(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = nextDate(d)) out.push(d);
  return out;
}

/** yyyyMMddHHmm in UTC, the form ENTSO-E and CAISO query parameters take. */
export function compactUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 12);
}

/** ISO string without milliseconds. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
