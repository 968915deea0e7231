import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { AvroDeserializer, AvroSerializer, MockClient, SerdeType } from '@confluentinc/schemaregistry';
import { isOptiBidError, type OptiBidError } from '../errors.js';
import { AvroSerde } from './avro.js';
import type { RegistrySchema, SchemaLookup } from './registry-client.js';

// The real topic schemas from schemas/avro (runtime cannot depend on @optibid/schemas: it is the other way round).
const avsc = (subject: string) =>
  JSON.parse(
    readFileSync(fileURLToPath(new URL(`../../schemas/avro/${subject}.avsc`, import.meta.url)), 'utf8'),
  ) as object;
const schemas = {
  'market.prices-value': avsc('market.prices-value'),
  'telemetry.readings-value': avsc('telemetry.readings-value'),
};

const price = {
  market: 'EPEX',
  area: 'BE',
  product: 'DAY_AHEAD',
  deliveryStart: Date.UTC(2024, 2, 31, 0, 0),
  intervalMinutes: 60,
  price: -12.5,
  currency: 'EUR',
  energyUnit: 'MWH',
  volumeMwh: null,
  publishedAt: Date.UTC(2024, 2, 30, 11, 42),
  ingestedAt: Date.UTC(2024, 2, 30, 11, 43, 7),
  source: 'replay:epf/BE.csv',
};
const reading = {
  assetId: 'bess-antwerp-1',
  siteId: 'antwerp',
  metric: 'state_of_charge',
  value: 61.25,
  unit: '%',
  quality: 'GOOD',
  observedAt: 1_700_000_000_123,
  receivedAt: 1_700_000_000_456,
  origin: 'sites/antwerp/bess-1/telemetry',
};

/** Wraps a lookup and counts the calls that would go to the registry. */
function counting(inner: SchemaLookup) {
  const calls = { register: 0, byId: 0 };
  const lookup: SchemaLookup = {
    register: (s, schema) => (calls.register++, inner.register(s, schema)),
    getBySubjectAndId: (s, id) => (calls.byId++, inner.getBySubjectAndId(s, id)),
  };
  return { lookup, calls };
}

describe('AvroSerde (Confluent wire format)', () => {
  it('is byte-identical to @confluentinc/schemaregistry AvroSerializer, and each reads the other', async () => {
    const client = new MockClient({ baseURLs: ['mock://'] } as never);
    const ours = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas });
    for (const [topic, value] of [
      ['market.prices', price],
      ['telemetry.readings', reading],
    ] as const) {
      const mine = await ours.serialize(topic, value);
      const theirs = await new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true }).serialize(
        topic,
        value,
      );
      expect(mine.equals(theirs)).toBe(true);
      expect(mine[0]).toBe(0);
      expect(mine.readInt32BE(1)).toBe(
        await client.getId(`${topic}-value`, { schemaType: 'AVRO', schema: JSON.stringify(schemas[`${topic}-value`]) }),
      );
      expect(await ours.deserialize(theirs, { topic })).toEqual(value);
      expect(await new AvroDeserializer(client, SerdeType.VALUE, {}).deserialize(topic, mine)).toEqual(value);
    }
  });

  it('stays byte-identical to the Confluent serializer on every topic schema, varied values, both code paths', async () => {
    const dir = fileURLToPath(new URL('../../schemas/avro/', import.meta.url));
    const all = Object.fromEntries(
      readdirSync(dir)
        .filter((f) => f.endsWith('-value.avsc'))
        .map((f) => [f.slice(0, -'.avsc'.length), JSON.parse(readFileSync(`${dir}${f}`, 'utf8')) as object]),
    );
    const client = new MockClient({ baseURLs: ['mock://'] } as never);
    const compiled = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas: all });
    const plain = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas: all, compiled: false });
    const theirs = new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true });
    const deserializer = new AvroDeserializer(client, SerdeType.VALUE, {});
    const special = [
      { ...price, area: 'Zürich-Süd ⚡', source: 'replay:東京/🔋.csv', price: -0, publishedAt: -1_700_000_000_123 },
      { ...price, volumeMwh: 1e-300, intervalMinutes: -2147483648, deliveryStart: 9007199254740990 },
      { ...reading, siteId: null, origin: null, unit: 'é'.repeat(70), value: NaN },
      // A lone surrogate: avsc writes it differently from Node, so the generated encoder hands it back to avsc.
      { ...reading, assetId: 'lone-\ud800-surrogate', origin: `long-${'\udc00'.repeat(40)}` },
    ];
    for (const [subject, schema] of Object.entries(all)) {
      const topic = subject.slice(0, -'-value'.length);
      const type = avro.Type.forSchema(schema as avro.Schema, { registry: {} });
      const values: unknown[] = Array.from({ length: 40 }, () => type.random());
      values.push(...special.filter((v) => type.isValid(v)));
      for (const value of values) {
        const mine = await compiled.serialize(topic, value);
        expect(mine.equals(await plain.serialize(topic, value))).toBe(true);
        expect(mine.equals(await theirs.serialize(topic, value))).toBe(true);
        const back = await compiled.deserialize(mine, { topic });
        expect(back).toEqual(await plain.deserialize(mine, { topic }));
        expect(back).toEqual(await deserializer.deserialize(topic, mine));
      }
    }
    expect(
      special.filter((v) => avro.Type.forSchema(all['market.prices-value'] as avro.Schema).isValid(v)),
    ).toHaveLength(2);
    expect(
      special.filter((v) => avro.Type.forSchema(all['telemetry.readings-value'] as avro.Schema).isValid(v)),
    ).toHaveLength(2);
  });

  it('gives the same decode errors with and without the generated codecs', async () => {
    const client = new MockClient({ baseURLs: ['mock://'] } as never);
    const origin = { topic: 'telemetry.readings', partition: 1, offset: '77' };
    const messages: string[][] = [];
    for (const compiled of [true, false]) {
      const serde = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas, compiled });
      const good = await serde.serialize('telemetry.readings', reading);
      const bad = [good.subarray(0, good.length - 1), good.subarray(0, 9), Buffer.concat([good, Buffer.from([0])])];
      const enumCorrupt = Buffer.from(good);
      // quality is the enum after the value double: find it by re-encoding with another symbol.
      const other = await serde.serialize('telemetry.readings', { ...reading, quality: 'BAD' });
      const at = good.findIndex((b, i) => b !== other[i]);
      enumCorrupt[at] = 40;
      bad.push(enumCorrupt);
      messages.push(
        await Promise.all(
          bad.map((b) =>
            serde.deserialize(b, origin).then(
              () => 'decoded',
              (err: OptiBidError) => `${err.code} ${err.message}`,
            ),
          ),
        ),
      );
    }
    expect(messages[0]).toEqual(messages[1]);
    expect(messages[0]![0]).toMatch(/OPTIBID_ERR_DECODE .*offset 77: truncated Avro body/);
    expect(messages[0]![2]).toMatch(/trailing bytes/);
    expect(messages[0]![3]).toMatch(/corrupt Avro body/);
  });

  it('makes no registry call in the steady state', async () => {
    const { lookup, calls } = counting(new MockClient({ baseURLs: ['mock://'] } as never) as unknown as SchemaLookup);
    const serde = new AvroSerde({ registry: lookup, schemas });
    const reader = new AvroSerde({ registry: lookup, schemas });
    for (let i = 0; i < 50; i++) {
      const bytes = await serde.serialize('market.prices', { ...price, price: i });
      expect(((await reader.deserialize(bytes, { topic: 'market.prices' })) as { price: number }).price).toBe(i);
    }
    expect(calls).toEqual({ register: 1, byId: 1 });
  });

  it('has a promise-free warm path giving the same bytes, and encodes records larger than a slab', async () => {
    const serde = new AvroSerde({
      registry: new MockClient({ baseURLs: ['mock://'] } as never) as unknown as SchemaLookup,
      schemas,
    });
    expect(serde.serializeSync('market.prices', price)).toBeUndefined(); // not warm yet
    const first = await serde.serialize('market.prices', price);
    const sync = serde.serializeSync('market.prices', price)!;
    expect(sync.equals(first)).toBe(true);
    expect(serde.deserializeSync(sync, { topic: 'market.prices' })).toBeUndefined(); // reader not cached yet
    expect(await serde.deserialize(sync, { topic: 'market.prices' })).toEqual(price);
    expect(serde.deserializeSync(sync, { topic: 'market.prices' })).toEqual({ value: price });
    // Many records and one far larger than the 64 KiB slab: every view keeps its own bytes.
    const many = await Promise.all(
      Array.from({ length: 3000 }, (_, i) => serde.serialize('market.prices', { ...price, price: i })),
    );
    const huge = { ...price, source: 'x'.repeat(200_000) };
    const hugeBytes = await serde.serialize('market.prices', huge);
    expect(await serde.deserialize(hugeBytes, { topic: 'market.prices' })).toEqual(huge);
    expect(
      many.map((b) => (serde.deserializeSync(b, { topic: 'market.prices' })!.value as { price: number }).price),
    ).toEqual(many.map((_, i) => i));
  });

  it('decodes a record in place inside a larger buffer (deserializeRangeSync) as it decodes a view of it', async () => {
    const client = new MockClient({ baseURLs: ['mock://'] } as never);
    const origin = { topic: 'market.prices', partition: 0, offset: '5' };
    for (const compiled of [true, false]) {
      const serde = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas, compiled });
      const one = Buffer.from(await serde.serialize('market.prices', price));
      const two = Buffer.from(await serde.serialize('market.prices', { ...price, price: 99.5, area: 'NL' }));
      // Records back to back in one buffer, as in a fetched record batch.
      const buf = Buffer.concat([Buffer.from([9, 9, 9]), one, two, Buffer.from([7])]);
      const a = 3;
      const b = a + one.length;
      const c = b + two.length;
      const reader = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas, compiled });
      expect(reader.deserializeRangeSync(buf, a, b, origin)).toBeUndefined(); // reader not cached yet
      await reader.deserialize(one, origin);
      expect(reader.deserializeRangeSync(buf, a, b, origin)).toEqual(price);
      expect(reader.deserializeRangeSync(buf, b, c, origin)).toEqual({ ...price, price: 99.5, area: 'NL' });
      expect(reader.deserializeRangeSync(buf, 0, 0, origin)).toBeNull();
      // The end bounds the record: one byte short is truncated (though the next record's bytes follow), one byte
      // long has trailing bytes; the same errors as for a view of those bytes.
      const error = (f: () => unknown) => {
        try {
          f();
        } catch (err) {
          return (err as Error).message;
        }
        return 'decoded';
      };
      for (const [from, to] of [
        [a, b - 1],
        [a, b + 1],
        [a, a + 3],
      ] as const) {
        const inPlace = error(() => reader.deserializeRangeSync(buf, from, to, origin));
        expect(inPlace).toMatch(/OPTIBID|cannot decode record at topic market\.prices partition 0 offset 5/);
        expect(inPlace).toBe(error(() => reader.deserializeSync(buf.subarray(from, to), origin)));
      }
      expect(error(() => reader.deserializeRangeSync(buf, a, b - 1, origin))).toMatch(/truncated Avro body/);
      expect(error(() => reader.deserializeRangeSync(buf, a, b + 1, origin))).toMatch(/trailing bytes/);
    }
  });

  it('decodes a projection (deserializeRangeSync fields) alike on the generated and the avsc path, same errors', async () => {
    const client = new MockClient({ baseURLs: ['mock://'] } as never);
    const origin = { topic: 'market.prices', partition: 0, offset: '9' };
    const writer = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas });
    const good = Buffer.from(await writer.serialize('market.prices', price));
    // `currency` (a skipped string field) made to claim more bytes than the record has: malformed.
    const currencyAt = good.indexOf(Buffer.from('EUR')) - 1;
    expect(good[currencyAt]).toBe(6); // zig-zag length 3
    const badSkipped = Buffer.from(good);
    badSkipped[currencyAt] = 100;
    const fields = ['price', 'area'];
    const results: unknown[] = [];
    for (const compiled of [true, false]) {
      const serde = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas, compiled });
      await serde.deserialize(good, origin);
      const projected = serde.deserializeRangeSync(good, 0, good.length, origin, fields);
      expect(projected).toEqual({ area: 'BE', price: -12.5 });
      expect(Object.keys(projected as object)).toEqual(['area', 'price']); // reader field order
      expect({ ...(projected as object) }).toEqual(projected); // a plain object
      // Without fields: the whole value, as before.
      expect(serde.deserializeRangeSync(good, 0, good.length, origin)).toEqual(price);
      const error = (f: () => unknown) => {
        try {
          f();
        } catch (err) {
          return (err as OptiBidError).code + ' ' + (err as Error).message;
        }
        return 'decoded';
      };
      const wholeError = error(() => serde.deserializeRangeSync(badSkipped, 0, badSkipped.length, origin));
      expect(wholeError).toMatch(/OPTIBID_ERR_DECODE/);
      expect(error(() => serde.deserializeRangeSync(badSkipped, 0, badSkipped.length, origin, fields))).toBe(
        wholeError,
      );
      for (const end of [good.length - 1, good.length + 1]) {
        const buf = Buffer.concat([good, Buffer.from([0])]);
        expect(error(() => serde.deserializeRangeSync(buf, 0, end, origin, fields))).toBe(
          error(() => serde.deserializeRangeSync(buf, 0, end, origin)),
        );
      }
      results.push(projected);
    }
    expect(results[0]).toEqual(results[1]);
  });

  it('uses the schema of the topic a prefixed test topic starts with', async () => {
    const client = new MockClient({ baseURLs: ['mock://'] } as never);
    const serde = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas });
    const bytes = await serde.serialize('market.prices.run42', price);
    expect(await serde.deserialize(bytes, { topic: 'market.prices.run42' })).toEqual(price);
    expect(await client.getAllSubjects()).toEqual(['market.prices.run42-value']);
    await expect(serde.serialize('market.pricesX', price)).rejects.toMatchObject({ code: 'OPTIBID_ERR_CONFIG' });
  });

  it('reads old records into the new local schema (Avro resolution)', async () => {
    const client = new MockClient({ baseURLs: ['mock://'] } as never);
    const old = {
      type: 'record',
      name: 'TelemetryReading',
      namespace: 'energy.optibid',
      fields: [
        { name: 'assetId', type: 'string' },
        { name: 'value', type: 'double' },
      ],
    };
    const writer = new AvroSerde({
      registry: client as unknown as SchemaLookup,
      schemas: { 'telemetry.readings-value': old },
    });
    const bytes = await writer.serialize('telemetry.readings', { assetId: 'a', value: 1.5 });
    const evolved = {
      ...old,
      fields: [
        ...old.fields,
        { name: 'unit', type: 'string', default: 'kW' },
        {
          name: 'quality',
          type: { type: 'enum', name: 'Q', symbols: ['UNKNOWN', 'GOOD'], default: 'UNKNOWN' },
          default: 'UNKNOWN',
        },
      ],
    };
    const reader = new AvroSerde({
      registry: client as unknown as SchemaLookup,
      schemas: { 'telemetry.readings-value': evolved },
    });
    expect(await reader.deserialize(bytes, { topic: 'telemetry.readings' })).toEqual({
      assetId: 'a',
      value: 1.5,
      unit: 'kW',
      quality: 'UNKNOWN',
    });
  });

  describe('typed decode errors naming topic, partition and offset', () => {
    const client = new MockClient({ baseURLs: ['mock://'] } as never);
    const serde = new AvroSerde({ registry: client as unknown as SchemaLookup, schemas });
    const origin = { topic: 'market.prices', partition: 2, offset: '1234' };
    const failure = async (bytes: Buffer): Promise<OptiBidError> => {
      try {
        await serde.deserialize(bytes, origin);
      } catch (err) {
        if (isOptiBidError(err, 'OPTIBID_ERR_DECODE')) return err;
        throw err;
      }
      throw new Error('decoded bad bytes without an error');
    };

    it('wrong magic byte', async () => {
      const good = await serde.serialize('market.prices', price);
      const bad = Buffer.from(good);
      bad[0] = 1;
      const err = await failure(bad);
      expect(err.message).toMatch(/topic market\.prices partition 2 offset 1234: wrong magic byte 1/);
      expect(err.context).toMatchObject(origin);
      expect((await failure(Buffer.from('{"price":1}'))).message).toContain('wrong magic byte 123');
    });

    it('unknown schema id', async () => {
      const bytes = Buffer.from([0, 0, 0, 0x30, 0x39, 2, 0x41]);
      const err = await failure(bytes);
      expect(err.message).toContain('unknown schema id 12345');
      expect(err.context).toMatchObject({ ...origin, schemaId: 12345 });
    });

    it('truncated header and truncated body', async () => {
      expect((await failure(Buffer.from([0, 0, 0]))).message).toContain('shorter than the 5-byte header');
      const good = await serde.serialize('market.prices', price);
      const err = await failure(good.subarray(0, good.length - 3));
      expect(err.message).toMatch(/truncated Avro body/);
      expect(err.context.offset).toBe('1234');
    });

    it('trailing bytes', async () => {
      const good = await serde.serialize('market.prices', price);
      expect((await failure(Buffer.concat([good, Buffer.from([7])]))).message).toContain('trailing bytes');
    });
  });

  it('refuses to serialize a value that does not match the schema, naming the field', async () => {
    const serde = new AvroSerde({
      registry: new MockClient({ baseURLs: ['mock://'] } as never) as unknown as SchemaLookup,
      schemas,
    });
    await expect(serde.serialize('market.prices', { ...price, price: 'cheap' })).rejects.toMatchObject({
      code: 'OPTIBID_ERR_RECORD',
      message: expect.stringContaining('price = "cheap"'),
    });
    await expect(serde.serialize('market.prices', { ...price, product: 'WEEKLY' })).rejects.toMatchObject({
      message: expect.stringContaining('product = "WEEKLY"'),
    });
  });

  it('passes registry outages through as retriable errors, not decode errors', async () => {
    const down: SchemaLookup = {
      register: async () => 1,
      getBySubjectAndId: async (): Promise<RegistrySchema> => {
        const { OptiBidError } = await import('../errors.js');
        throw new OptiBidError('OPTIBID_ERR_NETWORK', 'connection refused', { retriable: true });
      },
    };
    const serde = new AvroSerde({ registry: down, schemas });
    await expect(serde.deserialize(Buffer.from([0, 0, 0, 0, 9, 0]), { topic: 'market.prices' })).rejects.toMatchObject({
      code: 'OPTIBID_ERR_NETWORK',
      retriable: true,
    });
  });
});
