import { OptiBidError } from '@optibid/runtime';
import { ConformalQuantiles } from './conformal.js';
import { createModel } from './models.js';
import { tableColumn, type PriceTable } from './table.js';
import type { HolidayCalendar } from './holidays.js';

/** One forecast delivery day with its realised prices. */
export interface DayForecast {
  /** Delivery date `YYYY-MM-DD`. */
  date: string;
  /** Interval timestamps of the day as written in the source. */
  timestamps: string[];
  actual: number[];
  /** Point forecast. */
  forecast: number[];
  /** Conformal 10/50/90% quantiles (absent for the first days, before any out-of-sample error exists). */
  q10?: number[];
  q50?: number[];
  q90?: number[];
  /** For combination models: each member's point forecast. */
  members?: Record<string, number[]>;
}

export interface RollingForecastOptions {
  table: PriceTable;
  /** A name from `forecastModels`, or `column:NAME` to replay a column of the table as the forecast. */
  model: string;
  /** First delivery day to forecast, `YYYY-MM-DD`. */
  evalFrom: string;
  /** Last delivery day (inclusive); default: the last day of the table. */
  evalTo?: string;
  /** Called after each evaluated day. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Days forecast (and not returned) before `evalFrom` so the conformal quantiles start calibrated;
   * default 28, fewer when the history is too short.
   */
  calibrationDays?: number;
  /**
   * Columns of the table used as exogenous inputs (day-ahead load/wind/solar forecasts): the model sees
   * them up to the end of the target day (they are known before gate closure), prices only before it.
   */
  exog?: string[];
  /** Holiday calendar of the market, handed to the model with every day (see `holidayCalendar`). */
  holidays?: HolidayCalendar;
}

/**
 * Forecasts every day from `evalFrom` to `evalTo`, each only from rows strictly before that day
 * (the model is handed a prefix view of the price array, so it cannot see later rows).
 */
export async function rollingForecast(opts: RollingForecastOptions): Promise<DayForecast[]> {
  const { table } = opts;
  const { perDay, days } = table;
  const first = days.indexOf(opts.evalFrom);
  if (first < 0)
    throw usage(
      `--eval-from ${opts.evalFrom} is not a day of ${table.source} (${days[0]} .. ${days[days.length - 1]})`,
    );
  const last = opts.evalTo === undefined ? days.length - 1 : days.indexOf(opts.evalTo);
  if (last < 0)
    throw usage(`--eval-to ${opts.evalTo} is not a day of ${table.source} (${days[0]} .. ${days[days.length - 1]})`);
  if (last < first) throw usage(`--eval-to ${opts.evalTo} is before --eval-from ${opts.evalFrom}`);

  const column = opts.model.startsWith('column:') ? tableColumn(table, opts.model.slice('column:'.length)) : undefined;
  const model = column ? undefined : createModel(opts.model);
  const exogColumns = (opts.exog ?? []).map((name) => [name, tableColumn(table, name)] as const);
  for (const [name, values] of exogColumns) {
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw usage(`exogenous column "${name}" of ${table.source} has no number at ${table.timestamps[bad]}`);
  }
  const minHistory = model?.minHistoryDays ?? 0;
  if (first < minHistory) {
    throw usage(
      `model ${opts.model} needs ${minHistory} days of history; ${opts.evalFrom} has ${first} (first day ${days[0]})`,
    );
  }
  const start = Math.max(minHistory, first - (opts.calibrationDays ?? 28));
  const conformal = new ConformalQuantiles(perDay);
  const out: DayForecast[] = [];
  const total = last - first + 1;
  for (let d = start; d <= last; d++) {
    const lo = d * perDay;
    const hi = lo + perDay;
    const actual = Array.from(table.prices.subarray(lo, hi));
    let forecast: number[];
    if (column) forecast = Array.from(column.subarray(lo, hi));
    else {
      forecast = await model!.forecastDay({
        history: table.prices.subarray(0, lo),
        historyDays: days.slice(0, d),
        targetDate: days[d],
        perDay,
        ...(opts.holidays ? { holidays: opts.holidays } : {}),
        ...(exogColumns.length > 0
          ? { exog: Object.fromEntries(exogColumns.map(([name, v]) => [name, v.subarray(0, hi)])) }
          : {}),
      });
      if (forecast.length !== perDay)
        throw new Error(`model ${model!.name} returned ${forecast.length} values for ${days[d]}`);
    }
    if (d >= first) {
      const q = conformal.quantiles(forecast);
      const members = model?.memberForecasts?.();
      out.push({
        date: days[d],
        timestamps: table.timestamps.slice(lo, hi),
        actual,
        forecast,
        ...(q ?? {}),
        ...(members ? { members } : {}),
      });
      opts.onProgress?.(d - first + 1, total);
    }
    conformal.observe(actual, forecast);
  }
  return out;
}

function usage(message: string): OptiBidError {
  return new OptiBidError('OPTIBID_ERR_USAGE', message);
}
