import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { OptiBidError } from '@optibid/runtime';
import type { Logger } from '@optibid/runtime';

/** How tables are time-partitioned: TimescaleDB hypertables or plain PostgreSQL range partitions. */
export type PartitioningMode = 'timescaledb' | 'native';
/** `auto` uses TimescaleDB when the extension is installed or can be created, else native partitioning. */
export type PartitioningChoice = 'auto' | PartitioningMode;

/** One versioned SQL migration (`NNNN_name.sql`). */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateOptions {
  /** Schema the tables live in (created when missing; default `public`). */
  schema?: string;
  partitioning?: PartitioningChoice;
  /** Folder of `NNNN_name.sql` files (default: the migrations shipped with the sink). */
  dir?: string;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export interface MigrateResult {
  mode: PartitioningMode;
  applied: Migration[];
  skipped: Migration[];
}

/** The folder of shipped migrations: beside this module in the source tree (dist/ has no .sql files). */
export function defaultMigrationsDir(): string {
  const candidates = ['./migrations/', '../../timescale/migrations/'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  const found = candidates.find((d) => existsSync(d));
  if (!found)
    throw new OptiBidError('OPTIBID_ERR_CONFIG', `migrations folder not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Reads `NNNN_name.sql` files in version order; rejects duplicate versions and stray names. */
export function loadMigrations(dir = defaultMigrationsDir()): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m)
      throw new OptiBidError('OPTIBID_ERR_CONFIG', `${dir}/${file}: migration files must be named NNNN_name.sql`, {
        context: { file },
      });
    const version = Number(m[1]);
    if (migrations.some((x) => x.version === version)) {
      throw new OptiBidError('OPTIBID_ERR_CONFIG', `${dir}/${file}: migration version ${version} appears twice`, {
        context: { file },
      });
    }
    const sql = readFileSync(`${dir}/${file}`, 'utf8');
    migrations.push({ version, name: file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations;
}

/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Sets the session's search_path to the schema (then public, where TimescaleDB's functions live). */
export async function useSchema(client: pg.ClientBase, schema: string): Promise<void> {
  await client.query(schema === 'public' ? 'SET search_path TO public' : `SET search_path TO ${ident(schema)}, public`);
}

async function hasExtension(client: pg.ClientBase): Promise<boolean> {
  const r = await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
  return r.rowCount === 1;
}

/**
 * Decides the partitioning mode: what the schema was first migrated with, else what was asked,
 * else TimescaleDB when the extension is installed or can be created, else native.
 */
async function resolveMode(
  client: pg.ClientBase,
  choice: PartitioningChoice,
  log: Pick<Logger, 'info' | 'warn'>,
): Promise<PartitioningMode> {
  const previous = await client
    .query<{ mode: string }>(`SELECT mode FROM optibid_time_partitioning LIMIT 1`)
    .catch(() => ({ rows: [] as { mode: string }[] }));
  const recorded = previous.rows[0]?.mode as PartitioningMode | undefined;
  if (recorded) {
    if (choice !== 'auto' && choice !== recorded) {
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `this schema was migrated with ${recorded} partitioning; cannot switch to ${choice}`,
      );
    }
    return recorded;
  }
  if (choice === 'native') return 'native';
  if (await hasExtension(client)) return 'timescaledb';
  const available = await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`);
  if (available.rowCount === 1) {
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      return 'timescaledb';
    } catch (err) {
      if (choice === 'timescaledb') throw err;
      log.warn(
        { err: (err as Error).message },
        'timescaledb is available but could not be created; using native partitioning',
      );
      return 'native';
    }
  }
  if (choice === 'timescaledb') {
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      'partitioning "timescaledb" was asked for but the timescaledb extension is not available on this server',
    );
  }
  return 'native';
}

/**
 * Applies the migrations not applied yet, each in its own transaction, under an advisory lock so
 * concurrent runs wait for each other. Idempotent: a second run applies nothing. A migration that was
 * changed after it was applied is an error (its checksum is recorded).
 */
export async function migrate(client: pg.ClientBase, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const schema = opts.schema ?? 'public';
  const log = opts.logger ?? { info() {}, warn() {} };
  const migrations = loadMigrations(opts.dir);
  const lockKey = `optibid.migrate.${schema}`;
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await useSchema(client, schema);
    await client.query(`CREATE TABLE IF NOT EXISTS optibid_schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      partitioning text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const mode = await resolveMode(client, opts.partitioning ?? 'auto', log);
    const done = new Map(
      (
        await client.query<{ version: number; name: string; checksum: string }>(
          'SELECT version, name, checksum FROM optibid_schema_migrations',
        )
      ).rows.map((r) => [r.version, r]),
    );
    const applied: Migration[] = [];
    const skipped: Migration[] = [];
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior) {
        if (prior.checksum !== m.checksum) {
          throw new OptiBidError(
            'OPTIBID_ERR_CONFIG',
            `${m.name} was changed after it was applied to schema ${schema}; add a new migration instead`,
            {
              context: { file: m.name },
            },
          );
        }
        skipped.push(m);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(`SELECT set_config('optibid.partitioning', $1, true)`, [mode]);
        await client.query(m.sql);
        await client.query(
          'INSERT INTO optibid_schema_migrations (version, name, checksum, partitioning) VALUES ($1, $2, $3, $4)',
          [m.version, m.name, m.checksum, mode],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new OptiBidError('OPTIBID_ERR_UPSTREAM', `migration ${m.name} failed: ${(err as Error).message}`, {
          cause: err,
          context: { file: m.name },
        });
      }
      log.info({ migration: m.name, schema, mode }, 'applied migration');
      applied.push(m);
    }
    return { mode, applied, skipped };
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
  }
}

/** Connects to `url`, migrates and disconnects. */
export async function migrateUrl(url: string, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await migrate(client, opts);
  } finally {
    await client.end();
  }
}
