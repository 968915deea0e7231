import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { defineProcessor } from '../component.js';
import { makeSpec } from '../spec.js';
import { kafkaTransports } from './fixtures/transports.js';
import { createTopics, produce, readTopic } from './fixtures/kafka-helpers.js';

import { jest } from '@jest/globals';

jest.setTimeout(120_000);

const double = defineProcessor({
  name: 'double',
  status: 'stable',
  summary: 'doubles value.x, throws on negatives',
  config: Type.Object({}),
  create: () => ({
    process(r, ctx) {
      const x = (r.value as { x: number }).x;
      if (x < 0) throw new Error(`negative x ${x}`);
      ctx.emit({ key: r.key, value: { x: x * 2 }, timestamp: r.timestamp });
    },
  }),
});

const runId = `t${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;

describe.each(kafkaTransports)('%s transport on the local broker', (transportName, makeTransport) => {
  const run = `${runId}${transportName}`;

  it('leaves nothing of an aborted transaction visible to read-committed consumers, then commits the retry once', async () => {
    const input = `${run}.abort.in`;
    const output = `${run}.abort.out`;
    await createTopics([{ topic: input }, { topic: output }]);
    await produce(
      input,
      [1, 2, 3].map((x) => ({ key: 'k', value: { x } })),
    );
    let aborts = 0;
    const transport = makeTransport({
      instanceId: 'a',
      beforeCommit: () => {
        if (aborts++ === 0) throw new Error('crash before commit');
      },
    });
    const spec = makeSpec({
      name: `${run}-abort`,
      processors: [{ name: 'double', definition: double, inputs: [input], outputs: [output] }],
    });
    const worker = await transport.start(spec, { untilIdle: true });
    await worker.done;
    expect(aborts).toBeGreaterThanOrEqual(2);
    const committed = await readTopic(output, { count: 3, settleMs: 1000 });
    expect(committed.map((m) => JSON.parse(m.value!.toString()))).toEqual([{ x: 2 }, { x: 4 }, { x: 6 }]);
    // the aborted attempt really wrote its records: an uncommitted reader sees them twice
    const all = await readTopic(output, { count: 6, readUncommitted: true, settleMs: 500 });
    expect(all.length).toBe(6);
  });

  it('dead-letters undecodable and failing records with headers and original bytes, and goes on', async () => {
    const input = `${run}.dlq.in`;
    const output = `${run}.dlq.out`;
    await createTopics([{ topic: input }, { topic: output }]);
    await produce(input, [
      { key: 'a', value: { x: 1 } },
      { key: 'b', value: Buffer.from('not json {') },
      { key: 'c', value: { x: -1 } },
      { key: 'd', value: { x: 5 } },
    ]);
    const name = `${run}-dlq`;
    const spec = makeSpec({
      name,
      processors: [{ name: 'double', definition: double, inputs: [input], outputs: [output] }],
    });
    const worker = await makeTransport({ instanceId: 'a' }).start(spec, { untilIdle: true });
    await worker.done;
    const out = await readTopic(output, { count: 2 });
    expect(out.map((m) => JSON.parse(m.value!.toString()))).toEqual([{ x: 2 }, { x: 10 }]);
    const dead = await readTopic(`dlq.${name}`, { count: 2 });
    const headers = dead.map((m) => Object.fromEntries(Object.entries(m.headers!).map(([k, v]) => [k, v!.toString()])));
    expect(dead.map((m) => m.value!.toString())).toEqual(['not json {', '{"x":-1}']);
    expect(headers[0]).toMatchObject({
      'source-topic': input,
      'source-partition': '0',
      'source-offset': '1',
      component: 'double',
      'error-code': 'OPTIBID_ERR_DECODE',
    });
    expect(headers[0]!.reason).toMatch(/not JSON/);
    expect(headers[1]).toMatchObject({
      reason: 'negative x -1',
      'source-topic': input,
      'source-partition': '0',
      'source-offset': '2',
    });
  });
});
