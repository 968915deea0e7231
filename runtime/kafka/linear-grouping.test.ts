import { createRequire } from 'node:module';
import kafkajs, { type Message } from 'kafkajs';
import { linearGrouping } from './linear-grouping.js';
import { cachingPartitioner } from './partitioner.js';

const require = createRequire(import.meta.url);
// kafkajs' own grouping, the function its producer calls for every sendBatch.
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (args: {
  topic: string;
  partitionMetadata: Array<{ partitionId: number; leader: number }>;
  messages: Message[];
  partitioner: (args: unknown) => number;
}) => Record<string, Message[]>;

const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionId, leader: 1 }));

function messages(n: number): Message[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `NORDPOOL|A${i % 37}`, // keyed: keyless messages go round-robin from a random start
    value: String(i),
    ...(i % 13 === 0 ? { partition: i % 6 } : {}),
  }));
}

describe('linearGrouping', () => {
  it("groups a wrapped list exactly as kafkajs' producer does: same partitions and order, the partitioner once per key", () => {
    for (const Partitioner of [kafkajs.Partitioners.DefaultPartitioner, cachingPartitioner]) {
      const plainCalls: unknown[] = [];
      const wrappedCalls: unknown[] = [];
      const p1 = Partitioner();
      const p2 = Partitioner();
      const expected = groupMessagesPerPartition({
        topic: 't',
        partitionMetadata,
        messages: messages(2000),
        partitioner: (a) => (plainCalls.push((a as { message: Message }).message.value), p1(a as never)),
      });
      const [wrapped] = linearGrouping([{ topic: 't', messages: messages(2000) }]);
      const got = groupMessagesPerPartition({
        topic: 't',
        partitionMetadata,
        messages: wrapped!.messages,
        partitioner: (a) => (wrappedCalls.push((a as { message: Message }).message.value), p2(a as never)),
      });
      expect(Object.keys(got)).toEqual(Object.keys(expected));
      expect(Object.keys(got).length).toBeGreaterThan(1);
      expect(got).toEqual(expected);
      // The partitioner ran for every message with an explicit partition and for the first of each key
      // without one; the others went where their key's first message went.
      const seen = new Set<string>();
      const needed = messages(2000)
        .filter((m) => {
          if (m.partition !== undefined) return true;
          if (seen.has(String(m.key))) return false;
          seen.add(String(m.key));
          return true;
        })
        .map((m) => m.value);
      expect(wrappedCalls).toEqual(needed);
      expect(plainCalls).toHaveLength(2000);
    }
  });

  it('runs the partitioner for every keyless message (round robin) and keeps their order', () => {
    const roundRobin = () => {
      let next = 0;
      return () => next++ % 6;
    };
    const keyless = (n: number): Message[] => Array.from({ length: n }, (_, i) => ({ key: null, value: String(i) }));
    const p1 = roundRobin();
    const p2 = roundRobin();
    const expected = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata,
      messages: keyless(50),
      partitioner: p1,
    });
    const [wrapped] = linearGrouping([{ topic: 't', messages: keyless(50) }]);
    const got = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata,
      messages: wrapped!.messages,
      partitioner: p2,
    });
    expect(got).toEqual(expected);
    expect(Object.keys(got)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(got['2']!.map((m) => m.value)).toEqual(['2', '8', '14', '20', '26', '32', '38', '44']);
  });

  it('leaves every other use of the list standard', () => {
    const [t] = linearGrouping([{ topic: 't', messages: messages(5) }]);
    const list = t!.messages;
    expect(list.reduce((n, m) => n + Number(m.value), 0)).toBe(10);
    expect(list.reduce((acc: string[], m) => [...acc, String(m.value)], [])).toEqual(['0', '1', '2', '3', '4']);
    expect(list.reduce((acc: Record<string, number>, m) => ({ ...acc, [String(m.value)]: 1 }), {})).toEqual({
      0: 1,
      1: 1,
      2: 1,
      3: 1,
      4: 1,
    });
    expect(Object.keys(list)).toEqual(['0', '1', '2', '3', '4']); // nothing enumerable added
    expect(list.find((m) => m.value === '3')?.value).toBe('3');
  });
});
