import { NotConnected } from '@optibid/runtime';
import { datasets } from '../timescale/datasets.js';
import { schemaStatements, tableDdl } from './schema.js';
import { isClickHouseUnavailable, rowObjects } from './sink.js';

test('tables are ReplacingMergeTree on the natural key, versioned by record time, with no DateTime64', () => {
  const ddl = tableDdl(datasets['telemetry.readings']!, 'optibid');
  expect(ddl).toContain('ENGINE = ReplacingMergeTree(record_time_ms)');
  expect(ddl).toContain('ORDER BY (`asset_id`, `metric`, `observed_at_ms`)');
  expect(ddl).toContain('PARTITION BY toYYYYMM(`observed_at`)');
  expect(ddl).toContain('`site_id` Nullable(String)');
  for (const s of schemaStatements('optibid')) expect(s.sql).not.toMatch(/DateTime64|LowCardinality|\{[a-z]+:[A-Za-z]+\}/);
});

test('a renamed table gets rollups named after it', () => {
  const names = schemaStatements('optibid', { dataset: 'market.prices', table: 'prices_be' }).map((s) => s.name);
  expect(names).toEqual(['optibid', 'prices_be', 'prices_be_ohlc_1h_agg', 'prices_be_ohlc_1h']);
});

test('identifiers are checked, not interpolated blindly', () => {
  expect(() => schemaStatements('optibid; DROP TABLE x')).toThrow(/not a valid identifier/);
});

test('rows become JSONEachRow objects with _ms timestamp columns', () => {
  const ds = datasets['alerts.events']!;
  const row = ds.columns.map((c) => (c.type === 'timestamp' ? 1000 : c.type === 'double' ? 1.5 : c.type === 'json' ? '{}' : 'x'));
  const [o] = rowObjects(ds, [row]);
  expect(o).toMatchObject({ alert_id: 'x', occurred_at_ms: 1000, record_time_ms: 1000, value: 1.5, labels: '{}' });
});

test('network failures and transient server errors count as unavailable', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
  const tooManyParts = Object.assign(new Error('Too many parts'), { code: '252' });
  const parse = Object.assign(new Error('Cannot parse input'), { code: '27' });
  expect(isClickHouseUnavailable(refused)).toBe(true);
  expect(isClickHouseUnavailable(tooManyParts)).toBe(true);
  expect(isClickHouseUnavailable(new Error('wrapped', { cause: refused }))).toBe(true);
  expect(isClickHouseUnavailable(parse)).toBe(false);
  expect(isClickHouseUnavailable(new NotConnected())).toBe(false);
});
