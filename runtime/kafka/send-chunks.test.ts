import type { Message } from 'kafkajs';
import { sendChunks } from './transport.js';

const msgs = (topic: string, n: number): Message[] =>
  Array.from({ length: n }, (_, i) => ({ key: topic, value: `${topic}-${i}` }));

describe('sendChunks', () => {
  it('splits messages into calls of at most max, keeping per-topic order and every message once', () => {
    const byTopic = new Map([
      ['a', msgs('a', 5)],
      ['b', msgs('b', 3)],
      ['c', msgs('c', 4)],
    ]);
    const calls = sendChunks(byTopic, 4);
    expect(calls.map((c) => c.reduce((n, t) => n + t.messages.length, 0))).toEqual([4, 4, 4]);
    const flat = calls.flatMap((c) => c.flatMap((t) => t.messages.map((m) => [t.topic, m.value])));
    expect(flat).toEqual([...byTopic].flatMap(([topic, list]) => list.map((m) => [topic, m.value])));
  });

  it('gives no call for no messages and one call for a small batch', () => {
    expect(sendChunks(new Map())).toEqual([]);
    expect(sendChunks(new Map([['a', msgs('a', 3)]]))).toEqual([[{ topic: 'a', messages: msgs('a', 3) }]]);
  });

  it('also closes a call at about maxBytes, so a batch of large dead letters stays under max.message.bytes', () => {
    const big = (i: number): Message => ({
      key: null,
      value: Buffer.alloc(300),
      headers: { reason: 'x'.repeat(100), 'source-offset': String(i) },
    });
    const byTopic = new Map([['dlq', Array.from({ length: 50 }, (_, i) => big(i))]]);
    const calls = sendChunks(byTopic, 5000, 5000);
    // about 480 bytes each: 10 fit under 5000 bytes, so 5 calls of 10.
    expect(calls.map((c) => c.reduce((n, t) => n + t.messages.length, 0))).toEqual([10, 10, 10, 10, 10]);
    expect(calls.flatMap((c) => c.flatMap((t) => t.messages))).toEqual(byTopic.get('dlq'));
    // A message larger than the bound on its own is sent alone, never dropped.
    const huge = { key: 'k', value: Buffer.alloc(9000) };
    expect(sendChunks(new Map([['t', [huge, huge]]]), 5000, 5000)).toEqual([
      [{ topic: 't', messages: [huge] }],
      [{ topic: 't', messages: [huge] }],
    ]);
  });
});
