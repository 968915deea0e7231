import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import {
  holidayCalendar,
  joinColumns,
  readPriceCsv,
  readSeriesCsv,
  rollingForecast,
  type DayForecast,
  type HolidayCalendar,
  type PriceTable,
} from '@optibid/processors/forecast/index.js';

/** Shared by the EPF benchmarks (forecast, bidding); `run.ts` does not list this file as a benchmark. */

/** The EPF files of ../shared/data/epf (README there), or OPTIBID_EPF_DIR. */
export const epfDataDir =
  process.env.OPTIBID_EPF_DIR ?? fileURLToPath(new URL('../../../shared/data/epf', import.meta.url));

/** Day-ahead exogenous series of the EPF markets (bench/data/epf-exog, README there), or OPTIBID_EPF_EXOG_DIR. */
export const epfExogDir =
  process.env.OPTIBID_EPF_EXOG_DIR ?? fileURLToPath(new URL('../data/epf-exog', import.meta.url));

/** An EPF market's price table, with its exogenous columns when asked and shipped; `exog` names them. */
export interface EpfTable {
  table: PriceTable;
  exog: string[];
}

/**
 * Reads `<market>.csv` of the EPF files; with `exog`, adds the columns of `<market>.csv` in `epfExogDir` (if there is
 * one) row by row by timestamp (`joinColumns`: a missing hour is an error, never filled).
 */
export function epfTable(market: string, exog: boolean): EpfTable {
  const table = readPriceCsv(`${epfDataDir}/${market}.csv`, 'Real price');
  const file = `${epfExogDir}/${market}.csv`;
  if (!exog || !existsSync(file)) return { table, exog: [] };
  const extra = readSeriesCsv(file);
  return { table: joinColumns(table, extra), exog: extra.columnNames };
}

/**
 * The tables a benchmark runs on for `market`: the prices alone (as the issues specify) and, where exogenous series
 * are shipped for the market, the prices with them. OPTIBID_BENCH_EXOG=off keeps only the first, `only` only the
 * second (where there is one).
 */
export function epfTables(market: string): EpfTable[] {
  const mode = process.env.OPTIBID_BENCH_EXOG ?? 'both';
  if (!['both', 'off', 'only'].includes(mode))
    throw new Error(`OPTIBID_BENCH_EXOG must be both, off or only, got "${mode}"`);
  const plain = epfTable(market, false);
  const withExog = mode === 'off' ? undefined : epfTable(market, true);
  const tables = withExog && withExog.exog.length > 0 ? [plain, withExog] : [plain];
  return mode === 'only' && tables.length > 1 ? tables.slice(1) : tables;
}

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
  exog: string[] = [],
): Promise<TimedForecast> {
  const key = `${market}|${table.source}|${model}|${evalFrom}|${exog.join(',')}`;
  let f = memo.get(key);
  if (!f) {
    f = (async () => {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const days = await rollingForecast({
        table,
        model,
        evalFrom,
        holidays: epfHolidays(market),
        ...(exog.length > 0 ? { exog } : {}),
      });
      const used = process.cpuUsage(cpu);
      return { days, seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
    })();
    memo.set(key, f);
  }
  return f;
}
