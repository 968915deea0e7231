import { keyString } from './codec.js';

describe('keyString (cached UTF-8 keys of the lean decoder)', () => {
  it('decodes exactly like Buffer.toString for repeated, colliding, non-ASCII, empty and long keys', () => {
    const keys = [
      ...Array.from({ length: 3000 }, (_, i) => `NORDPOOL|A${i % 1500}`), // more keys than slots: collisions
      'Zürich|Ω',
      'Zürich|Ω',
      '',
      '',
      'x'.repeat(49),
      'x'.repeat(49),
      'NORDPOOL|A1',
      'NORDPOOL|B1', // same length and slot neighbourhood as the last one, one byte differs
    ];
    // All keys in one buffer at shifting offsets, as record keys sit inside a fetch response.
    const parts = keys.map((k) => Buffer.concat([Buffer.from([7, 7, 7]), Buffer.from(k, 'utf8')]));
    const buf = Buffer.concat(parts);
    let at = 0;
    const got: string[] = [];
    for (const p of parts) {
      got.push(keyString(buf, at + 3, at + p.length));
      at += p.length;
    }
    expect(got).toEqual(keys);
    // Bytes written over after a key was cached do not change what the cache returns for other bytes.
    const b = Buffer.from('NORDPOOL|A7');
    expect(keyString(b, 0, b.length)).toBe('NORDPOOL|A7');
    b[b.length - 1] = '8'.charCodeAt(0);
    expect(keyString(b, 0, b.length)).toBe('NORDPOOL|A8');
  });
});
