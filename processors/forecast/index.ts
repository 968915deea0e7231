export { readPriceCsv, parsePriceCsv, tableColumn, addDays, dayOfWeek, type PriceTable } from './table.js';
export { rollingForecast, type DayForecast, type RollingForecastOptions } from './rolling.js';
export { forecastModels, createModel, defaultModel } from './models.js';
export type { DayAheadModel, DayInput } from './model.js';
export { mae, smape, quantile, pinball } from './metrics.js';
export { ConformalQuantiles } from './conformal.js';
export { backtestReport, formatReport, writePredictionsCsv, type BacktestReport, type ForecastMetrics } from './report.js';
export { learModel, learForecast, type LearOptions } from './lear.js';
export { lassoDesign, lassoFit, lassoPredict, type LassoFit, type LassoOptions } from './lasso.js';
