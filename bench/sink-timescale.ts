import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { endpointsFromEnv } from '@optibid/runtime';
import type { Logger, StreamRecord } from '@optibid/runtime';
import type { TelemetryReading } from '@optibid/schemas';
import { migrate } from '@optibid/connectors/timescale/migrate.js';
import { TimescaleSink } from '@optibid/connectors/timescale/sink.js';
import { telemetryRecords } from '@optibid/connectors/timescale/test-support.js';

/*
 * TimescaleDB sink vs raw COPY, side by side on the same rows, each into an empty hypertable of the
 * same definition (primary key included): the raw path hand-encodes the records to COPY text and
 * streams them in one COPY; the sink maps, deduplicates and COPYs into a staging table, then upserts.
 */

const rows = Number(process.env.BENCH_ROWS ?? 200_000);
const batch = Number(process.env.BENCH_BATCH ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
/** Concurrent writers in the second sink measurement, as a runtime consuming several partitions at once. */
const writers = Number(process.env.BENCH_WRITERS ?? 2);
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

async function rawCopy(client: pg.Client, schema: string, records: StreamRecord<TelemetryReading>[]): Promise<void> {
  // the same timestamp cache the sink uses, so the comparison measures the sink's own overhead
  const cache = new Map<number, string>();
  const iso = (ms: number) => {
    let s = cache.get(ms);
    if (s === undefined) cache.set(ms, (s = new Date(ms).toISOString()));
    return s;
  };
  let text = '';
  for (const { value: v, timestamp } of records) {
    text += `${v.assetId}\t${v.metric}\t${iso(v.observedAt)}\t${v.siteId ?? '\\N'}\t${v.value}\t${v.unit}\t${v.quality}\t${iso(v.receivedAt)}\t${v.origin ?? '\\N'}\t${iso(timestamp)}\n`;
  }
  const sql = `COPY ${schema}.telemetry_readings (asset_id, metric, observed_at, site_id, value, unit, quality, received_at, origin, record_time) FROM STDIN`;
  await pipeline(Readable.from([text]), client.query(pgCopy.from(sql)));
}

async function sinkWrite(sink: TimescaleSink, records: StreamRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += batch) await sink.write(records.slice(i, i + batch));
}

/** `writers` partitions (by asset, as Kafka keys them), each written batch after batch, concurrently. */
async function sinkWriteConcurrent(sink: TimescaleSink, records: StreamRecord<TelemetryReading>[]): Promise<void> {
  const parts = Array.from({ length: writers }, (_, w) =>
    records.filter((r) => Number(r.value.assetId.slice(-2)) % writers === w),
  );
  await Promise.all(parts.map((part) => sinkWrite(sink, part)));
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function run(): Promise<void> {
  const url = endpointsFromEnv().postgresUrl;
  const id = Date.now().toString(36);
  const rawSchema = `bench_raw_${id}`;
  const sinkSchema = `bench_sink_${id}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const records = telemetryRecords(rows);
  const sink = new TimescaleSink(
    { dataset: 'telemetry.readings', schema: sinkSchema, maxBatchRows: batch, poolSize: writers },
    quiet,
  );
  try {
    await migrate(client, { schema: rawSchema });
    await migrate(client, { schema: sinkSchema });
    await sink.connect();
    const raw: number[] = [];
    const viaSink: number[] = [];
    const viaSinkConcurrent: number[] = [];
    for (let r = 0; r < rounds; r++) {
      await client.query(`TRUNCATE ${rawSchema}.telemetry_readings, ${sinkSchema}.telemetry_readings`);
      // alternate the order so neither path always runs on a warmer server
      if (r % 2 === 0) {
        raw.push(await timed(() => rawCopy(client, rawSchema, records)));
        viaSink.push(await timed(() => sinkWrite(sink, records)));
      } else {
        viaSink.push(await timed(() => sinkWrite(sink, records)));
        raw.push(await timed(() => rawCopy(client, rawSchema, records)));
      }
      await client.query(`TRUNCATE ${sinkSchema}.telemetry_readings`);
      viaSinkConcurrent.push(await timed(() => sinkWriteConcurrent(sink, records)));
    }
    const replay = await timed(() => sinkWrite(sink, records)); // same rows again: all conflicts, nothing rewritten
    const counts = await client.query(
      `SELECT (SELECT count(*) FROM ${rawSchema}.telemetry_readings) AS raw, (SELECT count(*) FROM ${sinkSchema}.telemetry_readings) AS sink`,
    );
    const best = (xs: number[]) => Math.min(...xs);
    const rate = (ms: number) => Math.round((rows / ms) * 1000);
    console.log(
      `rows ${rows}, sink batches of ${batch}, best of ${rounds} rounds (rows stored: raw ${counts.rows[0].raw}, sink ${counts.rows[0].sink})`,
    );
    console.log(`raw COPY (pg-copy-streams)      ${rate(best(raw)).toLocaleString('en')} rows/s`);
    console.log(`timescale sink, 1 writer        ${rate(best(viaSink)).toLocaleString('en')} rows/s`);
    console.log(
      `timescale sink, ${writers} writers       ${rate(best(viaSinkConcurrent)).toLocaleString('en')} rows/s`,
    );
    console.log(`sink / raw, 1 writer            ${((best(raw) / best(viaSink)) * 100).toFixed(0)}%  (target >= 80%)`);
    console.log(
      `sink / raw, ${writers} writers           ${((best(raw) / best(viaSinkConcurrent)) * 100).toFixed(0)}%`,
    );
    console.log(`sink replay of the same rows    ${rate(replay).toLocaleString('en')} rows/s (every row a conflict)`);
  } finally {
    await sink.close();
    await client.query(`DROP SCHEMA IF EXISTS ${rawSchema} CASCADE`);
    await client.query(`DROP SCHEMA IF EXISTS ${sinkSchema} CASCADE`);
    await client.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
