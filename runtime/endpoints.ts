/**
 * Where OptiBid finds the services it talks to. Every endpoint can be overridden by an
 * environment variable; the defaults are the local services `optibid services up` starts.
 */

export interface Endpoints {
  /** Kafka bootstrap servers, comma-separated host:port. */
  kafkaBrokers: string[];
  /** Base URL of the Confluent-compatible schema registry. */
  registryUrl: string;
  /** PostgreSQL/TimescaleDB connection URL. */
  postgresUrl: string;
  /** ClickHouse HTTP URL. */
  clickhouseUrl: string;
  /** MQTT broker URL. */
  mqttUrl: string;
}

/** Environment variables that override each endpoint, with their defaults. */
export const endpointVariables = {
  OPTIBID_KAFKA_BROKERS: '127.0.0.1:9092',
  OPTIBID_REGISTRY_URL: 'http://127.0.0.1:8081',
  OPTIBID_PG_URL: 'postgres://postgres@127.0.0.1:5432/optibid',
  OPTIBID_CLICKHOUSE_URL: 'http://127.0.0.1:8123',
  OPTIBID_MQTT_URL: 'mqtt://127.0.0.1:1883',
} as const;

/** Reads the endpoints from `env` (default: process.env), falling back to the local defaults. */
export function endpointsFromEnv(env: NodeJS.ProcessEnv = process.env): Endpoints {
  const get = (name: keyof typeof endpointVariables): string => env[name]?.trim() || endpointVariables[name];
  return {
    kafkaBrokers: get('OPTIBID_KAFKA_BROKERS')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    registryUrl: get('OPTIBID_REGISTRY_URL').replace(/\/+$/, ''),
    postgresUrl: get('OPTIBID_PG_URL'),
    clickhouseUrl: get('OPTIBID_CLICKHOUSE_URL').replace(/\/+$/, ''),
    mqttUrl: get('OPTIBID_MQTT_URL'),
  };
}
