import {
  jsonPayload,
  makeReading,
  MalformedPayload,
  type DecodeResult,
  type MqttDecoder,
  type MqttMessage,
} from './types.js';

const acQuantities: Record<string, [string, string]> = {
  P: ['active_power', 'W'],
  S: ['apparent_power', 'VA'],
  I: ['current', 'A'],
  V: ['voltage', 'V'],
  F: ['frequency', 'Hz'],
};
const dcQuantities: Record<string, [string, string]> = {
  Power: ['dc_power', 'W'],
  Voltage: ['dc_voltage', 'V'],
  Current: ['dc_current', 'A'],
  Temperature: ['temperature', 'Cel'],
};

/** Metric and unit of a Venus OS D-Bus path, or undefined for paths that are not measurements. */
export function victronMetric(path: string): [string, string] | undefined {
  let m = /^Ac\/(Out|ActiveIn|In\/\d+|Grid|Consumption|PvOnOutput|PvOnGrid)\/(?:(L\d)\/)?(P|S|I|V|F|Power)$/.exec(path);
  if (m) {
    const place = m[1].replace('ActiveIn', 'in').replace('/', '').toLowerCase();
    const [q, unit] = acQuantities[m[3] === 'Power' ? 'P' : m[3]];
    return [`${q}_${place}${m[2] ? `_${m[2].toLowerCase()}` : ''}`, unit];
  }
  m = /^Dc\/(\d+)\/(Power|Voltage|Current|Temperature)$/.exec(path);
  if (m) {
    const [q, unit] = dcQuantities[m[2]];
    return [m[1] === '0' ? q : `${q}_${m[1]}`, unit];
  }
  if (path === 'Soc') return ['state_of_charge', '%'];
  m = /^Energy\/(\w+)$/.exec(path);
  if (m) return [`energy_${m[1].replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()}`, 'kWh'];
  return undefined;
}

/**
 * Victron Venus OS MQTT: `N/<portalId>/<service>/<instance>/<path>` with payload `{"value": x}`.
 * The asset is `<portalId>/<service>/<instance>`. Known measurement paths (AC/DC power, voltage,
 * current, frequency, state of charge, energy counters) become readings; other paths are ignored,
 * as is `{"value": null}` (Venus publishes null for a value that is currently invalid).
 */
export function victronDecoder(): MqttDecoder {
  return {
    name: 'victron',
    decode(msg: MqttMessage): DecodeResult {
      const m = /^N\/([^/]+)\/([^/]+)\/([^/]+)\/(.+)$/.exec(msg.topic);
      if (!m) throw new MalformedPayload(msg.topic, 'not a Venus N/<portal>/<service>/<instance>/<path> topic');
      const metric = victronMetric(m[4]);
      const body = jsonPayload(msg) as Record<string, unknown>;
      if (!body || typeof body !== 'object' || !('value' in body))
        throw new MalformedPayload(msg.topic, 'payload has no "value"');
      if (!metric || body.value === null) return { readings: [] };
      if (typeof body.value !== 'number' || !Number.isFinite(body.value))
        throw new MalformedPayload(msg.topic, `value ${JSON.stringify(body.value)} is not a finite number`);
      return {
        readings: [
          makeReading({
            assetId: `${m[1]}/${m[2]}/${m[3]}`,
            siteId: m[1],
            metric: metric[0],
            unit: metric[1],
            value: body.value,
            observedAt: msg.receivedAt,
            receivedAt: msg.receivedAt,
            origin: msg.topic,
          }),
        ],
      };
    },
  };
}
