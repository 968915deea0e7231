import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { jest } from '@jest/globals';
import { defineProcessor } from '../component.js';
import { makeSpec } from '../spec.js';
import { LeanBatch } from './lean-fetch.js';
import { KafkaTransport } from './transport.js';
import { createTopics, readTopic, testKafka } from './fixtures/kafka-helpers.js';

jest.setTimeout(120_000);

const runId = `lf${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;

/** An upstream transaction aborted in the middle of committed input: a read-committed processor must never see it. */
describe.each([['lean'], ['kafkajs']] as const)('kafka transport, %s wire path', (wire) => {
  it('never processes the records of a transaction aborted mid-stream, interleaved with committed ones', async () => {
    const run = `${runId}${wire}`;
    const input = `${run}.in`;
    const output = `${run}.out`;
    await createTopics([{ topic: input }, { topic: output }]);
    const seen: number[] = [];
    const copy = defineProcessor({
      name: 'copy',
      status: 'stable',
      summary: 'records every x it processes and emits it',
      config: Type.Object({}),
      create: () => ({
        process(r, ctx) {
          const x = (r.value as { x: number }).x;
          seen.push(x);
          ctx.emit({ key: r.key, value: { x }, timestamp: r.timestamp });
        },
      }),
    });
    const leanBatches = jest.spyOn(LeanBatch.prototype, 'isEmpty');
    const spec = makeSpec({
      name: run,
      processors: [{ name: 'copy', definition: copy, inputs: [input], outputs: [output] }],
    });
    const worker = await new KafkaTransport({ instanceId: 'a', wire }).start(spec);
    const kafka = testKafka();
    const tp = kafka.producer({ transactionalId: `${run}.upstream`, idempotent: true, maxInFlightRequests: 1 });
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const value = (x: number) => ({ key: `k${x % 3}`, value: JSON.stringify({ x }) });
    try {
      await tp.connect();
      await plain.connect();
      let tx = await tp.transaction();
      await tx.send({ topic: input, messages: [1, 2, 3].map(value) });
      await tx.commit();
      const until = async (cond: () => boolean, what: string) => {
        const deadline = Date.now() + 60_000;
        while (!cond()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; seen ${seen.join(',')}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until(() => seen.length >= 3, 'the first committed records');
      // Mid-stream: an open transaction, committed records of another producer written after it, then the abort.
      tx = await tp.transaction();
      await tx.send({ topic: input, messages: [100, 101, 102].map(value) });
      await plain.send({ topic: input, acks: -1, messages: [4, 5].map(value) });
      await tx.send({ topic: input, messages: [103, 104].map(value) });
      await tx.abort();
      // The same producer's next transaction must be delivered (its abort marker ended the aborted one).
      tx = await tp.transaction();
      await tx.send({ topic: input, messages: [6, 7].map(value) });
      await tx.commit();
      await until(() => seen.length >= 7, 'every committed record');
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await tp.disconnect();
      await plain.disconnect();
      await worker.stop();
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const out = await readTopic(output, { count: 7, settleMs: 500 });
    expect(out.map((m) => (JSON.parse(m.value!.toString()) as { x: number }).x)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // The input really holds the aborted records: a read-uncommitted reader gets all 12.
    expect((await readTopic(input, { count: 12, readUncommitted: true, settleMs: 300 })).length).toBe(12);
    // The path under test was the one used.
    if (wire === 'lean') expect(leanBatches).toHaveBeenCalled();
    else expect(leanBatches).not.toHaveBeenCalled();
    leanBatches.mockRestore();
  });
});

/**
 * A backlog in several log segments: a broker answers a Fetch with one segment per partition at most, and
 * records with event times far apart roll a segment per append (`segment.ms`, a week of record time).
 */
describe.each([['lean'], ['kafkajs']] as const)('kafka transport, %s wire path, backlog over log segments', (wire) => {
  it('processes every record once; the lean path takes several segments into one transaction', async () => {
    const run = `${runId}seg${wire}`;
    const input = `${run}.in`;
    const output = `${run}.out`;
    const admin = testKafka().admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: input, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] },
        { topic: output, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] },
      ],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const day = 86_400_000;
    for (let segment = 0; segment < 3; segment++) {
      await producer.send({
        topic: input,
        acks: -1,
        messages: Array.from({ length: 1000 }, (_, i) => ({
          key: `k${i % 5}`,
          value: JSON.stringify({ x: segment * 1000 + i }),
          timestamp: String(segment * 10 * day + i),
        })),
      });
    }
    await producer.disconnect();
    const perTransaction: number[] = [];
    const seen: number[] = [];
    const copy = defineProcessor({
      name: 'copy',
      status: 'stable',
      summary: 'emits x',
      config: Type.Object({}),
      create: () => ({
        process(r, ctx) {
          seen.push((r.value as { x: number }).x);
          ctx.emit({ key: r.key, value: r.value, timestamp: r.timestamp });
        },
      }),
    });
    const spec = makeSpec({
      name: run,
      processors: [{ name: 'copy', definition: copy, inputs: [input], outputs: [output] }],
    });
    const worker = await new KafkaTransport({
      instanceId: 'a',
      wire,
      afterCommit: ({ records }) => perTransaction.push(records.length),
    }).start(spec, { untilIdle: true });
    await worker.done;
    expect(seen).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(perTransaction.reduce((a, b) => a + b, 0)).toBe(3000);
    if (wire === 'lean') expect(Math.max(...perTransaction)).toBeGreaterThan(1000);
    else expect(Math.max(...perTransaction)).toBeLessThanOrEqual(1000); // one segment per fetch
    const out = await readTopic(output, { count: 3000, settleMs: 300 });
    expect(out.length).toBe(3000);
  });
});
