import { jest } from '@jest/globals';
import pg from 'pg';
import type { BidSignal } from '@optibid/schemas';
import { VirtualClock, endpointsFromEnv } from '@optibid/runtime';
import { migrate } from './migrate.js';
import { TimescaleSink } from './sink.js';
import { RejectedRecordsError } from './rejected.js';
import { marketPriceRecords, memoryLogger, runId, telemetryRecords, writeAllWithRetry } from './test-support.js';

jest.setTimeout(120_000);

const url = endpointsFromEnv().postgresUrl;
const id = runId();
const schema = `t_sink_${id}`;
let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
});

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

async function count(sql: string): Promise<number> {
  return Number((await admin.query(sql)).rows[0].n);
}

describe('migrations', () => {
  test('create hypertables once; a second run applies nothing', async () => {
    const first = await migrate(admin, { schema });
    expect(first.mode).toBe('timescaledb');
    expect(first.applied.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const second = await migrate(admin, { schema });
    expect(second.applied).toEqual([]);
    expect(second.skipped).toHaveLength(8);
    const hypertables = await admin.query(
      `SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = $1 ORDER BY 1`,
      [schema],
    );
    expect(hypertables.rows.map((r) => r.hypertable_name)).toEqual([
      'alerts_events',
      'bids_signals',
      'forecasts_prices',
      'market_fundamentals',
      'market_prices',
      'telemetry_readings',
    ]);
    expect(await count(`SELECT count(*) AS n FROM ${schema}.optibid_schema_migrations`)).toBe(8);
  });
});

describe('timescale sink on hypertables', () => {
  test('the same 10,000 records replayed twice leave exactly one row per key', async () => {
    const logger = memoryLogger();
    const sink = new TimescaleSink({ dataset: 'market.prices', schema }, logger);
    await sink.connect();
    const records = marketPriceRecords(10_000);
    await writeAllWithRetry(sink, records, 1000);
    await writeAllWithRetry(sink, records, 700);
    await sink.close();
    expect(sink.partitioning).toBe('timescaledb');
    expect(await count(`SELECT count(*) AS n FROM ${schema}.market_prices`)).toBe(10_000);
    expect(
      await count(
        `SELECT count(DISTINCT (market, area, product, delivery_start, interval_minutes)) AS n FROM ${schema}.market_prices`,
      ),
    ).toBe(10_000);
    const sample = records[4321]!.value;
    const row = await admin.query(
      `SELECT price, currency, product FROM ${schema}.market_prices WHERE area = $1 AND delivery_start = $2`,
      [sample.area, new Date(sample.deliveryStart)],
    );
    expect(row.rows).toEqual([{ price: sample.price, currency: 'EUR', product: 'DAY_AHEAD' }]);
    expect(logger.lines.filter((l) => l.msg.includes('hypertable'))).toHaveLength(1);
  });

  test('a newer record updates its row; replaying the older one does not undo it', async () => {
    const sink = new TimescaleSink({ dataset: 'market.prices', schema, table: 'market_prices' }, memoryLogger());
    await sink.connect();
    const original = marketPriceRecords(10);
    const corrected = marketPriceRecords(10, { priceOffset: 1000, recordTime: Date.UTC(2030, 0, 1) });
    await sink.write(corrected);
    await sink.write(original);
    await sink.close();
    const rows = await admin.query(
      `SELECT price AS p FROM ${schema}.market_prices WHERE delivery_start = $1 ORDER BY area`,
      [new Date(Date.UTC(2024, 0, 1))],
    );
    expect(rows.rows.every((r) => r.p > 900)).toBe(true);
  });

  test('a bid signal keeps its curve, revision and versions (columns added by migration 8)', async () => {
    const sink = new TimescaleSink({ dataset: 'bids.signals', schema }, memoryLogger());
    await sink.connect();
    const deliveryStart = Date.UTC(2025, 4, 8, 14);
    const curve = [
      { price: 31.2, quantityMw: 1 },
      { price: 88.4, quantityMw: 0 },
    ];
    const value: BidSignal = {
      signalId: 'NORDPOOL|SE3|bess-1|2025-05-08T14:00Z',
      market: 'NORDPOOL',
      area: 'SE3',
      product: 'DAY_AHEAD',
      assetId: 'bess-1',
      deliveryStart,
      intervalMinutes: 60,
      side: 'BUY',
      quantityMw: 1,
      limitPrice: 31.2,
      currency: 'EUR',
      energyUnit: 'MWH',
      expectedValue: -31.2,
      strategy: 'battery-arbitrage',
      forecastModel: 'ensemble',
      forecastIssuedAt: deliveryStart - 28 * 3_600_000,
      gateClosure: deliveryStart - 26 * 3_600_000,
      createdAt: deliveryStart - 27 * 3_600_000,
      reason: 'charge in the cheapest hours',
      forecastModelVersion: 'ensemble@2025-05-07',
      revision: 2,
      dayExpectedValue: 190.4,
      curve,
    };
    await sink.write([{ topic: 'bids.signals', key: value.signalId, value, timestamp: deliveryStart }]);
    await sink.close();
    const rows = await admin.query(
      `SELECT curve, revision, forecast_model_version, day_expected_value FROM ${schema}.bids_signals WHERE signal_id = $1`,
      [value.signalId],
    );
    expect(rows.rows).toEqual([
      { curve, revision: 2, forecast_model_version: 'ensemble@2025-05-07', day_expected_value: 190.4 },
    ]);
  });

  test('malformed records are rejected with a reason while the rest are stored', async () => {
    const sink = new TimescaleSink({ dataset: 'telemetry.readings', schema }, memoryLogger());
    await sink.connect();
    const good = telemetryRecords(100);
    const bad = [
      {
        topic: 'telemetry.readings',
        key: 'x',
        value: { assetId: 'x', metric: 'state_of_charge', observedAt: Date.UTC(2024, 0, 1), value: 'high', unit: '%' },
        timestamp: 0,
        offset: '900',
      },
      { topic: 'telemetry.readings', key: 'y', value: 'not an object', timestamp: 0, offset: '901' },
    ];
    const err = await sink.write([...good.slice(0, 50), ...bad, ...good.slice(50)]).catch((e: unknown) => e);
    await sink.close();
    expect(err).toBeInstanceOf(RejectedRecordsError);
    const rejected = (err as RejectedRecordsError).rejected;
    expect(rejected.map((r) => r.record.offset)).toEqual(['900', '901']);
    expect(rejected[0]!.reason).toMatch(/value must be a finite number/);
    expect(await count(`SELECT count(*) AS n FROM ${schema}.telemetry_readings`)).toBe(100);
  });

  test('retention drops whole chunks older than the cutoff', async () => {
    const clock = new VirtualClock(Date.UTC(2024, 3, 10));
    const sink = new TimescaleSink(
      { dataset: 'telemetry.readings', schema, table: 'telemetry_readings', retentionDays: 30 },
      memoryLogger(),
      clock,
    );
    await sink.connect();
    // one reading a day per device/metric for 100 days, written without retention first
    const records = telemetryRecords(4000, { from: Date.UTC(2024, 0, 1), stepMs: 86_400_000 });
    const plain = new TimescaleSink({ dataset: 'telemetry.readings', schema }, memoryLogger());
    await plain.connect();
    await plain.write(records);
    await plain.close();
    const before = await count(
      `SELECT count(*) AS n FROM ${schema}.telemetry_readings WHERE observed_at < '2024-03-11'`,
    );
    expect(before).toBeGreaterThan(0);
    const dropped = await sink.retention();
    await sink.close();
    expect(dropped).toBeGreaterThan(50);
    expect(await count(`SELECT count(*) AS n FROM ${schema}.telemetry_readings WHERE observed_at < '2024-03-11'`)).toBe(
      0,
    );
    expect(
      await count(`SELECT count(*) AS n FROM ${schema}.telemetry_readings WHERE observed_at >= '2024-03-11'`),
    ).toBe(30 * 40);
  });

  test('connect without migrations names the command to run', async () => {
    const sink = new TimescaleSink({ dataset: 'market.prices', schema: `${schema}_none` }, memoryLogger());
    await expect(sink.connect()).rejects.toThrow(/optibid db migrate/);
    await sink.close();
  });
});

describe('fallback without the timescaledb extension', () => {
  const db = `optibid_plain_${id}`;
  const dbUrl = url.replace(/\/[^/?]+(\?|$)/, `/${db}$1`);

  beforeAll(async () => {
    await admin.query(`CREATE DATABASE ${db}`);
  });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  });

  test('native partitioning: one row per key after a replay, partitions created on demand, retention drops partitions', async () => {
    const logger = memoryLogger();
    const sink = new TimescaleSink(
      { dataset: 'market.prices', url: dbUrl, migrate: true, partitioning: 'native' },
      logger,
    );
    await sink.connect();
    await sink.connect(); // reconnects (after an outage) do not log again
    expect(sink.partitioning).toBe('native');
    const records = marketPriceRecords(10_000); // 1000 hours from 2024-01-01
    await writeAllWithRetry(sink, records, 2500);
    await writeAllWithRetry(sink, records, 2500);
    await sink.close();

    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    try {
      expect((await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`)).rowCount).toBe(0);
      expect(
        (await c.query(`SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'market_prices'::regclass`)).rowCount,
      ).toBe(1);
      const totals = await c.query(
        `SELECT count(*) AS n, count(DISTINCT (market, area, product, delivery_start, interval_minutes)) AS k FROM market_prices`,
      );
      expect(Number(totals.rows[0].n)).toBe(10_000);
      expect(Number(totals.rows[0].k)).toBe(10_000);
      // 1000 hours from 2024-01-01 (to 2024-02-11) touch the epoch-aligned 30-day partitions starting 2023-12-19 and 2024-01-18
      const parts = await c.query(`SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'market_prices'::regclass`);
      expect(Number(parts.rows[0].n)).toBe(2);

      const clock = new VirtualClock(Date.UTC(2024, 2, 1)); // cutoff 2024-01-31: only the partition ending 2024-01-18 is old enough
      const retainer = new TimescaleSink(
        { dataset: 'market.prices', url: dbUrl, retentionDays: 30 },
        memoryLogger(),
        clock,
      );
      await retainer.connect();
      expect(await retainer.retention()).toBe(1);
      await retainer.close();
      const boundary = Date.UTC(2024, 0, 18);
      const left = await c.query(`SELECT count(*) AS n, min(delivery_start) AS t FROM market_prices`);
      expect(Number(left.rows[0].n)).toBe(records.filter((r) => r.value.deliveryStart >= boundary).length);
      expect(new Date(left.rows[0].t).getTime()).toBe(boundary);
    } finally {
      await c.end();
    }
    const notices = logger.lines.filter((l) => l.msg.includes('plain PostgreSQL'));
    expect(notices).toHaveLength(1);
  });
});
