import { join } from 'node:path';
import type { ServiceDefinition } from './service.js';
import { repoRoot } from './paths.js';

/** GET /v1/metadata/version of a registry; the version string, or undefined when it does not answer. */
async function registryVersion(host: string, port: number): Promise<string | undefined> {
  const res = await fetch(`http://${host}:${port}/v1/metadata/version`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) return undefined;
  const body = (await res.json()) as { version?: unknown };
  return typeof body.version === 'string' ? body.version : undefined;
}

/**
 * OptiBid's own Confluent-compatible schema registry (`optibid registry`), storing schemas in the
 * compacted Kafka topic `_schemas`; starts after Kafka. Needs the repository built (`npm run build`).
 */
export const registryService: ServiceDefinition = {
  name: 'registry',
  title: 'Schema registry (Confluent API)',
  host: '127.0.0.1',
  port: 8081,
  startTimeoutMs: 60_000,
  // Nothing to install: it is this repository's own code (a missing build shows in the log at start).
  installed: () => true,
  async prepare() {},
  launch(ctx) {
    return {
      command: process.execPath,
      args: [
        join(repoRoot(), 'cli', 'bin', 'optibid.js'),
        'registry',
        '--host',
        this.host,
        '--port',
        String(this.port),
        '--store',
        'kafka',
      ],
      env: { OPTIBID_KAFKA_BROKERS: ctx.env.OPTIBID_KAFKA_BROKERS || '127.0.0.1:9092' },
    };
  },
  async ready() {
    return (await registryVersion(this.host, this.port)) !== undefined;
  },
  async version() {
    return (await registryVersion(this.host, this.port)) ?? 'unknown';
  },
};
