import jsonata from 'jsonata';
import { OptiBidError } from '@optibid/runtime';
import type { ReadingQuality } from '@optibid/schemas';
import {
  jsonPayload,
  makeReading,
  MalformedPayload,
  numberField,
  type DecodeResult,
  type MqttDecoder,
  type MqttMessage,
} from './types.js';

const qualities: ReadingQuality[] = ['UNKNOWN', 'GOOD', 'SUSPECT', 'BAD'];

/**
 * Generic JSON payloads mapped by a JSONata expression. The expression sees the payload as `$`, plus
 * `$topic`, `$levels` (topic levels as an array) and `$receivedAt`; it returns one object or an array of
 * `{assetId, metric, value, unit, observedAt?, siteId?, quality?}` (observedAt in ms or ISO text).
 *
 * Example: `{"assetId": $levels[1], "metric": "active_power", "value": power_kw, "unit": "kW", "observedAt": ts}`
 */
export function jsonDecoder(opts: { mapping: string }): MqttDecoder {
  let expr: ReturnType<typeof jsonata>;
  try {
    expr = jsonata(opts.mapping);
  } catch (err) {
    const e = err as { message: string; position?: number };
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `JSONata mapping does not parse at character ${e.position ?? '?'}: ${e.message}`,
    );
  }
  return {
    name: 'json',
    async decode(msg: MqttMessage): Promise<DecodeResult> {
      const body = jsonPayload(msg);
      let out: unknown;
      try {
        out = await expr.evaluate(body, { topic: msg.topic, levels: msg.topic.split('/'), receivedAt: msg.receivedAt });
      } catch (err) {
        throw new MalformedPayload(msg.topic, `mapping failed: ${(err as Error).message}`);
      }
      if (out === undefined) return { readings: [] };
      const items = Array.isArray(out) ? out : [out];
      const readings = items.map((o, i) => {
        const where = items.length > 1 ? `mapping result [${i}]` : 'mapping result';
        if (!o || typeof o !== 'object') throw new MalformedPayload(msg.topic, `${where} is not an object`);
        const r = o as Record<string, unknown>;
        for (const f of ['assetId', 'metric', 'unit']) {
          if (typeof r[f] !== 'string' || r[f] === '')
            throw new MalformedPayload(msg.topic, `${where}.${f} is ${JSON.stringify(r[f])}, expected text`);
        }
        let observedAt = msg.receivedAt;
        if (typeof r.observedAt === 'number') observedAt = numberField(msg.topic, `${where}.observedAt`, r.observedAt);
        else if (typeof r.observedAt === 'string') {
          observedAt = Date.parse(r.observedAt);
          if (Number.isNaN(observedAt))
            throw new MalformedPayload(msg.topic, `${where}.observedAt "${r.observedAt}" is not a date`);
        }
        const quality = (typeof r.quality === 'string' ? r.quality.toUpperCase() : 'UNKNOWN') as ReadingQuality;
        return makeReading({
          assetId: r.assetId as string,
          siteId: typeof r.siteId === 'string' ? r.siteId : null,
          metric: r.metric as string,
          unit: r.unit as string,
          value: numberField(msg.topic, `${where}.value`, r.value),
          quality: qualities.includes(quality) ? quality : 'UNKNOWN',
          observedAt,
          receivedAt: msg.receivedAt,
          origin: msg.topic,
        });
      });
      return { readings };
    },
  };
}
