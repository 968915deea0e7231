import { createRequire } from 'node:module';
import { crc32c } from './crc32c.js';

const require = createRequire(import.meta.url);
const kafkajsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;

describe('crc32c', () => {
  it('gives the published check value and kafkajs’ results for every length and offset', () => {
    // The CRC-32C check value of the ASCII digits 1..9.
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    let seed = 7;
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) random[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    for (let len = 0; len <= 70; len++) {
      for (const start of [0, 1, 3, 8]) {
        const part = random.subarray(start, start + len);
        expect(crc32c(random, start, start + len)).toBe(kafkajsCrc32C(part));
        expect(crc32c(part)).toBe(kafkajsCrc32C(part));
      }
    }
    expect(crc32c(random)).toBe(kafkajsCrc32C(random));
    expect(crc32c(Buffer.alloc(1000, 0xff))).toBe(kafkajsCrc32C(Buffer.alloc(1000, 0xff)));
  });
});
