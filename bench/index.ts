import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import {
  holidayCalendar,
  rollingForecast,
  type DayForecast,
  type HolidayCalendar,
  type PriceTable,
} from '@optibid/processors/forecast/index.js';

/** Shared by the EPF benchmarks (forecast, bidding); `run.ts` does not list this file as a benchmark. */

/** The EPF files of ../shared/data/epf (README there), or OPTIBID_EPF_DIR. */
export const epfDataDir =
  process.env.OPTIBID_EPF_DIR ?? fileURLToPath(new URL('../../../shared/data/epf', import.meta.url));

/** Holiday calendar of each EPF market (Nord Pool system price, PJM, Belgium). */
const epfCalendars: Record<string, string> = { NP: 'NORDIC', PJM: 'NERC', BE: 'BE' };

/**
 * The calendar handed to the forecast models on an EPF market; none with OPTIBID_BENCH_HOLIDAYS=off
 * (to measure what the calendar adds).
 */
export function epfHolidays(market: string): HolidayCalendar | undefined {
  if (process.env.OPTIBID_BENCH_HOLIDAYS === 'off') return undefined;
  const code = epfCalendars[market];
  return code ? holidayCalendar(code) : undefined;
}

/** A rolling forecast with the wall and CPU seconds it took. */
export interface TimedForecast {
  days: DayForecast[];
  seconds: number;
  cpuSeconds: number;
}

const memo = new Map<string, Promise<TimedForecast>>();

/**
 * The rolling forecast of `model` over `table` from `evalFrom`, with the market's holiday calendar,
 * computed once per process: `npm run bench -- forecast bidding` forecasts each market once for both.
 */
export function epfForecast(
  market: string,
  table: PriceTable,
  model: string,
  evalFrom: string,
): Promise<TimedForecast> {
  const key = `${market}|${table.source}|${model}|${evalFrom}`;
  let f = memo.get(key);
  if (!f) {
    f = (async () => {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const days = await rollingForecast({ table, model, evalFrom, holidays: epfHolidays(market) });
      const used = process.cpuUsage(cpu);
      return { days, seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
    })();
    memo.set(key, f);
  }
  return f;
}
