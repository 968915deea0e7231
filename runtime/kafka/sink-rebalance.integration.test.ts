import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Type } from '@sinclair/typebox';
import { defineSink } from '../component.js';
import type { RunningPipeline } from '../pipeline.js';
import type { StreamRecord } from '../record.js';
import { makeSpec } from '../spec.js';
import { kafkaTransports } from './fixtures/transports.js';
import { createTopics, produce, testKafka } from './fixtures/kafka-helpers.js';

jest.setTimeout(180_000);

const runId = `r${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;

async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(kafkaTransports)(
  '%s transport: a rebalance while the sink accumulator holds records',
  (transportName, makeTransport) => {
    it('drops the buffer, the partitions’ new owners fetch those records again from the last commit, nothing is lost or written twice', async () => {
      const input = `${runId}${transportName}.in`;
      const name = `${runId}${transportName}-rebalance`;
      const group = `${name}.store`;
      await createTopics([{ topic: input, numPartitions: 2 }]);
      const perPartition = 200;
      // Writes per worker: the time bound (10 min) never fires, so records stay buffered until a stop flushes them.
      const writes: Array<{ worker: string; records: Array<{ partition: number; offset: string }> }> = [];
      const store = defineSink({
        name: 'test-buffering',
        status: 'experimental',
        summary: 'records what each worker writes',
        config: Type.Object({ worker: Type.String() }),
        batching: () => ({ maxRecords: 100_000, maxWaitMs: 600_000 }),
        create: (c: { worker: string }) => ({
          connect: async () => {},
          close: async () => {},
          write: async (records: StreamRecord[]) => {
            writes.push({
              worker: c.worker,
              records: records.map((r) => ({ partition: r.partition, offset: String(r.offset) })),
            });
          },
        }),
      });
      const spec = (worker: string) =>
        makeSpec({ name, sinks: [{ name: 'store', definition: store, config: { worker }, inputs: [input] }] });
      const admin = testKafka().admin();
      await admin.connect();
      let a: RunningPipeline | undefined;
      let b: RunningPipeline | undefined;
      try {
        a = await makeTransport({ instanceId: 'a' }).start(spec('a'));
        await produce(
          input,
          Array.from({ length: 2 * perPartition }, (_, i) => ({ key: `k${i}`, partition: i % 2, value: { i } })),
        );
        // A has fetched both partitions: everything sits in its buffer (a sink's lag counts buffered records)
        await waitFor(() => a!.stats()[0]!.lag === 2 * perPartition, 60_000, 'worker a to buffer every record');
        expect(writes).toEqual([]);

        b = await makeTransport({ instanceId: 'b' }).start(spec('b'));
        // the rebalance gives b one partition; both fetch their partitions again from the last commit (none)
        await waitFor(
          () => b!.stats()[0]!.lag === perPartition && a!.stats()[0]!.lag === perPartition,
          90_000,
          'each worker to buffer its own partition after the rebalance',
        );
        expect(writes).toEqual([]); // nothing was written or committed before the rebalance

        await b.stop(); // b flushes its partition and commits; a takes it over again
        b = undefined;
        // that rebalance drops a's buffer too: it fetches its own partition again (b's is committed)
        await waitFor(() => a!.stats()[0]!.lag === perPartition, 90_000, 'worker a to buffer its partition again');
        await a.stop();
        a = undefined;

        const offsets = (await admin.fetchOffsets({ groupId: group, topics: [input] }))[0]!.partitions;
        expect(offsets.map((p) => p.offset)).toEqual([String(perPartition), String(perPartition)]);
        const all = writes.flatMap((w) => w.records.map((r) => `${r.partition}/${r.offset}`));
        // every record written exactly once: the buffer a dropped in the rebalance was fetched again, not lost
        expect(all.length).toBe(2 * perPartition);
        expect(new Set(all).size).toBe(2 * perPartition);
        // b wrote one whole partition (its share after the rebalance), a the other
        const byWorker = (w: string) =>
          new Set(writes.filter((x) => x.worker === w).flatMap((x) => x.records.map((r) => r.partition)));
        expect(byWorker('b').size).toBe(1);
        expect([...byWorker('a')]).not.toContain([...byWorker('b')][0]);
      } finally {
        await b?.stop().catch(() => {});
        await a?.stop().catch(() => {});
        await admin.disconnect();
      }
    });

    it('a write still in flight when the group rebalances: everything is stored at least once and the offsets reach the end', async () => {
      const input = `${runId}${transportName}.inflight.in`;
      const name = `${runId}${transportName}-inflight`;
      const group = `${name}.store`;
      await createTopics([{ topic: input, numPartitions: 2 }]);
      const perPartition = 200;
      const written: string[] = [];
      let writesStarted = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const store = defineSink({
        name: 'test-gated',
        status: 'experimental',
        summary: 'the first write waits for the test',
        config: Type.Object({}),
        batching: () => ({ maxRecords: 100, maxWaitMs: 200 }),
        create: () => ({
          connect: async () => {},
          close: async () => {},
          write: async (records: StreamRecord[]) => {
            if (++writesStarted === 1) await gate;
            for (const r of records) written.push(`${r.partition}/${r.offset}`);
          },
        }),
      });
      const spec = makeSpec({ name, sinks: [{ name: 'store', definition: store, config: {}, inputs: [input] }] });
      const admin = testKafka().admin();
      await admin.connect();
      const committed = async () =>
        (await admin.fetchOffsets({ groupId: group, topics: [input] }))[0]!.partitions.map((p) => Number(p.offset));
      let a: RunningPipeline | undefined;
      let b: RunningPipeline | undefined;
      try {
        a = await makeTransport({ instanceId: 'a' }).start(spec);
        await produce(
          input,
          Array.from({ length: 2 * perPartition }, (_, i) => ({ key: `k${i}`, partition: i % 2, value: { i } })),
        );
        await waitFor(() => writesStarted === 1, 60_000, 'the first write');
        // b joins while that write hangs; the write is let go once the group is rebalancing
        const joining = makeTransport({ instanceId: 'b' }).start(spec);
        await waitFor(
          async () => (await admin.describeGroups([group])).groups[0]?.state !== 'Stable',
          60_000,
          'the group to rebalance',
        );
        release();
        b = await joining;
        await waitFor(
          async () => (await committed()).every((o) => o === perPartition),
          120_000,
          'the group to commit both partitions to their end',
        );
        const unique = new Set(written);
        expect(unique.size).toBe(2 * perPartition); // at-least-once: nothing lost
        for (let p = 0; p < 2; p++) for (let o = 0; o < perPartition; o++) expect(unique.has(`${p}/${o}`)).toBe(true);
      } finally {
        release();
        await b?.stop().catch(() => {});
        await a?.stop().catch(() => {});
        await admin.disconnect();
      }
    });
  },
);
