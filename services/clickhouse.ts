import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceDefinition } from './service.js';

const binary = () =>
  ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server', '/usr/bin/clickhouse'].find((p) => existsSync(p));

/** A server config that works on ClickHouse 18.16 (root element `yandex`) and is still accepted by current releases. */
export function clickhouseConfig(opts: {
  dir: string;
  logDir: string;
  host: string;
  httpPort: number;
  tcpPort: number;
}): string {
  const data = join(opts.dir, 'data');
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>${join(opts.logDir, 'clickhouse-server.log')}</log>
    <errorlog>${join(opts.logDir, 'clickhouse-server.err.log')}</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <http_port>${opts.httpPort}</http_port>
  <tcp_port>${opts.tcpPort}</tcp_port>
  <listen_host>${opts.host}</listen_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>${data}/</path>
  <tmp_path>${data}/tmp/</tmp_path>
  <user_files_path>${data}/user_files/</user_files_path>
  <format_schema_path>${data}/format_schemas/</format_schema_path>
  <users_config>${join(opts.dir, 'users.xml')}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
</yandex>
`;
}

const usersXml = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

async function httpQuery(host: string, port: number, sql: string): Promise<string> {
  const res = await fetch(`http://${host}:${port}/?query=${encodeURIComponent(sql)}`, {
    signal: AbortSignal.timeout(2000),
  });
  if (!res.ok) throw new Error(`clickhouse ${res.status}: ${await res.text()}`);
  return (await res.text()).trim();
}

export const clickhouseService: ServiceDefinition = {
  name: 'clickhouse',
  title: 'ClickHouse (HTTP)',
  host: '127.0.0.1',
  port: 8123,
  startTimeoutMs: 60_000,
  installed: () => binary() !== undefined,
  async prepare(ctx) {
    mkdirSync(join(ctx.dir, 'data'), { recursive: true });
    const tcpPort = Number(ctx.env.OPTIBID_CLICKHOUSE_TCP_PORT || 9000);
    writeFileSync(
      join(ctx.dir, 'config.xml'),
      clickhouseConfig({ dir: ctx.dir, logDir: join(ctx.home, 'logs'), host: this.host, httpPort: this.port, tcpPort }),
    );
    writeFileSync(join(ctx.dir, 'users.xml'), usersXml);
  },
  launch(ctx) {
    const bin = binary()!;
    const args = bin.endsWith('/clickhouse') ? ['server'] : [];
    return { command: bin, args: [...args, `--config-file=${join(ctx.dir, 'config.xml')}`], cwd: ctx.dir };
  },
  async ready() {
    const res = await fetch(`http://${this.host}:${this.port}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.text()).startsWith('Ok');
  },
  async version() {
    return httpQuery(this.host, this.port, 'SELECT version()');
  },
};
