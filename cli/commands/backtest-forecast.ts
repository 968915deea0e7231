import type { Command } from 'commander';

/** Registers `optibid backtest forecast` (being built; see the issue). */
export function registerBacktestForecast(_backtest: Command): void {}
