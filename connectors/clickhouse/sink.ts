import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { Type } from '@sinclair/typebox';
import { NotConnected, OptiBidError, defineSink, endpointsFromEnv } from '@optibid/runtime';
import type { Logger, Sink, StreamRecord } from '@optibid/runtime';
import { datasetIds, datasets } from '../timescale/datasets.js';
import type { Dataset } from '../timescale/datasets.js';
import { RejectedRecordsError } from '../timescale/rejected.js';
import { Batcher } from './batcher.js';
import type { SetTimer } from './batcher.js';
import { applySchema, chColumn, q } from './schema.js';
import { recordsToTsv } from './tsv.js';

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
  if (networkCodes.has(String(code)) || transientServerCodes.has(String(code))) return true;
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
 * Stores records of one dataset in a ClickHouse ReplacingMergeTree keyed by the natural key (query with
 * FINAL, or the rollup views, for one row per key). Inserts are TabSeparated, batched by size and time;
 * `write` resolves once the insert carrying its rows was acknowledged.
 */
export class ClickHouseSink implements Sink {
  private client: ClickHouseClient | undefined;
  private readonly ds: Dataset;
  private readonly table: string;
  private readonly database: string;
  private readonly batcher: Batcher<string>;
  private readonly columns: string[];
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
    q(this.table);
    q(this.database);
    this.columns = ds.columns.map(chColumn);
    this.batcher = new Batcher({
      maxRows: cfg.maxBatchRows ?? 100_000,
      lingerMs: cfg.lingerMs ?? 0,
      setTimer,
      send: (rows) => this.insert(rows),
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

  private async insert(lines: string[]): Promise<void> {
    if (!this.client) throw new OptiBidError('OPTIBID_ERR_USAGE', 'clickhouse: write before connect');
    try {
      await this.client.insert({
        table: `${q(this.database)}.${q(this.table)}`,
        values: Readable.from([lines.join('')], { objectMode: false }),
        format: 'TabSeparated',
        columns: this.columns as [string, ...string[]],
      });
    } catch (err) {
      throw classify(err, `clickhouse ${this.database}.${this.table}`);
    }
  }

  async write(records: StreamRecord[]): Promise<void> {
    // ReplacingMergeTree collapses duplicate keys itself: the batch is not deduplicated in JS
    const { lines, rejected } = recordsToTsv(this.ds, records);
    await this.batcher.add(lines);
    if (rejected.length > 0)
      throw new RejectedRecordsError(rejected, lines.length, `clickhouse ${this.database}.${this.table}`);
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
});
