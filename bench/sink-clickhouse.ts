import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import { endpointsFromEnv } from '@optibid/runtime';
import type { Logger, StreamRecord } from '@optibid/runtime';
import type { TelemetryReading } from '@optibid/schemas';
import { applySchema } from '@optibid/connectors/clickhouse/schema.js';
import { ClickHouseSink } from '@optibid/connectors/clickhouse/sink.js';
import { telemetryRecords } from '@optibid/connectors/timescale/test-support.js';

/*
 * ClickHouse sink vs one large @clickhouse/client insert, side by side on the same rows, each into an
 * empty table of the same definition (with its 1-minute rollup view): the raw path builds JSONEachRow
 * objects (or a TabSeparated body, the sink's format) by hand and sends them in one INSERT; the sink
 * gets the records in runtime-sized batches.
 */

const rows = Number(process.env.BENCH_ROWS ?? 200_000);
const batch = Number(process.env.BENCH_BATCH ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
/** Concurrent writers in the second sink measurement, as a runtime consuming several partitions at once. */
const writers = Number(process.env.BENCH_WRITERS ?? 4);
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function rawObjects(records: StreamRecord<TelemetryReading>[]): Record<string, unknown>[] {
  return records.map(({ value: v, timestamp }) => ({
    asset_id: v.assetId,
    metric: v.metric,
    observed_at_ms: v.observedAt,
    site_id: v.siteId,
    value: v.value,
    unit: v.unit,
    quality: v.quality,
    received_at_ms: v.receivedAt,
    origin: v.origin,
    record_time_ms: timestamp,
  }));
}

/** The same rows as one TabSeparated body (the format the sink sends), built by hand. */
function rawTsv(records: StreamRecord<TelemetryReading>[]): string {
  let out = '';
  for (const { value: v, timestamp } of records) {
    out += `${v.assetId}\t${v.metric}\t${v.observedAt}\t${v.siteId ?? '\\N'}\t${v.value}\t${v.unit}\t${v.quality}\t${v.receivedAt}\t${v.origin ?? '\\N'}\t${timestamp}\n`;
  }
  return out;
}

const columns: [string, ...string[]] = [
  'asset_id',
  'metric',
  'observed_at_ms',
  'site_id',
  'value',
  'unit',
  'quality',
  'received_at_ms',
  'origin',
  'record_time_ms',
];

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function run(): Promise<void> {
  const url = endpointsFromEnv().clickhouseUrl;
  const id = Date.now().toString(36);
  const rawDb = `bench_raw_${id}`;
  const sinkDb = `bench_sink_${id}`;
  const ch = createClient({ url });
  const records = telemetryRecords(rows);
  const sink = new ClickHouseSink({ dataset: 'telemetry.readings', database: sinkDb, maxBatchRows: 100_000 }, quiet);
  try {
    await applySchema(ch, rawDb, { dataset: 'telemetry.readings' });
    await sink.connect();
    const raw: number[] = [];
    const rawTab: number[] = [];
    const viaSink: number[] = [];
    const viaSinkConcurrent: number[] = [];
    const rawInsert = async () => {
      rawTab.push(
        await timed(() =>
          ch
            .insert({
              table: `${rawDb}.telemetry_readings`,
              values: Readable.from([rawTsv(records)], { objectMode: false }),
              format: 'TabSeparated',
              columns,
            })
            .then(() => undefined),
        ),
      );
      await ch.command({ query: `TRUNCATE TABLE ${rawDb}.telemetry_readings` });
      return timed(() =>
        ch
          .insert({ table: `${rawDb}.telemetry_readings`, values: rawObjects(records), format: 'JSONEachRow' })
          .then(() => undefined),
      );
    };
    const sinkInsert = () =>
      timed(async () => {
        for (let i = 0; i < records.length; i += batch) await sink.write(records.slice(i, i + batch));
      });
    // `writers` partitions, each written batch after batch; their writes overlap and share inserts
    const partitions = Array.from({ length: writers }, (_, w) => records.filter((_, i) => i % writers === w));
    const sinkConcurrent = () =>
      timed(async () => {
        await Promise.all(
          partitions.map(async (part) => {
            for (let i = 0; i < part.length; i += batch) await sink.write(part.slice(i, i + batch));
          }),
        );
      });
    for (let r = 0; r < rounds; r++) {
      await ch.command({ query: `TRUNCATE TABLE ${rawDb}.telemetry_readings` });
      await ch.command({ query: `TRUNCATE TABLE ${sinkDb}.telemetry_readings` });
      // alternate the order so neither path always runs on a warmer server
      if (r % 2 === 0) {
        raw.push(await rawInsert());
        viaSink.push(await sinkInsert());
      } else {
        viaSink.push(await sinkInsert());
        raw.push(await rawInsert());
      }
      await ch.command({ query: `TRUNCATE TABLE ${sinkDb}.telemetry_readings` });
      viaSinkConcurrent.push(await sinkConcurrent());
    }
    const count = async (db: string) =>
      (
        await (
          await ch.query({ query: `SELECT count() AS n FROM ${db}.telemetry_readings FINAL`, format: 'JSONEachRow' })
        ).json<{ n: string }>()
      )[0]!.n;
    const best = (xs: number[]) => Math.min(...xs);
    const rate = (ms: number) => Math.round((rows / ms) * 1000);
    console.log(
      `rows ${rows}, sink writes of ${batch} records, best of ${rounds} rounds (rows stored: raw ${await count(rawDb)}, sink ${await count(sinkDb)})`,
    );
    console.log(`one large insert, JSONEachRow     ${rate(best(raw)).toLocaleString('en')} rows/s`);
    console.log(`one large insert, TabSeparated    ${rate(best(rawTab)).toLocaleString('en')} rows/s`);
    console.log(`clickhouse sink, 1 writer         ${rate(best(viaSink)).toLocaleString('en')} rows/s`);
    console.log(
      `clickhouse sink, ${writers} writers        ${rate(best(viaSinkConcurrent)).toLocaleString('en')} rows/s (group commit)`,
    );
    const fastestRaw = Math.min(best(raw), best(rawTab));
    console.log(
      `sink / faster raw, 1 writer       ${((fastestRaw / best(viaSink)) * 100).toFixed(0)}%  (target >= 80%)`,
    );
    console.log(
      `sink / faster raw, ${writers} writers      ${((fastestRaw / best(viaSinkConcurrent)) * 100).toFixed(0)}%`,
    );
  } finally {
    await sink.close();
    await ch.command({ query: `DROP DATABASE IF EXISTS ${rawDb}` });
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sinkDb}` });
    await ch.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
