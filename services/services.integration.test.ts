import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { createClient } from '@clickhouse/client';
import mqtt from 'mqtt';
import { endpointsFromEnv } from '@optibid/runtime';
import { ServiceManager } from './manager.js';
import { localServices } from './index.js';

// Round trips through each real service started by `optibid services up` (npm run test:all).
const endpoints = endpointsFromEnv();
const runId = randomUUID().slice(0, 8);

describe('local services', () => {
  it('all report up with a version', async () => {
    const rows = await new ServiceManager(localServices, { say: () => {} }).status();
    for (const row of rows) {
      expect({ name: row.name, up: row.up }).toEqual({ name: row.name, up: true });
      expect(row.version).toMatch(/\d+\.\d+/);
    }
  });

  it('a second up starts nothing new', async () => {
    const manager = new ServiceManager(localServices, { say: () => {} });
    const pidsBefore = localServices.map((s) => manager.runningPid(s));
    const outcomes = await manager.up();
    expect([...outcomes.values()].every((o) => o !== 'started')).toBe(true);
    expect(localServices.map((s) => manager.runningPid(s))).toEqual(pidsBefore);
  });

  it('Kafka: produces and consumes a record', async () => {
    const kafka = new Kafka({ clientId: 'optibid-test', brokers: endpoints.kafkaBrokers, logLevel: logLevel.NOTHING });
    const topic = `test.roundtrip.${runId}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'NO1', value: JSON.stringify({ price: 42.5 }) }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `test-${runId}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key: string; value: string }>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => resolve({ key: String(message.key), value: String(message.value) }),
      });
    });
    await consumer.disconnect();
    expect(received).toEqual({ key: 'NO1', value: '{"price":42.5}' });
  });

  it('TimescaleDB: creates a hypertable and queries time_bucket', async () => {
    const client = new pg.Client({ connectionString: endpoints.postgresUrl });
    await client.connect();
    const table = `test_prices_${runId}`;
    try {
      await client.query(
        `CREATE TABLE ${table} (ts timestamptz NOT NULL, area text NOT NULL, price double precision NOT NULL)`,
      );
      const ht = await client.query(`SELECT create_hypertable('${table}', 'ts') AS h`);
      expect(String(ht.rows[0].h)).toContain(table);
      await client.query(
        `INSERT INTO ${table} VALUES ('2026-01-01T00:00Z','NO1',10),('2026-01-01T00:15Z','NO1',20),('2026-01-01T01:00Z','NO1',40)`,
      );
      const res = await client.query(
        `SELECT time_bucket('1 hour', ts) AS hour, avg(price)::float AS avg FROM ${table} GROUP BY hour ORDER BY hour`,
      );
      expect(res.rows.map((r) => [new Date(r.hour).toISOString(), r.avg])).toEqual([
        ['2026-01-01T00:00:00.000Z', 15],
        ['2026-01-01T01:00:00.000Z', 40],
      ]);
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.end();
    }
  });

  it('ClickHouse: inserts and selects rows', async () => {
    const client = createClient({ url: endpoints.clickhouseUrl });
    const table = `test_prices_${runId}`;
    try {
      await client.command({
        query: `CREATE TABLE ${table} (ts DateTime, area String, price Float64) ENGINE = MergeTree ORDER BY (area, ts)`,
      });
      await client.insert({
        table,
        values: [
          { ts: '2026-01-01 00:00:00', area: 'NO1', price: 10 },
          { ts: '2026-01-01 01:00:00', area: 'NO1', price: 30 },
        ],
        format: 'JSONEachRow',
      });
      const rs = await client.query({
        query: `SELECT area, sum(price) AS total, count() AS n FROM ${table} GROUP BY area`,
        format: 'JSONEachRow',
      });
      expect(await rs.json()).toEqual([{ area: 'NO1', total: 40, n: '2' }]);
    } finally {
      await client.command({ query: `DROP TABLE IF EXISTS ${table}` });
      await client.close();
    }
  });

  it('Mosquitto: publishes and receives a message', async () => {
    const topic = `test/roundtrip/${runId}`;
    const sub = await mqtt.connectAsync(endpoints.mqttUrl, { clientId: `sub-${runId}` });
    const pub = await mqtt.connectAsync(endpoints.mqttUrl, { clientId: `pub-${runId}` });
    try {
      await sub.subscribeAsync(topic, { qos: 1 });
      const got = new Promise<string>((resolve) => sub.on('message', (_t, payload) => resolve(payload.toString())));
      await pub.publishAsync(topic, '{"powerW":1234}', { qos: 1 });
      expect(await got).toBe('{"powerW":1234}');
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()]);
    }
  });
});
