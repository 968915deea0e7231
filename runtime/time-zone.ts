/**
 * Time-zone arithmetic on the IANA database built into Node's Intl (no tz download): the one place
 * OptiBid turns market wall-clock times (delivery days, gate closures, publication deadlines) into
 * UTC instants and back. All functions are pure and DST-aware: offsets are looked up for the instant
 * in question, so 23- and 25-hour delivery days come out exact.
 */

/** A calendar date (month 1–12). */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when Intl knows the zone name. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock fields of instant `utcMs` in `timeZone`. */
export function localParts(
  timeZone: string,
  utcMs: number,
): LocalDate & { hour: number; minute: number; second: number; weekday: number } {
  const out: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(utcMs))) out[p.type] = p.value;
  const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour),
    minute: Number(out.minute),
    second: Number(out.second),
    weekday: weekdays.indexOf(out.weekday),
  };
}

/** The zone's UTC offset in minutes at instant `utcMs` (e.g. 60 for CET, 120 for CEST, 330 for IST). */
export function zoneOffsetMinutes(timeZone: string, utcMs: number): number {
  const p = localParts(timeZone, utcMs);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

/**
 * The instant at which the wall clock in `timeZone` shows `date` at `minuteOfDay`.
 * A wall time skipped by a spring-forward gap maps to the instant just after the gap;
 * an ambiguous autumn wall time maps to its first occurrence.
 */
export function zonedTimeToUtc(timeZone: string, date: LocalDate, minuteOfDay: number): number {
  const naive = Date.UTC(date.year, date.month - 1, date.day, 0, minuteOfDay);
  const offsetBefore = zoneOffsetMinutes(timeZone, naive - 43_200_000);
  const offsetAfter = zoneOffsetMinutes(timeZone, naive + 43_200_000);
  const exact = [offsetBefore, offsetAfter]
    .map((o) => naive - o * 60_000)
    .filter((t) => {
      const p = localParts(timeZone, t);
      return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute) === naive;
    });
  if (exact.length > 0) return Math.min(...exact);
  // In a spring-forward gap: the wall time read with the old offset lands just after the gap.
  return naive - offsetBefore * 60_000;
}

/** The calendar date in `timeZone` at instant `utcMs`. */
export function localCalendarDate(timeZone: string, utcMs: number): LocalDate {
  const { year, month, day } = localParts(timeZone, utcMs);
  return { year, month, day };
}

/** `date` shifted by `days` calendar days. */
export function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** ISO `YYYY-MM-DD`. */
export function formatDate(date: LocalDate): string {
  return `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
}

/** Parses ISO `YYYY-MM-DD`. */
export function parseDate(text: string): LocalDate | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  return { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
}

/** Length in hours of calendar day `date` in `timeZone` (23, 24 or 25 on DST days). */
export function dayLengthHours(timeZone: string, date: LocalDate): number {
  return (zonedTimeToUtc(timeZone, addDays(date, 1), 0) - zonedTimeToUtc(timeZone, date, 0)) / 3_600_000;
}

/** `instant` as wall time in `timeZone` for messages, e.g. `2026-03-28 12:00 GMT+1`. */
export function formatLocal(timeZone: string, instant: number): string {
  const p = localParts(timeZone, instant);
  const off = zoneOffsetMinutes(timeZone, instant);
  const sign = off < 0 ? '-' : '+';
  const h = Math.floor(Math.abs(off) / 60);
  const m = Math.abs(off) % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)} ${timeZone} (UTC${sign}${pad(h)}:${pad(m)})`;
}

/** The local calendar date `YYYY-MM-DD` of instant `utcMs` in `timeZone`. */
export function localDate(utcMs: number, timeZone: string): string {
  return formatDate(localCalendarDate(timeZone, utcMs));
}

/** `date` (`YYYY-MM-DD`) shifted by `days` calendar days. */
export function nextDate(date: string, days = 1): string {
  return formatDate(addDays(requireDate(date), days));
}

/**
 * The UTC instant of a local wall-clock time `YYYY-MM-DD[THH:MM[:SS]]` in `timeZone`. A time skipped
 * by a spring-forward gap lands just after the gap; an ambiguous autumn time takes its first occurrence.
 */
export function localToUtc(wall: string, timeZone: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?$/.exec(wall);
  if (!m) throw new RangeError(`"${wall}" is not a local date-time (YYYY-MM-DDTHH:MM[:SS])`);
  const date = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  return zonedTimeToUtc(timeZone, date, Number(m[4] ?? 0) * 60 + Number(m[5] ?? 0)) + Number(m[6] ?? 0) * 1000;
}

/** The UTC instant of local midnight starting `date` (`YYYY-MM-DD`) in `timeZone`. */
export function localMidnight(date: string, timeZone: string): number {
  return zonedTimeToUtc(timeZone, requireDate(date), 0);
}

/** The UTC interval [start, end) of a local delivery day: 23, 24 or 25 hours across DST switches. */
export function localDay(date: string, timeZone: string): { start: number; end: number } {
  return { start: localMidnight(date, timeZone), end: localMidnight(nextDate(date), timeZone) };
}

function requireDate(text: string): LocalDate {
  const date = parseDate(text);
  if (!date) throw new RangeError(`"${text}" is not a date (YYYY-MM-DD)`);
  return date;
}
