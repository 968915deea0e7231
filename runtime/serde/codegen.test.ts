import { readdirSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import {
  CompiledReadError,
  compileReader,
  compileWriter,
  WRITE_FALLBACK,
  WRITE_INVALID,
  WRITE_OVERFLOW,
  type CompiledReader,
  type CompiledWriter,
} from './codegen.js';

// The generated codecs must write exactly avsc's bytes (which is what @confluentinc/schemaregistry's
// AvroSerializer writes: it encodes with avsc) and read avsc's values, for every topic schema and for
// every type the generator handles.

const avscDir = fileURLToPath(new URL('../../schemas/avro/', import.meta.url));
const topicSchemas = readdirSync(avscDir)
  .filter((f) => f.endsWith('.avsc'))
  .map((f) => [f, JSON.parse(readFileSync(`${avscDir}${f}`, 'utf8')) as avro.Schema] as const);

const typeOf = (schema: unknown) => avro.Type.forSchema(schema as avro.Schema, { registry: {} });

/** Deterministic pseudo-random numbers in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const edgeStrings = [
  '',
  'a',
  'kW',
  '%',
  'bess-antwerp-1',
  'x'.repeat(63),
  'y'.repeat(64),
  'z'.repeat(65),
  'é',
  'Zürich Süd',
  '東京電力',
  'emoji 🔋⚡ battery',
  `${'a'.repeat(62)}é`,
  'w'.repeat(700),
];
const edgeLongs = [
  0,
  1,
  -1,
  63,
  64,
  -64,
  -65,
  1073741823,
  1073741824,
  -1073741824,
  -1073741825,
  2 ** 31,
  -(2 ** 31),
  2 ** 32 + 5,
  1_700_000_000_123,
  -1_700_000_000_123,
  9007199254740990,
  -9007199254740990,
  4503599627370497,
  -4503599627370497,
];
const edgeInts = [0, 1, -1, 63, 64, -65, 2147483647, -2147483648, 1073741824];
const edgeDoubles = [0, -0, 1.5, -12.5, 1e-300, 1.7976931348623157e308, Infinity, -Infinity, NaN, 84.12];

type AnyType = avro.Type & {
  typeName: string;
  fields?: { name: string; type: AnyType; defaultValue(): unknown }[];
  symbols?: string[];
  types?: AnyType[];
  itemsType?: AnyType;
  valuesType?: AnyType;
  size?: number;
};

/** A random valid value of `t`, mixing ordinary values with edge cases (and missing defaulted fields). */
function randomValue(t: AnyType, rnd: () => number, depth = 0): unknown {
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rnd() * xs.length)]!;
  switch (t.typeName) {
    case 'null':
      return null;
    case 'boolean':
      return rnd() < 0.5;
    case 'int':
      return rnd() < 0.3 ? pick(edgeInts) : Math.floor(rnd() * 2000) - 1000;
    case 'long':
      return rnd() < 0.3 ? pick(edgeLongs) : Math.floor(rnd() * 2 ** 41) * (rnd() < 0.2 ? -1 : 1);
    case 'float':
      return rnd() < 0.3 ? pick(edgeDoubles) : Math.fround(rnd() * 1000 - 500);
    case 'double':
      return rnd() < 0.3 ? pick(edgeDoubles) : rnd() * 1000 - 500;
    case 'string':
      return rnd() < 0.4 ? pick(edgeStrings) : `s${Math.floor(rnd() * 50)}`;
    case 'bytes':
      return Buffer.from(Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)));
    case 'fixed':
      return Buffer.from(Array.from({ length: t.size! }, () => Math.floor(rnd() * 256)));
    case 'enum':
      return pick(t.symbols!);
    case 'union:unwrapped':
      return rnd() < 0.3
        ? null
        : randomValue(
            t.types!.find((b) => b.typeName !== 'null')!,
            rnd,
            depth,
          );
    case 'array':
      return Array.from({ length: depth > 2 ? 0 : Math.floor(rnd() * 5) }, () =>
        randomValue(t.itemsType!, rnd, depth + 1),
      );
    case 'map':
      return Object.fromEntries(
        Array.from({ length: depth > 2 ? 0 : Math.floor(rnd() * 4) }, (_, i) => [
          `k${i}${pick(['', 'é', '-x'])}`,
          randomValue(t.valuesType!, rnd, depth + 1),
        ]),
      );
    case 'record': {
      const out: Record<string, unknown> = {};
      for (const f of t.fields!) {
        if (f.defaultValue() !== undefined && rnd() < 0.15) continue; // avsc writes the default
        out[f.name] = randomValue(f.type, rnd, depth + 1);
      }
      return out;
    }
    default:
      throw new Error(`no generator for ${t.typeName}`);
  }
}

/** Encodes with the compiled writer into a buffer with junk around the value. */
function compiledBytes(w: CompiledWriter, value: unknown): Buffer | number {
  const buf = Buffer.alloc(w.maxSize(value) + 40, 0xaa);
  const end = w.write(value, buf, 7);
  return end < 0 ? end : Buffer.from(buf.subarray(7, end));
}

/** Decodes `bytes` placed after 3 junk bytes, checking the reported end. */
function compiledRead(r: CompiledReader, bytes: Buffer): unknown {
  const framed = Buffer.concat([Buffer.from([9, 9, 9]), bytes]);
  const value = r.read(framed, 3);
  expect(r.end()).toBe(framed.length);
  return value;
}

/** A schema with every type the generator handles, nested. */
const kitchenSink = {
  type: 'record',
  name: 'Sink',
  namespace: 'test',
  fields: [
    { name: 'b', type: 'boolean' },
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 's', type: 'string' },
    { name: 'by', type: 'bytes' },
    { name: 'fx', type: { type: 'fixed', name: 'Four', size: 4 } },
    { name: 'e', type: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN', 'BLUE'], default: 'RED' } },
    { name: 'ns', type: ['null', 'string'], default: null },
    { name: 'sn', type: ['string', 'null'], default: 'dflt' },
    { name: 'nl', type: ['null', 'long'], default: null },
    { name: 'dd', type: 'double', default: 2.5 },
    { name: 'sd', type: 'string', default: 'unit-default' },
    { name: 'ed', type: 'Color', default: 'BLUE' },
    {
      name: 'items',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Item',
          fields: [
            { name: 'id', type: 'string' },
            { name: 'q', type: ['null', 'double'], default: null },
            { name: 'tags', type: { type: 'array', items: 'string' } },
          ],
        },
      },
    },
    { name: 'm', type: { type: 'map', values: ['null', 'Item'] } },
    { name: 'nested', type: ['null', 'Item'], default: null },
    { name: 'nothing', type: 'null' },
  ],
};

describe('generated Avro codecs (codegen.ts)', () => {
  const cases: [string, avro.Schema][] = [...topicSchemas, ['kitchen sink', kitchenSink as avro.Schema]];

  it.each(cases)('%s: same bytes as avsc, and reads back what avsc reads', (_name, schema) => {
    const t = typeOf(schema) as AnyType;
    const w = compileWriter(t)!;
    const r = compileReader(t, t)!;
    expect(w).toBeDefined();
    expect(r).toBeDefined();
    const rnd = lcg(42);
    for (let n = 0; n < 150; n++) {
      const value = randomValue(t, rnd);
      expect(t.isValid(value)).toBe(true);
      const ref = t.toBuffer(value);
      const mine = compiledBytes(w, value);
      if (mine === WRITE_FALLBACK) throw new Error('no lone surrogates generated, no fallback expected');
      expect(mine).toEqual(ref);
      expect(w.maxSize(value)).toBeGreaterThanOrEqual(ref.length);
      expect(compiledRead(r, ref)).toEqual(t.fromBuffer(ref));
    }
  });

  it('refuses exactly the values avsc refuses', () => {
    const t = typeOf(kitchenSink) as AnyType;
    const w = compileWriter(t)!;
    const rnd = lcg(7);
    const wrong = [
      'x',
      1.5,
      2 ** 31,
      2 ** 60,
      -(2 ** 60),
      NaN,
      null,
      undefined,
      {},
      [],
      true,
      Buffer.from('ab'),
      'PURPLE',
      [1],
      { a: 1 },
    ];
    let refused = 0;
    for (let n = 0; n < 300; n++) {
      const value = randomValue(t, rnd) as Record<string, unknown>;
      const field = t.fields![n % t.fields!.length]!.name;
      const bad = { ...value, [field]: wrong[Math.floor(rnd() * wrong.length)] };
      const mine = compiledBytes(w, bad);
      if (t.isValid(bad)) expect(mine).toEqual(t.toBuffer(bad));
      else {
        expect(mine).toBe(WRITE_INVALID);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(200);
    expect(compiledBytes(w, null)).toBe(WRITE_INVALID);
    expect(compiledBytes(w, 'record')).toBe(WRITE_INVALID);
  });

  it('hands strings with lone surrogates back to avsc (it writes them differently from Node)', () => {
    const t = typeOf(topicSchemas.find(([f]) => f === 'telemetry.readings-value.avsc')![1]);
    const w = compileWriter(t)!;
    const reading = {
      assetId: 'bad-\ud800-surrogate',
      siteId: null,
      metric: 'm',
      value: 1,
      unit: 'kW',
      quality: 'GOOD',
      observedAt: 1,
      receivedAt: 2,
      origin: null,
    };
    expect(compiledBytes(w, reading)).toBe(WRITE_FALLBACK);
    expect(compiledBytes(w, { ...reading, assetId: 'fine-\ud83d\udd0b' })).toEqual(
      t.toBuffer({ ...reading, assetId: 'fine-\ud83d\udd0b' }),
    );
  });

  it('reports a too-small buffer at every size, and writes the same bytes once it fits', () => {
    const t = typeOf(kitchenSink) as AnyType;
    const w = compileWriter(t)!;
    const rnd = lcg(3);
    for (let n = 0; n < 20; n++) {
      const value = randomValue(t, rnd);
      const ref = t.toBuffer(value);
      for (let size = 0; size <= ref.length + 200; size += 1 + Math.floor(size / 50)) {
        const buf = Buffer.alloc(size);
        const end = w.write(value, buf, 0);
        if (end === WRITE_OVERFLOW) continue;
        expect(Buffer.from(buf.subarray(0, end))).toEqual(ref);
      }
      // Always fits in maxSize bytes.
      expect(w.write(value, Buffer.alloc(w.maxSize(value)), 0)).toBe(ref.length);
    }
  });

  it('throws a truncation error for every strict prefix of a record, never a value', () => {
    for (const schema of [kitchenSink, topicSchemas[0]![1]]) {
      const t = typeOf(schema) as AnyType;
      const r = compileReader(t, t)!;
      const rnd = lcg(5);
      for (let n = 0; n < 10; n++) {
        const ref = t.toBuffer(randomValue(t, rnd));
        for (let len = 0; len < ref.length; len++) {
          let error: unknown;
          try {
            r.read(ref.subarray(0, len), 0);
          } catch (err) {
            error = err;
          }
          expect(error).toBeInstanceOf(CompiledReadError);
        }
      }
    }
  });

  it('rejects corrupt bytes: bad union branch, bad enum index, overlong varint, negative length', () => {
    const t = typeOf({
      type: 'record',
      name: 'R',
      fields: [
        { name: 'u', type: ['null', 'string'] },
        { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } },
      ],
    });
    const r = compileReader(t, t)!;
    const err = (bytes: number[]) => {
      try {
        r.read(Buffer.from(bytes), 0);
      } catch (e) {
        return (e as CompiledReadError).message;
      }
      return 'no error';
    };
    expect(err([0, 2])).toBe('no error');
    expect(err([4, 0, 0])).toMatch(/invalid union index: 2/);
    expect(err([0, 8])).toMatch(/invalid E enum index: 4/);
    expect(err([2, 1, 0x41, 0])).toMatch(/negative length/);
    expect(err([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).toMatch(/longer than 10 bytes/);
  });

  describe('schema resolution (writer schema read into a different reader schema)', () => {
    const writer = {
      type: 'record',
      name: 'Reading',
      namespace: 'energy.optibid',
      fields: [
        { name: 'assetId', type: 'string' },
        { name: 'dropped', type: { type: 'array', items: { type: 'map', values: ['null', 'string'] } } },
        { name: 'count', type: 'int' },
        { name: 'ratio', type: 'float' },
        { name: 'big', type: 'long' },
        { name: 'q', type: { type: 'enum', name: 'Q', symbols: ['UNKNOWN', 'GOOD', 'STALE'], default: 'UNKNOWN' } },
        { name: 'maybe', type: ['null', 'double'], default: null },
        { name: 'plain', type: 'string' },
        { name: 'gone', type: ['null', { type: 'record', name: 'Gone', fields: [{ name: 'x', type: 'bytes' }] }] },
        { name: 'flag', type: 'boolean' },
      ],
    };
    const reader = {
      type: 'record',
      name: 'Reading',
      namespace: 'energy.optibid',
      fields: [
        { name: 'flag', type: 'boolean' }, // reordered
        { name: 'assetId', type: 'string' },
        { name: 'count', type: 'long' }, // int -> long
        { name: 'ratio', type: 'double' }, // float -> double
        { name: 'big', type: 'double' }, // long -> double
        { name: 'q', type: { type: 'enum', name: 'Q', symbols: ['UNKNOWN', 'GOOD'], default: 'UNKNOWN' } }, // STALE -> default
        { name: 'maybe', type: ['null', 'double'], default: null },
        { name: 'plain', type: ['null', 'string'], default: null }, // string -> nullable string
        { name: 'unit', type: 'string', default: 'kW' }, // added with a default
        { name: 'added', type: ['null', 'long'], default: null },
      ],
    };

    it('matches avsc resolution on random records', () => {
      const w = typeOf(writer) as AnyType;
      const rt = typeOf(reader);
      const resolver = rt.createResolver(w);
      const compiled = compileReader(w, rt)!;
      expect(compiled).toBeDefined();
      const rnd = lcg(11);
      let stale = 0;
      for (let n = 0; n < 300; n++) {
        const value = randomValue(w, rnd) as { q: string };
        if (value.q === 'STALE') stale++;
        const bytes = w.toBuffer(value);
        const expected = rt.fromBuffer(bytes, resolver);
        expect(compiledRead(compiled, bytes)).toEqual(expected);
      }
      expect(stale).toBeGreaterThan(10);
    });

    it('leaves pairs it cannot generate to avsc', () => {
      const w = typeOf({ type: 'record', name: 'R', fields: [{ name: 'a', type: ['null', 'string'] }] });
      const r = typeOf({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] });
      expect(compileReader(w, r)).toBeUndefined();
      const withObjectDefault = typeOf({
        type: 'record',
        name: 'R',
        fields: [
          { name: 'a', type: ['null', 'string'] },
          { name: 'list', type: { type: 'array', items: 'int' }, default: [1, 2] },
        ],
      });
      expect(compileReader(w, withObjectDefault)).toBeUndefined();
      const wrapped = typeOf({ type: 'record', name: 'R', fields: [{ name: 'a', type: ['int', 'string'] }] });
      expect(compileWriter(wrapped)).toBeUndefined();
      const recursive = typeOf({
        type: 'record',
        name: 'Node',
        fields: [{ name: 'next', type: ['null', 'Node'] }],
      });
      expect(compileWriter(recursive)).toBeUndefined();
      expect(compileReader(recursive)).toBeUndefined();
    });
  });

  it('decodes repeated short strings from the cache without mixing up values that share a slot', () => {
    const t = typeOf({ type: 'record', name: 'S', fields: [{ name: 's', type: 'string' }] });
    const r = compileReader(t, t)!;
    // 2000 distinct short strings through a 1024-entry cache: many collide; each must come back intact.
    const values = Array.from({ length: 2000 }, (_, i) => `asset-${i}`);
    for (let round = 0; round < 2; round++)
      for (const s of values) expect((compiledRead(r, t.toBuffer({ s })) as { s: string }).s).toBe(s);
    // Unique values switch the cache off for a while, repeated ones switch it on again: values stay right throughout.
    const encoded = (v: string) => t.toBuffer({ s: v });
    const repeated = Array.from({ length: 10 }, (_, i) => encoded(`unit-${i}`));
    let wrong = 0;
    for (let i = 0; i < 3000; i++)
      if ((r.read(encoded(`unique-${i}`), 0) as { s: string }).s !== `unique-${i}`) wrong++;
    for (let i = 0; i < 20_000; i++)
      if ((r.read(repeated[i % 10]!, 0) as { s: string }).s !== `unit-${i % 10}`) wrong++;
    for (let i = 0; i < 3000; i++)
      if ((r.read(encoded(`later-${i % 50}`), 0) as { s: string }).s !== `later-${i % 50}`) wrong++;
    expect(wrong).toBe(0);
    // Same bytes as a cached ASCII string but not ASCII: never taken from the cache.
    expect((compiledRead(r, t.toBuffer({ s: 'é' })) as { s: string }).s).toBe('é');
    expect((compiledRead(r, t.toBuffer({ s: 'Ã' })) as { s: string }).s).toBe('Ã');
  });

  describe('projected readers (compileReader with fields)', () => {
    /** The result of a read: the value and end, or the error's message and kind. */
    const outcome = (r: CompiledReader, bytes: Buffer, end = bytes.length) => {
      try {
        const value = r.read(bytes, 0, end);
        return { value, end: r.end() };
      } catch (err) {
        expect(err).toBeInstanceOf(CompiledReadError);
        return { error: (err as CompiledReadError).message, truncated: (err as CompiledReadError).truncated };
      }
    };
    /** `value` with only `fields`, in the reader's field order (what a projected read must return). */
    const picked = (t: AnyType, value: unknown, fields: readonly string[]) => {
      const out: Record<string, unknown> = {};
      for (const f of t.fields!) if (fields.includes(f.name)) out[f.name] = (value as Record<string, unknown>)[f.name];
      return out;
    };
    /** Projections of `t`: each field alone, every other field, none, all, and a name the schema lacks. */
    const projectionsOf = (t: AnyType): string[][] => {
      const names = t.fields!.map((f) => f.name);
      return [...names.map((n) => [n]), names.filter((_, i) => i % 2 === 1), [], names, ['no-such-field', names[0]!]];
    };
    const cases: [string, avro.Schema][] = [...topicSchemas, ['kitchen sink', kitchenSink as avro.Schema]];

    it.each(cases)('%s: builds only the projected fields, same values and end as the whole read', (_name, schema) => {
      const t = typeOf(schema) as AnyType;
      const whole = compileReader(t, t)!;
      const rnd = lcg(21);
      for (const fields of projectionsOf(t)) {
        const projected = compileReader(t, t, fields)!;
        expect(projected).toBeDefined();
        for (let n = 0; n < 40; n++) {
          const bytes = t.toBuffer(randomValue(t, rnd));
          const full = outcome(whole, bytes);
          const got = outcome(projected, bytes);
          expect(got.end).toBe(full.end);
          expect(got.value).toEqual(picked(t, full.value, fields));
          expect(Object.keys(got.value as object)).toEqual(
            t.fields!.map((f) => f.name).filter((f) => fields.includes(f)),
          );
        }
      }
    });

    it('without fields, or for a non-record reader, reads exactly what the whole reader reads', () => {
      const t = typeOf(kitchenSink) as AnyType;
      const plain = compileReader(t, t)!;
      const rnd = lcg(23);
      for (let n = 0; n < 30; n++) {
        const bytes = t.toBuffer(randomValue(t, rnd));
        expect(outcome(compileReader(t, t, undefined)!, bytes)).toEqual(outcome(plain, bytes));
      }
      const s = typeOf('string');
      expect(compileReader(s, s, ['x'])!.read(s.toBuffer('hello'), 0)).toBe('hello');
    });

    it('accepts and refuses exactly the bytes the whole reader does, with the same errors (prefixes, flipped bytes)', () => {
      const prices = topicSchemas.find(([f]) => f === 'market.prices-value.avsc')![1];
      for (const schema of [kitchenSink, prices]) {
        const t = typeOf(schema) as AnyType;
        const whole = compileReader(t, t)!;
        const names = t.fields!.map((f) => f.name);
        const projections = [[names[0]!], names.filter((_, i) => i % 2 === 1), [names[names.length - 1]!], []].map(
          (f) => [f, compileReader(t, t, f)!] as const,
        );
        const rnd = lcg(29);
        let refused = 0;
        for (let n = 0; n < 8; n++) {
          const ref = t.toBuffer(randomValue(t, rnd));
          const variants: Buffer[] = [];
          for (let len = 0; len < ref.length; len += 1 + Math.floor(len / 40)) variants.push(ref.subarray(0, len));
          for (let k = 0; k < 40; k++) {
            const bad = Buffer.from(ref);
            bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256);
            variants.push(bad);
          }
          for (const bytes of variants) {
            const full = outcome(whole, bytes);
            if (full.error !== undefined) refused++;
            for (const [fields, r] of projections) {
              const got = outcome(r, bytes);
              const want = full.error !== undefined ? full : { value: picked(t, full.value, fields), end: full.end };
              if (!isDeepStrictEqual(got, want)) expect(got).toEqual(want); // one expect per mismatch: fast
            }
          }
        }
        expect(refused).toBeGreaterThan(50);
      }
    });

    it('checks the fields it skips: string length, enum index, union branch, varint length, precision', () => {
      const t = typeOf({
        type: 'record',
        name: 'R',
        fields: [
          { name: 'keep', type: 'double' },
          { name: 's', type: 'string' },
          { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } },
          { name: 'u', type: ['null', 'string'] },
          { name: 'l', type: 'long' },
        ],
      });
      const r = compileReader(t, t, ['keep'])!;
      const keep = Buffer.alloc(8);
      keep.writeDoubleLE(84.25);
      const err = (rest: number[], end?: number) => {
        const bytes = Buffer.concat([keep, Buffer.from(rest), Buffer.from([7, 7, 7])]); // the next record's bytes follow
        try {
          return { value: r.read(bytes, 0, end ?? bytes.length - 3) as unknown };
        } catch (e) {
          return { error: (e as CompiledReadError).message, truncated: (e as CompiledReadError).truncated };
        }
      };
      expect(err([2, 0x41, 2, 0, 0])).toEqual({ value: { keep: 84.25 } });
      // A string length running past the record's end, though the next record's bytes follow.
      expect(err([10, 0x41, 2, 0, 0])).toMatchObject({ truncated: true });
      expect(err([3, 0x41, 2, 0, 0])).toMatchObject({ error: expect.stringMatching(/negative length/) });
      expect(err([2, 0x41, 8, 0, 0])).toMatchObject({ error: expect.stringMatching(/invalid E enum index: 4/) });
      expect(err([2, 0x41, 2, 4, 0])).toMatchObject({ error: expect.stringMatching(/invalid union index: 2/) });
      const overlong = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
      expect(err([2, 0x41, 2, 0, ...overlong])).toMatchObject({ error: expect.stringMatching(/longer than 10 bytes/) });
      const beyond2to53 = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]; // zig-zag of 2^62 - 1
      expect(err([2, 0x41, 2, 0, ...beyond2to53])).toMatchObject({ error: expect.stringMatching(/precision/) });
      // Around the 7-byte boundary the skip takes its short path: safe values pass, 2^53 + 2 (8 bytes) does not.
      const zigzag = (n: bigint) => {
        let z = n >= 0n ? n * 2n : -n * 2n - 1n;
        const out: number[] = [];
        while (z >= 0x80n) {
          out.push(Number(z & 0x7fn) | 0x80);
          z >>= 7n;
        }
        return [...out, Number(z)];
      };
      for (const n of [2n ** 48n - 1n, -(2n ** 48n), 2n ** 48n, 2n ** 52n + 1n, -(2n ** 53n) + 2n])
        expect(err([2, 0x41, 2, 0, ...zigzag(n)])).toEqual({ value: { keep: 84.25 } });
      expect(zigzag(2n ** 53n + 2n)).toHaveLength(8);
      expect(err([2, 0x41, 2, 0, ...zigzag(2n ** 53n + 2n)])).toMatchObject({
        error: expect.stringMatching(/precision/),
      });
      expect(err([2, 0x41, 2, 0, ...zigzag(2n ** 52n).slice(0, 6)])).toMatchObject({ truncated: true });
      // Trailing bytes are the caller's check: the end offset is the same as the whole reader's.
      const whole = compileReader(t, t)!;
      const bytes = Buffer.concat([keep, Buffer.from([2, 0x41, 2, 0, 0])]);
      whole.read(bytes, 0);
      const wholeEnd = whole.end();
      r.read(bytes, 0);
      expect(r.end()).toBe(wholeEnd);
    });

    it('with schema resolution: reader defaults and promotions of projected fields, writer-only fields skipped', () => {
      const w = typeOf({
        type: 'record',
        name: 'R',
        fields: [
          { name: 'a', type: 'int' },
          { name: 'gone', type: 'string' },
          { name: 'b', type: 'float' },
        ],
      }) as AnyType;
      const rt = typeOf({
        type: 'record',
        name: 'R',
        fields: [
          { name: 'b', type: 'double' },
          { name: 'a', type: 'long' },
          { name: 'unit', type: 'string', default: 'kW' },
        ],
      });
      const resolver = rt.createResolver(w);
      const r = compileReader(w, rt, ['a', 'unit'])!;
      const bytes = w.toBuffer({ a: 7, gone: 'x', b: 1.5 });
      expect(r.read(bytes, 0)).toEqual({ a: 7, unit: 'kW' });
      expect(r.end()).toBe(bytes.length);
      expect(rt.fromBuffer(bytes, resolver)).toMatchObject({ a: 7, unit: 'kW' });
    });
  });
});
