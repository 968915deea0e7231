import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import pg from 'pg';
import { OptiBidError } from '@optibid/runtime';
import type { ServiceDefinition } from './service.js';

const database = 'optibid';

/** The newest installed PostgreSQL whose lib folder has TimescaleDB, else the newest one. */
export function postgresBin(): { version: string; bin: string } | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  const withTs = versions.find((v) => existsSync(join(base, v, 'lib', 'timescaledb.so')));
  const v = withTs ?? versions[0];
  return v ? { version: v, bin: join(base, v, 'bin') } : undefined;
}

/** The account PostgreSQL runs as: `postgres` when we are root (it refuses root), else ourselves. */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

function client(port: number, db: string): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: db, connectionTimeoutMillis: 2000 });
}

async function query<T extends pg.QueryResultRow>(port: number, db: string, sql: string): Promise<T[]> {
  const c = client(port, db);
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

export const postgresService: ServiceDefinition = {
  name: 'postgres',
  title: 'PostgreSQL + TimescaleDB',
  host: '127.0.0.1',
  port: 5432,
  startTimeoutMs: 60_000,
  stopSignal: 'SIGINT',
  installed: () => {
    const pgb = postgresBin();
    return !!pgb && existsSync(join('/usr/lib/postgresql', pgb.version, 'lib', 'timescaledb.so'));
  },
  async prepare(ctx) {
    const pgb = postgresBin();
    if (!pgb)
      throw new OptiBidError('OPTIBID_ERR_SERVICE_INSTALL', 'PostgreSQL is not installed', {
        context: { service: 'postgres' },
      });
    const data = join(ctx.dir, 'data');
    const { uid, gid } = runAs();
    mkdirSync(ctx.dir, { recursive: true, mode: 0o700 });
    if (uid !== undefined && gid !== undefined) {
      const probe = spawnSync('test', ['-x', ctx.dir], { uid, gid });
      if (probe.status !== 0) {
        throw new OptiBidError(
          'OPTIBID_ERR_SERVICE_START',
          `the postgres account cannot reach ${ctx.dir}; set OPTIBID_HOME to a folder every user can traverse`,
          { context: { service: 'postgres' } },
        );
      }
      chownTree(ctx.dir, uid, gid);
    }
    if (!existsSync(join(data, 'PG_VERSION'))) {
      ctx.say(`postgres: initdb (PostgreSQL ${pgb.version})`);
      const res = spawnSync(
        join(pgb.bin, 'initdb'),
        ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'],
        {
          uid,
          gid,
          encoding: 'utf8',
          cwd: ctx.dir,
        },
      );
      if (res.status !== 0) {
        throw new OptiBidError('OPTIBID_ERR_SERVICE_START', `initdb failed:\n${res.stdout}${res.stderr}`, {
          context: { service: 'postgres' },
        });
      }
    }
  },
  launch(ctx) {
    const pgb = postgresBin()!;
    return {
      command: join(pgb.bin, 'postgres'),
      args: [
        '-D',
        join(ctx.dir, 'data'),
        '-p',
        String(this.port),
        '-c',
        `listen_addresses=${this.host}`,
        '-c',
        'unix_socket_directories=',
        '-c',
        'shared_preload_libraries=timescaledb',
        '-c',
        'timescaledb.telemetry_level=off',
        '-c',
        'max_connections=200',
      ],
      cwd: ctx.dir,
      ...runAs(),
    };
  },
  serverPid(ctx, launchedPid) {
    const pidFile = join(ctx.dir, 'data', 'postmaster.pid');
    return existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : launchedPid;
  },
  async ready() {
    const rows = await query<{ ok: number }>(this.port, 'postgres', 'SELECT 1 AS ok');
    return rows[0]?.ok === 1;
  },
  async afterStart() {
    const exists = await query(this.port, 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${database}'`);
    if (exists.length === 0) await query(this.port, 'postgres', `CREATE DATABASE ${database}`);
    await query(this.port, database, 'CREATE EXTENSION IF NOT EXISTS timescaledb');
  },
  async version() {
    const rows = await query<{ v: string; ts: string | null }>(
      this.port,
      'postgres',
      "SELECT current_setting('server_version') AS v, (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS ts",
    );
    const r = rows[0]!;
    return `${r.v.split(' ')[0]}${r.ts ? ` timescaledb-${r.ts}` : ''}`;
  },
  async freePort(ctx) {
    // The image may run Debian's own cluster on our port: stop it (it is not ours to reuse: peer auth, no TimescaleDB).
    const ls = spawnSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
    const line =
      ls.status === 0
        ? ls.stdout.split('\n').find((l) => l.split(/\s+/)[2] === String(this.port) && /online/.test(l))
        : undefined;
    if (!line) return false;
    const [ver, name] = line.split(/\s+/);
    ctx.say(`postgres: stopping the system cluster ${ver}/${name} that holds port ${this.port}`);
    return spawnSync('pg_ctlcluster', [ver!, name!, 'stop'], { stdio: 'inherit' }).status === 0;
  },
};
