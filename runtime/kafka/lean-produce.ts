import { createRequire } from 'node:module';
import { crc32c } from './crc32c.js';

/**
 * Lean produce encoding for the kafkajs transport's transactional producers. kafkajs encodes each record
 * of a Produce request through its own `Encoder` (one per record and per header, growing Buffers, `Long`
 * varlongs) and copies them into the batch; in the pipeline bench that was the largest single cost left
 * after the lean fetch path (about 12 µs per output record). `sendLeanProduce` builds the same request body
 * in one Buffer (sizes first, then every field written in place) and sends it over a kafkajs broker
 * connection; `direct-produce.ts` drives it (partitioning, sequences, the transaction around it).
 */

const require = createRequire(import.meta.url);

/** A message as kafkajs hands it to `Broker.produce` (after partitioning). */
export interface ProduceMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  timestamp?: string | number;
  headers?: Record<string, Buffer | string | Array<Buffer | string> | null | undefined>;
}

export interface ProduceTopicData {
  topic: string;
  partitions: Array<{ partition: number; firstSequence?: number; messages: ProduceMessage[] }>;
}

export interface ProduceRequestArgs {
  topicData: ProduceTopicData[];
  transactionalId?: string | null;
  producerId?: string | number;
  producerEpoch?: number;
  acks?: number;
  timeout?: number;
  compression?: number;
}

function varintSize(n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1; // zigzag, in doubles (timestamp deltas may pass 2^31)
  if (z < 0x80) return 1;
  if (z < 0x4000) return 2;
  if (z < 0x200000) return 3;
  let size = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  if (z < 0x80) {
    buf[at] = z;
    return at + 1;
  }
  if (z < 0x4000) {
    buf[at] = (z & 0x7f) | 0x80;
    buf[at + 1] = z >>> 7;
    return at + 2;
  }
  while (z >= 128) {
    buf[at++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[at++] = z;
  return at;
}

/** Strings up to this many UTF-16 units are measured and written in JS when ASCII (no native call). */
const shortString = 64;

/** UTF-8 byte length of a key, value or header. */
function byteLength(v: Buffer | string): number {
  if (typeof v !== 'string') return v.length;
  const n = v.length;
  if (n > shortString) return Buffer.byteLength(v);
  for (let i = 0; i < n; i++) if (v.charCodeAt(i) >= 0x80) return Buffer.byteLength(v);
  return n;
}

/** Writes `v` at `buf[at]` (UTF-8 for strings); returns the position after it. */
function writeBytes(buf: Buffer, at: number, v: Buffer | string): number {
  if (typeof v !== 'string') {
    buf.set(v, at);
    return at + v.length;
  }
  const n = v.length;
  if (n <= shortString) {
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + i] = c;
    }
    if (i === n) return at + n;
  }
  return at + buf.write(v, at, 'utf8');
}

/** Header pairs of a message (an array value counts once per element, as kafkajs expands it). */
function headerCount(headers: NonNullable<ProduceMessage['headers']>): number {
  let n = 0;
  for (const k in headers) {
    const v = headers[k];
    n += Array.isArray(v) ? v.length : 1;
  }
  return n;
}

/** Bytes of one header pair in a record. */
function headerBytes(k: string, v: Buffer | string | null | undefined): number {
  const kl = byteLength(k);
  let size = varintSize(kl) + kl;
  if (v === null || v === undefined) size += 1;
  else {
    const vl = byteLength(v);
    size += varintSize(vl) + vl;
  }
  return size;
}

function writeHeader(buf: Buffer, at: number, k: string, v: Buffer | string | null | undefined): number {
  at = writeBytes(buf, writeVarint(buf, at, byteLength(k)), k);
  if (v === null || v === undefined) return writeVarint(buf, at, -1);
  return writeBytes(buf, writeVarint(buf, at, byteLength(v)), v);
}

/**
 * A message's timestamp as a number (NaN: none, so now). kafkajs: `timestamp || now` (a missing one, '' or
 * the number 0 mean now). Decimal strings of up to 15 digits (every millisecond stamp) are read in JS.
 */
function stampOf(t: ProduceMessage['timestamp']): number {
  if (t === undefined || t === null || t === '' || t === 0) return NaN;
  if (typeof t === 'number') return t;
  const n = t.length;
  if (n <= 15) {
    let v = 0;
    let i = 0;
    for (; i < n; i++) {
      const c = t.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
    }
    if (i === n) return v;
  }
  return Number(t);
}

/** A record batch measured (pass 1): its size and what pass 2 writes. */
interface BatchPlan {
  messages: readonly ProduceMessage[];
  total: number;
  /** Timestamp deltas against `first` (pass 1 turns the stamps into deltas). */
  deltas: Float64Array;
  bodySizes: Int32Array;
  /** UTF-8 byte lengths of each message's key and value (-1: null). */
  keyLens: Int32Array;
  valueLens: Int32Array;
  /** Header pairs of each message. */
  headerCounts: Int32Array;
  first: number;
  max: number;
}

interface BatchOptions {
  producerId: bigint;
  producerEpoch: number;
  firstSequence: number;
  transactional: boolean;
  now: number;
}

function planRecordBatch(messages: readonly ProduceMessage[], now: number): BatchPlan {
  const n = messages.length;
  const stamps = new Float64Array(n);
  let first = Infinity;
  let max = -Infinity;
  let missing = false;
  for (let i = 0; i < n; i++) {
    const v = stampOf(messages[i]!.timestamp);
    stamps[i] = v;
    if (v === v) {
      if (v < first) first = v;
      if (v > max) max = v;
    } else missing = true;
  }
  if (first === Infinity) first = max = now;
  else if (missing) {
    first = Math.min(first, now);
    max = Math.max(max, now);
  }
  const bodySizes = new Int32Array(n);
  const keyLens = new Int32Array(n);
  const valueLens = new Int32Array(n);
  const headerCounts = new Int32Array(n);
  let recordsBytes = 0;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    const stamp = stamps[i]!;
    const ts = (stamp === stamp ? stamp : now) - first;
    stamps[i] = ts;
    let size = 1 + varintSize(ts) + varintSize(i);
    const key = m.key;
    if (key === null || key === undefined) {
      keyLens[i] = -1;
      size += 1;
    } else {
      const l = (keyLens[i] = byteLength(key));
      size += varintSize(l) + l;
    }
    const value = m.value;
    if (value === null || value === undefined) {
      valueLens[i] = -1;
      size += 1;
    } else {
      const l = (valueLens[i] = byteLength(value));
      size += varintSize(l) + l;
    }
    const headers = m.headers;
    if (!headers) size += 1;
    else {
      const count = (headerCounts[i] = headerCount(headers));
      size += varintSize(count);
      for (const k in headers) {
        const v = headers[k];
        if (Array.isArray(v)) for (const x of v) size += headerBytes(k, x);
        else size += headerBytes(k, v);
      }
    }
    bodySizes[i] = size;
    recordsBytes += varintSize(size) + size;
  }
  return {
    messages,
    total: 61 + recordsBytes,
    deltas: stamps,
    bodySizes,
    keyLens,
    valueLens,
    headerCounts,
    first,
    max,
  };
}

/** Writes a planned batch at `buf[start]` (pass 2); returns where it ends. */
function writeRecordBatch(plan: BatchPlan, o: BatchOptions, buf: Buffer, start: number): number {
  const { messages, total, deltas, bodySizes, keyLens, valueLens, headerCounts } = plan;
  const n = messages.length;
  // Header: baseOffset 0, length, leader epoch 0, magic 2, crc, attributes, ...
  buf.writeBigInt64BE(0n, start);
  buf.writeInt32BE(total - 12, start + 8);
  buf.writeInt32BE(0, start + 12);
  buf.writeInt8(2, start + 16);
  buf.writeInt16BE(o.transactional ? 0x10 : 0, start + 21);
  buf.writeInt32BE(n - 1, start + 23);
  buf.writeBigInt64BE(BigInt(plan.first), start + 27);
  buf.writeBigInt64BE(BigInt(plan.max), start + 35);
  buf.writeBigInt64BE(o.producerId, start + 43);
  buf.writeInt16BE(o.producerEpoch, start + 51);
  buf.writeInt32BE(o.firstSequence, start + 53);
  buf.writeInt32BE(n, start + 57);
  let at = start + 61;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    at = writeVarint(buf, at, bodySizes[i]!);
    buf[at++] = 0;
    at = writeVarint(buf, at, deltas[i]!);
    at = writeVarint(buf, at, i);
    const kl = keyLens[i]!;
    if (kl < 0) at = writeVarint(buf, at, -1);
    else at = writeBytes(buf, writeVarint(buf, at, kl), m.key!);
    const vl = valueLens[i]!;
    if (vl < 0) at = writeVarint(buf, at, -1);
    else at = writeBytes(buf, writeVarint(buf, at, vl), m.value!);
    const headers = m.headers;
    if (!headers) buf[at++] = 0;
    else {
      at = writeVarint(buf, at, headerCounts[i]!);
      for (const k in headers) {
        const v = headers[k];
        if (Array.isArray(v)) for (const x of v) at = writeHeader(buf, at, k, x);
        else at = writeHeader(buf, at, k, v);
      }
    }
  }
  if (at !== start + total) throw new Error(`record batch encoding wrote ${at - start} of ${total} bytes`);
  buf.writeUInt32BE(crc32c(buf, start + 21, at), start + 17);
  return at;
}

/**
 * One record batch (format v2, uncompressed) holding `messages` with offset deltas 0..n-1, as kafkajs'
 * produce request lays it out: first/max timestamp from the messages (now when none has one), timestamp
 * deltas against the first, the producer id/epoch/first sequence given, transactional flag, CRC-32C.
 */
export function encodeRecordBatch(messages: readonly ProduceMessage[], o: BatchOptions): Buffer {
  const plan = planRecordBatch(messages, o.now);
  const buf = Buffer.allocUnsafe(plan.total);
  writeRecordBatch(plan, o, buf, 0);
  return buf;
}

/**
 * The body of a Produce request v3–v7 (same layout): transactional_id, acks, timeout, then per topic its
 * partitions, each with one record batch. Every batch is measured first, so the body is written into one
 * Buffer of its exact size (no per-batch buffers to concatenate).
 */
export function encodeProduceBody(args: ProduceRequestArgs, now = Date.now()): Buffer {
  const tx = args.transactionalId ?? null;
  const producerId = BigInt(String(args.producerId ?? -1));
  const producerEpoch = args.producerEpoch ?? 0;
  let size = 2 + (tx === null ? 0 : Buffer.byteLength(tx)) + 2 + 4 + 4;
  const plans: BatchPlan[][] = [];
  for (const t of args.topicData) {
    size += 2 + Buffer.byteLength(t.topic) + 4;
    const list: BatchPlan[] = [];
    for (const part of t.partitions) {
      const plan = planRecordBatch(part.messages, now);
      size += 8 + plan.total;
      list.push(plan);
    }
    plans.push(list);
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  if (tx === null) at = buf.writeInt16BE(-1, at);
  else {
    at = buf.writeInt16BE(Buffer.byteLength(tx), at);
    at += buf.write(tx, at, 'utf8');
  }
  at = buf.writeInt16BE(args.acks ?? -1, at);
  at = buf.writeInt32BE(args.timeout ?? 30000, at);
  at = buf.writeInt32BE(args.topicData.length, at);
  args.topicData.forEach((t, ti) => {
    at = buf.writeInt16BE(Buffer.byteLength(t.topic), at);
    at += buf.write(t.topic, at, 'utf8');
    at = buf.writeInt32BE(t.partitions.length, at);
    t.partitions.forEach((part, pi) => {
      const plan = plans[ti]![pi]!;
      at = buf.writeInt32BE(part.partition, at);
      at = buf.writeInt32BE(plan.total, at);
      at = writeRecordBatch(
        plan,
        { producerId, producerEpoch, firstSequence: part.firstSequence ?? 0, transactional: tx !== null, now },
        buf,
        at,
      );
    });
  });
  if (at !== size) throw new Error(`produce request encoding wrote ${at} of ${size} bytes`);
  return buf;
}

interface BrokerInstance {
  lookupRequest(
    apiKey: number,
    definition: unknown,
  ): (args: Record<string, unknown>) => {
    request: { apiVersion: number; encode(): Promise<unknown> };
  };
  produce(args: ProduceRequestArgs): Promise<unknown>;
}

const Broker = require('kafkajs/src/broker/index.js') as { prototype: BrokerInstance };
const { requests } = require('kafkajs/src/protocol/requests/index.js') as { requests: { Produce: unknown } };
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as { Produce: number };
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (initialSize?: number) => {
  buf: Buffer;
  offset: number;
};

let sendRequestKey: symbol | undefined;

/**
 * Sends one Produce request over `broker` (a kafkajs `Broker`) with its body encoded by `encodeProduceBody`
 * (uncompressed; versions 3–8, which share the layout; any other version the broker negotiated goes through
 * kafkajs' own `Broker.produce`). The response is kafkajs': parsed, and a partition error thrown as kafkajs'
 * protocol error.
 */
export function sendLeanProduce(broker: unknown, args: ProduceRequestArgs): Promise<unknown> {
  const b = broker as BrokerInstance & Record<symbol, (r: unknown) => Promise<unknown>>;
  sendRequestKey ??= Object.getOwnPropertySymbols(Broker.prototype).find(
    (s) => s.description === 'private:Broker:sendRequest',
  );
  if (!sendRequestKey || typeof b.lookupRequest !== 'function')
    throw new Error(
      'kafkajs internals changed: Broker sendRequest / lookupRequest not found (runtime/kafka/lean-produce.ts)',
    );
  const acks = args.acks ?? -1;
  const timeout = args.timeout ?? 30000;
  const produce = b.lookupRequest(apiKeys.Produce, requests.Produce);
  // kafkajs' request object is only the shell here (version, api key, response parser): it is built without the
  // messages. Its closures (`expectResponse`, its own `encode`) share one scope holding the request's topic
  // data, and kafkajs keeps the request reachable after the answer: its connection's in-flight Map is long
  // lived, and the tables such a Map leaves behind as it grows and shrinks keep what they held (the socket
  // request, so this request) alive until a full GC. Every message, value Buffer and key of the request
  // then outlived young collections (see ChangelogStore.renew in runtime/state.ts for the same effect).
  const protocolRequest = produce({ ...args, topicData: [], acks, timeout, compression: 0 });
  const version = protocolRequest.request.apiVersion;
  if (version < 3 || version > 8) return b.produce({ ...args, acks, timeout, compression: 0 });
  // Encoded now, so nothing kafkajs holds refers to the messages: only to the body bytes.
  let body: Buffer;
  try {
    body = encodeProduceBody({ ...args, acks, timeout });
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  protocolRequest.request.encode = async () => {
    // An Encoder holding the body as its buffer (kafkajs reads `buf` up to `offset`): no copy into a growing one.
    const encoder = new Encoder(0);
    encoder.buf = body;
    encoder.offset = body.length;
    return encoder;
  };
  return b[sendRequestKey]!.call(b, protocolRequest);
}
