import type { Command } from 'commander';
import { Option } from 'commander';
import pg from 'pg';
import { OptiBidError, endpointsFromEnv } from '@optibid/runtime';
import { loadMigrations, migrateUrl, useSchema } from '@optibid/connectors/timescale/migrate.js';
import type { PartitioningChoice } from '@optibid/connectors/timescale/migrate.js';
import { migrateClickHouse } from '@optibid/connectors/clickhouse/schema.js';

interface MigrateOpts {
  target: 'all' | 'postgres' | 'clickhouse';
  url?: string;
  schema: string;
  partitioning: PartitioningChoice;
  clickhouseUrl?: string;
  database: string;
}

/** `optibid db migrate|status`: the sink tables in TimescaleDB/PostgreSQL and ClickHouse. */
export function registerDb(program: Command): void {
  const db = program
    .command('db')
    .description('Create and upgrade the tables the TimescaleDB and ClickHouse sinks write to')
    .addHelpText(
      'after',
      '\nMigrations live in connectors/timescale/migrations (NNNN_name.sql) and connectors/clickhouse/schema.ts.',
    );

  db.command('migrate')
    .description(
      'Apply pending migrations (idempotent: a second run changes nothing); tables become hypertables, or plain partitioned tables without TimescaleDB',
    )
    .addOption(
      new Option('--target <system>', 'which database to migrate')
        .choices(['all', 'postgres', 'clickhouse'])
        .default('all'),
    )
    .option('--url <url>', 'PostgreSQL URL (default: OPTIBID_PG_URL or the local service)')
    .option('--schema <name>', 'PostgreSQL schema for the tables (created when missing)', 'public')
    .addOption(
      new Option(
        '--partitioning <mode>',
        'auto: TimescaleDB when the extension is installed or can be created, else native range partitions',
      )
        .choices(['auto', 'timescaledb', 'native'])
        .default('auto'),
    )
    .option('--clickhouse-url <url>', 'ClickHouse HTTP URL (default: OPTIBID_CLICKHOUSE_URL or the local service)')
    .option('--database <name>', 'ClickHouse database (created when missing)', 'optibid')
    .action(async (opts: MigrateOpts) => {
      const endpoints = endpointsFromEnv();
      if (opts.target !== 'clickhouse') {
        const result = await migrateUrl(opts.url ?? endpoints.postgresUrl, {
          schema: opts.schema,
          partitioning: opts.partitioning,
        }).catch((err: unknown) => {
          throw err instanceof OptiBidError
            ? err
            : new OptiBidError('OPTIBID_ERR_NETWORK', `postgres: ${(err as Error).message}`, { cause: err });
        });
        console.log(
          `postgres: schema ${opts.schema}, partitioning ${result.mode}: ` +
            (result.applied.length ? `applied ${result.applied.map((m) => m.name).join(', ')}` : 'up to date') +
            ` (${result.skipped.length} already applied)`,
        );
      }
      if (opts.target !== 'postgres') {
        const created = await migrateClickHouse({
          url: opts.clickhouseUrl ?? endpoints.clickhouseUrl,
          database: opts.database,
        }).catch((err: unknown) => {
          throw err instanceof OptiBidError
            ? err
            : new OptiBidError('OPTIBID_ERR_NETWORK', `clickhouse: ${(err as Error).message}`, { cause: err });
        });
        console.log(
          `clickhouse: database ${opts.database}: ${created.length ? `created ${created.join(', ')}` : 'up to date'}`,
        );
      }
    });

  db.command('status')
    .description('List the PostgreSQL migrations shipped with OptiBid and whether each is applied')
    .option('--url <url>', 'PostgreSQL URL (default: OPTIBID_PG_URL or the local service)')
    .option('--schema <name>', 'PostgreSQL schema holding the tables', 'public')
    .action(async (opts: { url?: string; schema: string }) => {
      const client = new pg.Client({ connectionString: opts.url ?? endpointsFromEnv().postgresUrl });
      await client.connect().catch((err: Error) => {
        throw new OptiBidError('OPTIBID_ERR_NETWORK', `postgres: ${err.message}`, { cause: err });
      });
      try {
        await useSchema(client, opts.schema);
        const applied = await client
          .query<{ version: number; partitioning: string; applied_at: Date }>(
            'SELECT version, partitioning, applied_at FROM optibid_schema_migrations',
          )
          .then((r) => new Map(r.rows.map((row) => [row.version, row])))
          .catch(() => new Map<number, { partitioning: string; applied_at: Date }>());
        for (const m of loadMigrations()) {
          const a = applied.get(m.version);
          console.log(
            `${m.name.padEnd(32)} ${a ? `applied ${a.applied_at.toISOString()} (${a.partitioning})` : 'pending'}`,
          );
        }
        const pending = loadMigrations().filter((m) => !applied.has(m.version)).length;
        process.exitCode = pending === 0 ? 0 : 1;
      } finally {
        await client.end();
      }
    });
}
