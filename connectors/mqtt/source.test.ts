import type { IPublishPacket } from 'mqtt';
import { MqttSource } from './source.js';
import { topicMatches } from './topic-filter.js';
import { testContext } from '../common/testing.js';

const packet = (p: Partial<IPublishPacket>): IPublishPacket =>
  ({
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.from('{"v":1}'),
    qos: 1,
    dup: false,
    retain: false,
    messageId: 7,
    ...p,
  }) as IPublishPacket;

describe('MQTT source internals', () => {
  test('a QoS 1 redelivery (DUP, same packet id, topic and payload) is dropped; a new message with a reused id is not', async () => {
    const src = new MqttSource(
      {
        topics: [
          { filter: 'a/#', decoder: 'json', mapping: '{"assetId": "x", "metric": "v", "value": v, "unit": "1"}' },
        ],
      },
      testContext(),
    );
    src.take(packet({}));
    src.take(packet({ dup: true }));
    src.take(packet({ dup: true, payload: Buffer.from('{"v":2}') }));
    src.take(packet({ qos: 0, messageId: undefined }));
    src.take(packet({ qos: 0, messageId: undefined }));
    expect(src.stats).toMatchObject({ received: 5, duplicates: 1 });
    const batch = await src.read();
    expect(batch.records.map((r) => (r.value as { value: number }).value)).toEqual([1, 2, 1, 1]);
  });

  test('topic filters', () => {
    expect(topicMatches('sites/+/telemetry', 'sites/a/telemetry')).toBe(true);
    expect(topicMatches('sites/+/telemetry', 'sites/a/b/telemetry')).toBe(false);
    expect(topicMatches('tele/#', 'tele/x/SENSOR')).toBe(true);
    expect(topicMatches('tele/#', 'tele')).toBe(true);
    expect(topicMatches('#', '$SYS/broker')).toBe(false);
    expect(topicMatches('a/b', 'a/b/c')).toBe(false);
  });

  test('a persistent session without a client id is a config error', () => {
    expect(
      () => new MqttSource({ cleanSession: false, topics: [{ filter: '#', decoder: 'shelly' }] }, testContext()),
    ).toThrow(/needs a stable clientId/);
  });
});

test('a stopping pipeline ends a waiting read with EndOfInput, without piling up abort listeners', async () => {
  const { EndOfInput } = await import('@optibid/runtime');
  const ac = new AbortController();
  const ctx = { ...testContext(), signal: ac.signal };
  const src = new MqttSource({ topics: [{ filter: 'a/#', decoder: 'victron' }] }, ctx);
  // Simulate a connected client without a broker: read only needs the buffer.
  (src as unknown as { client: object }).client = {};
  for (let i = 0; i < 20; i++) {
    const pending = src.read();
    src.take({
      cmd: 'publish',
      topic: 'N/p/vebus/1/Soc',
      payload: Buffer.from('{"value": 50}'),
      qos: 0,
      dup: false,
      retain: false,
    } as never);
    expect((await pending).records).toHaveLength(1);
  }
  const waiting = src.read();
  ac.abort();
  await expect(waiting).rejects.toBeInstanceOf(EndOfInput);
});
