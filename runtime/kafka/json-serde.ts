import { OptiBidError } from '../errors.js';
import type { RecordOrigin, Serde } from '../serde/serde.js';

/** The JSON serde, with the promise-free calls the Kafka transports use on their hot path. */
export interface JsonSerde extends Serde {
  serializeSync(topic: string, value: unknown): Buffer;
  deserializeSync(bytes: Buffer, origin: RecordOrigin): { value: unknown };
  deserializeRangeSync(buf: Buffer, start: number, end: number, origin: RecordOrigin): unknown;
}

/**
 * JSON values as UTF-8: the Kafka transports' default until a topic has an Avro serde. A projection
 * (`deserializeRangeSync`'s `fields`) is ignored: JSON cannot be checked without parsing it whole, so the
 * whole value is returned.
 */
export function createJsonSerde(): JsonSerde {
  const deserializeRangeSync = (buf: Buffer, start: number, end: number, origin: RecordOrigin): unknown => {
    try {
      return JSON.parse(buf.toString('utf8', start, end)) as unknown;
    } catch (cause) {
      throw new OptiBidError(
        'OPTIBID_ERR_DECODE',
        `${origin.topic}[${origin.partition ?? '?'}]@${origin.offset ?? '?'}: not JSON: ${(cause as Error).message}`,
        {
          cause,
          context: { ...origin },
        },
      );
    }
  };
  const deserializeSync = (bytes: Buffer, origin: RecordOrigin) => ({
    value: deserializeRangeSync(bytes, 0, bytes.length, origin),
  });
  const serializeSync = (_topic: string, value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
  return {
    serializeSync,
    deserializeSync,
    deserializeRangeSync,
    async serialize(topic, value) {
      return serializeSync(topic, value);
    },
    async deserialize(bytes: Buffer, origin: RecordOrigin) {
      return deserializeSync(bytes, origin).value;
    },
  };
}
