import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { OptiBidError } from '@optibid/runtime';
import { datasets } from '../timescale/datasets.js';
import type { ColumnSpec, Dataset } from '../timescale/datasets.js';

/*
 * ClickHouse DDL for the sink tables, written for both ClickHouse 18.16 (the Debian 12 package the
 * local services use: no DateTime64, no LowCardinality, old MergeTree syntax limits) and current releases:
 * timestamps are Int64 milliseconds (`<name>_ms`) with a DateTime column materialized from the time
 * column for partitioning and Grafana; keys are never Nullable.
 */

/** The ClickHouse column name holding a dataset column (timestamps carry an `_ms` suffix). */
export function chColumn(col: ColumnSpec): string {
  return col.type === 'timestamp' ? `${col.name}_ms` : col.name;
}

function chType(col: ColumnSpec): string {
  const base = { text: 'String', int: 'Int32', double: 'Float64', timestamp: 'Int64', json: 'String' }[col.type];
  return col.key || col.required ? base : `Nullable(${base})`;
}

/** `identifier` quoted with backticks. */
export function q(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new OptiBidError('OPTIBID_ERR_CONFIG', `clickhouse: "${name}" is not a valid identifier`);
  return `\`${name}\``;
}

/** CREATE TABLE for a dataset: ReplacingMergeTree on the natural key, versioned by the record's event time. */
export function tableDdl(ds: Dataset, database: string, table = ds.table): string {
  const cols = ds.columns.map((c) => `  ${q(chColumn(c))} ${chType(c)}`);
  const time = ds.columns.find((c) => c.name === ds.timeColumn)!;
  cols.push(`  ${q(ds.timeColumn)} DateTime MATERIALIZED toDateTime(intDiv(${q(chColumn(time))}, 1000))`);
  const key = ds.columns.filter((c) => c.key).map((c) => q(chColumn(c)));
  return (
    `CREATE TABLE IF NOT EXISTS ${q(database)}.${q(table)} (\n${cols.join(',\n')}\n) ` +
    `ENGINE = ReplacingMergeTree(record_time_ms) PARTITION BY toYYYYMM(${q(ds.timeColumn)}) ORDER BY (${key.join(', ')})`
  );
}

/** A rollup: a materialized view filled on insert and a plain view that finishes the aggregation. */
export interface Rollup {
  /** The dataset table it reads. */
  source: string;
  /** Suffix of its names: `<table><suffix>_agg` is the materialized view (partial states), `<table><suffix>` the view to query. */
  suffix: string;
  ddl(database: string, sourceTable: string, mv: string, view: string): string[];
}

/**
 * Rollups use only aggregate states that a replayed insert cannot change (min, max, argMin/argMax,
 * distinct sets), because a materialized view sees every insert block, duplicates included.
 */
export const rollups: Rollup[] = [
  {
    source: 'market_prices',
    suffix: '_ohlc_1h',
    ddl: (db, src, mv, view) => [
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${q(db)}.${q(mv)} ` +
        `ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMM(hour) ORDER BY (market, area, product, hour) AS ` +
        `SELECT market, area, product, toStartOfHour(delivery_start) AS hour, ` +
        `argMinState(price, delivery_start_ms) AS open_state, maxState(price) AS high_state, minState(price) AS low_state, ` +
        `argMaxState(price, delivery_start_ms) AS close_state, groupUniqArrayState(delivery_start_ms) AS intervals_state, anyState(currency) AS currency_state ` +
        `FROM ${q(db)}.${q(src)} GROUP BY market, area, product, hour`,
      `CREATE VIEW IF NOT EXISTS ${q(db)}.${q(view)} AS ` +
        `SELECT market, area, product, hour, argMinMerge(open_state) AS open, maxMerge(high_state) AS high, minMerge(low_state) AS low, ` +
        `argMaxMerge(close_state) AS close, length(groupUniqArrayMerge(intervals_state)) AS intervals, anyMerge(currency_state) AS currency ` +
        `FROM ${q(db)}.${q(mv)} GROUP BY market, area, product, hour`,
    ],
  },
  {
    source: 'telemetry_readings',
    suffix: '_1m',
    ddl: (db, src, mv, view) => [
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${q(db)}.${q(mv)} ` +
        `ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (asset_id, metric, minute) AS ` +
        `SELECT asset_id, metric, toStartOfMinute(observed_at) AS minute, ` +
        `groupUniqArrayState(tuple(observed_at_ms, value)) AS readings_state, minState(value) AS min_state, maxState(value) AS max_state, ` +
        `argMaxState(value, observed_at_ms) AS last_state ` +
        `FROM ${q(db)}.${q(src)} GROUP BY asset_id, metric, minute`,
      // count and mean come from the set of distinct (time, value) readings, so replays do not skew them
      `CREATE VIEW IF NOT EXISTS ${q(db)}.${q(view)} AS ` +
        `SELECT asset_id, metric, minute, length(groupUniqArrayMerge(readings_state)) AS readings, ` +
        `arrayReduce('avg', arrayMap(r -> tupleElement(r, 2), groupUniqArrayMerge(readings_state))) AS avg_value, ` +
        `minMerge(min_state) AS min_value, maxMerge(max_state) AS max_value, argMaxMerge(last_state) AS last_value ` +
        `FROM ${q(db)}.${q(mv)} GROUP BY asset_id, metric, minute`,
    ],
  },
];

/** Every statement that creates the database, the dataset tables and the rollups (all IF NOT EXISTS). */
export function schemaStatements(
  database: string,
  only?: { dataset: string; table?: string },
): { name: string; sql: string }[] {
  const out: { name: string; sql: string }[] = [
    { name: database, sql: `CREATE DATABASE IF NOT EXISTS ${q(database)}` },
  ];
  const chosen = only ? [datasets[only.dataset]!] : Object.values(datasets);
  for (const ds of chosen) {
    const table = only?.table ?? ds.table;
    out.push({ name: table, sql: tableDdl(ds, database, table) });
    for (const r of rollups.filter((x) => x.source === ds.table)) {
      const mv = `${table}${r.suffix}_agg`;
      const view = `${table}${r.suffix}`;
      const [mvSql, viewSql] = r.ddl(database, table, mv, view);
      out.push({ name: mv, sql: mvSql! }, { name: view, sql: viewSql! });
    }
  }
  return out;
}

/** Creates what is missing; returns the names of the objects created. */
export async function applySchema(
  client: ClickHouseClient,
  database: string,
  only?: { dataset: string; table?: string },
): Promise<string[]> {
  q(database);
  const statements = schemaStatements(database, only);
  await client.command({ query: statements[0]!.sql });
  const existing = new Set(
    // ClickHouse 18.16 has no query parameters; the name passed q()'s identifier check
    (
      await (
        await client.query({
          query: `SELECT name FROM system.tables WHERE database = '${database}'`,
          format: 'JSONEachRow',
        })
      ).json<{ name: string }>()
    ).map((r) => r.name),
  );
  const created: string[] = [];
  for (const s of statements.slice(1)) {
    if (existing.has(s.name)) continue;
    await client.command({ query: s.sql });
    created.push(s.name);
  }
  return created;
}

/** `optibid db migrate` for ClickHouse: connects, creates what is missing, disconnects. */
export async function migrateClickHouse(opts: {
  url: string;
  database: string;
  username?: string;
  password?: string;
}): Promise<string[]> {
  q(opts.database);
  const client = createClient({
    url: opts.url,
    username: opts.username,
    password: opts.password,
    log: { level: ClickHouseLogLevel.OFF },
  });
  try {
    return await applySchema(client, opts.database);
  } finally {
    await client.close();
  }
}
