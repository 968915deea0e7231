export { timescaleSink, TimescaleSink, timescaleConfig, applyRetention } from './sink.js';
export type { TimescaleConfig } from './sink.js';
export { migrate, migrateUrl, loadMigrations } from './migrate.js';
export type { MigrateOptions, MigrateResult, PartitioningChoice, PartitioningMode } from './migrate.js';
export { datasets, datasetIds, toRows } from './datasets.js';
export type { Dataset, ColumnSpec, RejectedRecord } from './datasets.js';
export { RejectedRecordsError } from './rejected.js';
