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
  // em1:N / em1data:N (single-phase meters: Pro EM, Pro EM-50)
  [/^act_power$/, 'active_power', 'W'],
  [/^aprt_power$/, 'apparent_power', 'VA'],
  [/^pf$/, 'power_factor', '1'],
  [/^total_act_energy$/, 'energy_import', 'Wh'],
  [/^total_act_ret_energy$/, 'energy_export', 'Wh'],
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

/** Fields a status of each metered component kind should carry (named when a payload has none of them). */
const expectedFields: Record<string, string> = {
  em: 'a_act_power, a_voltage, a_current, total_act_power, total_current, ...',
  emdata: 'a_total_act_energy, total_act, total_act_ret, ...',
  em1: 'act_power, voltage, current, ...',
  em1data: 'total_act_energy, total_act_ret_energy',
  switch: 'apower, voltage, current, aenergy.total',
};

/** What a status object that yielded no reading held instead, for the reason. */
function describeKeys(status: Record<string, unknown>): string {
  const keys = Object.keys(status);
  if (keys.length === 0) return 'the object is empty';
  const nulls = keys.filter((k) => status[k] === null);
  const shown = keys.slice(0, 8).join(', ') + (keys.length > 8 ? `, ... (${keys.length} keys)` : '');
  return `it has ${shown}${nulls.length ? ` (null: ${nulls.slice(0, 8).join(', ')})` : ''}`;
}

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
      const status = /^(.*)\/status\/([a-z0-9_]+(?::\d+)?)$/.exec(msg.topic); // em:0, switch:1, sys, wifi
      if (status) {
        if (!metered.test(status[2]))
          return { readings: [], events: [`${msg.topic}: ${status[2]} is not a metering component; no readings`] };
        const base = makeReading({
          assetId: status[1],
          metric: '',
          value: 0,
          unit: '',
          observedAt: msg.receivedAt,
          receivedAt: msg.receivedAt,
          origin: msg.topic,
        });
        const readings = componentReadings(msg.topic, status[2], body, base);
        if (readings.length === 0) {
          const kind = status[2].slice(0, status[2].indexOf(':'));
          const why = `${status[2]} status has none of the expected meter fields (${expectedFields[kind]}): ${describeKeys(body)}`;
          // A relay without metering (Plus 1, Pro 4 without PM) legitimately reports only its output.
          if (kind === 'switch')
            return { readings: [], events: [`${msg.topic}: ${why}; a switch without metering has no readings`] };
          throw new MalformedPayload(msg.topic, why);
        }
        return { readings };
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
      if (/\/events\/rpc$/.test(msg.topic)) {
        // other RPC traffic (NotifyEvent, responses) carries no readings
        const method = typeof body.method === 'string' ? body.method : 'a response';
        return { readings: [], events: [`${msg.topic}: ${method} carries no readings`] };
      }
      throw new MalformedPayload(
        msg.topic,
        'neither a <device>/status/<component> topic nor a NotifyStatus/NotifyFullStatus notification (method and params)',
      );
    },
  };
}
