import { createRequire } from 'node:module';
import kafkajs, { type Message } from 'kafkajs';
import {
  DirectProducer,
  estimatedRecordBytes,
  piecesOf,
  requestsOf,
  topicDataOf,
  type Piece,
} from './direct-produce.js';
import { forEachRecord, scanRecordBatches } from './record-batches.js';

const require = createRequire(import.meta.url);
const Broker = require('kafkajs/src/broker/index.js') as { prototype: object };
/** kafkajs' Produce request definitions (src/protocol/requests/produce). */
interface ProduceDefinitions {
  protocol(o: { version: number }): (args: unknown) => unknown;
}
const { KafkaJSProtocolError } = require('kafkajs/src/errors.js') as {
  KafkaJSProtocolError: new (e: { message: string; type: string; code: number; retriable: boolean }) => Error;
};
const crc32c = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
const sendRequest = Object.getOwnPropertySymbols(Broker.prototype).find(
  (s) => s.description === 'private:Broker:sendRequest',
)!;

const msg = (key: string | null, i: number, partition?: number): Message => ({
  key,
  value: Buffer.from(`v${i}`),
  timestamp: String(1_700_000_000_000 + i),
  ...(partition === undefined ? {} : { partition }),
});

describe('direct produce: partitioning and request layout', () => {
  it('groups per partition in order, runs the partitioner once per key, explicit partitions as given', () => {
    const messages: Message[] = [];
    for (let i = 0; i < 300; i++) messages.push(msg(`k${i % 7}`, i, i % 10 === 0 ? 4 : undefined));
    for (let i = 300; i < 305; i++) messages.push(msg(null, i));
    const calls: Message[] = [];
    let rr = 0;
    const partitionOf = (m: Message) => {
      calls.push(m);
      return typeof m.key === 'string' ? Number(m.key.slice(1)) % 3 : rr++ % 3;
    };
    const pieces = piecesOf('t', messages, partitionOf);
    // keyed: once per key (7); keyless: every time (5); explicit: never
    expect(calls.length).toBe(12);
    const expected = new Map<number, Message[]>();
    rr = 0;
    for (const m of messages) {
      const p = m.partition ?? (typeof m.key === 'string' ? Number(m.key.slice(1)) % 3 : rr++ % 3);
      if (!expected.has(p)) expected.set(p, []);
      expected.get(p)!.push(m);
    }
    const got = new Map(pieces.map((p) => [p.partition, p.messages]));
    expect(pieces.length).toBe(expected.size);
    for (const [p, list] of expected) expect(got.get(p)).toEqual(list);
    expect(pieces.every((p) => p.topic === 't')).toBe(true);
  });

  it('gives the same partitions as kafkajs default partitioner through cachingPartitioner', () => {
    const partitionMetadata = Array.from({ length: 6 }, (_, i) => ({
      partitionId: i,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));
    const reference = kafkajs.Partitioners.DefaultPartitioner();
    const messages = Array.from({ length: 500 }, (_, i) => msg(`NORDPOOL|A${i % 37}`, i));
    const pieces = piecesOf('t', messages, (message) => reference({ topic: 't', partitionMetadata, message }));
    for (const piece of pieces)
      for (const m of piece.messages)
        expect(reference({ topic: 't', partitionMetadata, message: m })).toBe(piece.partition);
  });

  it("cuts a partition's messages into batches under the byte bound, keeping their order", () => {
    const big = (i: number): Message => ({ key: 'k', value: Buffer.alloc(1000, i % 256), timestamp: '1' });
    const messages = Array.from({ length: 50 }, (_, i) => big(i));
    const pieces = piecesOf('t', messages, () => 0, 10_000);
    expect(pieces.length).toBe(Math.ceil(50 / Math.floor((10_000 - 61) / estimatedRecordBytes(messages[0]!))));
    expect(pieces.flatMap((p) => p.messages)).toEqual(messages);
    for (const p of pieces) expect(p.bytes).toBeLessThanOrEqual(10_000);
    // a single message larger than the bound gets a piece of its own
    const huge: Message = { key: 'k', value: Buffer.alloc(50_000), timestamp: '1' };
    expect(piecesOf('t', [big(0), huge, big(1)], () => 0, 10_000).map((p) => p.messages.length)).toEqual([1, 1, 1]);
  });

  it('packs one piece per partition per request, in order, within the request bound', () => {
    const piece = (topic: string, partition: number, bytes: number, tag: number): Piece => ({
      topic,
      partition,
      bytes,
      messages: [msg(String(tag), tag)],
    });
    const pieces = [
      piece('a', 0, 100, 1),
      piece('a', 1, 100, 2),
      piece('b', 0, 100, 3),
      piece('a', 0, 100, 4),
      piece('a', 0, 100, 5),
      piece('a', 1, 100, 6),
    ];
    const reqs = requestsOf(pieces, 10_000);
    expect(reqs.map((r) => r.map((p) => p.messages[0]!.key))).toEqual([['1', '2', '3'], ['4', '6'], ['5']]);
    for (const r of reqs) expect(new Set(r.map((p) => `${p.topic}/${p.partition}`)).size).toBe(r.length);
    // byte bound: three 400-byte partitions with room for two per request
    const three = [piece('a', 0, 400, 1), piece('a', 1, 400, 2), piece('a', 2, 400, 3)];
    expect(requestsOf(three, 900).map((r) => r.length)).toEqual([2, 1]);
    const data = topicDataOf(reqs[0]!, [10, 20, 30]);
    expect(data.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.firstSequence])])).toEqual([
      [
        'a',
        [
          [0, 10],
          [1, 20],
        ],
      ],
      ['b', [[0, 30]]],
    ]);
  });
});

/** A fake broker and cluster around kafkajs' real EosManager: records what goes over the wire. */
function fakeKafka(
  opts: { failProduce?: (n: number) => Error | undefined; concurrent?: number; failAddOffsets?: () => boolean } = {},
) {
  const log: string[] = [];
  const batches: Array<{ topic: string; partition: number; sequence: number; count: number; keys: string[] }> = [];
  let produceCalls = 0;
  let concurrentLeft = opts.concurrent ?? 0;
  const broker = {
    nodeId: 0,
    initProducerId: async () => {
      log.push('InitProducerId');
      return { producerId: '77', producerEpoch: 2 };
    },
    addPartitionsToTxn: async ({ topics }: { topics: Array<{ topic: string; partitions: number[] }> }) => {
      if (concurrentLeft > 0) {
        concurrentLeft--;
        log.push('AddPartitionsToTxn:CONCURRENT_TRANSACTIONS');
        throw new KafkaJSProtocolError({
          message: 'concurrent',
          type: 'CONCURRENT_TRANSACTIONS',
          code: 51,
          retriable: true,
        });
      }
      log.push(`AddPartitionsToTxn ${topics.map((t) => `${t.topic}${JSON.stringify(t.partitions)}`).join(' ')}`);
    },
    addOffsetsToTxn: async () => {
      if (opts.failAddOffsets?.()) {
        log.push('AddOffsetsToTxn:NOT_COORDINATOR');
        throw new KafkaJSProtocolError({ message: 'moved', type: 'NOT_COORDINATOR', code: 16, retriable: true });
      }
      log.push('AddOffsetsToTxn');
    },
    txnOffsetCommit: async () => void log.push('TxnOffsetCommit'),
    endTxn: async ({ transactionResult }: { transactionResult: boolean }) =>
      void log.push(`EndTxn ${transactionResult ? 'commit' : 'abort'}`),
    lookupRequest: (_key: number, def: ProduceDefinitions) => def.protocol({ version: 7 }),
    // Requests are handled one at a time in the order they were sent, as a broker handles one connection's.
    [sendRequest]: (protocolRequest: { request: { encode(): Promise<{ buf: Buffer; offset: number }> } }) => {
      const n = produceCalls++;
      const handled = queue.then(() => handleProduce(n, protocolRequest));
      queue = handled.catch(() => {});
      return handled;
    },
  };
  let queue: Promise<unknown> = Promise.resolve();
  /** Next sequence the "broker" takes per partition: a batch after a gap is rejected, a repeated one acknowledged. */
  const expected = new Map<string, number>();
  const handleProduce = async (
    n: number,
    protocolRequest: { request: { encode(): Promise<{ buf: Buffer; offset: number }> } },
  ) => {
    {
      const enc = await protocolRequest.request.encode();
      const body = enc.buf.subarray(0, enc.offset);
      // transactional_id, acks, timeout, then topics
      let at = 2 + body.readInt16BE(0) + 2 + 4;
      const topics = body.readInt32BE(at);
      at += 4;
      const parts: string[] = [];
      const incoming: typeof batches = [];
      for (let t = 0; t < topics; t++) {
        const nameLen = body.readInt16BE(at);
        const topic = body.toString('utf8', at + 2, at + 2 + nameLen);
        at += 2 + nameLen;
        const partitions = body.readInt32BE(at);
        at += 4;
        for (let p = 0; p < partitions; p++) {
          const partition = body.readInt32BE(at);
          const size = body.readInt32BE(at + 4);
          const batch = Buffer.from(body.subarray(at + 8, at + 8 + size));
          at += 8 + size;
          expect(batch.readBigInt64BE(43)).toBe(77n);
          expect(batch.readInt16BE(51)).toBe(2);
          const scanned = await scanRecordBatches(batch, 0, null, { crc32c, checkCrc: true });
          const keys: string[] = [];
          forEachRecord(scanned.spans, (r) => keys.push(r.buf.toString('utf8', r.keyStart, r.keyEnd)));
          incoming.push({ topic, partition, sequence: batch.readInt32BE(53), count: batch.readInt32BE(57), keys });
          parts.push(`${topic}[${partition}]`);
        }
      }
      const err = opts.failProduce?.(n);
      const gap = incoming.some((b) => b.sequence > (expected.get(`${b.topic}[${b.partition}]`) ?? 0));
      log.push(`Produce ${parts.join(' ')}${err ? ' -> failed' : gap ? ' -> out of order' : ''}`);
      if (err) throw err;
      if (gap)
        throw new KafkaJSProtocolError({
          message: 'out of order sequence',
          type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
          code: 45,
          retriable: false,
        });
      for (const b of incoming) {
        const id = `${b.topic}[${b.partition}]`;
        if (b.sequence < (expected.get(id) ?? 0)) continue; // a duplicate: acknowledged, not appended again
        batches.push(b);
        expected.set(id, b.sequence + b.count);
      }
      return { topics: [] };
    }
  };
  const partitionMetadata = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      partitionId: i,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));
  const cluster = {
    retry: { initialRetryTime: 1, retries: 3 },
    connect: async () => {},
    disconnect: async () => {},
    isConnected: () => true,
    refreshMetadata: async () => {},
    refreshMetadataIfNecessary: async () => {},
    addMultipleTargetTopics: async () => {},
    findTopicPartitionMetadata: (topic: string) => partitionMetadata(topic === 'out' ? 3 : 2),
    findLeaderForPartitions: (_topic: string, partitions: number[]) => ({ 0: partitions }),
    findBroker: async () => broker,
    findGroupCoordinator: async ({ coordinatorType }: { coordinatorType?: number }) => {
      log.push(`FindCoordinator ${coordinatorType ?? 0}`);
      return broker;
    },
    removeBroker: () => {},
    markOffsetAsCommitted: () => {},
  };
  const silent = { debug() {}, info() {}, warn() {}, error() {}, namespace: () => silent };
  const kafka = {
    [Symbol('private:Kafka:createCluster')]: () => cluster,
    logger: () => silent,
  };
  return { kafka: kafka as never, log, batches, produceCalls: () => produceCalls };
}

describe('DirectProducer against kafkajs EosManager (fake broker)', () => {
  it('adds partitions once per transaction before their first produce and numbers each partition in sequence', async () => {
    const f = fakeKafka();
    const producer = new DirectProducer(f.kafka, { transactionalId: 'tx', maxBatchBytes: 400 });
    await producer.connect();
    const out = Array.from({ length: 30 }, (_, i) => msg(`k${i % 4}`, i));
    const changelog = [msg('a', 0, 1), msg('b', 1, 1)];
    const tx = await producer.transaction();
    await tx.send(
      new Map([
        ['out', out],
        ['cl', changelog],
      ]),
    );
    await tx.send(new Map([['out', out.slice(0, 5)]]));
    await tx.sendOffsets({
      consumerGroupId: 'g',
      topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '9' }] }],
    });
    await tx.commit();
    const tx2 = await producer.transaction();
    await tx2.send(new Map([['cl', [msg('c', 2, 1)]]]));
    await tx2.abort();

    expect(f.log.filter((l) => !l.startsWith('FindCoordinator'))[0]).toBe('InitProducerId');
    const adds = f.log.filter((l) => l.startsWith('AddPartitionsToTxn'));
    expect(adds.length).toBe(2); // the first send of each transaction; the second send of tx 1 added nothing new
    expect(f.log.indexOf(adds[0]!)).toBeLessThan(f.log.findIndex((l) => l.startsWith('Produce')));
    expect(f.log.slice(-3)).toEqual(['AddPartitionsToTxn cl[1]', 'Produce cl[1]', 'EndTxn abort']);
    expect(f.log).toContain('EndTxn commit');
    // every partition's batches carry consecutive sequences from 0, across requests and transactions
    const byPartition = new Map<string, typeof f.batches>();
    for (const b of f.batches) {
      const id = `${b.topic}[${b.partition}]`;
      if (!byPartition.has(id)) byPartition.set(id, []);
      byPartition.get(id)!.push(b);
    }
    for (const list of byPartition.values()) {
      let next = 0;
      for (const b of list) {
        expect(b.sequence).toBe(next);
        next += b.count;
      }
    }
    // several requests were needed (400-byte batches), every message sent exactly once, in order per partition
    expect(f.produceCalls()).toBeGreaterThan(2);
    const sentOut = f.batches.filter((b) => b.topic === 'out').flatMap((b) => b.keys);
    expect(sentOut.length).toBe(35);
    expect(f.batches.filter((b) => b.topic === 'cl').flatMap((b) => b.keys)).toEqual(['a', 'b', 'c']);
  });

  it('gives failed requests their sequences back and sends only what was not appended again on retry', async () => {
    const f = fakeKafka({
      failProduce: (n) =>
        n === 1
          ? new KafkaJSProtocolError({
              message: 'leader moved',
              type: 'NOT_LEADER_FOR_PARTITION',
              code: 6,
              retriable: true,
            })
          : undefined,
    });
    const producer = new DirectProducer(f.kafka, { transactionalId: 'tx', maxBatchBytes: 300 });
    await producer.connect();
    const tx = await producer.transaction();
    const out = Array.from({ length: 20 }, (_, i) => msg('same', i));
    await tx.send(new Map([['out', out]]));
    await tx.commit();
    expect(f.log.filter((l) => l.endsWith('-> failed')).length).toBe(1);
    // the pipelined requests after the failed one were rejected for the gap, then sent again in order
    expect(f.log.filter((l) => l.endsWith('-> out of order')).length).toBeGreaterThan(0);
    let next = 0;
    for (const b of f.batches) {
      expect(b.sequence).toBe(next);
      next += b.count;
    }
    expect(next).toBe(20);
    const tx2 = await producer.transaction();
    await tx2.send(new Map([['out', [msg('same', 20)]]]));
    await tx2.commit();
    expect(f.batches[f.batches.length - 1]!.sequence).toBe(20);
  });

  it('surfaces a non-retriable error at once and keeps sequences for the next transaction', async () => {
    const f = fakeKafka({
      failProduce: (n) =>
        n === 0
          ? new KafkaJSProtocolError({ message: 'too large', type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false })
          : undefined,
    });
    const producer = new DirectProducer(f.kafka, { transactionalId: 'tx' });
    await producer.connect();
    const tx = await producer.transaction();
    await expect(tx.send(new Map([['out', [msg('k', 0)]]]))).rejects.toThrow('too large');
    expect(f.produceCalls()).toBe(1);
    await tx.abort();
    const tx2 = await producer.transaction();
    await tx2.send(new Map([['out', [msg('k', 1)]]]));
    await tx2.commit();
    // the failed batch was not appended and its sequence was given back: the next one starts at 0 again
    expect(f.log.filter((l) => l.startsWith('Produce'))).toEqual(['Produce out[2] -> failed', 'Produce out[2]']);
    expect(f.batches.map((b) => b.sequence)).toEqual([0]);
    await expect(tx2.send(new Map([['out', [msg('k', 2)]]]))).rejects.toThrow('once ended');
  });

  it('retries AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS quickly', async () => {
    const f = fakeKafka({ concurrent: 2 });
    const producer = new DirectProducer(f.kafka, { transactionalId: 'tx' });
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send(new Map([['out', [msg('k', 0)]]]));
    await tx.commit();
    expect(producer.counters.concurrentRetries).toBe(2);
    expect(f.log.filter((l) => l.includes('CONCURRENT')).length).toBe(2);
    expect(f.log.filter((l) => l.startsWith('Produce')).length).toBe(1);
  });

  it('looks each coordinator up once, and again after a coordinator request failed', async () => {
    let failNext = false;
    const f = fakeKafka({ failAddOffsets: () => (failNext ? ((failNext = false), true) : false) });
    const producer = new DirectProducer(f.kafka, { transactionalId: 'tx' });
    await producer.connect();
    const round = async (i: number) => {
      const tx = await producer.transaction();
      await tx.send(new Map([['out', [msg('k', i)]]]));
      await tx.sendOffsets({
        consumerGroupId: 'g',
        topics: [{ topic: 'in', partitions: [{ partition: 0, offset: String(i) }] }],
      });
      return tx;
    };
    for (let i = 0; i < 3; i++) await (await round(i)).commit();
    // the transaction coordinator (type 1) and the group coordinator (type 0), once each for three transactions
    expect(f.log.filter((l) => l.startsWith('FindCoordinator')).sort()).toEqual([
      'FindCoordinator 0',
      'FindCoordinator 1',
    ]);
    failNext = true;
    const tx = await producer.transaction();
    await tx.send(new Map([['out', [msg('k', 3)]]]));
    const offsets = { consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '3' }] }] };
    await expect(tx.sendOffsets(offsets)).rejects.toThrow('moved');
    await tx.abort();
    await (await round(4)).commit();
    const lookups = f.log.filter((l) => l.startsWith('FindCoordinator')).length;
    expect(lookups).toBeGreaterThan(2); // looked up again after NOT_COORDINATOR
    expect(producer.counters.coordinatorLookups).toBe(lookups);
    expect(f.log[f.log.length - 1]).toBe('EndTxn commit');
  });
});
