import { NotConnected } from '@optibid/runtime';
import { datasets } from '../timescale/datasets.js';
import { schemaStatements, tableDdl } from './schema.js';
import { isClickHouseUnavailable } from './sink.js';
import { recordsToTsv } from './tsv.js';
import { alertRecord } from '../alerts/test-alerts.js';

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

test('records become TabSeparated lines in column order: ms timestamps, \\N for null, escaped text, JSON maps', () => {
  const ds = datasets['alerts.events']!;
  const record = alertRecord({ message: 'line one\nline\ttwo', unit: null }, '3');
  const { lines, rejected } = recordsToTsv(ds, [record, { ...record, value: { ...record.value, occurredAt: 'soon' } }]);
  expect(ds.columns.map((c) => c.name)).toEqual([
    'alert_id',
    'state',
    'occurred_at',
    'rule',
    'severity',
    'resource',
    'message',
    'value',
    'threshold',
    'unit',
    'emitted_at',
    'labels',
    'record_time',
  ]);
  expect(lines).toEqual([
    'price-spike-be:EPEX/BE\tFIRING\t1717408800000\tprice-spike-be\tCRITICAL\tEPEX/BE\tline one\\nline\\ttwo\t412.5\t300\t\\N\t1717408801000\t{"market":"EPEX","area":"BE"}\t1717408800000\n',
  ]);
  expect(rejected.map((r) => r.reason)).toEqual([
    'alerts.events: occurredAt must be a timestamp (epoch ms or ISO-8601)',
  ]);
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
