import { createRequire } from 'node:module';
import { encodeProduceBody, encodeRecordBatch, sendLeanProduce, type ProduceRequestArgs } from './lean-produce.js';
import { forEachRecord, scanRecordBatches } from './record-batches.js';

const require = createRequire(import.meta.url);
/** kafkajs' own Produce v3 request (v3–v7 share the layout): the reference the lean encoder must match byte for byte. */
const kafkajsProduceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (
  args: ProduceRequestArgs,
) => { encode(): Promise<{ buffer: Buffer }> };
const crc32c = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;

const args: ProduceRequestArgs = {
  transactionalId: 'pipe.bars.w0',
  producerId: '4711',
  producerEpoch: 3,
  acks: -1,
  timeout: 30000,
  topicData: [
    {
      topic: 'out.bars',
      partitions: [
        {
          partition: 0,
          firstSequence: 17,
          messages: [
            {
              key: 'NORDPOOL|A1',
              value: Buffer.from([0, 0, 0, 0, 7, 1, 2]),
              timestamp: '1700000000000',
              headers: { window: 'final' },
            },
            {
              key: null,
              value: 'plain',
              timestamp: '1700000003600',
              headers: { a: ['1', Buffer.from('2')], b: Buffer.from('é') },
            },
            { key: Buffer.from('k'), value: null, timestamp: '1699999990000' },
          ],
        },
        {
          partition: 3,
          firstSequence: 0,
          messages: [
            { key: 'ü', value: 'x'.repeat(300), timestamp: '1700000000001' },
            // non-ASCII after ASCII in short strings (the JS fast path falls back to the native write)
            { key: 'NORDPOOL|Å1', value: 'grüße', timestamp: '1700000000002', headers: { ort: 'Zürich' } },
          ],
        },
      ],
    },
    {
      topic: 'pipe.bars-changelog',
      partitions: [
        { partition: 1, firstSequence: 5, messages: [{ key: 'w', value: '{"a":1}', timestamp: '1700000000000' }] },
      ],
    },
  ],
};

describe('lean produce encoding', () => {
  it("writes exactly kafkajs' Produce request body (transactional, sequences, headers, null key/value, Buffer and string fields)", async () => {
    const reference = (await kafkajsProduceV3(args).encode()).buffer;
    expect(encodeProduceBody(args).equals(reference)).toBe(true);
    // and for a non-transactional producer
    const plain = { ...args, transactionalId: null, producerId: -1, producerEpoch: 0 };
    expect(encodeProduceBody(plain).equals((await kafkajsProduceV3(plain).encode()).buffer)).toBe(true);
  });

  it('writes varints at every size boundary as kafkajs does (lengths and timestamp deltas)', async () => {
    const lengths = [0, 63, 64, 65, 8191, 8192, 8193, 1_048_575, 1_048_576];
    const deltas = [0, 63, 64, 8191, 8192, 1_048_575, 1_048_576, 134_217_727, 134_217_728, 2 ** 31, 2 ** 40];
    const t0 = 1_700_000_000_000;
    const messages = [
      // 13-digit stamps throughout: kafkajs takes the batch's max timestamp by string comparison
      ...lengths.map((l, i) => ({ key: 'k'.repeat(l % 70), value: Buffer.alloc(l, i), timestamp: String(t0) })),
      ...deltas.map((d) => ({ key: null, value: 'v', timestamp: String(t0 + d) })),
    ];
    const withBoundaries: ProduceRequestArgs = {
      ...args,
      topicData: [{ topic: 't', partitions: [{ partition: 0, firstSequence: 3, messages }] }],
    };
    expect(encodeProduceBody(withBoundaries).equals((await kafkajsProduceV3(withBoundaries).encode()).buffer)).toBe(
      true,
    );
  });

  it('round-trips through the lean fetch decoder with a valid CRC, timestamps of any digit count included', async () => {
    const messages = [
      { key: 'a', value: 'v0', timestamp: '60000' },
      { key: 'b', value: 'v1', timestamp: '0' },
      { key: 'c', value: 'v2', timestamp: '119940000', headers: { h: 'x' } },
    ];
    const batch = encodeRecordBatch(messages, {
      producerId: 9n,
      producerEpoch: 0,
      firstSequence: 0,
      transactional: true,
      now: 5,
    });
    const scanned = await scanRecordBatches(batch, 0, null, { crc32c });
    const seen: unknown[] = [];
    forEachRecord(scanned.spans, (r) =>
      seen.push([r.offset, r.timestamp, r.buf.toString('utf8', r.keyStart, r.keyEnd), r.headers]),
    );
    expect(seen).toEqual([
      [0, 60000, 'a', undefined],
      [1, 0, 'b', undefined],
      [2, 119940000, 'c', { h: 'x' }],
    ]);
    expect(batch.readBigInt64BE(27)).toBe(0n); // first timestamp: the numeric minimum
    expect(batch.readBigInt64BE(35)).toBe(119940000n);
  });

  it('stamps messages without a timestamp with now', async () => {
    const batch = encodeRecordBatch([{ key: 'a', value: 'v' }], {
      producerId: -1n,
      producerEpoch: 0,
      firstSequence: 0,
      transactional: false,
      now: 1234,
    });
    const scanned = await scanRecordBatches(batch, 0, null, { crc32c });
    const stamps: number[] = [];
    forEachRecord(scanned.spans, (r) => stamps.push(r.timestamp));
    expect(stamps).toEqual([1234]);
  });
});

describe('sendLeanProduce', () => {
  const Broker = require('kafkajs/src/broker/index.js') as { prototype: object };
  /** kafkajs' request definition as `Broker.lookupRequest` gets it. */
  type Definition = { protocol(v: { version: number }): (a: Record<string, unknown>) => unknown };
  const sendRequest = Object.getOwnPropertySymbols(Broker.prototype).find(
    (x) => x.description === 'private:Broker:sendRequest',
  )!;

  /** A broker that builds kafkajs' real Produce request of `version` and "sends" it by encoding it. */
  const fakeBroker = (version: number) => {
    const built: Array<Record<string, unknown>> = [];
    let produced: unknown;
    const broker = {
      lookupRequest: (_key: number, definition: Definition) => (a: Record<string, unknown>) => {
        built.push(a);
        return definition.protocol({ version })(a);
      },
      produce: (a: unknown) => {
        produced = a;
        return Promise.resolve('kafkajs produce');
      },
      [sendRequest]: async (r: { request: { encode(): Promise<{ buf: Buffer; offset: number }> } }) => {
        const e = await r.request.encode();
        return e.buf.subarray(0, e.offset);
      },
    };
    return { broker, built, produced: () => produced };
  };

  it("sends the lean body, and kafkajs' request object it keeps is built without the messages", async () => {
    for (const version of [3, 7]) {
      const { broker, built } = fakeBroker(version);
      const body = (await sendLeanProduce(broker, args)) as Buffer;
      expect(body.equals(encodeProduceBody(args))).toBe(true);
      // kafkajs keeps the request (its closures share one scope with the topic data) as long as its connection
      // holds the socket request: built with the messages, it kept every message and value alive with it.
      expect(built).toHaveLength(1);
      expect(built[0]!.topicData).toEqual([]);
    }
  });

  it("leaves a version outside 3-8 to kafkajs' own produce, with the messages", async () => {
    const { broker, produced } = fakeBroker(2);
    await expect(sendLeanProduce(broker, args)).resolves.toBe('kafkajs produce');
    expect((produced() as ProduceRequestArgs).topicData).toBe(args.topicData);
  });
});
