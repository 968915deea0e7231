import { OptiBidError } from '../errors.js';
import type { RecordOrigin, Serde } from '../serde/serde.js';

/** JSON values as UTF-8: the Kafka transports' default until a topic has an Avro serde. */
export function createJsonSerde(): Serde {
  return {
    async serialize(_topic, value) {
      return Buffer.from(JSON.stringify(value), 'utf8');
    },
    async deserialize(bytes: Buffer, origin: RecordOrigin) {
      try {
        return JSON.parse(bytes.toString('utf8'));
      } catch (cause) {
        throw new OptiBidError('OPTIBID_ERR_DECODE', `${origin.topic}[${origin.partition ?? '?'}]@${origin.offset ?? '?'}: not JSON: ${(cause as Error).message}`, {
          cause,
          context: { ...origin },
        });
      }
    },
  };
}
