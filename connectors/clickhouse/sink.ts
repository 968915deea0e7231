import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { Type } from '@sinclair/typebox';
import { NotConnected, OptiBidError, defineSink, endpointsFromEnv } from '@optibid/runtime';
import type { Logger, Sink, SinkBatching, StreamRecord } from '@optibid/runtime';
import { datasetIds, datasets } from '../timescale/datasets.js';
import type { Dataset, RejectedRecord } from '../timescale/datasets.js';
import { RejectedRecordsError } from '../timescale/rejected.js';
import { Batcher } from './batcher.js';
import type { SetTimer } from './batcher.js';
import { ByteWriter, rowBinaryEncoder } from './rowbinary.js';
import type { RowBinaryEncoder } from './rowbinary.js';
import { applySchema, chColumn, q } from './schema.js';

export const clickhouseConfig = Type.Object(
  {
    dataset: Type.Union(
      datasetIds.map((id) => Type.Literal(id)),
      { description: "Which topic's records this sink stores; picks the table, its columns and natural key" },
    ),
    url: Type.Optional(
      Type.String({ description: 'ClickHouse HTTP URL (default: OPTIBID_CLICKHOUSE_URL, else the local service)' }),
    ),
    username: Type.Optional(Type.String({ description: 'ClickHouse user (default: default)' })),
    password: Type.Optional(Type.String({ description: 'ClickHouse password', secret: true })),
    database: Type.String({ default: 'optibid', description: 'Database holding the tables' }),
    table: Type.Optional(
      Type.String({ description: "Table name override (default: the dataset's table, e.g. market_prices)" }),
    ),
    maxBatchRows: Type.Integer({
      minimum: 1,
      default: 100_000,
      description: 'Most rows one INSERT carries; a full buffer is sent at once',
    }),
    maxWaitMs: Type.Integer({
      minimum: 0,
      default: 1000,
      description:
        'Kafka transports: how long fetched records may wait for a batch of maxBatchRows to fill before a partial batch is written',
    }),
    lingerMs: Type.Integer({
      minimum: 0,
      default: 0,
      description:
        'How long rows wait for more before a partial batch is sent; 0 sends as soon as the previous insert finished (rows that arrive meanwhile share the next insert)',
    }),
    createTables: Type.Boolean({
      default: true,
      description: 'Create the table and its rollup views at connect when missing',
    }),
  },
  { additionalProperties: false },
);

export type ClickHouseSinkConfig = {
  dataset: string;
  url?: string;
  username?: string;
  password?: string;
  database?: string;
  table?: string;
  maxBatchRows?: number;
  maxWaitMs?: number;
  lingerMs?: number;
  createTables?: boolean;
};

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);
/** ClickHouse error codes that clear by themselves: too many parts, read-only replica, timeouts, memory, network. */
const transientServerCodes = new Set(['252', '242', '159', '209', '210', '241', '425', '202']);

/** The server's error code: `code` as the client parses it, else from the raw answer ("Code: 252, e.displayText() = …"). */
function serverCode(code: unknown, message: unknown): string | undefined {
  if (code !== undefined && code !== null) return String(code);
  const m = typeof message === 'string' ? /^Code: (\d+)[,.]/.exec(message) : null;
  return m?.[1];
}

/** True when `err` means ClickHouse is unreachable or temporarily refusing writes (retrying helps). */
export function isClickHouseUnavailable(err: unknown, depth = 0): boolean {
  // duck-typed: errors raised by Node's net module may come from another realm (vm contexts, Jest)
  if (typeof err !== 'object' || err === null || depth > 5) return false;
  const { code, cause, errors, message } = err as {
    code?: unknown;
    cause?: unknown;
    errors?: unknown;
    message?: unknown;
  };
  if (networkCodes.has(String(code))) return true;
  const server = serverCode(code, message);
  if (server !== undefined && transientServerCodes.has(server)) return true;
  if (cause !== undefined && cause !== err && isClickHouseUnavailable(cause, depth + 1)) return true;
  if (Array.isArray(errors) && errors.some((e) => isClickHouseUnavailable(e, depth + 1))) return true;
  return (
    typeof message === 'string' &&
    /ECONNREFUSED|ECONNRESET|socket hang up|Timeout error|other side closed|EPIPE/i.test(message)
  );
}

function classify(err: unknown, what: string): unknown {
  if (err instanceof NotConnected) return err;
  return isClickHouseUnavailable(err)
    ? new NotConnected(`${what}: ClickHouse unavailable (${String((err as { message?: unknown }).message)})`, {
        cause: err,
      })
    : err;
}

/**
 * A run of one write's records waiting for an insert. Its rows are encoded while the insert streams
 * (`encoded` unset), or up front when the write arrived while another insert was running.
 */
interface Slice {
  records: readonly StreamRecord[];
  from: number;
  to: number;
  /** Records of this slice that did not fit, filled while encoding. */
  rejected: RejectedRecord[];
  /** Rows encoded so far. */
  rows: number;
  /** RowBinary chunks encoded ahead of the insert. */
  encoded?: Buffer[];
}

/** Rows encoded per step of an insert body (about 0.3 MB of telemetry rows): small enough to overlap. */
const CHUNK_ROWS = 4096;

/**
 * Stores records of one dataset in a ClickHouse ReplacingMergeTree keyed by the natural key (query with
 * FINAL, or the rollup views, for one row per key). Rows go as RowBinary, encoded by a per-column
 * encoder compiled once per dataset, and stream to the server while they are encoded; inserts are
 * batched by size and time, and `write` resolves once the insert carrying its rows was acknowledged.
 */
export class ClickHouseSink implements Sink {
  private client: ClickHouseClient | undefined;
  private readonly ds: Dataset;
  private readonly table: string;
  private readonly database: string;
  private readonly batcher: Batcher<Slice>;
  private readonly encoder: RowBinaryEncoder;
  private readonly insertSql: string;
  private readonly maxBatchRows: number;
  private schemaReady = false;

  constructor(
    private readonly cfg: ClickHouseSinkConfig,
    private readonly logger: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
    setTimer?: SetTimer,
  ) {
    const ds = datasets[cfg.dataset];
    if (!ds)
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `clickhouse: unknown dataset "${cfg.dataset}"; known: ${datasetIds.join(', ')}`,
      );
    this.ds = ds;
    this.table = cfg.table ?? ds.table;
    this.database = cfg.database ?? 'optibid';
    this.encoder = rowBinaryEncoder(ds);
    this.insertSql =
      `INSERT INTO ${q(this.database)}.${q(this.table)} (${ds.columns.map((c) => q(chColumn(c))).join(', ')}) ` +
      'FORMAT RowBinary';
    this.maxBatchRows = cfg.maxBatchRows ?? 100_000;
    this.batcher = new Batcher<Slice>({
      maxRows: this.maxBatchRows,
      lingerMs: cfg.lingerMs ?? 0,
      setTimer,
      weight: (slice) => slice.to - slice.from,
      send: (slices) => this.insert(slices),
    });
  }

  async connect(): Promise<void> {
    this.client ??= createClient({
      url: this.cfg.url ?? endpointsFromEnv(this.env).clickhouseUrl,
      username: this.cfg.username,
      password: this.cfg.password,
      request_timeout: 60_000,
      // errors reach the runtime (and its logger) through write/connect
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      const ok = await this.client.ping();
      if (!ok.success) throw ok.error;
      if (this.cfg.createTables !== false && !this.schemaReady) {
        const created = await applySchema(this.client, this.database, { dataset: this.ds.topic, table: this.table });
        if (created.length > 0) this.logger.info({ database: this.database, created }, 'clickhouse: created tables');
        this.schemaReady = true;
      }
    } catch (err) {
      throw classify(err, 'clickhouse connect');
    }
  }

  /**
   * The insert body: RowBinary chunks of the slices in order. Rows not encoded yet are encoded when the
   * connection asks for more, so the server parses chunk k while chunk k+1 is being encoded.
   */
  private body(slices: Slice[]): Readable {
    const encoder = this.encoder;
    let s = 0;
    let at = slices[0]!.from;
    let w: ByteWriter | undefined;
    return new Readable({
      read() {
        while (s < slices.length) {
          const slice = slices[s]!;
          if (slice.encoded) {
            const chunks = slice.encoded;
            s++;
            at = slices[s]?.from ?? 0;
            for (const c of chunks) this.push(c);
            return;
          }
          w ??= new ByteWriter(256 * 1024);
          const end = Math.min(slice.to, at + CHUNK_ROWS);
          slice.rows += encoder.encode(w, slice.records, slice.rejected, at, end);
          at = end;
          if (at >= slice.to) {
            s++;
            at = slices[s]?.from ?? 0;
          }
          if (w.pos >= 128 * 1024) {
            this.push(w.take());
            return;
          }
        }
        if (w !== undefined && w.pos > 0) this.push(w.take(0));
        this.push(null);
      },
    });
  }

  private async insert(slices: Slice[]): Promise<void> {
    const client = this.client;
    if (!client) throw new OptiBidError('OPTIBID_ERR_USAGE', 'clickhouse: write before connect');
    const body = this.body(slices);
    try {
      // `insert` does not take RowBinary; `exec` sends the same INSERT with the body as a stream
      const res = await client.exec({ query: this.insertSql, values: body });
      for await (const _ of res.stream); // an INSERT answers with an empty body; reading it frees the socket
    } catch (err) {
      body.destroy();
      throw classify(err, `clickhouse ${this.database}.${this.table}`);
    }
  }

  async write(records: StreamRecord[]): Promise<void> {
    // ReplacingMergeTree collapses duplicate keys itself: the batch is not deduplicated in JS
    const slices: Slice[] = [];
    for (let from = 0; from < records.length; from += this.maxBatchRows)
      slices.push({ records, from, to: Math.min(records.length, from + this.maxBatchRows), rejected: [], rows: 0 });
    // While an insert runs, the JS thread would wait anyway: encode now, so the next insert only sends
    if (this.batcher.busy) for (const slice of slices) this.preEncode(slice);
    await this.batcher.add(slices);
    const rejected = slices.flatMap((s) => s.rejected);
    if (rejected.length > 0) {
      const written = slices.reduce((n, s) => n + s.rows, 0);
      throw new RejectedRecordsError(rejected, written, `clickhouse ${this.database}.${this.table}`);
    }
  }

  private preEncode(slice: Slice): void {
    const chunks: Buffer[] = [];
    const w = new ByteWriter(256 * 1024);
    for (let at = slice.from; at < slice.to; at += CHUNK_ROWS) {
      slice.rows += this.encoder.encode(w, slice.records, slice.rejected, at, Math.min(slice.to, at + CHUNK_ROWS));
      if (w.pos >= 128 * 1024) chunks.push(w.take());
    }
    if (w.pos > 0) chunks.push(w.take(0));
    slice.encoded = chunks;
  }

  async close(): Promise<void> {
    await this.batcher.flush().catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}

/** The `clickhouse` sink: records of one dataset into a ReplacingMergeTree with hourly/minute rollups. */
export const clickhouseSink = defineSink({
  name: 'clickhouse',
  status: 'beta',
  summary:
    'Stores records in ClickHouse ReplacingMergeTree tables keyed by the natural key, with OHLC and 1-minute rollups',
  config: clickhouseConfig,
  create: (config, ctx) => new ClickHouseSink(config as ClickHouseSinkConfig, ctx.logger, ctx.env),
  // Every INSERT writes a new part (plus a rollup part): the runtime hands over batches of maxBatchRows.
  batching: (config) => clickhouseBatching(config as ClickHouseSinkConfig),
});

/** The batches the Kafka transports accumulate for this sink: `maxBatchRows` records, or what came within `maxWaitMs`. */
export function clickhouseBatching(config: Pick<ClickHouseSinkConfig, 'maxBatchRows' | 'maxWaitMs'>): SinkBatching {
  return { maxRecords: config.maxBatchRows ?? 100_000, maxWaitMs: config.maxWaitMs ?? 1000 };
}
