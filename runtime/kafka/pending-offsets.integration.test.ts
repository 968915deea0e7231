import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { makeSpec } from '../spec.js';
import { countingProcessor } from '../testing.js';
import { kafkaTransports } from './fixtures/transports.js';
import { KafkaTransport } from './transport.js';
import { createTopics, produce, readTopic, testKafka } from './fixtures/kafka-helpers.js';

jest.setTimeout(120_000);

const runId = `po${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const records = (from: number, n: number) =>
  Array.from({ length: n }, (_, j) => ({ key: `k${(from + j) % 4}`, value: { i: from + j } }));

/**
 * Another member's transaction that carries this group's offsets and is still open when a worker takes the
 * partitions (a rebalance away from a worker in mid-transaction, or a crashed one not yet fenced): a
 * read-committed member's committed-offset lookup answers UNSTABLE_OFFSET_COMMIT until that transaction ends.
 * The worker must then wait for it, and start from the committed offsets, never from the log start.
 */
describe.each(kafkaTransports)(
  'a worker taking partitions whose offsets sit in an open transaction (%s)',
  (transportName, makeTransport) => {
    it('waits for the transaction to end and resumes from the committed offsets', async () => {
      const input = `${runId}${transportName}.in`;
      const output = `${runId}${transportName}.out`;
      const name = `${runId}${transportName}`;
      const group = `${name}.count`;
      await createTopics([
        { topic: input, numPartitions: 2 },
        { topic: output, numPartitions: 1 },
      ]);
      await produce(input, records(0, 200));
      const admin = testKafka().admin();
      await admin.connect();
      const ends = await admin.fetchTopicOffsets(input);
      // Everything so far was processed and committed by an earlier member.
      await admin.setOffsets({
        groupId: group,
        topic: input,
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
      });
      await admin.disconnect();

      // A member that is still in a transaction holding this group's offsets.
      const zombie = testKafka().producer({
        transactionalId: `${name}.zombie`,
        maxInFlightRequests: 1,
        idempotent: true,
      });
      await zombie.connect();
      const txn = await zombie.transaction();
      await txn.sendOffsets({
        consumerGroupId: group,
        topics: [{ topic: input, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) }],
      });

      const spec = makeSpec({
        name,
        processors: [{ name: 'count', definition: countingProcessor, config: {}, inputs: [input], outputs: [output] }],
        partitions: { [input]: 2 },
      });
      const lines: string[] = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
      const running = await makeTransport({ instanceId: 'a' }).start(spec, { logger });
      try {
        // The zombie's transaction stays open until the worker has either said it waits for it, or (the bug)
        // gone on without it. Both transports ask for stable offsets (rdkafka: librdkafka's OffsetFetch; kafkajs:
        // our own OffsetFetch v7 with require_stable, group-offsets.ts) and must say they wait. kafkajs' own
        // OffsetFetch v4 would read the last committed offsets at once and never say so: this wait times out.
        await waitFor(
          () =>
            running.stats()[0]!.recordsIn > 0 || lines.some((l) => l.includes('committed offsets not readable yet')),
          60_000,
          'the worker to wait for the open transaction',
        );
        expect(running.stats()[0]!.recordsIn).toBe(0);
        await txn.abort(); // the zombie's offsets go; the earlier commit stands
        await produce(input, records(200, 20));
        await waitFor(() => running.stats()[0]!.recordsIn >= 20, 60_000, 'the 20 new records');
      } finally {
        await running.stop();
        await zombie.disconnect();
      }
      const out = await readTopic(output, { count: 20, settleMs: 1500 });
      expect(running.stats()[0]!.recordsIn).toBe(20);
      expect(
        out.map((m) => (JSON.parse(m.value!.toString()) as { input: { i: number } }).input.i).sort((a, b) => a - b),
      ).toEqual(Array.from({ length: 20 }, (_, i) => 200 + i));
    });
  },
);

/**
 * kafkajs has no background heartbeat: while our stable-offset lookup waits for an open transaction, the member
 * heartbeats between attempts itself (group-offsets.ts). Held past several session timeouts, it must still be
 * the same member of a stable group, never dropped and rejoined.
 */
describe('kafka transport: waiting for an open transaction longer than the session timeout', () => {
  it('keeps the member in the group (heartbeats between lookups) and then resumes from the committed offsets', async () => {
    const name = `${runId}long`;
    const input = `${name}.in`;
    const output = `${name}.out`;
    const group = `${name}.count`;
    await createTopics([
      { topic: input, numPartitions: 1 },
      { topic: output, numPartitions: 1 },
    ]);
    await produce(input, records(0, 50));
    const admin = testKafka().admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(input);
    const offsets = ends.map((p) => ({ partition: p.partition, offset: p.high }));
    await admin.setOffsets({ groupId: group, topic: input, partitions: offsets });
    const zombie = testKafka().producer({
      transactionalId: `${name}.zombie`,
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await zombie.connect();
    const txn = await zombie.transaction();
    await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: offsets }] });

    const spec = makeSpec({
      name,
      processors: [{ name: 'count', definition: countingProcessor, config: {}, inputs: [input], outputs: [output] }],
    });
    const lines: Array<{ level: number; msg: string; attempt?: number }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const running = await new KafkaTransport({
      instanceId: 'a',
      sessionTimeoutMs: 6000,
      rebalanceTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
      transactionTimeoutMs: 60_000,
    }).start(spec, { logger });
    try {
      // The 10th attempt (logged at warn) comes after 100+200+...+1600 ms and five waits of 2 s: over 13 s,
      // more than twice the session timeout.
      await waitFor(
        () => lines.some((l) => l.level === 40 && l.msg.includes('committed offsets not readable yet')),
        60_000,
        'the 10th lookup (logged at warn)',
      );
      expect(lines.find((l) => l.level === 40 && l.msg.includes('committed offsets not readable yet'))!.attempt).toBe(
        10,
      );
      const [g] = (await admin.describeGroups([group])).groups;
      expect(g!.state).toBe('Stable');
      expect(g!.members).toHaveLength(1);
      expect(lines.filter((l) => l.msg === 'partitions assigned')).toHaveLength(1); // never dropped and rejoined
      expect(running.stats()[0]!.recordsIn).toBe(0);
      await txn.abort();
      await produce(input, records(50, 5));
      await waitFor(() => running.stats()[0]!.recordsIn >= 5, 60_000, 'the 5 new records');
      expect(running.stats()[0]!.recordsIn).toBe(5);
    } finally {
      await running.stop();
      await zombie.disconnect();
      await admin.disconnect();
    }
  });
});
