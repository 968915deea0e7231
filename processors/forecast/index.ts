export {
  readPriceCsv,
  readSeriesCsv,
  parsePriceCsv,
  tableColumn,
  joinColumns,
  addDays,
  dayOfWeek,
  type PriceTable,
} from './table.js';
export { rollingForecast, type DayForecast, type RollingForecastOptions } from './rolling.js';
export {
  forecastModels,
  createModel,
  defaultModel,
  learEnsembleOptions,
  ensembleWeights,
  ensembleMembers,
  ensembleAdaptive,
  gbdtOptions,
  gbdtScaledOptions,
} from './models.js';
export { holidayCalendar, holidayCalendars, easterSunday, type HolidayCalendar } from './holidays.js';
export { gbdtModel, type GbdtOptions } from './gbdt.js';
export type { DayAheadModel, DayInput } from './model.js';
export { mae, smape, quantile, pinball } from './metrics.js';
export { ConformalQuantiles } from './conformal.js';
export {
  backtestReport,
  formatReport,
  writePredictionsCsv,
  type BacktestReport,
  type ForecastMetrics,
} from './report.js';
export { learModel, learForecast, learMembers, learMemberKey, type LearOptions } from './lear.js';
export { fitTransform, transformNames, type TransformName } from './transforms.js';
export {
  lassoDesign,
  lassoFit,
  lassoFitCriteria,
  lassoPredict,
  type LassoFit,
  type LassoOptions,
  type Criterion,
} from './lasso.js';
export { dnnModel, type DnnOptions } from './dnn.js';
export { ensembleModel, type AdaptiveWeights } from './ensemble.js';
export { priceForecastProcessor, createPriceForecaster, PriceForecastConfig, type ForecastIssue } from './processor.js';
export { ModelRegistry, type ModelVersion } from './registry.js';
