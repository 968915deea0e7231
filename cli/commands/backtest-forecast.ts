import type { Command } from 'commander';
import { OptiBidError } from '@optibid/runtime';
import {
  backtestReport,
  forecastModels,
  defaultModel,
  formatReport,
  holidayCalendar,
  holidayCalendars,
  joinColumns,
  readPriceCsv,
  readSeriesCsv,
  rollingForecast,
  writePredictionsCsv,
  type PriceTable,
} from '@optibid/processors/forecast/index.js';

interface Options {
  csv: string;
  priceColumn: string;
  model: string;
  evalFrom: string;
  evalTo?: string;
  compare?: string;
  json?: boolean;
  predictionsOut?: string;
  exog?: string;
  exogCsv?: string;
  holidays?: string;
}

const datePattern = /^\d{4}-\d{2}-\d{2}$/;

/** `--exog` of both backtests: CSV columns of day-ahead fundamentals forecasts handed to the model. */
export const exogOptionHelp =
  'comma-separated CSV columns with day-ahead fundamentals forecasts (load, wind, solar) used as model inputs; the model sees them for the target day too';

/** `--exog-csv` of both backtests: a file of fundamentals joined to `--csv` by timestamp. */
export const exogCsvOptionHelp =
  'CSV of day-ahead fundamentals forecasts (a timestamp column, then one column per series) joined to --csv by timestamp; every column of it becomes a model input, as with --exog. It must cover every hour of --csv';

/**
 * The price table of `--csv` and the exogenous columns the model gets: those named by `--exog`, plus every column of
 * the `--exog-csv` file joined to the table by timestamp (`joinColumns`: a missing hour is an error naming the file).
 */
export function readBacktestTable(
  csv: string,
  priceColumn: string,
  exog: string | undefined,
  exogCsv: string | undefined,
): { table: PriceTable; exog: string[] } {
  const table = readPriceCsv(csv, priceColumn);
  const named = (exog ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  if (exogCsv === undefined) return { table, exog: named };
  const extra = readSeriesCsv(exogCsv);
  return { table: joinColumns(table, extra), exog: [...named, ...extra.columnNames] };
}

/** Registers `optibid backtest forecast`: a rolling day-ahead backtest of one model on a price CSV. */
export function registerBacktestForecast(backtest: Command): void {
  backtest
    .command('forecast')
    .description(
      'Forecast every day from --eval-from to --eval-to using only earlier rows, then report MAE, rMAE ' +
        '(MAE / weekly-naive MAE on the same hours) and sMAPE, also for --compare columns of the CSV',
    )
    .requiredOption(
      '--csv <file>',
      'hourly CSV: a timestamp column (YYYY-MM-DD HH:MM:SS) then numeric columns, 24 rows per day',
    )
    .requiredOption('--price-column <name>', 'column holding the realised price to forecast, e.g. "Real price"')
    .option(
      '--model <name>',
      `model: ${forecastModels.join(', ')} (default = ${defaultModel}), or column:NAME to replay a CSV column`,
      'default',
    )
    .requiredOption('--eval-from <date>', 'first delivery day to forecast, YYYY-MM-DD')
    .option('--eval-to <date>', 'last delivery day to forecast, inclusive (default: the last day of the file)')
    .option('--compare <columns>', 'comma-separated CSV columns holding other forecasts to score on the same hours')
    .option('--exog <columns>', exogOptionHelp)
    .option('--exog-csv <file>', exogCsvOptionHelp)
    .option(
      '--holidays <calendar>',
      `holiday calendar of the market, so the model treats holidays like Sundays: ${Object.keys(holidayCalendars()).join(', ')}`,
    )
    .option('--json', 'print one JSON object: mae, rmae, smape of the model, and a compare object per column')
    .option('--predictions-out <file>', 'write timestamp,forecast,q10,q50,q90 of every forecast interval to this CSV')
    .action(async (opts: Options) => {
      for (const [flag, v] of [
        ['--eval-from', opts.evalFrom],
        ['--eval-to', opts.evalTo],
      ] as const) {
        if (v !== undefined && !datePattern.test(v))
          throw new OptiBidError('OPTIBID_ERR_USAGE', `${flag} must be YYYY-MM-DD, got "${v}"`);
      }
      const holidays = opts.holidays === undefined ? undefined : holidayCalendar(opts.holidays);
      const { table, exog } = readBacktestTable(opts.csv, opts.priceColumn, opts.exog, opts.exogCsv);
      const compare = (opts.compare ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean);
      const started = Date.now();
      let lastShown = 0;
      const days = await rollingForecast({
        table,
        model: opts.model,
        evalFrom: opts.evalFrom,
        evalTo: opts.evalTo,
        holidays,
        exog,
        onProgress: (done, total) => {
          const now = Date.now();
          if (total < 8 || (now - lastShown < 2000 && done < total)) return;
          lastShown = now;
          process.stderr.write(
            `forecast ${opts.model}: ${done}/${total} days (${((now - started) / 1000).toFixed(0)} s)\n`,
          );
        },
      });
      const report = { ...backtestReport(table, opts.model, days, compare), seconds: (Date.now() - started) / 1000 };
      if (opts.predictionsOut) writePredictionsCsv(opts.predictionsOut, days);
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
    });
}
