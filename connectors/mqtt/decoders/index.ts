import { OptiBidError } from '@optibid/runtime';
import { jsonDecoder } from './json.js';
import { tasmotaDecoder } from './tasmota.js';
import { shellyDecoder } from './shelly.js';
import { victronDecoder } from './victron.js';
import { sparkplugDecoder } from './sparkplug.js';
import type { MqttDecoder } from './types.js';

export * from './types.js';
export { jsonDecoder, tasmotaDecoder, shellyDecoder, victronDecoder, sparkplugDecoder };
export { encodeSparkplug, decodeSparkplug, DataType } from './sparkplug-proto.js';

/** Decoder names accepted in the MQTT source config. */
export const decoderNames = ['json', 'tasmota', 'shelly', 'victron', 'sparkplug'] as const;
export type DecoderName = (typeof decoderNames)[number];

/** Options shared by every decoder factory. */
export interface DecoderOptions {
  /** JSONata mapping (json decoder). */
  mapping?: string;
  /** IANA time zone of device-local timestamps (tasmota decoder). */
  timeZone?: string;
}

/** Makes a decoder by name. */
export function makeDecoder(name: string, opts: DecoderOptions = {}): MqttDecoder {
  switch (name) {
    case 'json':
      if (!opts.mapping) throw new OptiBidError('OPTIBID_ERR_CONFIG', 'the json decoder needs a JSONata `mapping`');
      return jsonDecoder({ mapping: opts.mapping });
    case 'tasmota':
      return tasmotaDecoder({ timeZone: opts.timeZone });
    case 'shelly':
      return shellyDecoder();
    case 'victron':
      return victronDecoder();
    case 'sparkplug':
      return sparkplugDecoder();
    default:
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `unknown MQTT decoder "${name}" (known: ${decoderNames.join(', ')})`,
      );
  }
}
