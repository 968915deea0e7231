import { jest } from '@jest/globals';
import { Kafka, logLevel } from 'kafkajs';
import { endpointsFromEnv } from '@optibid/runtime';
import { memoryLogger, runId } from '../timescale/test-support.js';
import { AlertSink } from './channel.js';
import { KafkaAlertsChannel } from './kafka.js';
import { alertRecord } from './test-alerts.js';

jest.setTimeout(60_000);

test('kafka-alerts: alerts are produced keyed by alertId, once per transition, with delivery headers', async () => {
  const topic = `test.alerts.${runId()}`;
  const kafka = new Kafka({
    clientId: 'alerts-test',
    brokers: endpointsFromEnv().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  const sink = new AlertSink(new KafkaAlertsChannel({ topic }), {}, memoryLogger());
  const consumer = kafka.consumer({ groupId: `g-${topic}` });
  try {
    await sink.connect();
    await sink.write([alertRecord({}, '5'), alertRecord({}, '6'), alertRecord({ state: 'RESOLVED' }, '7')]);
    await sink.close();

    const got: { key: string; value: { state: string }; headers: Record<string, string> }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        got.push({
          key: message.key!.toString(),
          value: JSON.parse(message.value!.toString()),
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
      },
    });
    for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(got.map((m) => [m.key, m.value.state])).toEqual([
      ['price-spike-be:EPEX/BE', 'FIRING'],
      ['price-spike-be:EPEX/BE', 'RESOLVED'],
    ]);
    expect(got[0]!.headers).toMatchObject({
      'source-topic': 'alerts.events',
      'source-offset': '5',
      'content-type': 'application/json',
    });
  } finally {
    await consumer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
});
