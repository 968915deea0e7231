import { localToUtc } from '../../common/time.js';
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

/** Tasmota ENERGY fields → metric and unit. */
const energyFields: Record<string, [string, string]> = {
  Power: ['active_power', 'W'],
  ApparentPower: ['apparent_power', 'VA'],
  ReactivePower: ['reactive_power', 'var'],
  Factor: ['power_factor', '1'],
  Voltage: ['voltage', 'V'],
  Current: ['current', 'A'],
  Frequency: ['frequency', 'Hz'],
  Total: ['energy_import', 'kWh'],
  Today: ['energy_import_today', 'kWh'],
  Yesterday: ['energy_import_yesterday', 'kWh'],
  ExportActive: ['energy_export', 'kWh'],
};

const phases = ['a', 'b', 'c'];

/** Device-local time "2024-05-01T12:00:00" (no zone) → ms UTC in `timeZone`. */
function tasmotaTime(topic: string, text: unknown, timeZone: string): number {
  if (typeof text !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(text))
    throw new MalformedPayload(topic, `Time ${JSON.stringify(text)} is not YYYY-MM-DDTHH:MM:SS`);
  return localToUtc(text, timeZone);
}

/**
 * Tasmota `tele/<device>/SENSOR` energy payloads: `{"Time": ..., "ENERGY": {"Power": 120, ...}}`.
 * The asset is the device topic (second topic level). Time is the device's local time, read in `timeZone`.
 * Multi-phase meters send arrays (one value per phase): those give metric_a, metric_b, metric_c.
 */
export function tasmotaDecoder(opts: { timeZone?: string } = {}): MqttDecoder {
  const timeZone = opts.timeZone ?? 'UTC';
  return {
    name: 'tasmota',
    decode(msg: MqttMessage): DecodeResult {
      const levels = msg.topic.split('/');
      if (levels.length < 3 || levels[levels.length - 1] !== 'SENSOR')
        throw new MalformedPayload(msg.topic, 'not a Tasmota tele/<device>/SENSOR topic');
      const body = jsonPayload(msg) as Record<string, unknown>;
      if (!body || typeof body !== 'object' || Array.isArray(body))
        throw new MalformedPayload(msg.topic, 'payload is not a JSON object');
      const energy = body.ENERGY as Record<string, unknown> | undefined;
      if (!energy || typeof energy !== 'object') return { readings: [] }; // a sensor message without an energy meter
      const observedAt = body.Time === undefined ? msg.receivedAt : tasmotaTime(msg.topic, body.Time, timeZone);
      const assetId = levels[levels.length - 2];
      const readings: TelemetryReading[] = [];
      for (const [field, [metric, unit]] of Object.entries(energyFields)) {
        const v = energy[field];
        if (v === undefined || v === null) continue;
        const base = { assetId, unit, observedAt, receivedAt: msg.receivedAt, origin: msg.topic };
        if (Array.isArray(v))
          v.forEach((x, i) =>
            readings.push(
              makeReading({
                ...base,
                metric: `${metric}_${phases[i] ?? i + 1}`,
                value: numberField(msg.topic, `ENERGY.${field}[${i}]`, x),
              }),
            ),
          );
        else readings.push(makeReading({ ...base, metric, value: numberField(msg.topic, `ENERGY.${field}`, v) }));
      }
      return { readings };
    },
  };
}
