import kafkajs, { type PartitionerArgs } from 'kafkajs';
import { cachingPartitioner } from './partitioner.js';

const meta = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1] }));
const args = (topic: string, n: number, message: PartitionerArgs['message']): PartitionerArgs => ({
  topic,
  partitionMetadata: meta(n),
  message,
});

describe('cachingPartitioner', () => {
  it("gives every string key the default partitioner's partition, on the first call and from the cache", () => {
    const reference = kafkajs.Partitioners.DefaultPartitioner();
    const cached = cachingPartitioner();
    for (const n of [1, 3, 7, 12]) {
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 500; i++) {
          const key = `NORDPOOL|A${i}|ü${i * 7}`;
          expect(cached(args('t', n, { key, value: null }))).toBe(reference(args('t', n, { key, value: null })));
        }
      }
    }
  });

  it('follows a change of partition count and keeps topics apart', () => {
    const cached = cachingPartitioner();
    const reference = kafkajs.Partitioners.DefaultPartitioner();
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    for (const k of keys) cached(args('a', 2, { key: k, value: null }));
    const moved = keys.filter(
      (k) => cached(args('a', 9, { key: k, value: null })) !== cached(args('b', 2, { key: k, value: null })),
    );
    expect(moved.length).toBeGreaterThan(0);
    for (const k of keys)
      expect(cached(args('a', 9, { key: k, value: null }))).toBe(reference(args('a', 9, { key: k, value: null })));
  });

  it('returns an explicit partition as is, and leaves Buffer and null keys to the default (round robin for null)', () => {
    const cached = cachingPartitioner();
    expect(cached(args('t', 4, { key: 'x', value: null, partition: 3 }))).toBe(3);
    const reference = kafkajs.Partitioners.DefaultPartitioner();
    const buf = Buffer.from('bytes-key');
    expect(cached(args('t', 5, { key: buf, value: null }))).toBe(reference(args('t', 5, { key: buf, value: null })));
    const spread = new Set(Array.from({ length: 8 }, () => cached(args('t', 4, { key: null, value: null }))));
    expect(spread.size).toBe(4);
  });
});
