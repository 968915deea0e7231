import { NotConnected } from '@optibid/runtime';
import { datasets } from '../timescale/datasets.js';
import { schemaStatements, tableDdl } from './schema.js';
import { isClickHouseUnavailable } from './sink.js';

test('tables are ReplacingMergeTree on the natural key, versioned by record time, with no DateTime64', () => {
  const ddl = tableDdl(datasets['telemetry.readings']!, 'optibid');
  expect(ddl).toContain('ENGINE = ReplacingMergeTree(record_time_ms)');
  expect(ddl).toContain('ORDER BY (`asset_id`, `metric`, `observed_at_ms`)');
  expect(ddl).toContain('PARTITION BY toYYYYMM(`observed_at`)');
  expect(ddl).toContain('`site_id` Nullable(String)');
  for (const s of schemaStatements('optibid'))
    expect(s.sql).not.toMatch(/DateTime64|LowCardinality|\{[a-z]+:[A-Za-z]+\}/);
});

test('a renamed table gets rollups named after it', () => {
  const names = schemaStatements('optibid', { dataset: 'market.prices', table: 'prices_be' }).map((s) => s.name);
  expect(names).toEqual(['optibid', 'prices_be', 'prices_be_ohlc_1h_agg', 'prices_be_ohlc_1h']);
});

test('identifiers are checked, not interpolated blindly', () => {
  expect(() => schemaStatements('optibid; DROP TABLE x')).toThrow(/not a valid identifier/);
});

test('network failures and transient server errors count as unavailable', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
  const tooManyParts = Object.assign(new Error('Too many parts'), { code: '252' });
  const parse = Object.assign(new Error('Cannot parse input'), { code: '27' });
  expect(isClickHouseUnavailable(refused)).toBe(true);
  expect(isClickHouseUnavailable(tooManyParts)).toBe(true);
  expect(isClickHouseUnavailable(new Error('wrapped', { cause: refused }))).toBe(true);
  expect(isClickHouseUnavailable(parse)).toBe(false);
  // `exec` (used for RowBinary inserts) hands over the server's answer unparsed
  expect(isClickHouseUnavailable(new Error('Code: 252, e.displayText() = DB::Exception: Too many parts (300)'))).toBe(
    true,
  );
  expect(isClickHouseUnavailable(new Error('Code: 33, e.displayText() = DB::Exception: Cannot read all data'))).toBe(
    false,
  );
  expect(isClickHouseUnavailable(new NotConnected())).toBe(false);
});
