import { jest } from '@jest/globals';
import { createClient } from '@clickhouse/client';
import { endpointsFromEnv } from '@optibid/runtime';
import { ClickHouseSink } from './sink.js';
import { RejectedRecordsError } from '../timescale/rejected.js';
import { alertRecord } from '../alerts/test-alerts.js';
import {
  marketPriceRecords,
  memoryLogger,
  runId,
  telemetryRecords,
  writeAllWithRetry,
} from '../timescale/test-support.js';

jest.setTimeout(120_000);

const database = `t_ch_${runId()}`;
const ch = createClient({ url: endpointsFromEnv().clickhouseUrl });

async function rows<T>(query: string): Promise<T[]> {
  return (await ch.query({ query, format: 'JSONEachRow' })).json<T>();
}
async function count(query: string): Promise<number> {
  return Number((await rows<{ n: string }>(query))[0]!.n);
}

afterAll(async () => {
  await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await ch.close();
});

test('the same 10,000 market prices replayed twice leave exactly one row per key, and the OHLC rollup is unaffected', async () => {
  const sink = new ClickHouseSink({ dataset: 'market.prices', database, maxBatchRows: 3000 }, memoryLogger());
  await sink.connect();
  const records = marketPriceRecords(10_000);
  await writeAllWithRetry(sink, records, 1000);
  await writeAllWithRetry(sink, records, 2500);
  await sink.close();

  expect(await count(`SELECT count() AS n FROM ${database}.market_prices FINAL`)).toBe(10_000);
  expect(
    await count(
      `SELECT uniqExact(market, area, product, delivery_start_ms, interval_minutes) AS n FROM ${database}.market_prices FINAL`,
    ),
  ).toBe(10_000);
  await ch.command({ query: `OPTIMIZE TABLE ${database}.market_prices FINAL` });
  expect(await count(`SELECT count() AS n FROM ${database}.market_prices`)).toBe(10_000);

  // hourly products: open = high = low = close = the price of that hour, one interval per hour
  const sample = records[777]!.value;
  const ohlc = await rows<{ open: number; high: number; low: number; close: number; intervals: string }>(
    `SELECT open, high, low, close, intervals FROM ${database}.market_prices_ohlc_1h ` +
      `WHERE area = '${sample.area}' AND hour = toDateTime(${sample.deliveryStart / 1000})`,
  );
  expect(ohlc).toEqual([
    { open: sample.price, high: sample.price, low: sample.price, close: sample.price, intervals: '1' },
  ]);
  expect(await count(`SELECT count() AS n FROM ${database}.market_prices_ohlc_1h`)).toBe(10_000);
});

test('one-minute telemetry aggregates are exact after a replay', async () => {
  const sink = new ClickHouseSink({ dataset: 'telemetry.readings', database, lingerMs: 20 }, memoryLogger());
  await sink.connect();
  const records = telemetryRecords(4000); // 40 series, one reading per 10 s: 6 per minute
  await Promise.all([sink.write(records.slice(0, 2000)), sink.write(records.slice(2000))]);
  await sink.write(records);
  await sink.close();

  expect(await count(`SELECT count() AS n FROM ${database}.telemetry_readings FINAL`)).toBe(4000);
  const series = records.filter((r) => r.value.assetId === 'bess-03' && r.value.metric === 'active_power').slice(0, 6);
  const values = series.map((r) => r.value.value);
  const agg = await rows<{
    readings: string;
    avg_value: number;
    min_value: number;
    max_value: number;
    last_value: number;
  }>(
    `SELECT readings, avg_value, min_value, max_value, last_value FROM ${database}.telemetry_readings_1m ` +
      `WHERE asset_id = 'bess-03' AND metric = 'active_power' AND minute = toDateTime(${series[0]!.value.observedAt / 1000})`,
  );
  expect(agg).toHaveLength(1);
  expect(Number(agg[0]!.readings)).toBe(6);
  expect(agg[0]!.avg_value).toBeCloseTo(values.reduce((a, b) => a + b, 0) / 6, 9);
  expect(agg[0]!.min_value).toBe(Math.min(...values));
  expect(agg[0]!.max_value).toBe(Math.max(...values));
  expect(agg[0]!.last_value).toBe(values[5]);
});

test('malformed records are rejected with reasons; the rest are stored', async () => {
  const table = `prices_bad_${runId()}`;
  const sink = new ClickHouseSink({ dataset: 'market.prices', database, table }, memoryLogger());
  await sink.connect();
  const good = marketPriceRecords(20);
  const bad = { ...good[0]!, offset: '99', value: { ...good[0]!.value, price: 'n/a' } };
  const err = await sink.write([...good, bad]).catch((e: unknown) => e);
  await sink.close();
  expect(err).toBeInstanceOf(RejectedRecordsError);
  expect((err as RejectedRecordsError).rejected.map((r) => [r.record.offset, r.reason])).toEqual([
    ['99', 'market.prices: price must be a finite number'],
  ]);
  expect(await count(`SELECT count() AS n FROM ${database}.${table} FINAL`)).toBe(20);
  // a renamed table gets its own rollups
  expect(await count(`SELECT count() AS n FROM ${database}.${table}_ohlc_1h`)).toBe(20); // 10 areas × 2 hours
});

test('edge values round-trip through RowBinary: nulls, UTF-8, long strings, Int64 ms before 1970 and far ahead, JSON', async () => {
  const table = `alerts_rt_${runId()}`;
  const sink = new ClickHouseSink({ dataset: 'alerts.events', database, table }, memoryLogger());
  await sink.connect();
  const messages = ['', 'ü € 日本語 \u{1F600}', 'tab\tnew\nline\\back', 'x'.repeat(130), 'é'.repeat(5000)];
  const times = [-62_135_596_800_000, -1, 0, 2 ** 32 + 1, 253_402_300_799_999];
  const records = messages.map((message, i) =>
    alertRecord(
      {
        alertId: `a${i}`,
        message,
        occurredAt: times[i]!,
        value: i === 0 ? null : -i / 3,
        unit: i % 2 === 0 ? null : 'MW',
        labels: i === 4 ? {} : { i: String(i), q: 'x"y' },
      },
      String(i),
    ),
  );
  await sink.write(records);
  await sink.close();
  const stored = await rows<{
    alert_id: string;
    message: string;
    occurred_at_ms: string;
    value: number | null;
    unit: string | null;
    labels: string;
  }>(`SELECT alert_id, message, occurred_at_ms, value, unit, labels FROM ${database}.${table} FINAL ORDER BY alert_id`);
  expect(stored).toEqual(
    records.map(({ value: v }) => ({
      alert_id: v.alertId,
      message: v.message,
      occurred_at_ms: String(v.occurredAt),
      value: v.value,
      unit: v.unit,
      labels: JSON.stringify(v.labels),
    })),
  );
});

test('concurrent writers share inserts; each write resolves with its own rejected records only', async () => {
  const table = `telemetry_cc_${runId()}`;
  const sink = new ClickHouseSink({ dataset: 'telemetry.readings', database, table }, memoryLogger());
  await sink.connect();
  const records = telemetryRecords(24_000);
  const parts = [0, 1, 2, 3].map((w) => records.filter((_, i) => i % 4 === w));
  const bad = { ...parts[2]![7]!, offset: 'bad', value: { ...parts[2]![7]!.value, observedAt: 'later' } };
  parts[2]!.splice(100, 0, bad as unknown as (typeof records)[number]);
  // each writer writes its part in batches of 1500, one after another, as a runtime consuming 4 partitions
  const outcomes = await Promise.all(
    parts.map(async (part) => {
      const errors: unknown[] = [];
      for (let i = 0; i < part.length; i += 1500)
        await sink.write(part.slice(i, i + 1500)).catch((e) => errors.push(e));
      return errors;
    }),
  );
  await sink.close();
  expect(outcomes.map((e) => e.length)).toEqual([0, 0, 1, 0]);
  const err = outcomes[2]![0] as RejectedRecordsError;
  expect(err).toBeInstanceOf(RejectedRecordsError);
  expect(err.rejected.map((r) => [r.record.offset, r.reason])).toEqual([
    ['bad', 'telemetry.readings: observedAt must be a timestamp (epoch ms or ISO-8601)'],
  ]);
  expect(err.written).toBe(1499);
  expect(await count(`SELECT count() AS n FROM ${database}.${table} FINAL`)).toBe(24_000);
  expect(await count(`SELECT sum(value * 10) AS n FROM ${database}.${table}`)).toBe(
    Math.round(records.reduce((a, r) => a + r.value.value * 10, 0)),
  );
});
