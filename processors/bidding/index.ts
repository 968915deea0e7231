export {
  scheduleBattery,
  scheduleHedged,
  settle,
  resolveBattery,
  defaultBattery,
  BatteryOptimizer,
  type Battery,
  type BatterySchedule,
  type HedgedSchedule,
  type PriceQuantiles,
} from './battery.js';
export { solveLp, DenseSimplex, type LinearProgram, type LpResult } from './lp.js';
export { markets, marketRules, gateClosure, deliveryDay, localDate, type MarketRules } from './markets.js';
export {
  buildBidCurves,
  validateBidCurves,
  quantityAt,
  roundScheduleToTick,
  MarketRuleError,
  type BidStep,
  type DayBidCurves,
  type IntervalBidCurve,
} from './curves.js';
export {
  Qubo,
  simulatedAnnealing,
  solveExhaustive,
  type QuboJson,
  type QuboSolution,
  type AnnealOptions,
} from './qubo.js';
export {
  selectBlockOrders,
  buildBlockQubo,
  exportBlockQubo,
  cycleCandidates,
  type CycleBlock,
  type BlockSelection,
} from './blocks.js';
export { backtestBattery, backtestDays, type BatteryBacktestResult, type BatteryBacktestDay } from './backtest.js';
export { batteryBidderProcessor, BatteryBidderConfig, type BatteryAsset } from './processor.js';
export { seededRng, type Rng } from './rng.js';
export { ShapeBiasCorrector, shapeBiasRules, type ShapeBiasOptions, type ShapeBiasSnapshot } from './shapebias.js';
