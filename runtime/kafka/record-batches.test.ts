import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync, gzipSync } from 'node:zlib';
import { MockClient } from '@confluentinc/schemaregistry';
import { registerProjection } from '../core/projection.js';
import { AvroSerde } from '../serde/avro.js';
import type { SchemaLookup } from '../serde/registry-client.js';
import { decodeBatch, decodeLeanBatch, type FetchedMessage } from './codec.js';
import { createJsonSerde } from './json-serde.js';
import { LeanBatch, decodeFetchResponse } from './lean-fetch.js';
import {
  forEachRecord,
  mergeScanned,
  RecordCursor,
  scanRecordBatches,
  type AbortedTransaction,
  type RecordSpan,
} from './record-batches.js';

const require = createRequire(import.meta.url);
const crc32c = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
/** kafkajs' own decoder of the same response (the reference the lean path must agree with). */
const kafkajsFetchV11 = require('kafkajs/src/protocol/requests/fetch/v11/response.js') as {
  decode(raw: Buffer): Promise<{
    responses: Array<{
      partitions: Array<{
        messages: Array<FetchedMessage & { isControlRecord: boolean; batchContext: unknown }>;
        abortedTransactions: Array<{ producerId: string; firstOffset: string }>;
        highWatermark: string;
        partition: number;
      }>;
    }>;
  }>;
};
const KafkaJsBatch = require('kafkajs/src/consumer/batch.js') as new (
  topic: string,
  fetchedOffset: string,
  data: unknown,
) => { messages: FetchedMessage[]; lastOffset(): string };

// Real Fetch v11 responses (read_committed) captured from Kafka 4.1.1 by fixtures/fetch/capture.mjs: offsets 0-2 a
// committed transaction (k0..k2 = committed-0..2), 3 its commit marker, 4-5 an aborted transaction ("aborted"),
// 6 its abort marker, 7-8 a committed transaction with headers (null key; null value), 9 its marker, 10-11 plain
// idempotent records p0, p1. Event times T + n.
const fixture = (offset: number) =>
  readFileSync(new URL(`./fixtures/fetch/fetch-v11-from-${offset}.bin`, import.meta.url));
const T = Date.UTC(2026, 0, 1);
const pricesSchema = JSON.parse(
  readFileSync(new URL('../../schemas/avro/market.prices-value.avsc', import.meta.url), 'utf8'),
) as object;

interface Seen {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers?: Record<string, string>;
}
function records(spans: readonly RecordSpan[]): Seen[] {
  const out: Seen[] = [];
  forEachRecord(spans, (r) =>
    out.push({
      offset: r.offset,
      timestamp: r.timestamp,
      key: r.keyStart < 0 ? null : r.buf.toString('utf8', r.keyStart, r.keyEnd),
      value: r.valueStart < 0 ? null : r.buf.toString('utf8', r.valueStart, r.valueEnd),
      ...(r.headers ? { headers: r.headers } : {}),
    }),
  );
  return out;
}

async function scanFixture(offset: number, aborted?: AbortedTransaction[] | null) {
  const response = decodeFetchResponse(fixture(offset), 11);
  const p = response.responses[0]!.partitions[0]!;
  const scanned = await scanRecordBatches(p.records, offset, aborted === undefined ? p.abortedTransactions : aborted, {
    crc32c,
  });
  return { response, p, scanned };
}

describe('decodeFetchResponse + scanRecordBatches on real broker bytes', () => {
  it('reads the partition header and leaves the records as a view of the response', async () => {
    const { response, p } = await scanFixture(3);
    expect(response.errorCode).toBe(0);
    expect(response.responses).toHaveLength(1);
    expect(response.responses[0]!.topicName).toMatch(/^fixture\.fetch\./);
    expect(p).toMatchObject({ partition: 0, errorCode: 0, highWatermark: '12', lastStableOffset: '12' });
    expect(p.abortedTransactions).toHaveLength(1);
    expect(p.abortedTransactions![0]!.firstOffset).toBe(4n);
    const raw = fixture(3);
    const view = decodeFetchResponse(raw, 11).responses[0]!.partitions[0]!.records!;
    expect(view.buffer).toBe(raw.buffer); // no copy of the record bytes
    expect(view.length).toBe(raw.length - (view.byteOffset - raw.byteOffset));
  });

  it('skips the aborted transaction and every control batch (read_committed), with CRCs checked', async () => {
    const { scanned } = await scanFixture(3);
    expect(records(scanned.spans)).toEqual([
      { offset: 7, timestamp: T + 20, key: null, value: 'no-key', headers: { h1: 'v1', ü: 'ö' } },
      { offset: 8, timestamp: T + 21, key: 'tomb', value: null, headers: { h2: 'x' } },
      { offset: 10, timestamp: T + 30, key: 'p0', value: 'plain-0' },
      { offset: 11, timestamp: T + 31, key: 'p1', value: 'plain-1' },
    ]);
    expect(scanned).toMatchObject({ count: 4, firstOffset: 3, lastOffset: 11 });
  });

  it('would deliver the aborted records without the aborted-transaction list (the bytes hold them)', async () => {
    const { scanned } = await scanFixture(3, null);
    expect(records(scanned.spans).map((r) => r.value)).toEqual([
      'aborted',
      'aborted',
      'no-key',
      null,
      'plain-0',
      'plain-1',
    ]);
  });

  it('reads a committed transaction from the start of the log', async () => {
    const { scanned } = await scanFixture(0);
    expect(records(scanned.spans)).toEqual(
      [0, 1, 2].map((i) => ({
        offset: i,
        timestamp: T + i,
        key: `k${i}`,
        value: `committed-${i}`,
      })),
    );
    expect(scanned.lastOffset).toBe(2);
  });

  it('drops the records below the fetch offset when the fetch starts inside a batch', async () => {
    const { scanned } = await scanFixture(8);
    expect(records(scanned.spans).map((r) => r.offset)).toEqual([8, 10, 11]);
    expect(scanned).toMatchObject({ count: 3, firstOffset: 8, lastOffset: 11 });
  });

  it('agrees with kafkajs record for record (StreamRecords and dead letters through the same serde)', async () => {
    const serde = createJsonSerde();
    for (const offset of [0, 3, 8]) {
      const raw = fixture(offset);
      const ref = (await kafkajsFetchV11.decode(raw)).responses[0]!.partitions[0]!;
      const refBatch = new KafkaJsBatch('t', String(offset), ref);
      const { scanned, p } = await scanFixture(offset);
      const lean = new LeanBatch('t', 0, p.highWatermark, String(offset), scanned);
      // Values are not JSON: every record with a value is dead-lettered by both paths, in the same way.
      const a = await decodeBatch('t', 0, refBatch.messages, serde, 'dlq.x', 'c');
      const b = await decodeLeanBatch('t', 0, scanned.spans, serde, 'dlq.x', 'c');
      expect(b.records).toEqual(a.records);
      expect(b.deadLetters).toEqual(a.deadLetters);
      expect(lean.messages.length).toBe(refBatch.messages.length);
      expect(lean.lastOffset()).toBe(refBatch.lastOffset());
      for (const m of refBatch.messages) expect(b.raw.get(String(m.offset))).toEqual(m.value);
    }
  });
});

/** One record of a hand-built batch (record format v2). */
interface Rec {
  offsetDelta: number;
  tsDelta?: number;
  key?: string | null;
  value?: string | Buffer | null;
  headers?: Array<[string, string]>;
}

function varint(n: number): Buffer {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  out.push(z);
  return Buffer.from(out);
}
const bytes = (s: string | Buffer | null | undefined) =>
  s === null || s === undefined
    ? varint(-1)
    : Buffer.concat([varint(Buffer.byteLength(s)), typeof s === 'string' ? Buffer.from(s) : s]);

function encodeRecord(r: Rec): Buffer {
  const body = Buffer.concat([
    Buffer.from([0]),
    varint(r.tsDelta ?? 0),
    varint(r.offsetDelta),
    bytes(r.key === undefined ? `k${r.offsetDelta}` : r.key),
    bytes(r.value === undefined ? `v${r.offsetDelta}` : r.value),
    varint(r.headers?.length ?? 0),
    ...(r.headers ?? []).flatMap(([k, v]) => [bytes(k), bytes(v)]),
  ]);
  return Buffer.concat([varint(body.length), body]);
}

/** A record batch as the protocol spec lays it out, with a real CRC-32C. */
function batch(o: {
  baseOffset: number;
  records: Rec[];
  lastOffsetDelta?: number;
  producerId?: number;
  transactional?: boolean;
  control?: boolean;
  gzip?: boolean;
  logAppendTime?: number;
  baseTimestamp?: number;
  magic?: number;
}): Buffer {
  let recs = Buffer.concat(o.records.map(encodeRecord));
  if (o.gzip) recs = gzipSync(recs);
  const attributes =
    (o.gzip ? 1 : 0) |
    (o.logAppendTime !== undefined ? 0x08 : 0) |
    (o.transactional ? 0x10 : 0) |
    (o.control ? 0x20 : 0);
  const afterCrc = Buffer.alloc(40);
  afterCrc.writeInt16BE(attributes, 0);
  afterCrc.writeInt32BE(o.lastOffsetDelta ?? Math.max(0, ...o.records.map((r) => r.offsetDelta)), 2);
  afterCrc.writeBigInt64BE(BigInt(o.baseTimestamp ?? 1000), 6);
  afterCrc.writeBigInt64BE(BigInt(o.logAppendTime ?? 1000), 14);
  afterCrc.writeBigInt64BE(BigInt(o.producerId ?? -1), 22);
  afterCrc.writeInt16BE(0, 30);
  afterCrc.writeInt32BE(0, 32);
  afterCrc.writeInt32BE(o.records.length, 36);
  const crcPart = Buffer.concat([afterCrc, recs]);
  const head = Buffer.alloc(21);
  head.writeBigInt64BE(BigInt(o.baseOffset), 0);
  head.writeInt32BE(9 + crcPart.length, 8);
  head.writeInt32BE(0, 12);
  head.writeInt8(o.magic ?? 2, 16);
  head.writeUInt32BE(crc32c(crcPart), 17);
  return Buffer.concat([head, crcPart]);
}
/** A control batch: key = version 0, type (0 abort, 1 commit). */
const marker = (offset: number, producerId: number, type: 0 | 1) => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(type, 2);
  return batch({
    baseOffset: offset,
    producerId,
    transactional: true,
    control: true,
    records: [{ offsetDelta: 0, key: key.toString('latin1'), value: null }],
  });
};
const gunzip = async (_codec: number, b: Buffer) => gunzipSync(b);

describe('scanRecordBatches on batches built per the protocol spec', () => {
  it("ends an aborted transaction at its abort marker: the same producer's next transaction is delivered", async () => {
    const buf = Buffer.concat([
      batch({ baseOffset: 0, producerId: 5, transactional: true, records: [{ offsetDelta: 0 }, { offsetDelta: 1 }] }),
      batch({ baseOffset: 2, producerId: 9, transactional: true, records: [{ offsetDelta: 0, value: 'other' }] }),
      marker(3, 5, 0),
      batch({ baseOffset: 4, producerId: 5, transactional: true, records: [{ offsetDelta: 0, value: 'again' }] }),
      marker(5, 9, 1),
      marker(6, 5, 1),
    ]);
    const scanned = await scanRecordBatches(buf, 0, [{ producerId: 5n, firstOffset: 0n }]);
    expect(records(scanned.spans).map((r) => [r.offset, r.value])).toEqual([
      [2, 'other'],
      [4, 'again'],
    ]);
    expect(scanned.lastOffset).toBe(6);
  });

  it('reads gzip-compressed batches, log-append time, negative deltas and ignores a partial trailing batch', async () => {
    const full = Buffer.concat([
      batch({
        baseOffset: 10,
        gzip: true,
        baseTimestamp: 5000,
        records: [
          { offsetDelta: 0, tsDelta: -7 },
          {
            offsetDelta: 2,
            tsDelta: 300_000_000_000,
            headers: [
              ['a', '1'],
              ['a', '2'],
              ['b', ''],
            ],
          },
        ],
      }),
      batch({ baseOffset: 13, logAppendTime: 9999, records: [{ offsetDelta: 0, tsDelta: 1 }] }),
    ]);
    const partial = batch({ baseOffset: 14, records: [{ offsetDelta: 0 }] });
    const buf = Buffer.concat([full, partial.subarray(0, partial.length - 3)]);
    const scanned = await scanRecordBatches(buf, 10, null, { decompress: gunzip, crc32c });
    expect(records(scanned.spans)).toEqual([
      { offset: 10, timestamp: 4993, key: 'k0', value: 'v0' },
      { offset: 12, timestamp: 300_000_005_000, key: 'k2', value: 'v2', headers: { a: '1', b: '' } },
      { offset: 13, timestamp: 9999, key: 'k0', value: 'v0' },
    ]);
    expect(scanned.lastOffset).toBe(13);
  });

  it('skips records below the fetch offset inside a compressed batch', async () => {
    const buf = batch({ baseOffset: 0, gzip: true, records: [0, 1, 2, 3].map((d) => ({ offsetDelta: d })) });
    const scanned = await scanRecordBatches(buf, 2, null, { decompress: gunzip });
    expect(records(scanned.spans).map((r) => r.offset)).toEqual([2, 3]);
    expect(scanned.count).toBe(2);
  });

  it('rejects a corrupted batch when CRCs are checked, an old message format, and a record overrunning its batch', async () => {
    const good = batch({ baseOffset: 0, records: [{ offsetDelta: 0 }] });
    const flipped = Buffer.from(good);
    flipped[flipped.length - 2] ^= 0xff;
    await expect(scanRecordBatches(flipped, 0, null, { crc32c })).rejects.toThrow(/CRC mismatch/);
    await expect(scanRecordBatches(batch({ baseOffset: 0, magic: 1, records: [] }), 0, null)).rejects.toThrow(
      /message format v1/,
    );
    // A record claiming more bytes than its batch holds: the walk refuses instead of reading the next batch.
    const bad = Buffer.from(good);
    bad[61] = 0x7e; // length varint of the first record: 63 bytes
    const scanned = await scanRecordBatches(bad, 0, null);
    expect(() => records(scanned.spans)).toThrow(/runs past its batch/);
  });

  it('counts an empty fetch and one holding only markers as such (the runner then resolves past the markers)', async () => {
    const none = await scanRecordBatches(null, 0, null);
    const lean = new LeanBatch('t', 0, '7', '5', none);
    expect(lean.isEmpty() && !lean.isEmptyDueToFiltering()).toBe(true);
    expect(lean.lastOffset()).toBe('6');
    const markers = await scanRecordBatches(marker(5, 1, 1), 5, null);
    const onlyMarkers = new LeanBatch('t', 0, '6', '5', markers);
    expect(onlyMarkers.isEmptyDueToFiltering()).toBe(true);
    expect(onlyMarkers.lastOffset()).toBe('5');
    expect(onlyMarkers.offsetLag()).toBe('0');
  });

  it('merges consecutive fetches of a partition into one batch, and refuses overlapping ones', async () => {
    const a = await scanRecordBatches(
      batch({ baseOffset: 0, records: [{ offsetDelta: 0 }, { offsetDelta: 1 }] }),
      0,
      null,
    );
    const b = await scanRecordBatches(
      Buffer.concat([marker(2, 1, 1), batch({ baseOffset: 3, records: [{ offsetDelta: 0 }] })]),
      2,
      null,
    );
    const merged = mergeScanned(a, b);
    expect(records(merged.spans).map((r) => r.offset)).toEqual([0, 1, 3]);
    expect(merged).toMatchObject({ count: 3, firstOffset: 0, lastOffset: 3 });
    expect(mergeScanned(a, await scanRecordBatches(null, 2, null))).toBe(a);
    expect(() => mergeScanned(merged, a)).toThrow(/overlap/);
  });

  it('decodes a batch with a serde that is not warm yet: one awaited call, the rest sync, failures dead-lettered', async () => {
    let warm = false;
    let awaited = 0;
    const parse = (b: Buffer) => {
      const v = JSON.parse(b.toString('utf8')) as unknown;
      if (v === 'bad') throw new Error('bad value');
      return v;
    };
    const serde = {
      serialize: async () => Buffer.alloc(0),
      deserialize: async (b: Buffer) => {
        awaited++;
        warm = true;
        return parse(b);
      },
      deserializeSync: (b: Buffer) => (warm ? { value: parse(b) } : undefined),
    };
    const buf = batch({
      baseOffset: 0,
      records: [1, 2, 'bad', 4].map((v, i) => ({ offsetDelta: i, value: JSON.stringify(v) })),
    });
    const scanned = await scanRecordBatches(buf, 0, null);
    const out = await decodeLeanBatch('t', 0, scanned.spans, serde, 'dlq.p', 'c');
    expect(out.records.map((r) => [r.offset, r.value])).toEqual([
      ['0', 1],
      ['1', 2],
      ['3', 4],
    ]);
    expect(awaited).toBe(1);
    expect(out.deadLetters).toHaveLength(1);
    expect(out.deadLetters[0]!.headers).toMatchObject({ 'source-offset': '2', reason: 'bad value' });
    expect(out.deadLetters[0]!.value!.toString()).toBe('"bad"');
  });

  it('decodes a fetched batch a chunk at a time through one cursor, as it decodes it at once', async () => {
    const serde = createJsonSerde();
    // Three record batches (offsets 0-3, 4-5 and 7-10; 6 is a gap); the value at 10 is not JSON.
    const values = (xs: unknown[]) => xs.map((v, i) => ({ offsetDelta: i, value: JSON.stringify(v) }));
    const bytes = Buffer.concat([
      batch({ baseOffset: 0, records: values([1, 2, 3, 4]) }),
      batch({ baseOffset: 4, records: values([5, 6]) }),
      batch({ baseOffset: 7, records: [...values([8, 9, 10]), { offsetDelta: 3, value: 'not json' }] }),
    ]);
    const scanned = await scanRecordBatches(bytes, 0, null);
    expect(scanned.spans).toHaveLength(3);
    const whole = await decodeLeanBatch('t', 0, scanned.spans, serde, 'dlq.p', 'c');
    expect(whole.records.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '4', '5', '7', '8', '9']);
    expect(whole.deadLetters).toHaveLength(1);
    for (const size of [1, 2, 3, 5, 100]) {
      const cursor = new RecordCursor(scanned.spans);
      const chunks: Array<Awaited<ReturnType<typeof decodeLeanBatch>>> = [];
      while (!cursor.done) chunks.push(await decodeLeanBatch('t', 0, cursor, serde, 'dlq.p', 'c', size));
      // Every chunk takes `size` records (dead-lettered ones included) except the last.
      expect(chunks).toHaveLength(Math.ceil(10 / size));
      expect(chunks.flatMap((c) => c.records)).toEqual(whole.records);
      expect(chunks.flatMap((c) => c.deadLetters)).toEqual(whole.deadLetters);
      expect(cursor.next()).toBe(false);
      // Any chunk's lookup finds the original bytes of every record of the fetched batch.
      expect(chunks[0]!.raw.get('10')?.toString()).toBe('not json');
      expect(chunks[chunks.length - 1]!.raw.get('0')?.toString()).toBe('1');
    }
  });

  it('decodes projected values (the processor declared fields): same dead letters, with original bytes and reason', async () => {
    const client = new MockClient({ baseURLs: ['mock://'] } as never);
    const serde = new AvroSerde({ registry: client as unknown as SchemaLookup, schemaFor: () => pricesSchema });
    const price = (p: number) => ({
      market: 'EPEX',
      area: 'BE',
      product: 'DAY_AHEAD',
      deliveryStart: T,
      intervalMinutes: 60,
      price: p,
      currency: 'EUR',
      energyUnit: 'MWH',
      volumeMwh: null,
      publishedAt: null,
      ingestedAt: T,
      source: 'test',
    });
    const good = async (p: number) => Buffer.from(await serde.serialize('prices', price(p)));
    // A record whose skipped `source` string claims more bytes than the record has (its last field).
    const bad = await good(3);
    bad[bad.length - 5] = 40;
    const values = [await good(1), await good(2), bad, await good(4)];
    const scanned = await scanRecordBatches(
      batch({ baseOffset: 0, records: values.map((value, i) => ({ offsetDelta: i, key: 'EPEX|BE', value })) }),
      0,
      null,
    );
    // A cold serde (the reader not cached yet): the awaited first decode warms it, every record still projected.
    const cold = new AvroSerde({ registry: client as unknown as SchemaLookup, schemaFor: () => pricesSchema });
    const coldOut = await decodeLeanBatch('prices', 0, scanned.spans, cold, 'dlq.p', 'proj', Infinity, ['price']);
    expect(coldOut.records.map((r) => r.value)).toEqual([{ price: 1 }, { price: 2 }, { price: 4 }]);
    expect(coldOut.deadLetters.map((d) => d.headers!['source-offset'])).toEqual(['2']);
    const coldMessages = new AvroSerde({ registry: client as unknown as SchemaLookup, schemaFor: () => pricesSchema });
    const coldFetched: FetchedMessage[] = values.map((value, i) => ({
      key: 'k',
      value,
      offset: String(i),
      timestamp: '0',
    }));
    expect(
      (await decodeBatch('prices', 0, coldFetched, coldMessages, 'dlq.p', 'proj', ['price'])).records.map(
        (r) => r.value,
      ),
    ).toEqual([{ price: 1 }, { price: 2 }, { price: 4 }]);
    const whole = await decodeLeanBatch('prices', 0, scanned.spans, serde, 'dlq.p', 'proj', Infinity, null);
    expect(whole.records.map((r) => r.value)).toEqual([price(1), price(2), price(4)]);
    const fields = ['price'];
    const projected = await decodeLeanBatch('prices', 0, scanned.spans, serde, 'dlq.p', 'proj', Infinity, fields);
    expect(projected.records.map((r) => r.value)).toEqual([{ price: 1 }, { price: 2 }, { price: 4 }]);
    expect(projected.records.map((r) => ({ ...r, value: null }))).toEqual(
      whole.records.map((r) => ({ ...r, value: null })),
    );
    // The malformed record is dead-lettered either way: same headers (reason, offset), its original bytes.
    expect(whole.deadLetters).toHaveLength(1);
    expect(whole.deadLetters[0]!.headers).toMatchObject({ 'source-offset': '2', 'error-code': 'OPTIBID_ERR_DECODE' });
    expect(projected.deadLetters).toEqual(whole.deadLetters);
    expect(projected.deadLetters[0]!.value).toEqual(bad);
    // kafkajs-shaped messages (decodeBatch) too.
    const messages: FetchedMessage[] = values.map((value, i) => ({
      key: 'EPEX|BE',
      value,
      offset: String(i),
      timestamp: String(T),
    }));
    const viaMessages = await decodeBatch('prices', 0, messages, serde, 'dlq.p', 'proj', fields);
    expect(viaMessages.records.map((r) => r.value)).toEqual([{ price: 1 }, { price: 2 }, { price: 4 }]);
    expect(viaMessages.deadLetters[0]!.headers).toEqual(whole.deadLetters[0]!.headers);
    // By default the decoders use what the live processor of that name registered, and whole values once it is gone.
    const unregister = registerProjection('proj', fields);
    expect((await decodeLeanBatch('prices', 0, scanned.spans, serde, 'dlq.p', 'proj')).records[0]!.value).toEqual({
      price: 1,
    });
    expect((await decodeBatch('prices', 0, messages, serde, 'dlq.p', 'proj')).records[0]!.value).toEqual({ price: 1 });
    expect((await decodeLeanBatch('prices', 0, scanned.spans, serde, 'dlq.p', 'other')).records[0]!.value).toEqual(
      price(1),
    );
    unregister();
    expect((await decodeLeanBatch('prices', 0, scanned.spans, serde, 'dlq.p', 'proj')).records[0]!.value).toEqual(
      price(1),
    );
  });

  it('gives every record its offset as the decimal string, across digit carries and beyond 2^32', async () => {
    const bases = [0, 5, 95, 995, 2 ** 32 - 7, 999_999_999_995, 2 ** 53 - 30];
    const bytes = Buffer.concat(
      bases.map((b) =>
        batch({ baseOffset: b, records: Array.from({ length: 12 }, (_, i) => ({ offsetDelta: i, value: '1' })) }),
      ),
    );
    const scanned = await scanRecordBatches(bytes, 0, null);
    const want = bases.flatMap((b) => Array.from({ length: 12 }, (_, i) => String(b + i)));
    expect(
      (await decodeLeanBatch('t', 0, scanned.spans, createJsonSerde(), 'dlq.p', 'c')).records.map((r) => r.offset),
    ).toEqual(want);
    // A chunk at a time (the cursor resumes mid-decade).
    const cursor = new RecordCursor(scanned.spans);
    const chunked: string[] = [];
    while (!cursor.done)
      for (const r of (await decodeLeanBatch('t', 0, cursor, createJsonSerde(), 'dlq.p', 'c', 7)).records)
        chunked.push(r.offset!);
    expect(chunked).toEqual(want);
  });
});
