import { jest } from '@jest/globals';
import { createClient } from '@clickhouse/client';
import kafkajs from 'kafkajs';
import { KafkaTransport, RdkafkaTransport, endpointsFromEnv, makeSpec } from '@optibid/runtime';
import type { Sink, SinkDefinition, Transport } from '@optibid/runtime';
import { clickhouseSink } from './sink.js';
import { runId, telemetryRecords } from '../timescale/test-support.js';

jest.setTimeout(180_000);

const transports: Array<[string, () => Transport]> = [
  ['kafka', () => new KafkaTransport({ idleMs: 500 })],
  ['rdkafka', () => new RdkafkaTransport({ idleMs: 500 })],
];

/** The real `clickhouse` definition, with every write's size noted. */
function measured(sizes: number[]): SinkDefinition {
  return {
    ...clickhouseSink,
    create: (config, ctx) => {
      const sink: Sink = clickhouseSink.create(config as never, ctx);
      return {
        connect: () => sink.connect(),
        close: () => sink.close(),
        write: (records) => {
          sizes.push(records.length);
          return sink.write(records);
        },
      };
    },
  } as SinkDefinition;
}

describe.each(transports)('clickhouse sink driven by the %s transport', (transportName, makeTransport) => {
  it('gets batches of maxBatchRows from a backlog, and a replay by a second pipeline leaves one row per key', async () => {
    const id = `${transportName}${runId()}`;
    const topic = `t.ch.kafka.${id}`;
    const database = `t_ch_kafka_${id}`;
    const total = 30_000;
    const kafka = new kafkajs.Kafka({ brokers: endpointsFromEnv().kafkaBrokers, logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer();
    const ch = createClient({ url: endpointsFromEnv().clickhouseUrl });
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
      await producer.connect();
      const records = telemetryRecords(total);
      for (let i = 0; i < total; i += 5000)
        await producer.send({
          topic,
          acks: -1,
          messages: records.slice(i, i + 5000).map((r, j) => ({
            key: r.key,
            partition: (i + j) % 2,
            value: JSON.stringify(r.value),
            timestamp: String(r.timestamp),
          })),
        });
      const sizes: number[][] = [[], []];
      for (const [run, name] of [`${id}-a`, `${id}-b`].entries()) {
        const spec = makeSpec({
          name,
          sinks: [
            {
              name: 'olap',
              definition: measured(sizes[run]!),
              config: { dataset: 'telemetry.readings', database, maxBatchRows: 10_000, maxWaitMs: 5000 },
              inputs: [topic],
            },
          ],
        });
        const worker = await makeTransport().start(spec, { untilIdle: true });
        await worker.done;
      }
      // both runs read everything, in writes of exactly maxBatchRows (not one per fetched partition batch)
      expect(sizes).toEqual([
        [10_000, 10_000, 10_000],
        [10_000, 10_000, 10_000],
      ]);
      const count = async (final: string) =>
        Number(
          (
            await (
              await ch.query({
                query: `SELECT count() AS n FROM ${database}.telemetry_readings ${final}`,
                format: 'JSONEachRow',
              })
            ).json<{ n: string }>()
          )[0]!.n,
        );
      expect(await count('FINAL')).toBe(total);
      expect(await count('')).toBeLessThanOrEqual(2 * total);
    } finally {
      await producer.disconnect().catch(() => undefined);
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
      await ch.close();
    }
  });
});
