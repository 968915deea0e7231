import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { endpointsFromEnv, type OutRecord } from '@optibid/runtime';
import { ServiceManager, localServices } from '@optibid/services';
import { MqttSource, type MqttConfig } from './source.js';
import { encodeSparkplug, DataType } from './decoders/index.js';
import { testContext } from '../common/testing.js';
import type { TelemetryReading } from '../common/records.js';

const run = `t${process.pid}x${Date.now().toString(36)}`;
const url = endpointsFromEnv().mqttUrl;
const em = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/pro_3em.json'), 'utf8')).status['em:0'];

async function publisher(): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: `optibid-pub-${run}-${Math.random().toString(36).slice(2, 6)}`,
    clean: true,
  });
}

/** Reads batches until `until` holds for what was collected (a broker round trip, no sleeping). */
async function collect(src: MqttSource, until: (recs: OutRecord[]) => boolean): Promise<OutRecord[]> {
  const out: OutRecord[] = [];
  while (!until(out)) {
    const batch = await Promise.race([
      src.read(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`timed out with ${out.length} records`)), 15_000),
      ),
    ]);
    out.push(...batch.records);
    await batch.ack();
  }
  return out;
}

describe('MQTT source against the real Mosquitto', () => {
  test('wildcard subscriptions at QoS 0, 1 and 2 through every decoder; malformed payloads to the dead-letter topic', async () => {
    const cfg: MqttConfig = {
      url,
      maxPayloadBytes: 2048,
      deadLetterTopic: 'dlq.mqtt-test',
      topics: [
        { filter: `${run}/shelly/+/status/+`, qos: 0, decoder: 'shelly' },
        { filter: `${run}/tele/+/SENSOR`, qos: 1, decoder: 'tasmota' },
        { filter: `N/${run}/#`, qos: 2, decoder: 'victron' },
        { filter: `spBv1.0/${run}/#`, qos: 1, decoder: 'sparkplug' },
        {
          filter: `${run}/json/#`,
          qos: 2,
          decoder: 'json',
          mapping: '{"assetId": $levels[2], "metric": "state_of_charge", "value": soc, "unit": "%"}',
        },
      ],
    };
    const ctx = testContext({ now: Date.parse('2026-01-01T00:00:00Z') });
    const src = new MqttSource(cfg, ctx);
    await src.connect();
    const pub = await publisher();
    try {
      await pub.publishAsync(`${run}/shelly/pro3em-1/status/em:0`, JSON.stringify(em), { qos: 0 });
      await pub.publishAsync(
        `${run}/tele/plug-7/SENSOR`,
        JSON.stringify({ Time: '2025-06-01T12:00:00', ENERGY: { Power: 120, Voltage: 231 } }),
        { qos: 1 },
      );
      await pub.publishAsync(`N/${run}/vebus/276/Ac/Out/L1/P`, JSON.stringify({ value: 208 }), { qos: 2 });
      await pub.publishAsync(
        `spBv1.0/${run}/NBIRTH/edge1`,
        Buffer.from(
          encodeSparkplug({
            seq: 0,
            timestamp: 1000,
            metrics: [{ name: 'Power', alias: 1, datatype: DataType.Double, double_value: 5 }],
          }),
        ),
        { qos: 1 },
      );
      await pub.publishAsync(
        `spBv1.0/${run}/NDATA/edge1`,
        Buffer.from(
          encodeSparkplug({
            seq: 3,
            timestamp: 2000,
            metrics: [{ alias: 1, datatype: DataType.Double, double_value: 6 }],
          }),
        ),
        { qos: 1 },
      );
      await pub.publishAsync(`${run}/json/bess-1`, '{"soc": 55}', { qos: 2 });
      // malformed: invalid JSON, nan, wrong type, oversized
      await pub.publishAsync(`${run}/json/bess-2`, '{"soc": ', { qos: 1 });
      await pub.publishAsync(`${run}/tele/plug-8/SENSOR`, '{"ENERGY": {"Power": nan}}', { qos: 1 });
      await pub.publishAsync(`N/${run}/vebus/276/Soc`, '{"value": "full"}', { qos: 1 });
      await pub.publishAsync(`${run}/json/bess-3`, JSON.stringify({ soc: 1, pad: 'x'.repeat(3000) }), { qos: 1 });

      const recs = await collect(
        src,
        (r) => r.filter((x) => x.topic === 'dlq.mqtt-test').length >= 4 && r.some((x) => x.key === 'bess-1'),
      );
      const readings = recs.filter((r) => r.topic === 'telemetry.readings').map((r) => r.value as TelemetryReading);
      expect(readings.find((r) => r.assetId === `${run}/shelly/pro3em-1` && r.metric === 'active_power_a')!.value).toBe(
        em.a_act_power,
      );
      expect(readings.find((r) => r.assetId === 'plug-7' && r.metric === 'active_power')!.value).toBe(120);
      expect(readings.find((r) => r.assetId === `${run}/vebus/276`)).toMatchObject({
        metric: 'active_power_out_l1',
        value: 208,
        unit: 'W',
      });
      expect(
        readings.filter((r) => r.assetId === `${run}/edge1` && r.metric === 'power').map((r) => [r.value, r.quality]),
      ).toEqual([
        [5, 'UNKNOWN'],
        [6, 'SUSPECT'],
      ]);
      expect(src.events).toContain(`${run}/edge1: seq gap, expected 1, got 3 (2 message(s) lost)`);
      expect(readings.find((r) => r.assetId === 'bess-1')).toMatchObject({
        metric: 'state_of_charge',
        value: 55,
        origin: `${run}/json/bess-1`,
        receivedAt: ctx.clock.now(),
      });

      const dlq = recs.filter((r) => r.topic === 'dlq.mqtt-test');
      const byTopic = Object.fromEntries(dlq.map((d) => [d.headers!['mqtt-topic'], d.headers!.reason]));
      expect(byTopic[`${run}/json/bess-2`]).toMatch(/invalid JSON/);
      expect(byTopic[`${run}/tele/plug-8/SENSOR`]).toMatch(/invalid JSON/);
      expect(byTopic[`N/${run}/vebus/276/Soc`]).toMatch(/value "full" is not a finite number/);
      expect(byTopic[`${run}/json/bess-3`]).toMatch(/oversized payload: \d+ bytes \(limit 2048\)/);
      expect(
        dlq.every((d) => d.headers!['source-topic'] === d.headers!['mqtt-topic'] && d.headers!.component === 'test'),
      ).toBe(true);
    } finally {
      await pub.endAsync();
      await src.close();
    }
  }, 60_000);

  test('a persistent session keeps QoS 1 messages published while the source was away, across a broker restart', async () => {
    const clientId = `optibid-persist-${run}`;
    const cfg: MqttConfig = {
      url,
      clientId,
      cleanSession: false,
      topics: [
        {
          filter: `${run}/persist/#`,
          qos: 1,
          decoder: 'json',
          mapping: '{"assetId": $levels[2], "metric": "m", "value": v, "unit": "1"}',
        },
      ],
    };
    const first = new MqttSource(cfg, testContext());
    await first.connect(); // creates the session and its subscription
    await first.close();

    const pub = await publisher();
    for (const v of [1, 2, 3]) await pub.publishAsync(`${run}/persist/dev-${v}`, JSON.stringify({ v }), { qos: 1 });
    await pub.endAsync();

    const manager = new ServiceManager(localServices, { say: () => {} });
    try {
      expect(await manager.down(['mosquitto'])).toEqual(['mosquitto']);
    } finally {
      await manager.up(['mosquitto']);
    }

    const second = new MqttSource(cfg, testContext());
    try {
      await second.connect();
      const recs = await collect(second, (r) => r.length >= 3);
      expect(recs.map((r) => (r.value as TelemetryReading).value).sort()).toEqual([1, 2, 3]);
    } finally {
      await second.close();
    }
    // Remove the session so re-runs start clean.
    const cleanup = await mqtt.connectAsync(url, { clientId, clean: true });
    await cleanup.endAsync();
  }, 90_000);
});
