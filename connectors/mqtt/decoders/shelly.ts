import {
  jsonPayload,
  makeReading,
  MalformedPayload,
  numberField,
  type DecodeResult,
  type MqttDecoder,
  type MqttMessage,
} from './types.js';
import type { TelemetryReading } from '../../common/records.js';

/** Shelly Gen2 `em:N` fields (per phase a/b/c and totals) → metric and unit. */
const emFields: [RegExp, string, string][] = [
  [/^([abc])_act_power$/, 'active_power_$1', 'W'],
  [/^([abc])_aprt_power$/, 'apparent_power_$1', 'VA'],
  [/^([abc])_current$/, 'current_$1', 'A'],
  [/^([abc])_voltage$/, 'voltage_$1', 'V'],
  [/^([abc])_pf$/, 'power_factor_$1', '1'],
  [/^([abc])_freq$/, 'frequency_$1', 'Hz'],
  [/^n_current$/, 'current_n', 'A'],
  [/^total_act_power$/, 'active_power', 'W'],
  [/^total_aprt_power$/, 'apparent_power', 'VA'],
  [/^total_current$/, 'current', 'A'],
  // emdata:N energy counters
  [/^([abc])_total_act_energy$/, 'energy_import_$1', 'Wh'],
  [/^([abc])_total_act_ret_energy$/, 'energy_export_$1', 'Wh'],
  [/^total_act$/, 'energy_import', 'Wh'],
  [/^total_act_ret$/, 'energy_export', 'Wh'],
  // switch:N (plugs, relays with metering)
  [/^apower$/, 'active_power', 'W'],
  [/^voltage$/, 'voltage', 'V'],
  [/^current$/, 'current', 'A'],
  [/^freq$/, 'frequency', 'Hz'],
];

function componentReadings(
  topic: string,
  component: string,
  status: Record<string, unknown>,
  base: Omit<TelemetryReading, 'metric' | 'value' | 'unit'>,
): TelemetryReading[] {
  const out: TelemetryReading[] = [];
  const suffix = /:(\d+)$/.exec(component)?.[1];
  const tag = suffix && suffix !== '0' ? `_${suffix}` : '';
  for (const [key, v] of Object.entries(status)) {
    for (const [re, metric, unit] of emFields) {
      if (!re.test(key)) continue;
      if (v === null) break; // the device reports an unmeasured channel (e.g. n_current) as null
      out.push({
        ...base,
        metric: key.replace(re, metric) + tag,
        unit,
        value: numberField(topic, `${component}.${key}`, v),
      });
      break;
    }
  }
  if (component.startsWith('switch:')) {
    const total = (status.aenergy as Record<string, unknown> | undefined)?.total;
    if (total !== undefined)
      out.push({
        ...base,
        metric: `energy_import${tag}`,
        unit: 'Wh',
        value: numberField(topic, `${component}.aenergy.total`, total),
      });
  }
  return out;
}

const metered = /^(em|emdata|em1|em1data|switch):\d+$/;

/**
 * Shelly Gen2 (Pro 3EM, Plus plugs, ...): `<prefix>/status/em:0` (the component's status object) and
 * `<prefix>/events/rpc` NotifyStatus/NotifyFullStatus notifications (`params.ts` is the observation time).
 * The asset is the device id: `src` of a notification, else the topic prefix.
 */
export function shellyDecoder(): MqttDecoder {
  return {
    name: 'shelly',
    decode(msg: MqttMessage): DecodeResult {
      const body = jsonPayload(msg) as Record<string, unknown>;
      if (!body || typeof body !== 'object' || Array.isArray(body))
        throw new MalformedPayload(msg.topic, 'payload is not a JSON object');
      const status = /^(.*)\/status\/([a-z0-9]+:\d+)$/.exec(msg.topic);
      if (status) {
        if (!metered.test(status[2])) return { readings: [] };
        const base = makeReading({
          assetId: status[1],
          metric: '',
          value: 0,
          unit: '',
          observedAt: msg.receivedAt,
          receivedAt: msg.receivedAt,
          origin: msg.topic,
        });
        return { readings: componentReadings(msg.topic, status[2], body, base) };
      }
      if (body.method === 'NotifyStatus' || body.method === 'NotifyFullStatus') {
        const params = body.params as Record<string, unknown> | undefined;
        if (!params || typeof params !== 'object')
          throw new MalformedPayload(msg.topic, `${String(body.method)} without params`);
        if (typeof body.src !== 'string')
          throw new MalformedPayload(msg.topic, `${String(body.method)} without src (device id)`);
        const observedAt =
          params.ts === undefined ? msg.receivedAt : Math.round(numberField(msg.topic, 'params.ts', params.ts) * 1000);
        const base = makeReading({
          assetId: body.src,
          metric: '',
          value: 0,
          unit: '',
          observedAt,
          receivedAt: msg.receivedAt,
          origin: msg.topic,
        });
        const readings = Object.entries(params)
          .filter(([k, v]) => metered.test(k) && v && typeof v === 'object')
          .flatMap(([k, v]) => componentReadings(msg.topic, k, v as Record<string, unknown>, base));
        return { readings };
      }
      return { readings: [] }; // other RPC traffic (NotifyEvent, responses) carries no readings
    },
  };
}
