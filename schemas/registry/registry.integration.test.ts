import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Kafka, logLevel } from 'kafkajs';
import { AvroDeserializer, AvroSerializer, SchemaRegistryClient, SerdeType } from '@confluentinc/schemaregistry';
import { AvroSerde, endpointsFromEnv, type SchemaLookup } from '@optibid/runtime';
import { subjectSchemas } from '../generated/topics.js';
import { KafkaStore } from './kafka-store.js';
import { startRegistry } from './server.js';

// The official client against this registry running for real, with the Kafka store on the local Kafka.
const { kafkaBrokers, registryUrl } = endpointsFromEnv();
const run = randomUUID().slice(0, 8);

const rec = (fields: object[]) =>
  JSON.stringify({ type: 'record', name: 'Reading', namespace: 'energy.optibid.it', fields });
const v1 = rec([
  { name: 'assetId', type: 'string' },
  { name: 'value', type: 'double' },
]);
const v2 = rec([
  { name: 'assetId', type: 'string' },
  { name: 'value', type: 'double' },
  { name: 'unit', type: 'string', default: 'kW' },
]);
const breaking = rec([
  { name: 'assetId', type: 'string' },
  { name: 'value', type: 'string' },
]);
const avro = (schema: string) => ({ schemaType: 'AVRO', schema });

type Started = Awaited<ReturnType<typeof startRegistry>>;
const open: Started[] = [];
async function start(topic: string): Promise<Started> {
  if (!topics.includes(topic)) topics.push(topic);
  const s = await startRegistry(new KafkaStore({ brokers: kafkaBrokers, topic, timeoutMs: 20_000 }), { port: 0 });
  open.push(s);
  return s;
}
async function stop(s: Started): Promise<void> {
  open.splice(open.indexOf(s), 1);
  await s.app.close();
}
const topics: string[] = [];
afterAll(async () => {
  for (const s of [...open]) await stop(s);
  const admin = new Kafka({ brokers: kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
});

const client = (url: string) => new SchemaRegistryClient({ baseURLs: [url], cacheCapacity: 1000 });
const restError = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as { status: number; errorCode: number; message: string };
  }
  throw new Error('expected the registry to refuse');
};

describe('schema registry with the Kafka store, through @confluentinc/schemaregistry', () => {
  jest.setTimeout(60_000);

  it('registers, evolves, refuses incompatible schemas, looks up by id, deletes and keeps per-subject config', async () => {
    const reg = await start(`_schemas_it_${run}_a`);
    const c = client(reg.url);
    const subject = `readings-${run}-value`;

    const id1 = await c.register(subject, avro(v1));
    expect(await client(reg.url).register(subject, avro(JSON.stringify(JSON.parse(v1), null, 1)))).toBe(id1);
    const id2 = await c.register(subject, avro(v2));
    expect(id2).not.toBe(id1);
    expect((await c.getLatestSchemaMetadata(subject)).version).toBe(2);

    const refused = await restError(c.register(subject, avro(breaking)));
    expect([refused.status, refused.errorCode]).toEqual([409, 409]);
    expect(refused.message).toContain('Reading.value');
    expect(await c.testSubjectCompatibility(subject, avro(breaking))).toBe(false);
    expect(await c.testSubjectCompatibility(subject, avro(v2))).toBe(true);

    expect(JSON.parse((await client(reg.url).getBySubjectAndId(subject, id1)).schema)).toEqual(JSON.parse(v1));
    expect((await c.getSchemaMetadata(subject, 1)).id).toBe(id1);
    expect(await c.getId(subject, avro(v2))).toBe(id2);
    const unknown = await restError(client(reg.url).getBySubjectAndId(subject, 987654321));
    expect([unknown.status, unknown.errorCode]).toEqual([404, 40403]);
    const invalid = await restError(c.register(subject, avro('{"type":"record","name":"X"}')));
    expect([invalid.status, invalid.errorCode]).toEqual([422, 42201]);

    // Per-subject config: NONE lets the breaking schema in, the global level stays BACKWARD.
    await c.updateCompatibility(subject, 'NONE' as never);
    expect(await c.getCompatibility(subject)).toBe('NONE');
    const id3 = await c.register(subject, avro(breaking));
    expect(await c.getDefaultCompatibility()).toBe('BACKWARD');

    // Soft then hard delete of a version, then of the subject.
    expect(await c.deleteSubjectVersion(subject, 3, false)).toBe(3);
    expect(await c.getAllVersions(subject)).toEqual([1, 2]);
    const notSoft = await restError(c.deleteSubjectVersion(subject, 2, true));
    expect(notSoft.errorCode).toBe(40407);
    expect(await c.deleteSubjectVersion(subject, 3, true)).toBe(3);
    expect((await restError(client(reg.url).getBySubjectAndId(subject, id3))).errorCode).toBe(40403);
    expect(await c.deleteSubject(subject, false)).toEqual([1, 2]);
    expect(await c.getAllSubjects()).not.toContain(subject);
    expect(await c.deleteSubject(subject, true)).toEqual([1, 2]);
    const gone = await restError(c.getAllVersions(subject));
    expect([gone.status, gone.errorCode]).toEqual([404, 40401]);
    // Ids are never reused: registering v1 again after the hard delete gets a new one.
    const again = await client(reg.url).register(subject, avro(v1));
    expect([id1, id2, id3]).not.toContain(again);
  });

  it('survives a restart: the state is replayed from the _schemas topic', async () => {
    const topic = `_schemas_it_${run}_b`;
    const first = await start(topic);
    const subject = `prices-${run}-value`;
    const id1 = await client(first.url).register(subject, avro(v1));
    const id2 = await client(first.url).register(subject, avro(v2));
    await client(first.url).updateCompatibility(subject, 'FULL' as never);
    await client(first.url).deleteSubjectVersion(subject, 1, false);
    await stop(first);

    const second = await start(topic);
    const c = client(second.url);
    expect(await c.getAllVersions(subject)).toEqual([2]);
    expect((await c.getLatestSchemaMetadata(subject)).id).toBe(id2);
    expect(JSON.parse((await c.getBySubjectAndId(subject, id1)).schema)).toEqual(JSON.parse(v1));
    expect(await c.getCompatibility(subject)).toBe('FULL');
    expect(await c.register(subject, avro(v2))).toBe(id2);
  });

  it('two instances on the same topic agree on ids and versions under concurrent registrations', async () => {
    const topic = `_schemas_it_${run}_c`;
    const [a, b] = [await start(topic), await start(topic)];
    const schemaN = (n: number) =>
      rec([
        { name: 'assetId', type: 'string' },
        ...Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: 'int', default: i })),
      ]);
    const shared = `shared-${run}-value`;
    // Both instances race on the same subject and on separate ones, and register one schema in both.
    const results = await Promise.all([
      ...[0, 1, 2, 3].map((n) => client(a.url).register(shared, avro(schemaN(n)))),
      ...[4, 5, 6, 7].map((n) => client(b.url).register(shared, avro(schemaN(n)))),
      client(a.url).register(`a-${run}-value`, avro(v1)),
      client(b.url).register(`b-${run}-value`, avro(v1)),
    ]);
    expect(new Set(results.slice(0, 8)).size).toBe(8);
    expect(results[8]).toBe(results[9]);

    const view = async (url: string) => {
      const c = new SchemaRegistryClient({ baseURLs: [url] });
      const versions = await c.getAllVersions(shared);
      const metas = await Promise.all(versions.map((v) => c.getSchemaMetadata(shared, v)));
      return metas.map((m) => [m.version, m.id, m.schema]);
    };
    const fromA = await view(a.url);
    expect(fromA).toHaveLength(8);
    expect(await view(b.url)).toEqual(fromA);
    for (const id of results) {
      const [sa, sb] = await Promise.all([
        client(a.url).getBySubjectAndId(undefined as never, id),
        client(b.url).getBySubjectAndId(undefined as never, id),
      ]);
      expect(sa.schema).toBe(sb.schema);
    }
  });
});

describe('the registry `optibid services up` runs on 8081', () => {
  jest.setTimeout(30_000);

  it('serves the official client and the official Avro serde, and our serde reads its bytes', async () => {
    const c = new SchemaRegistryClient({ baseURLs: [registryUrl] });
    const topic = `market.prices.it${run}`;
    const schema = JSON.stringify(subjectSchemas['market.prices-value']);
    const id = await c.register(`${topic}-value`, avro(schema));
    const value = {
      market: 'NORDPOOL',
      area: 'NO1',
      product: 'DAY_AHEAD',
      deliveryStart: Date.UTC(2024, 9, 27, 1),
      intervalMinutes: 60,
      price: 31.07,
      currency: 'EUR',
      energyUnit: 'MWH',
      volumeMwh: 1520.5,
      publishedAt: null,
      ingestedAt: Date.UTC(2024, 9, 26, 12),
      source: 'it',
    };
    const theirs = await new AvroSerializer(c, SerdeType.VALUE, { useLatestVersion: true }).serialize(topic, value);
    expect(theirs.readInt32BE(1)).toBe(id);
    const ours = new AvroSerde({ registry: registryUrl, schemas: subjectSchemas });
    const mine = await ours.serialize(topic, value);
    expect(mine.equals(theirs)).toBe(true);
    expect(await ours.deserialize(theirs, { topic, partition: 0, offset: '0' })).toEqual(value);
    expect(await new AvroDeserializer(c, SerdeType.VALUE, {}).deserialize(topic, mine)).toEqual(value);
    const lookup: SchemaLookup = {
      register: (s, sc) => c.register(s, sc),
      getBySubjectAndId: (s, i) => c.getBySubjectAndId(s ?? '', i),
    };
    expect(await new AvroSerde({ registry: lookup, schemas: subjectSchemas }).deserialize(mine, { topic })).toEqual(
      value,
    );
    // Leave the shared registry as it was.
    expect(await c.deleteSubject(`${topic}-value`, false)).toEqual([1]);
    expect(await c.deleteSubject(`${topic}-value`, true)).toEqual([1]);
  });
});
