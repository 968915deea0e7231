import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { endpointsFromEnv } from '@optibid/runtime';
import type { Logger, StreamRecord } from '@optibid/runtime';
import type { TelemetryReading } from '@optibid/schemas';
import { ByteWriter, rowBinaryEncoder } from '@optibid/connectors/clickhouse/rowbinary.js';
import { applySchema } from '@optibid/connectors/clickhouse/schema.js';
import { ClickHouseSink } from '@optibid/connectors/clickhouse/sink.js';
import { datasets } from '@optibid/connectors/timescale/datasets.js';
import { telemetryRecords } from '@optibid/connectors/timescale/test-support.js';

/*
 * ClickHouse sink vs one large @clickhouse/client insert, side by side on the same rows in one run, each
 * into an empty table of the same definition (with its 1-minute rollup view). Raw paths, all one INSERT
 * of every row, encoding included in the time:
 *   - JSONEachRow: row objects built by hand, serialised by the client (`insert`);
 *   - TabSeparated: one text body built by hand (`insert`);
 *   - RowBinary: one buffer from the sink's own row encoder in one pass (`exec`): the same bytes the
 *     sink sends, so sink vs this raw path is the cost of writing in runtime-sized batches alone.
 * The sink gets the records in runtime-sized batches (BENCH_BATCH, default 20,000; a sink consumer of
 * the Kafka transport is handed about 1 MiB per partition, ~12,000 telemetry records, one batch at a
 * time), by one writer, and by several writers at once (as partitions consumed concurrently).
 * Every round runs every path, in a rotated order. A last measurement sends pre-encoded RowBinary bytes
 * as 1 insert vs as rows/batch inserts: the server's own cost per insert, without any JS encoding.
 */

const rows = Number(process.env.BENCH_ROWS ?? 200_000);
const batch = Number(process.env.BENCH_BATCH ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
/** Concurrent writers in the second sink measurement, as a runtime consuming several partitions at once. */
const writers = Number(process.env.BENCH_WRITERS ?? 4);
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const ds = datasets['telemetry.readings']!;

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

/** The same rows as one TabSeparated body, built by hand. */
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

async function insertRowBinary(ch: ClickHouseClient, table: string, body: Buffer): Promise<void> {
  const res = await ch.exec({
    query: `INSERT INTO ${table} (${columns.join(', ')}) FORMAT RowBinary`,
    values: Readable.from([body], { objectMode: false }),
  });
  for await (const _ of res.stream);
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function run(): Promise<void> {
  const url = endpointsFromEnv().clickhouseUrl;
  const id = Date.now().toString(36);
  const db = `bench_ch_${id}`;
  const ch = createClient({ url });
  const records = telemetryRecords(rows);
  const encoder = rowBinaryEncoder(ds);
  // each path writes into its own table of the same definition
  const paths = ['json', 'tsv', 'rowbinary', 'sink', 'sink_concurrent', 'server'] as const;
  type Path = (typeof paths)[number];
  const table = (p: Path) => `${db}.t_${p}`;
  const sinks = {
    sink: new ClickHouseSink({ dataset: ds.topic, database: db, table: 't_sink' }, quiet),
    sink_concurrent: new ClickHouseSink({ dataset: ds.topic, database: db, table: 't_sink_concurrent' }, quiet),
  };
  // `writers` partitions, each written batch after batch; their writes overlap and share inserts
  const partitions = Array.from({ length: writers }, (_, w) => records.filter((_, i) => i % writers === w));
  const run: Record<Exclude<Path, 'server'>, () => Promise<void>> = {
    json: async () => {
      await ch.insert({ table: table('json'), values: rawObjects(records), format: 'JSONEachRow' });
    },
    tsv: async () => {
      await ch.insert({
        table: table('tsv'),
        values: Readable.from([rawTsv(records)], { objectMode: false }),
        format: 'TabSeparated',
        columns,
      });
    },
    rowbinary: async () => {
      const w = new ByteWriter(rows * 80);
      encoder.encode(w, records, []);
      await insertRowBinary(ch, table('rowbinary'), w.take(0));
    },
    sink: async () => {
      for (let i = 0; i < records.length; i += batch) await sinks.sink.write(records.slice(i, i + batch));
    },
    sink_concurrent: async () => {
      await Promise.all(
        partitions.map(async (part) => {
          for (let i = 0; i < part.length; i += batch) await sinks.sink_concurrent.write(part.slice(i, i + batch));
        }),
      );
    },
  };
  const truncate = async (p: Path) => {
    await ch.command({ query: `TRUNCATE TABLE ${table(p)}` });
    await ch.command({ query: `TRUNCATE TABLE ${db}.\`.inner.t_${p}_1m_agg\`` });
  };
  try {
    for (const p of paths) await applySchema(ch, db, { dataset: ds.topic, table: `t_${p}` });
    await sinks.sink.connect();
    await sinks.sink_concurrent.connect();
    // pre-encoded bodies for the server-only measurement
    const bodies = (n: number) => {
      const out: Buffer[] = [];
      for (let i = 0; i < rows; i += n) {
        const w = new ByteWriter(n * 80);
        encoder.encode(w, records, [], i, Math.min(rows, i + n));
        out.push(w.take(0));
      }
      return out;
    };
    const oneBody = bodies(rows);
    const batchBodies = bodies(batch);

    const times: Record<string, number[]> = {};
    const order = Object.keys(run) as (keyof typeof run)[];
    for (let r = 0; r < rounds; r++) {
      // rotate the order so no path always runs first, or right after the same neighbour
      const rotated = [...order.slice(r % order.length), ...order.slice(0, r % order.length)];
      for (const p of rotated) {
        await truncate(p);
        (times[p] ??= []).push(await timed(run[p]));
      }
      for (const [name, bs] of [
        ['server, 1 insert', oneBody],
        [`server, ${batchBodies.length} inserts`, batchBodies],
      ] as const) {
        await truncate('server');
        (times[name] ??= []).push(
          await timed(async () => {
            for (const b of bs) await insertRowBinary(ch, table('server'), b);
          }),
        );
      }
    }
    const count = async (p: Path) =>
      (
        await (
          await ch.query({ query: `SELECT count() AS n FROM ${table(p)} FINAL`, format: 'JSONEachRow' })
        ).json<{ n: string }>()
      )[0]!.n;
    const best = (k: string) => Math.min(...times[k]!);
    const rate = (k: string) => Math.round((rows / best(k)) * 1000);
    const line = (label: string, k: string, extra = '') =>
      console.log(
        `${label.padEnd(44)} ${rate(k).toLocaleString('en').padStart(9)} rows/s   (${times[k]!.map((t) => t.toFixed(0)).join(' / ')} ms)${extra}`,
      );
    console.log(
      `rows ${rows}, sink writes of ${batch} records, best of ${rounds} rounds ` +
        `(rows stored: ${(await Promise.all(order.map(count))).join(', ')})`,
    );
    line('one large insert, JSONEachRow (client)', 'json');
    line('one large insert, TabSeparated (client)', 'tsv');
    line('one large insert, RowBinary (same bytes)', 'rowbinary');
    line('clickhouse sink, 1 writer', 'sink');
    line(`clickhouse sink, ${writers} writers`, 'sink_concurrent', '  (group commit)');
    line('server only: pre-encoded, 1 insert', 'server, 1 insert');
    line(`server only: pre-encoded, ${batchBodies.length} inserts`, `server, ${batchBodies.length} inserts`);
    const pct = (a: string, b: string) => `${((best(b) / best(a)) * 100).toFixed(0)}%`;
    const fastestClient = best('json') < best('tsv') ? 'json' : 'tsv';
    console.log(
      `sink / faster client insert (${fastestClient}), 1 writer   ${pct('sink', fastestClient)}  (target >= 80%)`,
    );
    console.log(`sink / faster client insert, ${writers} writers        ${pct('sink_concurrent', fastestClient)}`);
    console.log(`sink / RowBinary one insert, 1 writer      ${pct('sink', 'rowbinary')}`);
    console.log(`sink / RowBinary one insert, ${writers} writers     ${pct('sink_concurrent', 'rowbinary')}`);
    console.log(
      `server only, ${batchBodies.length} inserts / 1 insert          ${pct(`server, ${batchBodies.length} inserts`, 'server, 1 insert')}  (the cost of more inserts alone)`,
    );
  } finally {
    await sinks.sink.close();
    await sinks.sink_concurrent.close();
    await ch.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await ch.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
