import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { jest } from '@jest/globals';
import { defineProcessor } from '../component.js';
import type { StreamRecord } from '../record.js';
import { AvroSerde } from '../serde/avro.js';
import { MemorySchemaLookup } from '../serde/registry-client.js';
import { makeSpec } from '../spec.js';
import { KafkaTransport } from './transport.js';
import { createTopics, produce, readTopic } from './fixtures/kafka-helpers.js';

jest.setTimeout(120_000);

const runId = `pj${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;
const pricesSchema = JSON.parse(
  readFileSync(new URL('../../schemas/avro/market.prices-value.avsc', import.meta.url), 'utf8'),
) as object;
const outSchema = {
  type: 'record',
  name: 'Seen',
  fields: [
    { name: 'fields', type: 'string' },
    { name: 'price', type: 'double' },
  ],
};

/** Declares that it reads `price` only; emits the value's field names and its price. */
const priceOnly = defineProcessor({
  name: 'price-only',
  status: 'experimental',
  summary: 'reads the price field',
  config: Type.Object({}),
  valueFields: () => ['price'],
  create: () => ({
    process(r, ctx) {
      const v = r.value as Record<string, unknown>;
      ctx.emit({ value: { fields: Object.keys(v).join(','), price: v.price as number } });
    },
  }),
});

const price = (p: number) => ({
  market: 'EPEX',
  area: 'BE',
  product: 'DAY_AHEAD',
  deliveryStart: Date.UTC(2026, 0, 1),
  intervalMinutes: 60,
  price: p,
  currency: 'EUR',
  energyUnit: 'MWH',
  volumeMwh: null,
  publishedAt: null,
  ingestedAt: Date.UTC(2026, 0, 1),
  source: 'test',
});

/**
 * A processor declaring `valueFields` on the real broker: the transport decodes its input with just those
 * fields (both wire paths), and a record malformed in a field it does not read still goes to the DLQ with
 * its original bytes and the decode reason.
 */
describe.each([['lean'], ['kafkajs']] as const)('kafka transport (%s wire), projected decode', (wire) => {
  it('hands the processor values with only the fields it declared; a malformed skipped field is dead-lettered', async () => {
    const run = `${runId}${wire}`;
    const input = `${run}.in`;
    const output = `${run}.out`;
    await createTopics([{ topic: input }, { topic: output }]);
    const registry = new MemorySchemaLookup();
    const serde = () =>
      new AvroSerde({
        registry,
        schemaFor: (t) => (t === output ? outSchema : t === input ? pricesSchema : undefined),
      });
    const writer = serde();
    const values = [1.5, 2.5, 3.5, 4.5].map(async (p) => Buffer.from(await writer.serialize(input, price(p))));
    const bytes = await Promise.all(values);
    // Offset 2: `source` (a string the processor does not read) claims more bytes than the record has.
    const bad = Buffer.from(bytes[2]!);
    bad[bad.length - 5] = 40;
    bytes[2] = bad;
    await produce(
      input,
      bytes.map((value) => ({ key: 'EPEX|BE', value })),
    );
    const seen: StreamRecord[] = [];
    const spec = makeSpec({
      name: run,
      processors: [{ name: 'prices', definition: priceOnly, inputs: [input], outputs: [output] }],
    });
    const worker = await new KafkaTransport({
      instanceId: 'a',
      wire,
      serde: serde(),
      afterCommit: ({ records }) => seen.push(...records),
    }).start(spec, { untilIdle: true });
    await worker.done;
    expect(seen.map((r) => [r.offset, r.value])).toEqual([
      ['0', { price: 1.5 }],
      ['1', { price: 2.5 }],
      ['3', { price: 4.5 }],
    ]);
    const reader = serde();
    const outputs = await readTopic(output, { count: 3, settleMs: 500 });
    const decoded = await Promise.all(outputs.map((m) => reader.deserialize(m.value!, { topic: output })));
    expect(decoded).toEqual([
      { fields: 'price', price: 1.5 },
      { fields: 'price', price: 2.5 },
      { fields: 'price', price: 4.5 },
    ]);
    const dead = await readTopic(`dlq.${run}`, { count: 1, settleMs: 500 });
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers!['source-offset']!.toString()).toBe('2');
    expect(dead[0]!.headers!['error-code']!.toString()).toBe('OPTIBID_ERR_DECODE');
    expect(dead[0]!.headers!.reason!.toString()).toMatch(/truncated Avro body/);
    expect(dead[0]!.value).toEqual(bad);
  });
});
