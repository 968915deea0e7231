import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Type } from '@sinclair/typebox';
import { defineProcessor, type Processor } from '../component.js';
import { makeSpec } from '../spec.js';
import { KafkaTransport, changelogTopic } from '../kafka/transport.js';
import { createTopics, produce, readTopic } from '../kafka/fixtures/kafka-helpers.js';

jest.setTimeout(120_000);

/** Running sum per key; on `fail` it writes state (sum, a marker, a delete) and then throws. */
const summing = defineProcessor({
  name: 'summing',
  status: 'experimental',
  summary: 'running sum per key, fails on fail: true after writing state',
  config: Type.Object({}),
  create: (): Processor => ({
    process(r, ctx) {
      const v = r.value as { n?: number; fail?: boolean };
      const sum = ((ctx.state.get(`sum:${r.key}`) as number | undefined) ?? 0) + (v.n ?? 100);
      ctx.state.put(`sum:${r.key}`, sum);
      if (v.fail) {
        ctx.state.put(`touched:${r.offset}`, true);
        ctx.state.delete(`seen:${r.key}`);
        throw new Error('poison');
      }
      ctx.state.put(`seen:${r.key}`, r.offset);
      ctx.emit({ value: { sum } });
    },
  }),
});

const run = `rb${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;

test('Kafka: the changelog carries no state write of a record whose processing threw', async () => {
  const input = `${run}.in`;
  const output = `${run}.out`;
  await createTopics([{ topic: input }, { topic: output }]);
  // One fetch, so the failing record's writes would share a transaction with good ones.
  await produce(input, [
    { key: 'a', value: { n: 1 } },
    { key: 'a', value: { fail: true } },
    { key: 'a', value: { n: 2 } },
    { key: 'b', value: { fail: true } },
  ]);
  const name = `${run}-p`;
  const spec = makeSpec({
    name,
    processors: [{ name: 'sum', definition: summing, inputs: [input], outputs: [output] }],
  });
  const worker = await new KafkaTransport({ instanceId: 'a' }).start(spec, { untilIdle: true });
  await worker.done;

  const out = await readTopic(output, { count: 2 });
  expect(out.map((m) => JSON.parse(m.value!.toString()))).toEqual([{ sum: 1 }, { sum: 3 }]);
  const changelog = await readTopic(changelogTopic(name, 'sum'), { count: 2, settleMs: 1000 });
  const entries = changelog.map((m) => [m.key!.toString(), m.value === null ? null : JSON.parse(m.value.toString())]);
  // Last write per key of the committed records only: no sum 101/103, no touched:*, no tombstone, nothing for b.
  expect(entries).toEqual([
    ['sum:a', 3],
    ['seen:a', '2'],
  ]);
  const dead = await readTopic(`dlq.${name}`, { count: 2 });
  expect(dead.map((m) => m.headers!['source-offset']!.toString())).toEqual(['1', '3']);
});
