import mqtt from 'mqtt';
import { endpointsFromEnv } from '@optibid/runtime';
import { memoryLogger, runId } from '../timescale/test-support.js';
import { AlertSink } from './channel.js';
import { MqttPublishChannel } from './mqtt.js';
import { alertRecord } from './test-alerts.js';

test('mqtt-publish: alerts reach a subscriber on the real broker, on the topic filled from the alert', async () => {
  const prefix = `optibid-test/${runId()}`;
  const subscriber = await mqtt.connectAsync(endpointsFromEnv().mqttUrl);
  const received: { topic: string; payload: { deliveryId: string; alert: { state: string; value: number } } }[] = [];
  await subscriber.subscribeAsync(`${prefix}/#`, { qos: 1 });
  subscriber.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString('utf8')) }));
  const sink = new AlertSink(new MqttPublishChannel({ topic: `${prefix}/{severity}/{rule}` }), {}, memoryLogger());
  try {
    await sink.connect();
    await sink.write([alertRecord(), alertRecord({ state: 'RESOLVED' }), alertRecord()]);
    for (let i = 0; i < 50 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received.map((m) => [m.topic, m.payload.alert.state])).toEqual([
      [`${prefix}/CRITICAL/price-spike-be`, 'FIRING'],
      [`${prefix}/CRITICAL/price-spike-be`, 'RESOLVED'],
    ]);
    expect(received[0]!.payload.alert.value).toBe(412.5);
    expect(sink.stats).toMatchObject({ delivered: 2, duplicates: 1 });
  } finally {
    await sink.close();
    await subscriber.endAsync();
  }
});

test('mqtt-publish: an unreachable broker fails connect with NotConnected', async () => {
  const sink = new AlertSink(new MqttPublishChannel({ url: 'mqtt://127.0.0.1:1', timeoutMs: 500 }), {}, memoryLogger());
  await expect(sink.connect()).rejects.toMatchObject({ name: 'NotConnected' });
  await sink.close();
});
