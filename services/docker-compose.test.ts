import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './paths.js';

// No Docker engine runs on the build machines, so the compose file is checked by reading it.
const root = repoRoot();
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<
    string,
    { image?: string; build?: unknown; healthcheck?: { test?: unknown }; depends_on?: Record<string, unknown> }
  >;
};

/** The compose service each external system's components need. */
const serviceFor: Record<string, string> = {
  kafka: 'kafka',
  registry: 'schema-registry',
  timescale: 'timescaledb',
  clickhouse: 'clickhouse',
  mqtt: 'mosquitto',
  'mqtt-publish': 'mosquitto',
  'kafka-alerts': 'kafka',
};

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

describe('docker-compose.yml', () => {
  const services = Object.entries(compose.services);

  it('declares the platform services and Grafana', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining([
        'kafka',
        'schema-registry',
        'timescaledb',
        'clickhouse',
        'mosquitto',
        'grafana',
        'pipeline',
      ]),
    );
  });

  it.each(services)('%s has a health check', (_name, svc) => {
    expect(Array.isArray(svc.healthcheck?.test) || typeof svc.healthcheck?.test === 'string').toBe(true);
  });

  it.each(services)('%s uses a pinned image tag', (_name, svc) => {
    expect(svc.image).toMatch(/^[\w./-]+:(?!latest$)[\w.-]+$/);
  });

  it('only depends on services it declares', () => {
    for (const [name, svc] of services) {
      for (const dep of Object.keys(svc.depends_on ?? {}))
        expect(`${name} -> ${compose.services[dep] ? dep : `missing ${dep}`}`).toBe(`${name} -> ${dep}`);
    }
  });

  it('declares every service the pipelines under pipelines/ need', () => {
    const needed = new Set(['kafka', 'schema-registry']);
    for (const file of yamlFiles(join(root, 'pipelines'))) {
      for (const s of strings(parse(readFileSync(file, 'utf8')))) if (serviceFor[s]) needed.add(serviceFor[s]!);
    }
    const missing = [...needed].filter((s) => !compose.services[s]?.healthcheck);
    expect(missing).toEqual([]);
  });

  it('mounts Grafana provisioning folders for datasources, dashboards and plugins', () => {
    for (const sub of ['datasources', 'dashboards', 'plugins']) {
      expect(existsSync(join(root, 'services', 'grafana', 'provisioning', sub))).toBe(true);
    }
    expect(strings(compose.services.grafana)).toContain('./services/grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});
