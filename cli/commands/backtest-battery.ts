import type { Command } from 'commander';
import { OptiBidError } from '@optibid/runtime';
import { forecastModels, holidayCalendar, holidayCalendars } from '@optibid/processors/forecast/index.js';
import {
  backtestBattery,
  captureUndefinedReason,
  type BatteryBacktestResult,
} from '@optibid/processors/bidding/backtest.js';
import type { Battery } from '@optibid/processors/bidding/battery.js';
import { shapeBiasRules as rules, type ShapeBiasOptions } from '@optibid/processors/bidding/shapebias.js';
import { exogCsvOptionHelp, exogOptionHelp, readBacktestTable } from './backtest-forecast.js';

/** `--shape-bias` values: off, or one of the scheduling rules of processors/bidding (`shapeBiasRules`). */
export const shapeBiasRules: Record<string, ShapeBiasOptions | undefined> = { off: undefined, ...rules };

interface BatteryBacktestFlags {
  csv: string;
  priceColumn: string;
  forecastModel: string;
  evalFrom: string;
  evalTo?: string;
  powerMw: string;
  energyMwh: string;
  chargeEff: string;
  dischargeEff: string;
  degradationCost: string;
  maxCycles?: string;
  riskAversion?: string;
  shapeBias: string;
  json?: boolean;
  daily?: boolean;
  holidays?: string;
  exog?: string;
  exogCsv?: string;
}

/** Registers `optibid backtest battery` on the `backtest` parent command. */
export function registerBacktestBattery(backtest: Command): void {
  backtest
    .command('battery')
    .description(
      'Backtest a battery scheduled on day-ahead forecasts: each day starts and ends empty, is optimised on the forecast for that day ' +
        '(made from strictly earlier rows) and settled at the real prices; reports perfect_foresight, realized and capture = realized / perfect_foresight',
    )
    .requiredOption('--csv <file>', 'price CSV: a timestamp column then numeric columns, 24 (or 96) rows per day')
    .option('--price-column <name>', 'column holding the real (settlement) prices', 'Real price')
    .option(
      '--forecast-model <name>',
      `forecast to schedule on: ${forecastModels.join(', ')}, or column:NAME to use a column of the CSV`,
      'default',
    )
    .requiredOption('--eval-from <date>', 'first delivery day to evaluate, YYYY-MM-DD')
    .option(
      '--eval-to <date>',
      'last delivery day to evaluate (inclusive), YYYY-MM-DD; default: the last day of the file',
    )
    .option(
      '--holidays <calendar>',
      `holiday calendar of the market, so the model treats holidays like Sundays: ${Object.keys(holidayCalendars()).join(', ')}`,
    )
    .option('--exog <columns>', exogOptionHelp)
    .option('--exog-csv <file>', exogCsvOptionHelp)
    .option('--power-mw <mw>', 'charge and discharge power limit (MW)', '1')
    .option('--energy-mwh <mwh>', 'storage capacity (MWh)', '2')
    .option('--charge-eff <fraction>', 'charging efficiency, in (0, 1]', '0.95')
    .option('--discharge-eff <fraction>', 'discharging efficiency, in (0, 1]', '0.95')
    .option('--degradation-cost <price>', 'cost per MWh charged or discharged, in the price unit', '0')
    .option('--max-cycles <n>', 'most full cycles per day (default: no limit)')
    .option(
      '--risk-aversion <alpha>',
      'schedule on forecast quantiles instead of the point forecast: buy at q50+α(q90−q50), sell at q50−α(q50−q10); α in [0, 1]',
    )
    .option(
      '--shape-bias <rule>',
      'schedule on the forecast corrected by what the delivered days showed of its bias (the forecast itself is unchanged): ' +
        "off; shape (its recent hour-of-day shape bias); swing (also each hour's price swing)",
      'off',
    )
    .option('--daily', 'also print one line (or JSON entry) per day')
    .option('--json', 'print one JSON object with perfect_foresight, realized and capture as top-level keys')
    .addHelpText(
      'after',
      '\nRevenue is in the price unit × MWh (e.g. EUR). Example:\n' +
        '  optibid backtest battery --csv NP.csv --price-column "Real price" --forecast-model "column:LEAR Ensemble" --eval-from 2017-12-27',
    )
    .action(async (flags: BatteryBacktestFlags) => {
      const battery: Battery = {
        powerMw: positive('--power-mw', flags.powerMw),
        energyMwh: positive('--energy-mwh', flags.energyMwh),
        chargeEfficiency: fraction('--charge-eff', flags.chargeEff),
        dischargeEfficiency: fraction('--discharge-eff', flags.dischargeEff),
        degradationCostPerMwh: nonNegative('--degradation-cost', flags.degradationCost),
        maxCyclesPerDay: flags.maxCycles === undefined ? undefined : nonNegative('--max-cycles', flags.maxCycles),
      };
      for (const [flag, value] of [
        ['--eval-from', flags.evalFrom],
        ['--eval-to', flags.evalTo],
      ] as const) {
        if (value !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(value))
          throw usage(`${flag} must be YYYY-MM-DD, got "${value}"`);
      }
      const hedge =
        flags.riskAversion === undefined
          ? undefined
          : { riskAversion: fraction('--risk-aversion', flags.riskAversion, true) };
      if (!Object.hasOwn(shapeBiasRules, flags.shapeBias))
        throw usage(`--shape-bias must be one of ${Object.keys(shapeBiasRules).join(', ')}, got "${flags.shapeBias}"`);
      const shapeBias = shapeBiasRules[flags.shapeBias];
      const holidays = flags.holidays === undefined ? undefined : holidayCalendar(flags.holidays);
      const { table, exog } = readBacktestTable(flags.csv, flags.priceColumn, flags.exog, flags.exogCsv);
      const result = await backtestBattery({
        table,
        model: flags.forecastModel,
        evalFrom: flags.evalFrom,
        evalTo: flags.evalTo,
        battery,
        hedge,
        shapeBias,
        holidays,
        exog,
      });
      process.stdout.write(
        flags.json
          ? formatJson(result, flags.daily === true, flags.shapeBias)
          : formatText(result, flags.daily === true, flags.shapeBias),
      );
    });
}

function formatJson(r: BatteryBacktestResult, daily: boolean, shapeBias: string): string {
  const { daily: days, ...rest } = r;
  // An undefined capture (0/0) is null with the reason beside it, never a made-up 0.
  const reason = captureUndefinedReason(r);
  const totals = {
    ...(reason === undefined ? rest : { ...rest, capture: null, capture_undefined: reason }),
    shape_bias: shapeBias,
  };
  return JSON.stringify(daily ? { ...totals, daily: days } : totals, null, 2) + '\n';
}

function formatText(r: BatteryBacktestResult, daily: boolean, shapeBias: string): string {
  const lines: string[] = [];
  if (daily) {
    lines.push('date        perfect_foresight  realized  capture');
    for (const d of r.daily) {
      const c = d.perfectForesight === 0 ? 'n/a' : (d.realized / d.perfectForesight).toFixed(3);
      lines.push(
        `${d.date}  ${d.perfectForesight.toFixed(2).padStart(17)}  ${d.realized.toFixed(2).padStart(8)}  ${c.padStart(7)}`,
      );
    }
    lines.push('');
  }
  lines.push(
    `model              ${r.model}${shapeBias === 'off' ? '' : ` (scheduled with --shape-bias ${shapeBias})`}`,
    `days               ${r.days} (${r.eval_from} .. ${r.eval_to})`,
    `perfect_foresight  ${r.perfect_foresight.toFixed(2)}`,
    `realized           ${r.realized.toFixed(2)}`,
    `capture            ${Number.isNaN(r.capture) ? `undefined: ${captureUndefinedReason(r)}` : r.capture.toFixed(4)}`,
  );
  return lines.join('\n') + '\n';
}

function number(flag: string, raw: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v)) throw usage(`${flag} must be a number, got "${raw}"`);
  return v;
}

function positive(flag: string, raw: string): number {
  const v = number(flag, raw);
  if (!(v > 0)) throw usage(`${flag} must be positive, got ${raw}`);
  return v;
}

function nonNegative(flag: string, raw: string): number {
  const v = number(flag, raw);
  if (v < 0) throw usage(`${flag} must be ≥ 0, got ${raw}`);
  return v;
}

function fraction(flag: string, raw: string, zeroAllowed = false): number {
  const v = number(flag, raw);
  if (!(v <= 1 && (zeroAllowed ? v >= 0 : v > 0)))
    throw usage(`${flag} must be in ${zeroAllowed ? '[0, 1]' : '(0, 1]'}, got ${raw}`);
  return v;
}

function usage(message: string): OptiBidError {
  return new OptiBidError('OPTIBID_ERR_USAGE', message);
}
