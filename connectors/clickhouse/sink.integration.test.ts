import { jest } from '@jest/globals';
import { createClient } from '@clickhouse/client';
import { endpointsFromEnv } from '@optibid/runtime';
import { ClickHouseSink } from './sink.js';
import { RejectedRecordsError } from '../timescale/rejected.js';
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
