import type { Command } from 'commander';
import { registerBacktestForecast } from './backtest-forecast.js';
import { registerBacktestBattery } from './backtest-battery.js';

/** `optibid backtest forecast|battery`: reproducible backtests on hourly price CSVs. */
export function registerBacktest(program: Command): void {
  const backtest = program
    .command('backtest')
    .description('Reproducible backtests of forecasts and battery bidding on hourly price CSVs');
  registerBacktestForecast(backtest);
  registerBacktestBattery(backtest);
}
