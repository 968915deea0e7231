import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { toDeadLetter } from '../dlq.js';
import type { OutRecord, StreamRecord } from '../record.js';
import type { Serde } from '../serde/serde.js';

/** Kafka headers (Buffer or string values) as the runtime's string map. */
export function decodeHeaders(h: IHeaders | undefined): Record<string, string> | undefined {
  if (!h) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    if (first === undefined) continue;
    out[k] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
    any = true;
  }
  return any ? out : undefined;
}

/** Decoded records of a fetched batch plus the dead letters of those that failed to decode. */
export interface DecodedBatch {
  records: StreamRecord[];
  deadLetters: Message[];
  /** Raw value bytes by offset, so a record that later fails keeps its original bytes in the DLQ. */
  raw: Map<string, Buffer | null>;
}

/** Decodes fetched messages with `serde`; undecodable ones become dead letters with their original bytes. */
export async function decodeBatch(
  topic: string,
  partition: number,
  messages: KafkaMessage[],
  serde: Serde,
  dlqTopic: string,
  component: string,
): Promise<DecodedBatch> {
  const records: StreamRecord[] = [];
  const deadLetters: Message[] = [];
  const raw = new Map<string, Buffer | null>();
  for (const m of messages) {
    raw.set(m.offset, m.value);
    const base = {
      topic,
      partition,
      offset: m.offset,
      key: m.key === null ? null : m.key.toString('utf8'),
      timestamp: Number(m.timestamp),
      headers: decodeHeaders(m.headers),
    };
    try {
      const value = m.value === null ? null : await serde.deserialize(m.value, { topic, partition, offset: m.offset });
      records.push({ ...base, value });
    } catch (err) {
      deadLetters.push(deadLetterMessage(toDeadLetter(dlqTopic, { ...base, value: null }, component, err), m.value));
    }
  }
  return { records, deadLetters, raw };
}

/** A dead-letter record as a Kafka message carrying `bytes` (the original value) untouched. */
export function deadLetterMessage(rec: OutRecord, bytes: Buffer | null): Message {
  return { key: rec.key, value: bytes, timestamp: String(rec.timestamp), headers: rec.headers };
}

/** Dead letters produced by a processor or sink, with their original bytes when known. */
export function rawDeadLetters(deadLetters: OutRecord[], raw: Map<string, Buffer | null>): Message[] {
  return deadLetters.map((d) => {
    const offset = d.headers?.['source-offset'];
    const bytes = offset !== undefined && raw.has(offset) ? raw.get(offset)! : Buffer.from(JSON.stringify(d.value ?? null));
    return deadLetterMessage(d, bytes);
  });
}

/** Serializes records grouped by topic; a record that cannot be serialized becomes a dead letter (JSON bytes). */
export async function encodeRecords(
  records: OutRecord[],
  serde: Serde,
  dlqTopic: string,
  component: string,
): Promise<{ byTopic: Map<string, Message[]>; failed: number }> {
  const byTopic = new Map<string, Message[]>();
  let failed = 0;
  const push = (topic: string, m: Message) => {
    let list = byTopic.get(topic);
    if (!list) byTopic.set(topic, (list = []));
    list.push(m);
  };
  for (const r of records) {
    try {
      const value = r.value === null ? null : await serde.serialize(r.topic, r.value);
      push(r.topic, { key: r.key, value, timestamp: String(r.timestamp), headers: r.headers });
    } catch (err) {
      failed++;
      push(dlqTopic, deadLetterMessage(toDeadLetter(dlqTopic, r, component, err), Buffer.from(JSON.stringify(r.value ?? null))));
    }
  }
  return { byTopic, failed };
}
