export { clickhouseSink, ClickHouseSink, clickhouseConfig } from './sink.js';
export type { ClickHouseSinkConfig } from './sink.js';
export { applySchema, migrateClickHouse, schemaStatements, rollups } from './schema.js';
