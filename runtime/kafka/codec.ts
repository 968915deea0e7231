import type { IHeaders, Message } from 'kafkajs';
import { toDeadLetter } from '../dlq.js';
import { projectionOf } from '../core/projection.js';
import type { OutRecord, StreamRecord } from '../record.js';
import type { RecordOrigin, Serde } from '../serde/serde.js';
import { forEachRecord, RecordCursor, type RecordSpan } from './record-batches.js';

/**
 * A serde that may also offer a promise-free warm path (as `AvroSerde` and the JSON serde do): the
 * transports call `serializeSync`/`deserializeSync` first and await the async call only when the
 * sync one returns undefined (schema not cached yet). Per-record awaits are the main cost otherwise.
 */
export type MaybeSyncSerde = Serde & {
  serializeSync?(topic: string, value: unknown): Buffer | undefined;
  deserializeSync?(bytes: Buffer, origin: RecordOrigin): { value: unknown } | undefined;
  deserializeRangeSync?(buf: Buffer, start: number, end: number, origin: RecordOrigin): unknown;
};

/** Headers as kafkajs (object) or node-rdkafka (array of one-entry objects) hands them over. */
export type FetchedHeaders = IHeaders | Array<Record<string, string | Buffer>>;

/** A fetched message, in the shape shared by kafkajs' KafkaMessage and node-rdkafka's Message. */
export interface FetchedMessage {
  key?: Buffer | string | null;
  value: Buffer | null;
  offset: string | number;
  timestamp?: string | number;
  headers?: FetchedHeaders;
}

/** Kafka headers (Buffer or string values) as the runtime's string map. */
export function decodeHeaders(h: FetchedHeaders | undefined): Record<string, string> | undefined {
  if (!h) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  const add = (k: string, v: unknown) => {
    if (v === undefined) return;
    const first = Array.isArray(v) ? v[0] : v;
    if (first === undefined) return;
    out[k] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
    any = true;
  };
  if (Array.isArray(h)) {
    for (const entry of h) for (const k in entry) add(k, entry[k]);
  } else {
    for (const k in h) add(k, h[k]);
  }
  return any ? out : undefined;
}

/** Original value bytes by offset (looked up only when a record is dead-lettered). */
export type RawLookup = Pick<Map<string, Buffer | null>, 'has' | 'get'>;

/** Decoded records of a fetched batch plus the dead letters of those that failed to decode. */
export interface DecodedBatch {
  records: StreamRecord[];
  deadLetters: Message[];
  /** Raw value bytes by offset, so a record that later fails keeps its original bytes in the DLQ. */
  raw: RawLookup;
}

/** Builds the offset → bytes map on first use: most batches never need it. */
function lazyRaw(messages: readonly FetchedMessage[]): RawLookup {
  let map: Map<string, Buffer | null> | undefined;
  const get = () => (map ??= new Map(messages.map((m) => [String(m.offset), m.value])));
  return { has: (k) => get().has(k), get: (k) => get().get(k) };
}

/**
 * Decodes fetched messages with `serde`; undecodable ones become dead letters with their original bytes.
 * `fields` is the projection the serde may limit values to (see `ProcessorDefinition.valueFields`; default:
 * what the live processor named `component` registered, `null`: whole values).
 */
export async function decodeBatch(
  topic: string,
  partition: number,
  messages: readonly FetchedMessage[],
  serde: MaybeSyncSerde,
  dlqTopic: string,
  component: string,
  fields: readonly string[] | null = projectionOf(component) ?? null,
): Promise<DecodedBatch> {
  const records: StreamRecord[] = [];
  const deadLetters: Message[] = [];
  const range =
    fields !== null && typeof serde.deserializeRangeSync === 'function'
      ? serde.deserializeRangeSync.bind(serde)
      : undefined;
  const sync =
    range !== undefined
      ? (bytes: Buffer, origin: RecordOrigin) => {
          const value = range(bytes, 0, bytes.length, origin, fields!);
          return value === undefined ? undefined : { value };
        }
      : typeof serde.deserializeSync === 'function'
        ? serde.deserializeSync.bind(serde)
        : undefined;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const offset = typeof m.offset === 'string' ? m.offset : String(m.offset);
    const key =
      m.key === null || m.key === undefined ? null : typeof m.key === 'string' ? m.key : m.key.toString('utf8');
    const timestamp = Number(m.timestamp ?? 0);
    const headers = m.headers === undefined ? undefined : decodeHeaders(m.headers);
    try {
      let value: unknown = null;
      if (m.value !== null) {
        const origin = { topic, partition, offset };
        const fast = sync?.(m.value, origin);
        value = fast !== undefined ? fast.value : await decodeCold(serde, m.value, origin, fields ?? undefined);
      }
      records.push({ topic, partition, offset, key, timestamp, headers, value });
    } catch (err) {
      const base = { topic, partition, offset, key, timestamp, headers, value: null };
      deadLetters.push(deadLetterMessage(toDeadLetter(dlqTopic, base, component, err), m.value));
    }
  }
  return { records, deadLetters, raw: lazyRaw(messages) };
}

/**
 * `decodeBatch` for the lean fetch path: walks the record spans of a fetched partition in place (see
 * record-batches.ts), building one `StreamRecord` per record straight from the bytes (key and header
 * strings decoded from the fetch buffer, the value handed to the serde as a view of it). Same output
 * and dead letters as `decodeBatch`. Given a `RecordCursor` it decodes the next `max` records at most and
 * leaves the cursor after them (a transaction can take a fetched batch a chunk at a time). `fields` as in
 * `decodeBatch` (the projection goes to the serde's `deserializeRangeSync`).
 */
export async function decodeLeanBatch(
  topic: string,
  partition: number,
  from: readonly RecordSpan[] | RecordCursor,
  serde: MaybeSyncSerde,
  dlqTopic: string,
  component: string,
  max = Infinity,
  fields: readonly string[] | null = projectionOf(component) ?? null,
): Promise<DecodedBatch> {
  const cursor = from instanceof RecordCursor ? from : new RecordCursor(from);
  const projection = fields ?? undefined;
  const records: StreamRecord[] = [];
  const deadLetters: Message[] = [];
  const sync = typeof serde.deserializeSync === 'function' ? serde.deserializeSync.bind(serde) : undefined;
  // In place (no Buffer view per record) when the serde can read a range of the fetch buffer.
  const range = typeof serde.deserializeRangeSync === 'function' ? serde.deserializeRangeSync.bind(serde) : undefined;
  /** Records whose value waits for the async path (serde not warm): their index in `records` and bytes. */
  let later: Array<{ index: number; bytes: Buffer }> | undefined;
  // One origin object, updated per record: the sync path names it only in errors it throws at once.
  const origin: RecordOrigin = { topic, partition, offset: '' };
  const r = cursor.view;
  // Offsets mostly go up by one: the decimal string is the string of offset / 10 (kept while it does
  // not change, i.e. for runs of ten) plus the last digit, ~4x cheaper than converting every offset.
  let tens = -1;
  let tensText = '';
  for (let taken = 0; taken < max && cursor.next(); taken++) {
    const o = r.offset;
    const q = Math.floor(o / 10);
    if (q !== tens) {
      tens = q;
      tensText = q === 0 ? '' : String(q);
    }
    const offset = tensText + lastDigit[o - q * 10]!;
    const key = r.keyStart < 0 ? null : keyString(r.buf, r.keyStart, r.keyEnd);
    const timestamp = r.timestamp;
    const headers = r.headers;
    let value: unknown = null;
    if (r.valueStart >= 0) {
      origin.offset = offset;
      let ready = false;
      try {
        if (range !== undefined) {
          value = range(r.buf, r.valueStart, r.valueEnd, origin, projection);
          ready = value !== undefined;
        } else {
          const fast = sync?.(r.buf.subarray(r.valueStart, r.valueEnd), origin);
          if (fast !== undefined) {
            value = fast.value;
            ready = true;
          }
        }
      } catch (err) {
        const base = { topic, partition, offset, key, timestamp, headers, value: null };
        const bytes = r.buf.subarray(r.valueStart, r.valueEnd);
        deadLetters.push(deadLetterMessage(toDeadLetter(dlqTopic, base, component, err), bytes));
        continue;
      }
      if (!ready) {
        value = null;
        (later ??= []).push({ index: records.length, bytes: r.buf.subarray(r.valueStart, r.valueEnd) });
      }
    }
    records.push({ topic, partition, offset, key, timestamp, headers, value });
  }
  if (later) {
    const failed = new Set<number>();
    for (const { index, bytes } of later) {
      const rec = records[index]!;
      try {
        // The first awaited call warms the serde (schema fetched and cached): the rest go the sync way.
        const origin = { topic, partition, offset: rec.offset };
        rec.value = await decodeCold(serde, bytes, origin, projection);
      } catch (err) {
        failed.add(index);
        const base = { ...rec, value: null };
        deadLetters.push(deadLetterMessage(toDeadLetter(dlqTopic, base, component, err), bytes));
      }
    }
    if (failed.size) {
      const kept = records.filter((_, i) => !failed.has(i));
      records.length = 0;
      records.push(...kept);
    }
  }
  return { records, deadLetters, raw: lazySpanRaw(cursor.spans) };
}

/**
 * A value the serde was not ready for when its batch was walked: the warm path if it is ready by now,
 * else the awaited call (which warms it: schema fetched and cached). With a projection the value then
 * goes through the range path again, so the first records of a cold batch carry the same fields as the
 * rest (the awaited call decodes whole values).
 */
async function decodeCold(
  serde: MaybeSyncSerde,
  bytes: Buffer,
  origin: RecordOrigin,
  fields: readonly string[] | undefined,
): Promise<unknown> {
  const range = fields !== undefined && typeof serde.deserializeRangeSync === 'function';
  if (range) {
    const value = serde.deserializeRangeSync!(bytes, 0, bytes.length, origin, fields);
    if (value !== undefined) return value;
  }
  const fast = serde.deserializeSync?.(bytes, origin);
  const whole = fast !== undefined ? fast.value : await serde.deserialize(bytes, origin);
  if (!range) return whole;
  const value = serde.deserializeRangeSync!(bytes, 0, bytes.length, origin, fields);
  return value === undefined ? whole : value;
}

const lastDigit = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Keys up to this many bytes go through the key cache; longer ones are decoded every time. */
const maxCachedKeyBytes = 48;
interface CachedKey {
  bytes: Uint8Array;
  text: string;
}
/** Direct-mapped cache of recent keys (a hash of the bytes picks the slot; a hit compares every byte). */
const keyCache: Array<CachedKey | undefined> = new Array<CachedKey | undefined>(1024).fill(undefined);

/**
 * The UTF-8 key in `buf[start, end)` as a string. Streams repeat a few keys over and over: a key whose
 * bytes equal a cached key's gets that key's string (no native decode, and a batch's records share one
 * string instead of keeping a copy each alive). Equal bytes decode to equal strings, so this is exact.
 */
export function keyString(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len > maxCachedKeyBytes) return buf.toString('utf8', start, end);
  let h = len;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + buf[i]!) | 0;
  const slot = (h ^ (h >>> 10)) & 1023;
  const hit = keyCache[slot];
  if (hit !== undefined && hit.bytes.length === len) {
    const b = hit.bytes;
    let i = 0;
    while (i < len && b[i] === buf[start + i]) i++;
    if (i === len) return hit.text;
  }
  const text = buf.toString('utf8', start, end);
  keyCache[slot] = { bytes: Uint8Array.prototype.slice.call(buf, start, end), text };
  return text;
}

/** Offset → value bytes of lean spans, walked on first use (only a dead letter needs it). */
function lazySpanRaw(spans: readonly RecordSpan[]): RawLookup {
  let map: Map<string, Buffer | null> | undefined;
  const get = () => {
    if (!map) {
      const m = new Map<string, Buffer | null>();
      forEachRecord(spans, (r) =>
        m.set(String(r.offset), r.valueStart < 0 ? null : r.buf.subarray(r.valueStart, r.valueEnd)),
      );
      map = m;
    }
    return map;
  };
  return { has: (k) => get().has(k), get: (k) => get().get(k) };
}

/** A dead-letter record as a Kafka message carrying `bytes` (the original value) untouched. */
export function deadLetterMessage(rec: OutRecord, bytes: Buffer | null): Message {
  return { key: rec.key, value: bytes, timestamp: String(rec.timestamp), headers: rec.headers };
}

/** Dead letters produced by a processor or sink, with their original bytes when known. */
export function rawDeadLetters(deadLetters: OutRecord[], raw: RawLookup): Message[] {
  return deadLetters.map((d) => {
    const offset = d.headers?.['source-offset'];
    const bytes =
      offset !== undefined && raw.has(offset) ? raw.get(offset)! : Buffer.from(JSON.stringify(d.value ?? null));
    return deadLetterMessage(d, bytes);
  });
}

/** Serializes records grouped by topic; a record that cannot be serialized becomes a dead letter (JSON bytes). */
export async function encodeRecords(
  records: OutRecord[],
  serde: MaybeSyncSerde,
  dlqTopic: string,
  component: string,
): Promise<{ byTopic: Map<string, Message[]>; failed: number }> {
  const byTopic = new Map<string, Message[]>();
  let failed = 0;
  let lastTopic: string | undefined;
  let lastList: Message[] | undefined;
  const push = (topic: string, m: Message) => {
    if (topic !== lastTopic) {
      lastTopic = topic;
      lastList = byTopic.get(topic);
      if (!lastList) byTopic.set(topic, (lastList = []));
    }
    lastList!.push(m);
  };
  const sync = typeof serde.serializeSync === 'function' ? serde.serializeSync.bind(serde) : undefined;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    try {
      let value: Buffer | null = null;
      if (r.value !== null) value = sync?.(r.topic, r.value) ?? (await serde.serialize(r.topic, r.value));
      push(r.topic, { key: r.key, value, timestamp: String(r.timestamp), headers: r.headers });
    } catch (err) {
      failed++;
      push(
        dlqTopic,
        deadLetterMessage(toDeadLetter(dlqTopic, r, component, err), Buffer.from(JSON.stringify(r.value ?? null))),
      );
    }
  }
  return { byTopic, failed };
}
