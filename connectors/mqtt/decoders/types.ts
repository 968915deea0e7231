import { OptiBidError } from '@optibid/runtime';
import type { TelemetryReading } from '../../common/records.js';

/** One MQTT message as a decoder sees it. */
export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  /** When OptiBid received it, ms UTC (receivedAt of the readings). */
  receivedAt: number;
}

/** What a decoder made of one message. */
export interface DecodeResult {
  readings: TelemetryReading[];
  /** Protocol events worth logging or alerting on (Sparkplug sequence gaps, births, deaths). */
  events?: string[];
}

/**
 * Turns MQTT messages into telemetry readings. Throws `MalformedPayload` for a message it cannot read;
 * the source sends that message to the dead-letter topic with the MQTT topic and the reason.
 * Decoders may keep state across messages (Sparkplug aliases and sequence numbers).
 */
export interface MqttDecoder {
  readonly name: string;
  decode(msg: MqttMessage): DecodeResult | Promise<DecodeResult>;
}

/** A payload a decoder refuses; `reason` is short and names the field. */
export class MalformedPayload extends OptiBidError {
  constructor(
    readonly topic: string,
    readonly reason: string,
  ) {
    super('OPTIBID_ERR_DECODE', `MQTT topic ${topic}: ${reason}`, { context: { topic } });
  }
}

/** Parses a JSON payload strictly (NaN / nan / trailing junk refused), naming the topic. */
export function jsonPayload(msg: MqttMessage): unknown {
  const text = Buffer.from(msg.payload).toString('utf8');
  if (text.trim() === '') throw new MalformedPayload(msg.topic, 'empty payload');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MalformedPayload(msg.topic, `invalid JSON (${(err as Error).message.slice(0, 120)})`);
  }
}

/** A finite number, or a MalformedPayload naming the field. */
export function numberField(topic: string, field: string, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new MalformedPayload(topic, `${field} is ${JSON.stringify(v) ?? String(v)}, not a finite number`);
}

/** Lower snake_case of a metric name: "Power/Active L1" → power_active_l1. */
export function snake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
}

/** A reading with defaults filled in, fields in the Avro schema's order. */
export function makeReading(
  r: Pick<TelemetryReading, 'assetId' | 'metric' | 'value' | 'unit' | 'observedAt' | 'receivedAt' | 'origin'> &
    Partial<TelemetryReading>,
): TelemetryReading {
  return {
    assetId: r.assetId,
    siteId: r.siteId ?? null,
    metric: r.metric,
    value: r.value,
    unit: r.unit,
    quality: r.quality ?? 'UNKNOWN',
    observedAt: r.observedAt,
    receivedAt: r.receivedAt,
    origin: r.origin,
  };
}
