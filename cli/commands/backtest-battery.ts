import type { Command } from 'commander';

/** Registers `optibid backtest battery` (being built; see the issue). */
export function registerBacktestBattery(_backtest: Command): void {}
