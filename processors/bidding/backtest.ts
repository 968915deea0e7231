import { OptiBidError } from '@optibid/runtime';
import { rollingForecast, type DayForecast, type HolidayCalendar, type PriceTable } from '../forecast/index.js';
import { resolveBattery, scheduleBattery, scheduleHedged, settle, type Battery } from './battery.js';
import { ShapeBiasCorrector, type ShapeBiasOptions } from './shapebias.js';

/** One delivery day of a battery backtest (revenue in the price unit × MWh). */
export interface BatteryBacktestDay {
  date: string;
  /** The schedule optimised on the real prices. */
  perfectForesight: number;
  /** The schedule optimised on the forecast, settled at the real prices. */
  realized: number;
  /** What the forecast schedule expected to earn (on the forecast prices). */
  expected: number;
  /** Energy bought (MWh, grid side) by the forecast schedule. */
  chargedMwh: number;
}

/**
 * Totals of a battery backtest; `capture` = realized / perfect_foresight, or NaN (JSON: null) when
 * perfect foresight earns nothing (e.g. `maxCyclesPerDay: 0`, or no spread beats the losses): 0/0 has no value.
 */
export interface BatteryBacktestResult {
  model: string;
  days: number;
  eval_from: string;
  eval_to: string;
  perfect_foresight: number;
  realized: number;
  /** realized / perfect_foresight; NaN when perfect_foresight is 0 (see `captureUndefinedReason`). */
  capture: number;
  expected: number;
  daily: BatteryBacktestDay[];
}

/** Options of the hedged variant: schedule on forecast quantiles instead of the point forecast. */
export interface HedgeOptions {
  /** 0 = point forecast; 1 = buy at q90, sell at q10. */
  riskAversion: number;
}

/**
 * Scores days that already carry a forecast: each day is scheduled on its forecast (or, with
 * `hedge`, its quantiles when present), settled at its actual prices and compared with the
 * schedule optimised on the actual prices. The battery's initial and final SoC hold for every day.
 * With `shapeBias`, each day is scheduled on the forecast plus the recent intraday shape bias of the
 * forecasts of the days before it (`ShapeBiasCorrector`; the quantiles move with it), learnt from those
 * days' actual prices only; `expected` stays the revenue on the forecast as issued.
 */
export function backtestDays(
  days: DayForecast[],
  battery: Battery,
  opts: { model?: string; intervalMinutes?: number; hedge?: HedgeOptions; shapeBias?: ShapeBiasOptions } = {},
): BatteryBacktestResult {
  if (days.length === 0) throw new OptiBidError('OPTIBID_ERR_USAGE', 'backtest has no days to evaluate');
  const b = resolveBattery(battery);
  const intervalMinutes = opts.intervalMinutes ?? (24 * 60) / days[0].actual.length;
  const daily: BatteryBacktestDay[] = [];
  let pf = 0;
  let realized = 0;
  let expected = 0;
  const corrector = opts.shapeBias ? new ShapeBiasCorrector(days[0].actual.length, opts.shapeBias) : undefined;
  for (const day of days) {
    if (day.forecast.length !== day.actual.length) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `${day.date}: forecast has ${day.forecast.length} intervals, actual ${day.actual.length}`,
      );
    }
    const best = scheduleBattery(day.actual, b, intervalMinutes);
    const bias = corrector?.correction(day.forecast);
    const shift = (q: ArrayLike<number>): ArrayLike<number> => (bias ? Float64Array.from(q, (v, t) => v + bias[t]) : q);
    const plan =
      opts.hedge && day.q10 && day.q90
        ? scheduleHedged(
            { q10: shift(day.q10), q50: shift(day.q50 ?? day.forecast), q90: shift(day.q90) },
            b,
            opts.hedge.riskAversion,
            intervalMinutes,
          )
        : scheduleBattery(shift(day.forecast), b, intervalMinutes);
    corrector?.observe(day.actual, day.forecast);
    const got = settle(plan, day.actual, b.degradationCostPerMwh);
    const exp = settle(plan, day.forecast, b.degradationCostPerMwh);
    const chargedMwh = plan.chargeMw.reduce((s, v) => s + v, 0) * (intervalMinutes / 60);
    daily.push({ date: day.date, perfectForesight: best.revenue, realized: got, expected: exp, chargedMwh });
    pf += best.revenue;
    realized += got;
    expected += exp;
  }
  return {
    model: opts.model ?? 'forecast',
    days: days.length,
    eval_from: days[0].date,
    eval_to: days[days.length - 1].date,
    perfect_foresight: pf,
    realized,
    capture: pf === 0 ? Number.NaN : realized / pf,
    expected,
    daily,
  };
}

/** Why `capture` has no value for a result, or undefined when it has one. */
export function captureUndefinedReason(
  r: Pick<BatteryBacktestResult, 'perfect_foresight' | 'capture'>,
): string | undefined {
  if (!Number.isNaN(r.capture)) return undefined;
  return `perfect foresight earns ${r.perfect_foresight} on these days (the battery cannot trade profitably, e.g. max cycles 0), so there is nothing to capture and realized / perfect_foresight is 0/0`;
}

/** What `optibid backtest battery` runs. */
export interface BatteryBacktestOptions {
  table: PriceTable;
  /** A forecast model name (see `forecastModels`) or `column:NAME`. */
  model: string;
  evalFrom: string;
  evalTo?: string;
  battery: Battery;
  hedge?: HedgeOptions;
  /** Schedule on the forecast corrected for its recent intraday shape bias (see `backtestDays`). */
  shapeBias?: ShapeBiasOptions;
  /** Holiday calendar handed to the forecast model (see `holidayCalendar`). */
  holidays?: HolidayCalendar;
  /** Columns of the table handed to the forecast model as exogenous inputs (see `rollingForecast`). */
  exog?: string[];
  onProgress?: (done: number, total: number) => void;
}

/**
 * The battery backtest: forecasts each evaluation day from strictly earlier rows (exactly as the
 * forecast backtest does), schedules on it, settles at the real prices.
 */
export async function backtestBattery(opts: BatteryBacktestOptions): Promise<BatteryBacktestResult> {
  const days = await rollingForecast({
    table: opts.table,
    model: opts.model,
    evalFrom: opts.evalFrom,
    evalTo: opts.evalTo,
    holidays: opts.holidays,
    exog: opts.exog,
    onProgress: opts.onProgress,
  });
  return backtestDays(days, opts.battery, {
    model: opts.model,
    intervalMinutes: (24 * 60) / opts.table.perDay,
    hedge: opts.hedge,
    shapeBias: opts.shapeBias,
  });
}
