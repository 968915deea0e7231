import { createRequire } from 'node:module';
import type { Message } from 'kafkajs';

/**
 * Linear per-partition grouping for the runtime's transactional `sendBatch` calls (kafkajs 2.2.4).
 *
 * kafkajs' producer groups a call's messages per partition in `groupMessagesPerPartition` with
 * `messages.reduce((result, m) => Object.assign(result, { [p]: [...(result[p] || []), m] }), {})`: the
 * partition's list is copied for every message, quadratic in the messages of a call (5000 per call here:
 * 7% of the pipeline worker's busy time). sendMessages holds its own reference to that function, so it
 * cannot be replaced from outside; what it iterates, though, is the very array we pass in `topicMessages`.
 * `linearGrouping` gives each such array its own `reduce`: it runs kafkajs' callback (partitioner call
 * included, once per message, in order) against an accumulator whose partition lists always read as
 * missing, so the callback builds a one-element list, and whose writes append that element to the real
 * list. The result is the same `{ [partition]: messages[] }` object, in the same order.
 *
 * Any other use of `reduce` on such an array (another initial value than an empty plain object) runs
 * the standard `Array.prototype.reduce`. At first use the wrapper is checked against kafkajs' own
 * grouping; if kafkajs changed so that the two disagree, arrays are left unwrapped (kafkajs' path).
 *
 * Within one call, a message with a string key and no explicit partition goes where the first message
 * with that key went, without running the callback again: the transport's producers partition keyed
 * messages by key alone (`cachingPartitioner`: murmur2 of the key over the call's fixed partition count),
 * so the callback would give the same partition. Processors emit a few keys over and over, so the
 * callback runs about once per key instead of once per message. Messages without a string key (kafkajs'
 * round robin) or with an explicit partition run the callback every time.
 */

const require = createRequire(import.meta.url);

type Grouped = Record<string, Message[]>;
type Reducer = (result: unknown, message: Message, index: number, array: Message[]) => unknown;

function linearReduce(this: Message[], fn: Reducer, ...init: unknown[]): unknown {
  const seed = init[0];
  if (
    init.length !== 1 ||
    seed === null ||
    typeof seed !== 'object' ||
    Object.getPrototypeOf(seed) !== Object.prototype ||
    Object.keys(seed).length !== 0
  ) {
    return (Array.prototype.reduce as (...a: unknown[]) => unknown).apply(this, [fn, ...init]);
  }
  const lists: Grouped = Object.create(null) as Grouped;
  const order: string[] = [];
  /** Partition (list name) of each string key seen without an explicit partition in this call. */
  const byKey = new Map<string, string>();
  /** The list the callback's last write went to. */
  let written: string | undefined;
  const acc = new Proxy(seed as Grouped, {
    // A partition's list always reads as absent: kafkajs' callback then copies nothing.
    get: (target, prop) => (typeof prop === 'string' ? undefined : Reflect.get(target, prop)),
    set: (_target, prop, value: unknown) => {
      if (typeof prop !== 'string' || !Array.isArray(value)) return false;
      written = prop;
      let list = lists[prop];
      if (list === undefined) {
        lists[prop] = list = [];
        order.push(prop);
      }
      for (let i = 0; i < value.length; i++) list.push(value[i] as Message);
      return true;
    },
    defineProperty: () => false,
  });
  for (let i = 0; i < this.length; i++) {
    const m = this[i]!;
    const key = typeof m.key === 'string' && (m.partition === undefined || m.partition === null) ? m.key : undefined;
    if (key !== undefined) {
      const known = byKey.get(key);
      if (known !== undefined) {
        lists[known]!.push(m);
        continue;
      }
    }
    written = undefined;
    if (fn(acc, m, i, this) !== acc) {
      // Not the accumulator shape we know: start over the standard way.
      return (Array.prototype.reduce as (...a: unknown[]) => unknown).apply(this, [fn, ...init]);
    }
    if (key !== undefined && written !== undefined) byKey.set(key, written);
  }
  const out = seed as Grouped;
  for (const p of order) out[p] = lists[p]!;
  return out;
}

let verdict: boolean | undefined;

/** Whether wrapping gives kafkajs' own grouping (checked once against kafkajs' function). */
function supported(): boolean {
  if (verdict !== undefined) return verdict;
  try {
    const group = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (args: {
      topic: string;
      partitionMetadata: unknown[];
      messages: Message[];
      partitioner: (a: { message: Message }) => number;
    }) => Grouped;
    const messages: Message[] = Array.from({ length: 7 }, (_, i) => ({ key: `k${i % 3}`, value: String(i) }));
    const partitioner = ({ message }: { message: Message }) => Number(String(message.key).slice(1)) % 2;
    const args = { topic: 't', partitionMetadata: [{}, {}] };
    const expected = group({ ...args, messages: [...messages], partitioner });
    const got = group({ ...args, messages: wrap([...messages]), partitioner });
    verdict =
      JSON.stringify(got) === JSON.stringify(expected) && Object.keys(got).join() === Object.keys(expected).join();
  } catch {
    verdict = false;
  }
  return verdict;
}

function wrap(messages: Message[]): Message[] {
  Object.defineProperty(messages, 'reduce', { value: linearReduce, configurable: true, writable: true });
  return messages;
}

/** `topicMessages` for `sendBatch` with each message list grouped per partition in linear time (see above). */
export function linearGrouping<T extends { topic: string; messages: Message[] }>(topicMessages: T[]): T[] {
  if (!supported()) return topicMessages;
  for (const t of topicMessages) wrap(t.messages);
  return topicMessages;
}
