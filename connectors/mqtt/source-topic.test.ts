import type { IPublishPacket } from 'mqtt';
import { MqttSource } from './source.js';
import { testContext } from '../common/testing.js';

const packet = (topic: string, payload: string): IPublishPacket =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, dup: false, retain: false }) as IPublishPacket;

const topics = [
  {
    filter: 'site/+/soc',
    decoder: 'json' as const,
    mapping: '{"assetId": $levels[1], "metric": "soc", "value": soc, "unit": "%"}',
  },
];

describe('MQTT source output topic', () => {
  test('defaults to telemetry.readings', async () => {
    const src = new MqttSource({ topics }, testContext());
    src.take(packet('site/bess-1/soc', '{"soc": 40}'));
    const batch = await src.read();
    expect(batch.records.map((r) => [r.topic, r.key, (r.value as { value: number }).value])).toEqual([
      ['telemetry.readings', expect.any(String), 40],
    ]);
  });

  test('`topic` sends readings to a per-site topic; malformed payloads still go to the dead-letter topic', async () => {
    const src = new MqttSource({ topics, topic: 'site-7.telemetry.readings' }, testContext());
    src.take(packet('site/bess-1/soc', '{"soc": 41}'));
    src.take(packet('site/bess-2/soc', 'not json'));
    const batch = await src.read();
    expect(batch.records.map((r) => r.topic)).toEqual(['site-7.telemetry.readings', 'dlq.mqtt']);
    expect(batch.records[0]!.value).toMatchObject({ assetId: 'bess-1', metric: 'soc', value: 41 });
  });
});
