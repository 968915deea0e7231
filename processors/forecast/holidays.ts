import { OptiBidError } from '@optibid/runtime';
import { addDays, dayOfWeek } from './table.js';

/**
 * Days on which electricity demand behaves like a Sunday although the weekday says otherwise: public
 * holidays, plus the days grid operators treat as holidays (24 and 31 December in the Nordics and Germany,
 * the Friday after Thanksgiving in the US). Known years ahead, so a forecast may use the target day's entry.
 */
export interface HolidayCalendar {
  /** Calendar code, e.g. `US`. */
  readonly code: string;
  /** Whether `YYYY-MM-DD` is a holiday. */
  isHoliday(date: string): boolean;
}

/** How a model sees a date: its weekday (0 = Monday), whether it is a holiday and whether the day before was one. */
export function dayType(
  date: string,
  calendar: HolidayCalendar | undefined,
): { dow: number; holiday: boolean; holidayBefore: boolean } {
  return {
    dow: dayOfWeek(date),
    holiday: calendar?.isHoliday(date) ?? false,
    holidayBefore: calendar?.isHoliday(addDays(date, -1)) ?? false,
  };
}

/** Easter Sunday of a Gregorian year (the Meeus/Jones/Butcher computus), as `YYYY-MM-DD`. */
export function easterSunday(year: number): string {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return ymd(year, month, day);
}

function ymd(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The `n`-th (1-based; -1 = last) given weekday (0 = Monday) of a month. */
export function nthWeekday(year: number, month: number, weekday: number, n: number): string {
  if (n > 0) {
    const first = ymd(year, month, 1);
    return addDays(first, ((weekday - dayOfWeek(first) + 7) % 7) + 7 * (n - 1));
  }
  const last = addDays(ymd(month === 12 ? year + 1 : year, month === 12 ? 1 : month + 1, 1), -1);
  return addDays(last, -((dayOfWeek(last) - weekday + 7) % 7));
}

/** US federal holiday on a weekend: observed on the Friday before a Saturday, the Monday after a Sunday. */
function observedUs(date: string): string[] {
  const dow = dayOfWeek(date);
  return dow === 5 ? [date, addDays(date, -1)] : dow === 6 ? [date, addDays(date, 1)] : [date];
}

type Rules = (year: number, easter: (offset: number) => string) => string[];

const MON = 0;
const THU = 3;

const rules: Record<string, { name: string; days: Rules }> = {
  US: {
    name: 'United States federal holidays, with the Friday after Thanksgiving and 24 December',
    days: (y) => [
      ...observedUs(ymd(y, 1, 1)),
      nthWeekday(y, 1, MON, 3), // Martin Luther King Jr. Day
      nthWeekday(y, 2, MON, 3), // Washington's Birthday
      nthWeekday(y, 5, MON, -1), // Memorial Day
      ...(y >= 2021 ? observedUs(ymd(y, 6, 19)) : []), // Juneteenth
      ...observedUs(ymd(y, 7, 4)),
      nthWeekday(y, 9, MON, 1), // Labor Day
      nthWeekday(y, 10, MON, 2), // Columbus Day
      ...observedUs(ymd(y, 11, 11)), // Veterans Day
      nthWeekday(y, 11, THU, 4), // Thanksgiving
      addDays(nthWeekday(y, 11, THU, 4), 1),
      ymd(y, 12, 24),
      ...observedUs(ymd(y, 12, 25)),
    ],
  },
  NERC: {
    name: 'NERC holidays (the off-peak days of North American power markets: PJM, CAISO, ERCOT): New Year, Memorial Day, Independence Day, Labor Day, Thanksgiving, Christmas; a Sunday holiday moves to Monday',
    days: (y) =>
      [
        ymd(y, 1, 1),
        nthWeekday(y, 5, MON, -1),
        ymd(y, 7, 4),
        nthWeekday(y, 9, MON, 1),
        nthWeekday(y, 11, THU, 4),
        ymd(y, 12, 25),
      ].map((d) => (dayOfWeek(d) === 6 ? addDays(d, 1) : d)),
  },
  NORDIC: {
    name: 'Nordic (Nord Pool system price): holidays shared by Norway, Sweden, Denmark and Finland, with 24 and 31 December',
    days: (y, easter) => [
      ymd(y, 1, 1),
      easter(-3), // Maundy Thursday (Norway, Denmark)
      easter(-2), // Good Friday
      easter(1), // Easter Monday
      ymd(y, 5, 1),
      ymd(y, 5, 17), // Norway's Constitution Day
      easter(39), // Ascension
      easter(50), // Whit Monday
      ymd(y, 12, 24),
      ymd(y, 12, 25),
      ymd(y, 12, 26),
      ymd(y, 12, 31),
    ],
  },
  BE: {
    name: 'Belgium',
    days: (y, easter) => [
      ymd(y, 1, 1),
      easter(1),
      ymd(y, 5, 1),
      easter(39),
      easter(50),
      ymd(y, 7, 21),
      ymd(y, 8, 15),
      ymd(y, 11, 1),
      ymd(y, 11, 11),
      ymd(y, 12, 25),
    ],
  },
  DE: {
    name: 'Germany (nationwide holidays), with 24 and 31 December',
    days: (y, easter) => [
      ymd(y, 1, 1),
      easter(-2),
      easter(1),
      ymd(y, 5, 1),
      easter(39),
      easter(50),
      ymd(y, 10, 3),
      ymd(y, 12, 24),
      ymd(y, 12, 25),
      ymd(y, 12, 26),
      ymd(y, 12, 31),
    ],
  },
  FR: {
    name: 'France',
    days: (y, easter) => [
      ymd(y, 1, 1),
      easter(1),
      ymd(y, 5, 1),
      ymd(y, 5, 8),
      easter(39),
      easter(50),
      ymd(y, 7, 14),
      ymd(y, 8, 15),
      ymd(y, 11, 1),
      ymd(y, 11, 11),
      ymd(y, 12, 25),
    ],
  },
};

/** Market names that stand for a calendar. */
const aliases: Record<string, string> = { PJM: 'NERC', CAISO: 'NERC', ERCOT: 'NERC', NP: 'NORDIC', NO: 'NORDIC' };

/** Calendar codes (and market aliases) `holidayCalendar` accepts, with what each covers. */
export function holidayCalendars(): Record<string, string> {
  return {
    ...Object.fromEntries(Object.entries(rules).map(([code, r]) => [code, r.name])),
    ...Object.fromEntries(Object.entries(aliases).map(([alias, code]) => [alias, `same as ${code}`])),
  };
}

/**
 * The holiday calendar for a code (`US`, `NERC`, `NORDIC`, `BE`, `DE`, `FR`) or market alias (`PJM`, `NP`, ...),
 * case-insensitive. Years are computed on first use and cached.
 */
export function holidayCalendar(codeOrMarket: string): HolidayCalendar {
  const key = codeOrMarket.toUpperCase();
  const code = aliases[key] ?? key;
  const r = rules[code];
  if (!r) {
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `unknown holiday calendar "${codeOrMarket}": use one of ${Object.keys(holidayCalendars()).join(', ')}`,
    );
  }
  const years = new Map<number, Set<string>>();
  return {
    code,
    isHoliday(date: string): boolean {
      const year = Number(date.slice(0, 4));
      let days = years.get(year);
      if (!days) {
        const easter = easterSunday(year);
        days = new Set(r.days(year, (offset) => addDays(easter, offset)).filter((d) => d.startsWith(`${year}-`)));
        // A US holiday observed on 31 December belongs to the next year's New Year's Day.
        if (code === 'US' && dayOfWeek(ymd(year + 1, 1, 1)) === 5) days.add(ymd(year, 12, 31));
        years.set(year, days);
      }
      return days.has(date);
    },
  };
}
