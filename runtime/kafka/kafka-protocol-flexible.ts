/**
 * Kafka's "flexible" request/response encoding (KIP-482), for the two requests the kafkajs transport sends
 * itself because kafkajs 2.x only speaks their older versions:
 *
 * - OffsetFetch v7 (api key 9): asks for **stable** offsets (`require_stable`, KIP-447); a partition whose
 *   offsets an open transaction still holds answers UNSTABLE_OFFSET_COMMIT (88) instead of the last committed
 *   offset.
 * - TxnOffsetCommit v3 (api key 28): carries the consumer's member id and generation, so the group coordinator
 *   fences a member that lost its partitions in a rebalance (ILLEGAL_GENERATION 22, UNKNOWN_MEMBER_ID 25,
 *   FENCED_INSTANCE_ID 82).
 *
 * Flexible versions write strings and arrays "compact" (length + 1 as an unsigned varint, 0 for null), and end
 * every structure, the request header included, with a tagged-field section (an unsigned varint count, then
 * tag/size/bytes triples). Nothing here sends tagged fields; received ones are skipped.
 *
 * Header note: kafkajs writes request header v1 (api key, version, correlation id, client id as an int16
 * string). The flexible header v2 is v1 followed by a tagged-field section, so the request bodies built here
 * begin with that empty section (one 0 byte). On the response side kafkajs hands over everything after the
 * correlation id: response header v1's tagged fields come first, and the decoders here skip them.
 */

/** A growing byte writer for the flexible encoding. */
export class FlexibleWriter {
  private buf = Buffer.alloc(256);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  int8(v: number): this {
    this.room(1);
    this.at = this.buf.writeInt8(v, this.at);
    return this;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int16(v: number): this {
    this.room(2);
    this.at = this.buf.writeInt16BE(v, this.at);
    return this;
  }

  int32(v: number): this {
    this.room(4);
    this.at = this.buf.writeInt32BE(v, this.at);
    return this;
  }

  /** A 64-bit integer from a decimal string, a number or a bigint. */
  int64(v: string | number | bigint): this {
    this.room(8);
    this.at = this.buf.writeBigInt64BE(BigInt(v), this.at);
    return this;
  }

  /** An unsigned varint (7 bits a byte, low bits first, high bit set on all but the last byte). */
  uvarint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`not an unsigned 32-bit varint: ${v}`);
    this.room(5);
    while (v >= 0x80) {
      this.buf[this.at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.at++] = v;
    return this;
  }

  /** A compact (nullable) string: UTF-8 byte length + 1 as an unsigned varint (0: null), then the bytes. */
  compactString(v: string | null): this {
    if (v === null) return this.uvarint(0);
    const n = Buffer.byteLength(v, 'utf8');
    this.uvarint(n + 1);
    this.room(n);
    this.at += this.buf.write(v, this.at, 'utf8');
    return this;
  }

  /** A compact array: element count + 1 as an unsigned varint (0: null), then each element. */
  compactArray<T>(items: readonly T[] | null, each: (w: this, item: T) => void): this {
    if (items === null) return this.uvarint(0);
    this.uvarint(items.length + 1);
    for (const item of items) each(this, item);
    return this;
  }

  /** An empty tagged-field section. */
  noTags(): this {
    return this.uvarint(0);
  }

  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.at));
  }
}

/** A reader of the flexible encoding; every read checks the bounds and names what ran short. */
export class FlexibleReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  get offset(): number {
    return this.at;
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length)
      throw new RangeError(`truncated ${what} at byte ${this.at} (${n} wanted, ${this.buf.length - this.at} left)`);
  }

  int8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.at++);
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }

  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  /** A 64-bit integer as a decimal string. */
  int64(): string {
    this.need(8, 'int64');
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v.toString();
  }

  uvarint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      this.need(1, 'varint');
      const b = this.buf[this.at++]!;
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return v;
      scale *= 128;
    }
    throw new RangeError(`varint longer than 5 bytes at byte ${this.at - 5}`);
  }

  compactString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    this.need(n - 1, 'string');
    const s = this.buf.toString('utf8', this.at, this.at + n - 1);
    this.at += n - 1;
    return s;
  }

  compactArray<T>(each: (r: this) => T): T[] | null {
    const n = this.uvarint();
    if (n === 0) return null;
    const out: T[] = [];
    for (let i = 0; i < n - 1; i++) out.push(each(this));
    return out;
  }

  /** Skips a tagged-field section (none of the fields used here has tagged fields we need). */
  skipTags(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint(); // tag
      const size = this.uvarint();
      this.need(size, 'tagged field');
      this.at += size;
    }
  }
}

export const apiKeys = { OffsetFetch: 9, TxnOffsetCommit: 28 } as const;
export const offsetFetchVersion = 7;
export const txnOffsetCommitVersion = 3;

export interface OffsetFetchRequestV7 {
  groupId: string;
  /** Topics and partitions asked for (null: all the group has; not used here). */
  topics: Array<{ topic: string; partitions: number[] }> | null;
  requireStable: boolean;
}

/** OffsetFetch v7 request body, preceded by the request header's empty tagged-field section. */
export function encodeOffsetFetchV7(req: OffsetFetchRequestV7): Buffer {
  return new FlexibleWriter()
    .noTags() // request header v2 tagged fields
    .compactString(req.groupId)
    .compactArray(req.topics, (w, t) => {
      w.compactString(t.topic);
      w.compactArray(t.partitions, (w2, p) => w2.int32(p));
      w.noTags();
    })
    .bool(req.requireStable)
    .noTags()
    .bytes();
}

export interface OffsetFetchPartitionV7 {
  partition: number;
  /** The committed offset ("-1": none). */
  offset: string;
  leaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

export interface OffsetFetchResponseV7 {
  throttleTimeMs: number;
  topics: Array<{ topic: string; partitions: OffsetFetchPartitionV7[] }>;
  /** Group-level error (0: none). */
  errorCode: number;
}

/** OffsetFetch v7 response (after the correlation id: response header v1's tagged fields first). */
export function decodeOffsetFetchV7(payload: Buffer): OffsetFetchResponseV7 {
  const r = new FlexibleReader(payload);
  r.skipTags();
  const throttleTimeMs = r.int32();
  const topics =
    r.compactArray((rt) => {
      const topic = rt.compactString() ?? '';
      const partitions =
        rt.compactArray((rp) => {
          const p: OffsetFetchPartitionV7 = {
            partition: rp.int32(),
            offset: rp.int64(),
            leaderEpoch: rp.int32(),
            metadata: rp.compactString(),
            errorCode: rp.int16(),
          };
          rp.skipTags();
          return p;
        }) ?? [];
      rt.skipTags();
      return { topic, partitions };
    }) ?? [];
  const errorCode = r.int16();
  r.skipTags();
  return { throttleTimeMs, topics, errorCode };
}

export interface TxnOffsetCommitRequestV3 {
  transactionalId: string;
  groupId: string;
  producerId: string | number;
  producerEpoch: number;
  /** The consumer's generation (-1: none, no fencing). */
  generationId: number;
  /** The consumer's member id ('': none, no fencing). */
  memberId: string;
  groupInstanceId: string | null;
  topics: Array<{
    topic: string;
    partitions: Array<{ partition: number; offset: string; leaderEpoch?: number; metadata?: string | null }>;
  }>;
}

/** TxnOffsetCommit v3 request body, preceded by the request header's empty tagged-field section. */
export function encodeTxnOffsetCommitV3(req: TxnOffsetCommitRequestV3): Buffer {
  return new FlexibleWriter()
    .noTags() // request header v2 tagged fields
    .compactString(req.transactionalId)
    .compactString(req.groupId)
    .int64(req.producerId)
    .int16(req.producerEpoch)
    .int32(req.generationId)
    .compactString(req.memberId)
    .compactString(req.groupInstanceId)
    .compactArray(req.topics, (w, t) => {
      w.compactString(t.topic);
      w.compactArray(t.partitions, (w2, p) => {
        w2.int32(p.partition);
        w2.int64(p.offset);
        w2.int32(p.leaderEpoch ?? -1);
        w2.compactString(p.metadata ?? null);
        w2.noTags();
      });
      w.noTags();
    })
    .noTags()
    .bytes();
}

export interface TxnOffsetCommitResponseV3 {
  throttleTimeMs: number;
  topics: Array<{ topic: string; partitions: Array<{ partition: number; errorCode: number }> }>;
}

/** TxnOffsetCommit v3 response (after the correlation id). */
export function decodeTxnOffsetCommitV3(payload: Buffer): TxnOffsetCommitResponseV3 {
  const r = new FlexibleReader(payload);
  r.skipTags();
  const throttleTimeMs = r.int32();
  const topics =
    r.compactArray((rt) => {
      const topic = rt.compactString() ?? '';
      const partitions =
        rt.compactArray((rp) => {
          const p = { partition: rp.int32(), errorCode: rp.int16() };
          rp.skipTags();
          return p;
        }) ?? [];
      rt.skipTags();
      return { topic, partitions };
    }) ?? [];
  r.skipTags();
  return { throttleTimeMs, topics };
}
