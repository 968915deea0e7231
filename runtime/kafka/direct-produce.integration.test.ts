import { randomUUID } from 'node:crypto';
import kafkajs, { type Message } from 'kafkajs';
import { DirectProducer } from './direct-produce.js';
import { createTopics, readTopic, testKafka } from './fixtures/kafka-helpers.js';

import { jest } from '@jest/globals';

jest.setTimeout(120_000);

const runId = `t${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;

/** `n` messages tagged `tag`: string keys over 3 partitions, one explicit-partition message in ten. */
function batch(tag: string, n: number): Message[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `key-${i % 13}`,
    value: Buffer.from(`${tag}:${i}:${'x'.repeat(i % 50)}`),
    timestamp: String(1_700_000_000_000 + i),
    headers: { tag },
    ...(i % 10 === 0 ? { partition: i % 3 } : {}),
  }));
}

describe('DirectProducer on the local broker', () => {
  it('an aborted transaction leaves nothing visible to read-committed readers; a committed one is read exactly once', async () => {
    const topic = `${runId}.direct.out`;
    const changelog = `${runId}.direct.cl`;
    await createTopics([
      { topic, numPartitions: 3 },
      { topic: changelog, numPartitions: 2 },
    ]);
    // Small batches and requests: each transaction takes several Produce requests per partition.
    const producer = new DirectProducer(testKafka(), {
      transactionalId: `${runId}.direct`,
      transactionTimeout: 30_000,
      maxBatchBytes: 4096,
      maxRequestBytes: 8192,
    });
    await producer.connect();
    try {
      // 1: aborted after part of its records went out (two sends, then a failure before commit)
      const aborted = await producer.transaction();
      await aborted.send(new Map([[topic, batch('aborted', 400)]]));
      await aborted.send(new Map([[changelog, [{ key: 'w', value: 'aborted', partition: 1 }]]]));
      await aborted.abort();
      // 2: committed, in two sends (the second adds a partition of another topic to the transaction)
      const committed = await producer.transaction();
      await committed.send(new Map([[topic, batch('committed', 600)]]));
      await committed.send(
        new Map([
          [topic, batch('committed-b', 50)],
          [changelog, [{ key: 'w', value: 'committed', partition: 1 }]],
        ]),
      );
      await committed.commit();
      // 3: aborted again, after the commit (sequences go on across transactions)
      const last = await producer.transaction();
      await last.send(new Map([[topic, batch('aborted-2', 100)]]));
      await last.abort();
      expect(producer.counters.produceRequests).toBeGreaterThan(10);
    } finally {
      await producer.disconnect();
    }

    const seen = await readTopic(topic, { count: 650, settleMs: 1500 });
    const values = seen.map((m) => m.value!.toString('utf8'));
    expect(values.length).toBe(650);
    expect(new Set(values).size).toBe(650);
    const expected = [...batch('committed', 600), ...batch('committed-b', 50)].map((m) =>
      (m.value as Buffer).toString(),
    );
    expect([...values].sort()).toEqual([...expected].sort());
    expect(seen.every((m) => m.headers?.tag?.toString().startsWith('committed'))).toBe(true);
    const cl = await readTopic(changelog, { count: 1, settleMs: 1000 });
    expect(cl.map((m) => m.value!.toString())).toEqual(['committed']);
    // the aborted records were written (a read-uncommitted reader sees them) and are hidden only by the aborts
    const all = await readTopic(topic, { count: 1150, readUncommitted: true, settleMs: 500 });
    expect(all.length).toBe(1150);
  });

  it("keeps each partition's records in send order across requests and the partitions kafkajs would pick", async () => {
    const topic = `${runId}.direct.order`;
    await createTopics([{ topic, numPartitions: 3 }]);
    const producer = new DirectProducer(testKafka(), {
      transactionalId: `${runId}.order`,
      maxBatchBytes: 2048,
      maxRequestBytes: 4096,
    });
    await producer.connect();
    const messages = batch('o', 300);
    try {
      const tx = await producer.transaction();
      await tx.send(new Map([[topic, messages]]));
      await tx.commit();
    } finally {
      await producer.disconnect();
    }
    const consumer = testKafka().consumer({ groupId: `${runId}-order-reader`, readUncommitted: false });
    const byPartition = new Map<number, number[]>();
    let count = 0;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const i = Number(message.value!.toString().split(':')[1]);
          if (!byPartition.has(partition)) byPartition.set(partition, []);
          byPartition.get(partition)!.push(i);
          if (++count === messages.length) resolve();
        },
      });
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
    clearTimeout(timer);
    await consumer.disconnect();
    expect(count).toBe(messages.length);
    for (const list of byPartition.values()) expect(list).toEqual([...list].sort((a, b) => a - b));
    // explicit partitions honoured; keyed messages where kafkajs' default (murmur2) partitioner puts them
    const reference = kafkajs.Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2].map((partitionId) => ({
      partitionId,
      leader: 1,
      replicas: [1],
      isr: [1],
      partitionErrorCode: 0,
    }));
    for (const [p, list] of byPartition)
      for (const i of list) {
        const m = messages[i]!;
        if (m.partition !== undefined) expect(p).toBe(m.partition);
        else expect(p).toBe(reference({ topic, partitionMetadata, message: m }));
      }
  });
});
