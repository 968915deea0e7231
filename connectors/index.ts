export * from './timescale/index.js';
export * from './clickhouse/index.js';
export * from './alerts/index.js';
