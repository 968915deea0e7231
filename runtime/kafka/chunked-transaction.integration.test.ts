import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { jest } from '@jest/globals';
import { defineProcessor } from '../component.js';
import { makeSpec } from '../spec.js';
import { changelogTopic, KafkaTransport } from './transport.js';
import { createTopics, produce, readTopic } from './fixtures/kafka-helpers.js';

jest.setTimeout(120_000);

const runId = `ck${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;

/** Running sum of value.x per key in keyed state; emits the sum; throws on a negative x. */
const runningSum = defineProcessor({
  name: 'running-sum',
  status: 'stable',
  summary: 'running sum per key',
  config: Type.Object({}),
  create: () => ({
    process(r, ctx) {
      const x = (r.value as { x: number }).x;
      if (x < 0) throw new Error(`negative x ${x}`);
      const sum = ((ctx.state.get(r.key ?? '') as number | undefined) ?? 0) + x;
      ctx.state.put(r.key ?? '', sum);
      ctx.emit({ key: r.key, value: { sum }, timestamp: r.timestamp });
    },
  }),
});

/**
 * A fetched batch processed in chunks of 3 records (`processChunkRecords`) inside one transaction: state
 * carries across chunks, the changelog gets each key's last value once, dead letters keep their bytes
 * whichever chunk they are in, and an aborted transaction (after every chunk ran) leaves nothing visible,
 * state included: the retry starts from the changelog, not from the aborted chunks' state.
 */
describe.each([['lean'], ['kafkajs']] as const)('kafka transport (%s wire), chunked transactions', (wire) => {
  it('commits a batch processed in several chunks as one transaction, and an abort after them leaves nothing', async () => {
    const run = `${runId}${wire}`;
    const input = `${run}.in`;
    const output = `${run}.out`;
    await createTopics([{ topic: input }, { topic: output }]);
    // 11 records, one fetch: offsets 0..10; 4 is undecodable (chunk 2), 7 fails in the processor (chunk 3).
    const xs: Array<number | 'bad'> = [1, 2, 3, 4, 'bad', 5, 6, -1, 7, 8, 9];
    await produce(
      input,
      xs.map((x, i) => ({ key: `k${i % 2}`, value: x === 'bad' ? Buffer.from('not json {') : { x } })),
    );
    const commits: Array<{ count: number; offsets: string[] }> = [];
    let attempts = 0;
    const spec = makeSpec({
      name: run,
      processors: [{ name: 'sum', definition: runningSum, inputs: [input], outputs: [output] }],
    });
    const worker = await new KafkaTransport({
      instanceId: 'a',
      wire,
      processChunkRecords: 3,
      beforeCommit: () => {
        if (attempts++ === 0) throw new Error('crash before commit, after every chunk was processed');
      },
      afterCommit: ({ count, records }) => commits.push({ count, offsets: records.map((r) => r.offset!) }),
    }).start(spec, { untilIdle: true });
    await worker.done;
    expect(attempts).toBeGreaterThanOrEqual(2);
    // One transaction for the whole fetched batch: 10 records decoded (offset 4 went to the DLQ on decode).
    expect(commits).toEqual([{ count: 10, offsets: ['0', '1', '2', '3', '5', '6', '7', '8', '9', '10'] }]);
    const sums = (await readTopic(output, { count: 9, settleMs: 1000 })).map((m) => [
      m.key!.toString(),
      (JSON.parse(m.value!.toString()) as { sum: number }).sum,
    ]);
    // Exactly once, and sums not doubled by the aborted attempt's state.
    expect(sums).toEqual([
      ['k0', 1],
      ['k1', 2],
      ['k0', 4],
      ['k1', 6],
      ['k1', 11],
      ['k0', 10],
      ['k0', 17],
      ['k1', 19],
      ['k0', 26],
    ]);
    // The aborted attempt wrote its outputs too: a read-uncommitted reader sees them twice.
    expect(await readTopic(output, { count: 18, readUncommitted: true, settleMs: 500 })).toHaveLength(18);
    // Changelog: each key's last value, once (not once per chunk), in the committed transaction only.
    const changelog = (await readTopic(changelogTopic(run, 'sum'), { count: 2, settleMs: 1000 })).map((m) => [
      m.key!.toString(),
      JSON.parse(m.value!.toString()) as number,
    ]);
    expect(changelog.sort()).toEqual([
      ['k0', 26],
      ['k1', 19],
    ]);
    // Dead letters from two different chunks, each with its own offset and original bytes.
    const dead = await readTopic(`dlq.${run}`, { count: 2, settleMs: 500 });
    expect(dead.map((m) => [m.headers!['source-offset']!.toString(), m.value!.toString()])).toEqual([
      ['4', 'not json {'],
      ['7', '{"x":-1}'],
    ]);
  });
});
