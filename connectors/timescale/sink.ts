import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { Type } from '@sinclair/typebox';
import { OptiBidError, defineSink, endpointsFromEnv, systemClock } from '@optibid/runtime';
import type { Clock, Logger, Sink, StreamRecord } from '@optibid/runtime';
import { copyText } from './copy-text.js';
import { datasetIds, datasets, toRows } from './datasets.js';
import type { Cell, Dataset } from './datasets.js';
import { ident, migrate, useSchema } from './migrate.js';
import type { PartitioningMode } from './migrate.js';
import { classifyPgError } from './pg-errors.js';
import { RejectedRecordsError } from './rejected.js';

export const timescaleConfig = Type.Object(
  {
    dataset: Type.Union(
      datasetIds.map((id) => Type.Literal(id)),
      { description: "Which topic's records this sink stores; picks the table, its columns and natural key" },
    ),
    url: Type.Optional(
      Type.String({ description: 'PostgreSQL URL (default: OPTIBID_PG_URL, else the local service)', secret: true }),
    ),
    schema: Type.String({ default: 'public', description: 'Schema holding the tables' }),
    table: Type.Optional(
      Type.String({ description: "Table name override (default: the dataset's table, e.g. market_prices)" }),
    ),
    maxBatchRows: Type.Integer({
      minimum: 1,
      default: 20_000,
      description: 'Rows per COPY + upsert transaction; larger batches are split',
    }),
    poolSize: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'Connections in the pool' }),
    migrate: Type.Boolean({
      default: false,
      description: 'Apply pending migrations at connect (else run `optibid db migrate` first)',
    }),
    partitioning: Type.Union([Type.Literal('auto'), Type.Literal('timescaledb'), Type.Literal('native')], {
      default: 'auto',
      description:
        'With migrate: hypertables when the timescaledb extension is present (auto), or plain PostgreSQL range partitions (native)',
    }),
    retentionDays: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description: 'Drop chunks/partitions whose data is older than this many days (checked hourly)',
      }),
    ),
  },
  { additionalProperties: false },
);

export type TimescaleConfig = {
  dataset: string;
  url?: string;
  schema?: string;
  table?: string;
  maxBatchRows?: number;
  poolSize?: number;
  migrate?: boolean;
  partitioning?: 'auto' | 'timescaledb' | 'native';
  retentionDays?: number;
};

const retentionEveryMs = 3_600_000;

/** Drops chunks (hypertable) or partitions (native) of `table` that end at or before `cutoffMs`; returns how many. */
export async function applyRetention(
  client: pg.ClientBase,
  schema: string,
  table: string,
  cutoffMs: number,
): Promise<number> {
  await useSchema(client, schema);
  const r = await client.query<{ n: number }>('SELECT optibid_drop_before($1, $2) AS n', [table, new Date(cutoffMs)]);
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * Stores records of one dataset in PostgreSQL/TimescaleDB in one transaction per batch: a COPY straight
 * into the table when the batch's keys are new, else a COPY into a temporary staging table and an upsert
 * on the natural key, so replays never duplicate and `write` resolves only after COMMIT.
 */
export class TimescaleSink implements Sink {
  private pool: pg.Pool | undefined;
  private readonly ds: Dataset;
  private readonly table: string;
  private readonly schema: string;
  private readonly staging: string;
  private readonly staged = new WeakSet<pg.PoolClient>();
  private readonly knownPartitions = new Set<number>();
  private mode: PartitioningMode | undefined;
  private chunkMs = 0;
  private lastRetention = -Infinity;
  private readonly upsertSql: string;
  private readonly copySql: string;
  private readonly directCopySql: string;
  /** Batches left to write through staging + upsert before the direct COPY is tried again. */
  private skipDirect = 0;
  private directBackoff = 1;

  constructor(
    private readonly cfg: TimescaleConfig,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    const ds = datasets[cfg.dataset];
    if (!ds)
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `timescale: unknown dataset "${cfg.dataset}"; known: ${datasetIds.join(', ')}`,
      );
    this.ds = ds;
    this.table = cfg.table ?? ds.table;
    this.schema = cfg.schema ?? 'public';
    this.staging = `optibid_stage_${this.table}`;
    const cols = ds.columns.map((c) => ident(c.name)).join(', ');
    const keys = ds.columns.filter((c) => c.key).map((c) => ident(c.name));
    const rest = ds.columns.filter((c) => !c.key).map((c) => ident(c.name));
    const target = `${ident(this.schema)}.${ident(this.table)}`;
    this.copySql = `COPY ${ident(this.staging)} (${cols}) FROM STDIN`;
    this.directCopySql = `COPY ${target} (${cols}) FROM STDIN`;
    // A replay of an older record never overwrites a newer one; identical rows are not rewritten.
    this.upsertSql =
      `INSERT INTO ${target} AS t (${cols}) SELECT ${cols} FROM ${ident(this.staging)} ` +
      `ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${rest.map((c) => `${c} = EXCLUDED.${c}`).join(', ')} ` +
      `WHERE t.record_time <= EXCLUDED.record_time AND (${rest.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${rest.map((c) => `EXCLUDED.${c}`).join(', ')})`;
  }

  /** The partitioning the target table uses, once connected. */
  get partitioning(): PartitioningMode | undefined {
    return this.mode;
  }

  async connect(): Promise<void> {
    if (!this.pool) {
      const pool = new pg.Pool({
        connectionString: this.cfg.url ?? endpointsFromEnv(this.env).postgresUrl,
        max: this.cfg.poolSize ?? 2,
        connectionTimeoutMillis: 5000,
      });
      // Idle connections dropped by a restarting server must not crash the process.
      pool.on('error', (err) => this.logger.warn({ err: err.message }, 'timescale: idle connection lost'));
      this.pool = pool;
    }
    const client = await this.checkout();
    try {
      if (this.cfg.migrate) {
        await migrate(client, {
          schema: this.schema,
          partitioning: this.cfg.partitioning ?? 'auto',
          logger: this.logger,
        });
      }
      await useSchema(client, this.schema);
      const info = await client
        .query<{ mode: PartitioningMode; chunk_ms: string }>(
          'SELECT mode, (extract(epoch FROM chunk) * 1000)::bigint AS chunk_ms FROM optibid_time_partitioning WHERE table_name = $1',
          [this.table],
        )
        .catch((err) => {
          if ((err as { code?: string }).code === '42P01') return { rows: [] };
          throw err;
        });
      const row = info.rows[0];
      if (!row) {
        throw new OptiBidError(
          'OPTIBID_ERR_CONFIG',
          `timescale: table ${this.schema}.${this.table} is not set up; run \`optibid db migrate\` (or set migrate: true)`,
        );
      }
      if (this.mode === undefined) {
        this.logger.info(
          { table: `${this.schema}.${this.table}`, partitioning: row.mode },
          row.mode === 'timescaledb'
            ? 'timescale: writing to a TimescaleDB hypertable'
            : 'timescale: timescaledb extension not in use; writing to a plain PostgreSQL table partitioned by time',
        );
      }
      this.mode = row.mode;
      this.chunkMs = Number(row.chunk_ms);
      client.release();
    } catch (err) {
      client.release(err instanceof Error ? err : true);
      throw classifyPgError(err, 'timescale connect');
    }
  }

  private async checkout(): Promise<pg.PoolClient> {
    if (!this.pool) throw new OptiBidError('OPTIBID_ERR_USAGE', 'timescale: write before connect');
    try {
      return await this.pool.connect();
    } catch (err) {
      throw classifyPgError(err, 'timescale');
    }
  }

  async write(records: StreamRecord[]): Promise<void> {
    const { rows, rejected } = toRows(this.ds, records);
    const max = this.cfg.maxBatchRows ?? 20_000;
    for (let i = 0; i < rows.length; i += max) await this.writeRows(rows.slice(i, i + max));
    if (this.cfg.retentionDays !== undefined && this.clock.now() - this.lastRetention >= retentionEveryMs) {
      // The batch is stored; a failed retention pass is retried at the next write, never dead-letters data.
      await this.retention().catch((err) =>
        this.logger.warn({ err: (err as Error).message }, 'timescale: retention failed'),
      );
    }
    if (rejected.length > 0)
      throw new RejectedRecordsError(rejected, rows.length, `timescale ${this.schema}.${this.table}`);
  }

  private async writeRows(rows: Cell[][]): Promise<void> {
    if (rows.length === 0) return;
    const client = await this.checkout();
    let inTx = false;
    try {
      if (!this.staged.has(client)) {
        await useSchema(client, this.schema);
        await client.query(
          `CREATE TEMP TABLE IF NOT EXISTS ${ident(this.staging)} (LIKE ${ident(this.schema)}.${ident(this.table)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
        );
        this.staged.add(client);
      }
      if (this.mode === 'native') await this.ensurePartitions(client, rows);
      const text = copyText(this.ds.columns, rows);
      await client.query('BEGIN');
      inTx = true;
      if (await this.tryDirectCopy(client, text)) {
        await client.query('COMMIT');
      } else {
        await pipeline(Readable.from([text]), client.query(pgCopy.from(this.copySql)));
        await client.query(this.upsertSql);
        await client.query('COMMIT');
      }
      inTx = false;
      client.release();
    } catch (err) {
      if (inTx) await client.query('ROLLBACK').catch(() => undefined);
      client.release(err instanceof Error ? err : true);
      throw classifyPgError(err, `timescale ${this.schema}.${this.table}`);
    }
  }

  /**
   * The fast path: when none of the batch's keys exist yet (new data, the common case), a plain COPY
   * into the table is the whole write. A unique violation rolls back to a savepoint and the batch takes
   * the staging + upsert path; after conflicts (a replay) the fast path is skipped for a growing
   * number of batches, so replays do not pay for failed COPYs.
   */
  private async tryDirectCopy(client: pg.PoolClient, text: string): Promise<boolean> {
    if (this.skipDirect > 0) {
      this.skipDirect--;
      return false;
    }
    await client.query('SAVEPOINT optibid_direct');
    try {
      await pipeline(Readable.from([text]), client.query(pgCopy.from(this.directCopySql)));
      await client.query('RELEASE SAVEPOINT optibid_direct');
      this.directBackoff = 1;
      return true;
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      await client.query('ROLLBACK TO SAVEPOINT optibid_direct');
      this.skipDirect = this.directBackoff;
      this.directBackoff = Math.min(this.directBackoff * 2, 64);
      return false;
    }
  }

  /** Native partitioning has no automatic chunks: create the partitions this batch needs first. */
  private async ensurePartitions(client: pg.PoolClient, rows: Cell[][]): Promise<void> {
    const idx = this.ds.columns.findIndex((c) => c.name === this.ds.timeColumn);
    const missing = new Set<number>();
    for (const row of rows) {
      const start = Math.floor((row[idx] as number) / this.chunkMs) * this.chunkMs;
      if (!this.knownPartitions.has(start)) missing.add(start);
    }
    for (const start of missing) {
      await client.query('SELECT optibid_ensure_partition($1, $2)', [this.table, new Date(start)]);
      this.knownPartitions.add(start);
    }
  }

  /** Drops data older than `retentionDays`; returns the number of chunks/partitions dropped. */
  async retention(): Promise<number> {
    if (this.cfg.retentionDays === undefined) return 0;
    const client = await this.checkout();
    try {
      const cutoff = this.clock.now() - this.cfg.retentionDays * 86_400_000;
      const dropped = await applyRetention(client, this.schema, this.table, cutoff);
      this.lastRetention = this.clock.now();
      if (dropped > 0) {
        this.knownPartitions.clear();
        this.logger.info(
          { table: `${this.schema}.${this.table}`, dropped, cutoff: new Date(cutoff).toISOString() },
          'timescale: retention dropped old chunks',
        );
      }
      client.release();
      return dropped;
    } catch (err) {
      client.release(err instanceof Error ? err : true);
      throw classifyPgError(err, 'timescale retention');
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }
}

/** The `timescale` sink: records of one dataset upserted into TimescaleDB (or plain PostgreSQL) on their natural key. */
export const timescaleSink = defineSink({
  name: 'timescale',
  status: 'beta',
  summary:
    'Stores records in TimescaleDB hypertables (or partitioned PostgreSQL) with COPY + upsert on the natural key',
  config: timescaleConfig,
  create: (config, ctx) => new TimescaleSink(config as TimescaleConfig, ctx.logger, ctx.clock, ctx.env),
});
