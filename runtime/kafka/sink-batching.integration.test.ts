import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Type } from '@sinclair/typebox';
import { defineSink } from '../component.js';
import { RejectedRecordsError } from '../core/sink.js';
import type { StreamRecord } from '../record.js';
import { makeSpec } from '../spec.js';
import { kafkaTransports } from './fixtures/transports.js';
import { createTopics, produce, readTopic, testKafka } from './fixtures/kafka-helpers.js';

jest.setTimeout(120_000);

const runId = `t${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;

describe.each(kafkaTransports)('%s transport: sink batching', (transportName, makeTransport) => {
  it('hands a batching sink large batches across fetches and partitions, commits only what was written, dead-letters what it rejects', async () => {
    const input = `${runId}${transportName}.batch.in`;
    await createTopics([{ topic: input, numPartitions: 2 }]);
    const total = 5000;
    await produce(
      input,
      Array.from({ length: total }, (_, i) => ({
        key: `k${i}`,
        partition: i % 2,
        value: i === 1234 ? { bad: true } : { i },
      })),
    );
    const name = `${runId}${transportName}-batch`;
    const group = `${name}.store`;
    const admin = testKafka().admin();
    await admin.connect();
    const committed = async () => {
      const topics = await admin.fetchOffsets({ groupId: group, topics: [input] });
      return topics[0]!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    };
    const stored = new Set<string>();
    const writes: number[] = [];
    const commitSeenAtWrite: Array<{ committed: number; handled: number }> = [];
    const store = defineSink({
      name: 'test-batched',
      status: 'experimental',
      summary: 'records writes; rejects records whose value is { bad: true }',
      config: Type.Object({ maxRecords: Type.Integer(), maxWaitMs: Type.Integer() }),
      batching: (c) => ({ maxRecords: c.maxRecords, maxWaitMs: c.maxWaitMs }),
      create: () => ({
        connect: async () => {},
        close: async () => {},
        write: async (records: StreamRecord[]) => {
          // nothing of this batch may be committed yet: the group's offsets cover only what earlier writes stored
          commitSeenAtWrite.push({ committed: await committed(), handled: writes.reduce((a, b) => a + b, 0) });
          writes.push(records.length);
          const bad = records.filter((r) => (r.value as { bad?: boolean }).bad);
          for (const r of records) if (!bad.includes(r)) stored.add(`${r.partition}/${r.offset}`);
          if (bad.length)
            throw new RejectedRecordsError(
              bad.map((record) => ({ record, reason: 'bad record' })),
              records.length - bad.length,
              'test-batched',
            );
        },
      }),
    });
    try {
      const spec = makeSpec({
        name,
        sinks: [{ name: 'store', definition: store, config: { maxRecords: 4000, maxWaitMs: 5000 }, inputs: [input] }],
      });
      const worker = await makeTransport({ instanceId: 'a' }).start(spec, { untilIdle: true });
      await worker.done;
      expect(stored.size).toBe(total - 1);
      // one batch spans both partitions' fetches (2,500 each) within 5 s (a 300 ms wait could
      // close it early on a loaded machine); the rest waits for the time bound
      expect(Math.max(...writes)).toBe(4000);
      expect(writes.reduce((a, b) => a + b, 0)).toBe(total);
      expect(commitSeenAtWrite.length).toBe(writes.length);
      for (const seen of commitSeenAtWrite) expect(seen.committed).toBeLessThanOrEqual(seen.handled);
      expect(await committed()).toBe(total);
      const dead = await readTopic(`dlq.${name}`, { count: 1 });
      expect(dead).toHaveLength(1);
      expect(JSON.parse(dead[0]!.value!.toString())).toEqual({ bad: true });
      expect(dead[0]!.headers!['source-partition']!.toString()).toBe('0');
      expect(dead[0]!.headers!['source-offset']!.toString()).toBe(String(1234 / 2));
      expect(dead[0]!.headers!.reason!.toString()).toBe('bad record');
    } finally {
      await admin.disconnect();
    }
  });

  it('dead-letters a whole large batch the sink fails on (over the broker message size in one request) and commits it', async () => {
    const input = `${runId}${transportName}.fail.in`;
    await createTopics([{ topic: input }]);
    const total = 20_000;
    await produce(
      input,
      Array.from({ length: total }, (_, i) => ({ key: `k${i}`, value: { i } })),
    );
    const name = `${runId}${transportName}-fail`;
    const admin = testKafka().admin();
    await admin.connect();
    const writes: number[] = [];
    const broken = defineSink({
      name: 'test-broken',
      status: 'experimental',
      summary: 'fails every write with a long, non-retriable error',
      config: Type.Object({}),
      // The batch closes when all `total` records are in, however long fetching them takes (a 300 ms wait
      // closed it early, at 19 504 records, on a loaded machine).
      batching: () => ({ maxRecords: total, maxWaitMs: 120_000 }),
      create: () => ({
        connect: async () => {},
        close: async () => {},
        write: async (records: StreamRecord[]) => {
          writes.push(records.length);
          throw new Error(`table rejected the batch: ${'x'.repeat(200)}`);
        },
      }),
    });
    try {
      const spec = makeSpec({ name, sinks: [{ name: 'store', definition: broken, config: {}, inputs: [input] }] });
      const worker = await makeTransport({ instanceId: 'a' }).start(spec, { untilIdle: true });
      await worker.done;
      expect(writes).toEqual([total]);
      const dead = await readTopic(`dlq.${name}`, { count: total, settleMs: 200 });
      expect(dead).toHaveLength(total);
      expect(new Set(dead.map((m) => m.headers!['source-offset']!.toString())).size).toBe(total);
      const offsets = await admin.fetchOffsets({ groupId: `${name}.store`, topics: [input] });
      expect(offsets[0]!.partitions[0]!.offset).toBe(String(total));
    } finally {
      await admin.disconnect();
    }
  });
});
