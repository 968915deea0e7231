import type { HolidayCalendar } from './holidays.js';

/** What a day-ahead model sees when it forecasts one delivery day. */
export interface DayInput {
  /** Prices of whole days strictly before the target day, day-major (day i = [i*perDay, (i+1)*perDay)). */
  history: Float64Array;
  /** Delivery date of each history day, `YYYY-MM-DD`. */
  historyDays: string[];
  /** The delivery day being forecast. */
  targetDate: string;
  /** Intervals per day (24 or 96). */
  perDay: number;
  /**
   * Optional exogenous series by name (load, wind, solar forecasts), day-major like `history` but one
   * day longer: they cover the target day too, as forecasts known before gate closure.
   */
  exog?: Record<string, Float64Array>;
  /**
   * Optional holiday calendar of the market. Models that use it treat a holiday like a Sunday and know
   * when day d-1 was one (its profile is then a poor guide to a working day).
   */
  holidays?: HolidayCalendar;
}

/** A day-ahead point forecaster. It may keep state between calls, but only from inputs it was given. */
export interface DayAheadModel {
  readonly name: string;
  /** Fewest history days it needs before it can forecast. */
  readonly minHistoryDays: number;
  /** Forecasts every interval of `input.targetDate`. */
  forecastDay(input: DayInput): number[] | Promise<number[]>;
  /** For combinations: the member forecasts behind the last `forecastDay` result, by member name. */
  memberForecasts?(): Record<string, number[]>;
  /** For combinations: the weight each member got in the last `forecastDay` result, by member name. */
  memberWeights?(): Record<string, number>;
}
