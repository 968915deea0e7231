import { createRequire } from 'node:module';
import type * as RdKafka from 'node-rdkafka';
import type { Message } from 'kafkajs';
import { OptiBidError } from '../errors.js';

export type { RdKafka };

let loaded: typeof RdKafka | undefined;

/**
 * node-rdkafka, loaded on first use: it is a native addon built from source at install time, so
 * `@optibid/runtime` itself (memory and kafkajs transports) keeps working where it was not built.
 */
export function loadRdkafka(): typeof RdKafka {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  try {
    loaded = require('node-rdkafka') as typeof RdKafka;
  } catch (cause) {
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `the rdkafka transport needs node-rdkafka's native build, which failed to load: ${(cause as Error).message}. ` +
        'It is built by `npm ci` (approved in the root package.json "allowScripts"; needs python3, make and g++); rebuild with `npm rebuild node-rdkafka`.',
      { cause },
    );
  }
  return loaded;
}

/** librdkafka error codes used here (node-rdkafka's CODES.ERRORS). */
export const codes = {
  assignPartitions: -175,
  revokePartitions: -174,
  queueFull: -184,
  timedOut: -185,
  topicAlreadyExists: 36,
  offsetBeginning: -2,
} as const;

export interface RdError {
  message: string;
  code?: number;
  isFatal?: boolean;
  isRetriable?: boolean;
  isTxnRequiresAbort?: boolean;
}

/** Calls a node-rdkafka function taking a trailing `(err, result)` callback as a promise. */
export function call<T = void>(fn: (cb: (err: RdError | null | undefined, result?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn((err, result) => (err ? reject(err) : resolve(result as T)));
  });
}

/** Connects a client (the callback reports the first metadata request). */
export function connect(client: RdKafka.Client<string>, timeoutMs = 30_000): Promise<void> {
  return call<unknown>((cb) => client.connect({ timeout: timeoutMs }, cb)).then(() => {});
}

/** Disconnects, never rejecting (used on stop paths). */
export function disconnect(client: RdKafka.Client<string>, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (!client.isConnected()) return resolve();
    const timer = setTimeout(resolve, timeoutMs);
    client.disconnect(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Up to `n` messages (fewer once the consume timeout passes without one). */
export function consume(consumer: RdKafka.KafkaConsumer, n: number): Promise<RdKafka.Message[]> {
  return new Promise((resolve, reject) =>
    consumer.consume(n, (err, messages) => (err ? reject(err) : resolve(messages))),
  );
}

export interface GatherOptions {
  /** Most records in one batch. */
  maxRecords: number;
  /** A batch closes this long (ms) after its first record arrived, however many records it has. */
  maxMs: number;
  /** How long (ms) to wait for a first record before returning an empty batch. */
  idleWaitMs: number;
  /** Once a batch started, a consume call ends after this long (ms) without a new record. */
  gapMs?: number;
  /**
   * Records asked for per consume call (default 500). A call ends only when it has them or after `gapMs`
   * without a record, so at a steady rate a big chunk would hold a batch far past `maxMs`.
   */
  chunk?: number;
}

/**
 * One batch of records: returns as soon as a first record is ready, then keeps taking what is ready
 * (chunk by chunk) until `maxRecords`, until nothing arrives for `gapMs`, or until `maxMs` passed.
 * So a backlog gives large batches (few transactions) and a trickle gives small, prompt ones.
 */
export async function gatherBatch(consumer: RdKafka.KafkaConsumer, o: GatherOptions): Promise<RdKafka.Message[]> {
  consumer.setDefaultConsumeTimeout(o.idleWaitMs);
  const out = await consume(consumer, 1);
  if (out.length === 0) return out;
  const started = performance.now();
  const chunk = o.chunk ?? 500;
  consumer.setDefaultConsumeTimeout(o.gapMs ?? 5);
  while (out.length < o.maxRecords && performance.now() - started < o.maxMs) {
    const more = await consume(consumer, Math.min(chunk, o.maxRecords - out.length));
    for (const m of more) out.push(m);
    if (more.length === 0) break;
  }
  return out;
}

/** Headers of an encoded message as node-rdkafka wants them. */
function headersOf(h: Message['headers']): RdKafka.MessageHeader[] | undefined {
  if (!h) return undefined;
  const out: RdKafka.MessageHeader[] = [];
  for (const k in h) {
    const v = h[k];
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push({ [k]: Buffer.isBuffer(one) ? one : String(one) });
  }
  return out.length ? out : undefined;
}

/**
 * Produces every message (grouped by topic) without awaiting each: librdkafka queues and batches
 * them. Waits only while its local queue is full.
 */
export async function produceAll(producer: RdKafka.Producer, byTopic: Map<string, Message[]>): Promise<number> {
  let n = 0;
  for (const [topic, messages] of byTopic) {
    for (const m of messages) {
      const value =
        m.value === null || m.value === undefined ? null : Buffer.isBuffer(m.value) ? m.value : Buffer.from(m.value);
      const timestamp = m.timestamp === undefined ? null : Number(m.timestamp);
      for (;;) {
        try {
          producer.produce(
            topic,
            m.partition ?? null,
            value,
            m.key ?? null,
            timestamp,
            undefined,
            headersOf(m.headers),
          );
          break;
        } catch (err) {
          if ((err as RdError).code !== codes.queueFull) throw err;
          producer.poll();
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      n++;
    }
  }
  return n;
}
