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
});
