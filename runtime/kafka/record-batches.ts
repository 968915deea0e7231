import { OptiBidError } from '../errors.js';

/**
 * Kafka record batches (message format v2, the only one Kafka 4 writes) read in place: the lean fetch
 * path (`lean-fetch.ts`) keeps one Buffer per fetched partition and walks its records with varints, with
 * no object per record until the transport builds its `StreamRecord`. Read-committed filtering follows
 * the Java consumer: batches of aborted transactions and control batches are skipped, and records below
 * the fetch offset (a fetch can start inside a batch) are dropped.
 *
 * Batch header (offsets from the batch start): baseOffset int64 @0, batchLength int32 @8 (bytes after
 * it), partitionLeaderEpoch int32 @12, magic int8 @16, crc uint32 @17 (CRC-32C of @21..end), attributes
 * int16 @21 (bits 0–2 compression, 3 log-append time, 4 transactional, 5 control), lastOffsetDelta int32
 * @23, baseTimestamp int64 @27, maxTimestamp int64 @35, producerId int64 @43, producerEpoch int16 @51,
 * baseSequence int32 @53, records count int32 @57, records @61. A record: length varint, attributes
 * int8, timestampDelta varlong, offsetDelta varint, key (varint length, -1 = null), value (same),
 * header count varint, then per header a varint-length key string and a varint-length value.
 */

const HEADER_BYTES = 61;
const LOG_OVERHEAD = 12;
const ATTR_COMPRESSION = 0x07;
const ATTR_LOG_APPEND_TIME = 0x08;
const ATTR_TRANSACTIONAL = 0x10;
const ATTR_CONTROL = 0x20;

/** An aborted transaction as a read-committed fetch response lists it. */
export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

/** Decompresses a compressed batch's records (kafkajs' registered codecs). */
export type Decompress = (codec: number, bytes: Buffer) => Promise<Buffer>;

/** The data records of one record batch that a consumer gets (not aborted, not control). */
export interface RecordSpan {
  buf: Buffer;
  /** First record byte and end of the records in `buf` (the batch's own bytes, or its decompressed records). */
  start: number;
  end: number;
  baseOffset: number;
  baseTimestamp: number;
  /** Log-append time: every record carries the batch's max timestamp. */
  appendTime: number | undefined;
  count: number;
}

/** What a walk over a fetched partition's record bytes found. */
export interface ScannedRecords {
  spans: RecordSpan[];
  /** Data records at or above the fetch offset (what the consumer gets). */
  count: number;
  /** First and last offset at or above the fetch offset covered by any complete batch (data, control or aborted); -1 if none. */
  firstOffset: number;
  lastOffset: number;
}

function int64(buf: Buffer, at: number): number {
  const hi = buf.readInt32BE(at);
  const lo = buf.readUInt32BE(at + 4);
  const v = hi * 4294967296 + lo;
  if (!Number.isSafeInteger(v)) throw corrupt(`64-bit field ${hi}:${lo} is beyond 2^53`);
  return v;
}

function corrupt(what: string): OptiBidError {
  return new OptiBidError('OPTIBID_ERR_UPSTREAM', `corrupt Kafka record batch: ${what}`);
}

// Varint reading over a module-level cursor: no tuple or object per field.
let at = 0;

function varint(buf: Buffer): number {
  let b = buf[at++]!;
  if (b < 0x80) return (b >>> 1) ^ -(b & 1);
  let v = b & 0x7f;
  let shift = 7;
  do {
    if (shift > 28) throw corrupt('varint longer than 5 bytes');
    b = buf[at++]!;
    v |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  return (v >>> 1) ^ -(v & 1);
}

function varlong(buf: Buffer): number {
  let b = buf[at++]!;
  if (b < 0x80) return (b >>> 1) ^ -(b & 1);
  let v = b & 0x7f;
  let mul = 128;
  do {
    if (mul > 2 ** 63) throw corrupt('varlong longer than 10 bytes');
    b = buf[at++]!;
    v += (b & 0x7f) * mul;
    mul *= 128;
  } while (b & 0x80);
  return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
}

/** Offset of the record at `pos` (reads only its length, attributes, timestamp delta and offset delta). */
function recordOffsetDelta(buf: Buffer, pos: number): { delta: number; next: number } {
  at = pos;
  const len = varint(buf);
  const end = at + len;
  at++; // attributes
  varlong(buf);
  return { delta: varint(buf), next: end };
}

/** Whether a control batch is an abort marker (its first record's key: version int16, type int16; 0 = abort). */
function isAbortMarker(buf: Buffer, recordsStart: number, recordsEnd: number): boolean {
  if (recordsStart >= recordsEnd) return false;
  at = recordsStart;
  varint(buf);
  at++;
  varlong(buf);
  varint(buf);
  const keyLen = varint(buf);
  if (keyLen < 4 || at + 4 > recordsEnd) return false;
  return buf.readInt16BE(at + 2) === 0;
}

/**
 * Walks the record batches of one fetched partition (`records` as the response carries it; a partial
 * batch at the end, cut by the fetch size, is ignored). Batches of aborted transactions (from
 * `aborted`, the response's list) and control batches are left out of `spans`; compressed batches are
 * decompressed. With `checkCrc` each batch's CRC-32C is verified (kafkajs' implementation; off by
 * default, as in kafkajs, which does not check it either).
 */
export async function scanRecordBatches(
  records: Buffer | null,
  fetchOffset: number,
  aborted: readonly AbortedTransaction[] | null,
  options: { decompress?: Decompress; crc32c?: (b: Buffer) => number } = {},
): Promise<ScannedRecords> {
  const out: ScannedRecords = { spans: [], count: 0, firstOffset: -1, lastOffset: -1 };
  if (!records || records.length === 0) return out;
  const pendingAborts = aborted?.length ? [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1)) : [];
  const abortedProducers = new Set<bigint>();
  let pos = 0;
  const end = records.length;
  while (pos + HEADER_BYTES <= end) {
    const batchLength = records.readInt32BE(pos + 8);
    const batchEnd = pos + LOG_OVERHEAD + batchLength;
    if (batchLength < HEADER_BYTES - LOG_OVERHEAD) throw corrupt(`batch length ${batchLength} at byte ${pos}`);
    if (batchEnd > end) break; // partial batch cut by the fetch size
    const magic = records.readInt8(pos + 16);
    if (magic !== 2)
      throw corrupt(`message format v${magic} at byte ${pos}: the lean fetch path reads record batches v2 only`);
    if (options.crc32c) {
      const expected = records.readUInt32BE(pos + 17);
      const actual = options.crc32c(records.subarray(pos + 21, batchEnd));
      if (actual !== expected) throw corrupt(`CRC mismatch at byte ${pos} (${actual} vs ${expected})`);
    }
    const baseOffset = int64(records, pos);
    const attributes = records.readInt16BE(pos + 21);
    const lastOffset = baseOffset + records.readInt32BE(pos + 23);
    const batchStart = pos;
    pos = batchEnd;
    // Aborted-transaction bookkeeping runs over every batch (also those below the fetch offset).
    const control = (attributes & ATTR_CONTROL) !== 0;
    const producerId = records.readBigInt64BE(batchStart + 43);
    let skip = control;
    if (producerId >= 0n) {
      while (pendingAborts.length && pendingAborts[0]!.firstOffset <= BigInt(lastOffset))
        abortedProducers.add(pendingAborts.shift()!.producerId);
      if (control) {
        if (isAbortMarker(records, batchStart + HEADER_BYTES, batchEnd)) abortedProducers.delete(producerId);
      } else if ((attributes & ATTR_TRANSACTIONAL) !== 0 && abortedProducers.has(producerId)) {
        skip = true;
      }
    }
    if (lastOffset < fetchOffset) continue;
    if (out.firstOffset < 0) out.firstOffset = Math.max(baseOffset, fetchOffset);
    out.lastOffset = lastOffset;
    if (skip) continue;
    const count = records.readInt32BE(batchStart + 57);
    if (count <= 0) continue;
    let buf = records;
    let start = batchStart + HEADER_BYTES;
    let stop = batchEnd;
    const codec = attributes & ATTR_COMPRESSION;
    if (codec !== 0) {
      if (!options.decompress) throw corrupt(`compressed batch (codec ${codec}) and no decompressor`);
      buf = await options.decompress(codec, records.subarray(start, stop));
      start = 0;
      stop = buf.length;
    }
    const span: RecordSpan = {
      buf,
      start,
      end: stop,
      baseOffset,
      baseTimestamp: int64(records, batchStart + 27),
      appendTime: attributes & ATTR_LOG_APPEND_TIME ? int64(records, batchStart + 35) : undefined,
      count,
    };
    if (baseOffset < fetchOffset) {
      // The fetch started inside this batch: skip the records below the fetch offset.
      let p = start;
      let skipped = 0;
      while (p < stop && skipped < count) {
        const r = recordOffsetDelta(buf, p);
        if (baseOffset + r.delta >= fetchOffset) break;
        p = r.next;
        skipped++;
      }
      span.start = p;
      span.count = count - skipped;
      if (span.count === 0) continue;
    }
    out.spans.push(span);
    out.count += span.count;
  }
  return out;
}

/** The records of two consecutive fetches of one partition (`b` fetched from `a.lastOffset + 1`) as one. */
export function mergeScanned(a: ScannedRecords, b: ScannedRecords): ScannedRecords {
  if (b.lastOffset < 0) return a;
  if (a.lastOffset >= 0 && b.firstOffset <= a.lastOffset)
    throw new Error(`fetches overlap: ${a.firstOffset}-${a.lastOffset} then ${b.firstOffset}-${b.lastOffset}`);
  return {
    spans: [...a.spans, ...b.spans],
    count: a.count + b.count,
    firstOffset: a.firstOffset >= 0 ? a.firstOffset : b.firstOffset,
    lastOffset: b.lastOffset,
  };
}

/** A record being visited: positions in `buf`, valid only during the visit. */
export interface RecordView {
  buf: Buffer;
  offset: number;
  timestamp: number;
  /** -1 for a null key / value. */
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
  /** Header values as UTF-8 strings (the first one of a repeated key); undefined when the record has none. */
  headers: Record<string, string> | undefined;
}

/**
 * A resumable walk over the data records of `spans` in offset order: each `next()` moves `view` (one
 * object, reused: copy what you keep) to the following record, so a caller can take records a chunk at a
 * time. Throws on a record that runs past its batch.
 */
export class RecordCursor {
  readonly view: RecordView = {
    buf: Buffer.alloc(0),
    offset: 0,
    timestamp: 0,
    keyStart: -1,
    keyEnd: -1,
    valueStart: -1,
    valueEnd: -1,
    headers: undefined,
  };
  /** Current span, records of it already visited, and the byte position of its next record. */
  private s = 0;
  private i = 0;
  private pos: number;

  constructor(readonly spans: readonly RecordSpan[]) {
    this.pos = spans.length ? spans[0]!.start : 0;
  }

  /** Whether every record has been visited. */
  get done(): boolean {
    this.skipSpent();
    return this.s >= this.spans.length;
  }

  private skipSpent(): void {
    while (this.s < this.spans.length && this.i >= this.spans[this.s]!.count) {
      this.s++;
      this.i = 0;
      if (this.s < this.spans.length) this.pos = this.spans[this.s]!.start;
    }
  }

  /** Moves `view` to the next record; false (view unchanged) when there is none. */
  next(): boolean {
    if (this.done) return false;
    const span = this.spans[this.s]!;
    const buf = span.buf;
    const view = this.view;
    view.buf = buf;
    const pos = this.pos;
    at = pos;
    const len = varint(buf);
    const recEnd = at + len;
    if (len < 0 || recEnd > span.end) throw corrupt(`record of ${len} bytes at ${pos} runs past its batch`);
    at++; // attributes (unused)
    const tsDelta = varlong(buf);
    const offDelta = varint(buf);
    const keyLen = varint(buf);
    if (keyLen < 0) {
      view.keyStart = view.keyEnd = -1;
    } else {
      view.keyStart = at;
      view.keyEnd = at += keyLen;
    }
    const valueLen = varint(buf);
    if (valueLen < 0) {
      view.valueStart = view.valueEnd = -1;
    } else {
      view.valueStart = at;
      view.valueEnd = at += valueLen;
    }
    const headerCount = varint(buf);
    let headers: Record<string, string> | undefined;
    for (let h = 0; h < headerCount; h++) {
      const kl = varint(buf);
      const hk = buf.toString('utf8', at, (at += kl));
      const vl = varint(buf);
      const hv = vl < 0 ? '' : buf.toString('utf8', at, (at += vl));
      headers ??= {};
      if (!(hk in headers)) headers[hk] = hv;
    }
    if (at !== recEnd) throw corrupt(`record at ${pos} ends at ${at}, its length says ${recEnd}`);
    view.headers = headers;
    view.offset = span.baseOffset + offDelta;
    view.timestamp = span.appendTime ?? span.baseTimestamp + tsDelta;
    this.pos = recEnd;
    this.i++;
    return true;
  }
}

/**
 * Calls `visit` for every data record of `spans` in offset order, reusing one view object (copy what
 * you keep). Throws on a record that runs past its batch.
 */
export function forEachRecord(spans: readonly RecordSpan[], visit: (r: RecordView) => void): void {
  const cursor = new RecordCursor(spans);
  while (cursor.next()) visit(cursor.view);
}
