import { writeFileSync } from 'node:fs';
import { mae, smape } from './metrics.js';
import type { DayForecast } from './rolling.js';
import { tableColumn, type PriceTable } from './table.js';

/** Error metrics of one forecast over the evaluation hours. */
export interface ForecastMetrics {
  /** Mean absolute error in the price unit. */
  mae: number;
  /** MAE divided by the weekly-naive MAE on the same hours. */
  rmae: number;
  /** Symmetric MAPE in percent. */
  smape: number;
}

/** What `optibid backtest forecast --json` prints. */
export interface BacktestReport extends ForecastMetrics {
  model: string;
  source: string;
  priceColumn: string;
  evalFrom: string;
  evalTo: string;
  days: number;
  hours: number;
  /** Weekly-naive MAE on the same hours (the rMAE denominator). */
  naiveWeeklyMae: number;
  /** Metrics of each `--compare` column on the same hours. */
  compare: Record<string, ForecastMetrics>;
  /** Wall time of the rolling forecast, seconds. */
  seconds?: number;
}

/** Scores rolling forecasts (and the compare columns of the table) over the forecast days. */
export function backtestReport(
  table: PriceTable,
  model: string,
  days: DayForecast[],
  compare: string[] = [],
): BacktestReport {
  const rows: number[] = [];
  for (const d of days) {
    const first = table.days.indexOf(d.date) * table.perDay;
    for (let h = 0; h < d.actual.length; h++) rows.push(first + h);
  }
  const actual = rows.map((r) => table.prices[r]);
  const naive = rows.map((r) => (r >= 7 * table.perDay ? table.prices[r - 7 * table.perDay] : NaN));
  const naiveMae = mae(actual, naive);
  const metrics = (forecast: number[]): ForecastMetrics => {
    const m = mae(actual, forecast);
    return { mae: m, rmae: m / naiveMae, smape: smape(actual, forecast) };
  };
  const compared: Record<string, ForecastMetrics> = {};
  for (const name of compare) {
    const col = tableColumn(table, name);
    compared[name] = metrics(rows.map((r) => col[r]));
  }
  return {
    model,
    source: table.source,
    priceColumn: table.priceColumn,
    evalFrom: days[0]?.date ?? '',
    evalTo: days[days.length - 1]?.date ?? '',
    days: days.length,
    hours: rows.length,
    naiveWeeklyMae: naiveMae,
    ...metrics(days.flatMap((d) => d.forecast)),
    compare: compared,
  };
}

/** Plain-text table of a report. */
export function formatReport(r: BacktestReport): string {
  const lines = [
    `${r.source} [${r.priceColumn}] ${r.evalFrom} .. ${r.evalTo}: ${r.days} days, ${r.hours} intervals; weekly-naive MAE ${r.naiveWeeklyMae.toFixed(3)}`,
    `${'forecast'.padEnd(24)} ${'MAE'.padStart(9)} ${'rMAE'.padStart(7)} ${'sMAPE%'.padStart(8)}`,
  ];
  const row = (name: string, m: ForecastMetrics) =>
    `${name.padEnd(24)} ${m.mae.toFixed(3).padStart(9)} ${m.rmae.toFixed(3).padStart(7)} ${m.smape.toFixed(2).padStart(8)}`;
  lines.push(row(r.model, r));
  for (const [name, m] of Object.entries(r.compare)) lines.push(row(name, m));
  if (r.seconds !== undefined) lines.push(`forecast wall time ${r.seconds.toFixed(1)} s`);
  return lines.join('\n');
}

/** Writes `timestamp,forecast[,q10,q50,q90]` (quantile cells empty on days before any calibration). */
export function writePredictionsCsv(file: string, days: DayForecast[]): void {
  const withQ = days.some((d) => d.q10);
  const lines = [withQ ? 'timestamp,forecast,q10,q50,q90' : 'timestamp,forecast'];
  for (const d of days) {
    for (let h = 0; h < d.forecast.length; h++) {
      const cells = [d.timestamps[h], String(d.forecast[h])];
      if (withQ)
        cells.push(d.q10 ? String(d.q10[h]) : '', d.q50 ? String(d.q50[h]) : '', d.q90 ? String(d.q90[h]) : '');
      lines.push(cells.join(','));
    }
  }
  writeFileSync(file, lines.join('\n') + '\n');
}
