import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { SinkCore, endpointsFromEnv, systemClock } from '@optibid/runtime';
import type { Logger, StreamRecord } from '@optibid/runtime';
import { SinkAccumulator, batchDeadLetters } from '@optibid/runtime/kafka/sink-accumulator.js';
import type { TelemetryReading } from '@optibid/schemas';
import { ByteWriter, rowBinaryEncoder } from '@optibid/connectors/clickhouse/rowbinary.js';
import { applySchema } from '@optibid/connectors/clickhouse/schema.js';
import { ClickHouseSink, clickhouseBatching } from '@optibid/connectors/clickhouse/sink.js';
import { datasets } from '@optibid/connectors/timescale/datasets.js';
import { telemetryRecords } from '@optibid/connectors/timescale/test-support.js';

/*
 * ClickHouse sink vs one large @clickhouse/client insert, side by side on the same rows in one run, each
 * into an empty table of the same definition (with its 1-minute rollup view). Raw paths, all one INSERT
 * of every row, encoding included in the time:
 *   - JSONEachRow: row objects built by hand, serialised by the client (`insert`);
 *   - TabSeparated: one text body built by hand (`insert`);
 *   - RowBinary: one buffer from the sink's own row encoder in one pass (`exec`): the same bytes the
 *     sink sends, so sink vs this raw path is the cost of writing in several batches alone.
 * Sink paths:
 *   - runtime: the sink as the Kafka transports drive it with its defaults: records arrive in fetched
 *     chunks (BENCH_FETCH, default 12,500; an 8 MiB fetch of telemetry holds ~100,000) and go through the
 *     transports' own SinkAccumulator with the sink's declared batching (100,000 records / 1 s), then
 *     SinkCore and the sink; one write in flight while the next batch fills, offsets "committed" after it;
 *   - direct: `write` per BENCH_BATCH records (default 10,000), one at a time: what the runtime did
 *     before it batched for sinks (a write per 1 MiB fetch).
 * After one uncounted warm-up pass, every round runs every path, in a rotated order; ratios are taken per round (same round, same load)
 * and reported as the median and range over the rounds.
 */

const rows = Number(process.env.BENCH_ROWS ?? 200_000);
const fetch = Number(process.env.BENCH_FETCH ?? 12_500);
const batch = Number(process.env.BENCH_BATCH ?? 10_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function run(): Promise<void> {
  const url = endpointsFromEnv().clickhouseUrl;
  const id = Date.now().toString(36);
  const db = `bench_ch_${id}`;
  const ch = createClient({ url });
  // as fetched from one partition: offsets in order
  const records = telemetryRecords(rows).map((r, i) => ({ ...r, partition: 0, offset: String(i) }));
  const encoder = rowBinaryEncoder(ds);
  // each path writes into its own table of the same definition
  const paths = ['json', 'tsv', 'rowbinary', 'runtime', 'direct'] as const;
  type Path = (typeof paths)[number];
  const table = (p: Path) => `${db}.t_${p}`;
  const abort = new AbortController();
  const core = (p: Path) =>
    new SinkCore(`clickhouse-${p}`, new ClickHouseSink({ dataset: ds.topic, database: db, table: `t_${p}` }, quiet), {
      dlqTopic: 'bench.dlq',
      logger: quiet,
      signal: abort.signal,
    });
  const sinks = { runtime: core('runtime'), direct: core('direct') };
  const batching = clickhouseBatching({});
  let writes = 0;
  let committed = '';
  const run: Record<Path, () => Promise<void>> = {
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
    runtime: async () => {
      // the same code path as the Kafka transports' sink consumers, minus the broker
      writes = 0;
      const acc = new SinkAccumulator({
        ...batching,
        clock: systemClock,
        write: async (b) => {
          writes++;
          const dead = batchDeadLetters(b, await sinks.runtime.write(b.records));
          if (dead.length) throw new Error(`${dead.length} records dead-lettered`);
        },
        commit: async (offsets) => {
          committed = offsets.map((o) => o.offset).join(',');
        },
      });
      for (let i = 0; i < records.length; i += fetch) {
        const chunk = records.slice(i, i + fetch);
        await acc.add({
          topic: ds.topic,
          partition: 0,
          records: chunk,
          deadLetters: [],
          raw: new Map(),
          nextOffset: String(i + chunk.length),
        });
      }
      // the stream ends here: the time bound (or a shutdown) writes the rest; flush stands for it
      await acc.flush();
    },
    direct: async () => {
      for (let i = 0; i < records.length; i += batch) {
        const dead = await sinks.direct.write(records.slice(i, i + batch));
        if (dead.length) throw new Error(`${dead.length} records dead-lettered`);
      }
    },
  };
  const truncate = async (p: Path) => {
    await ch.command({ query: `TRUNCATE TABLE ${table(p)}` });
    await ch.command({ query: `TRUNCATE TABLE ${db}.\`.inner.t_${p}_1m_agg\`` });
  };
  try {
    for (const p of paths) await applySchema(ch, db, { dataset: ds.topic, table: `t_${p}` });
    await sinks.runtime.connect();
    await sinks.direct.connect();
    const times: Record<Path, number[]> = { json: [], tsv: [], rowbinary: [], runtime: [], direct: [] };
    const ratios = { client: [] as number[], rowbinary: [] as number[], direct: [] as number[] };
    // one warm-up pass (JIT, connections, server caches), not counted
    for (const p of paths) {
      await truncate(p);
      await run[p]();
    }
    for (let r = 0; r < rounds; r++) {
      // rotate the order so no path always runs first, or right after the same neighbour
      const rotated = [...paths.slice(r % paths.length), ...paths.slice(0, r % paths.length)];
      for (const p of rotated) {
        await truncate(p);
        times[p].push(await timed(run[p]));
      }
      const t = (p: Path) => times[p][r]!;
      ratios.client.push(Math.min(t('json'), t('tsv')) / t('runtime'));
      ratios.rowbinary.push(t('rowbinary') / t('runtime'));
      ratios.direct.push(t('direct') / t('runtime'));
      console.log(
        `round ${r + 1}: ${rotated.join(' > ')}: ` +
          paths.map((p) => `${p} ${t(p).toFixed(0)} ms`).join(', ') +
          `; runtime / faster client insert ${(ratios.client[r]! * 100).toFixed(0)}%` +
          `, / RowBinary insert ${(ratios.rowbinary[r]! * 100).toFixed(0)}%`,
      );
    }
    const count = async (p: Path) =>
      (
        await (
          await ch.query({ query: `SELECT count() AS n FROM ${table(p)} FINAL`, format: 'JSONEachRow' })
        ).json<{ n: string }>()
      )[0]!.n;
    const rate = (p: Path) => Math.round((rows / median(times[p])) * 1000);
    console.log(
      `rows ${rows}; runtime path: fetched chunks of ${fetch}, batching ${batching.maxRecords} records / ` +
        `${batching.maxWaitMs} ms, ${writes} writes per round, last commit at offset ${committed}; ` +
        `direct: writes of ${batch}; ${rounds} rounds (rows stored: ${(await Promise.all(paths.map(count))).join(', ')})`,
    );
    const line = (label: string, p: Path) =>
      console.log(
        `${label.padEnd(48)} ${rate(p).toLocaleString('en').padStart(9)} rows/s median   (${times[p].map((x) => x.toFixed(0)).join(' / ')} ms)`,
      );
    line('one large insert, JSONEachRow (client insert)', 'json');
    line('one large insert, TabSeparated (client insert)', 'tsv');
    line('one large insert, RowBinary (same bytes, exec)', 'rowbinary');
    line('clickhouse sink, as the runtime drives it', 'runtime');
    line(`clickhouse sink, direct writes of ${batch}`, 'direct');
    const pct = (xs: number[]) =>
      `median ${(median(xs) * 100).toFixed(0)}%  (min ${(Math.min(...xs) * 100).toFixed(0)}%, max ${(Math.max(...xs) * 100).toFixed(0)}%; rounds: ${xs.map((x) => (x * 100).toFixed(0)).join(' ')})`;
    console.log(`runtime sink / faster client insert   ${pct(ratios.client)}  (target >= 80%)`);
    console.log(`runtime sink / RowBinary one insert   ${pct(ratios.rowbinary)}`);
    console.log(`runtime sink / direct ${batch}-record writes: speed-up ${pct(ratios.direct)}`);
  } finally {
    abort.abort();
    await sinks.runtime.close();
    await sinks.direct.close();
    await ch.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await ch.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
