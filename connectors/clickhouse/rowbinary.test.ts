import type { StreamRecord } from '@optibid/runtime';
import { datasets } from '../timescale/datasets.js';
import type { Dataset, RejectedRecord } from '../timescale/datasets.js';
import { alertRecord } from '../alerts/test-alerts.js';
import { telemetryRecords } from '../timescale/test-support.js';
import { ByteWriter, rowBinaryEncoder } from './rowbinary.js';

/*
 * Expected bytes are built independently of the encoder: BigInt64/Double writes of Buffer and
 * Buffer.from(…, 'utf8') with a LEB128 length, per ClickHouse's RowBinary layout.
 */
function leb128(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
const str = (s: string) => {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([leb128(bytes.length), bytes]);
};
const i64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
};
const f64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};
const NULL = Buffer.from([1]);
const some = (b: Buffer) => Buffer.concat([Buffer.from([0]), b]);

function encode(
  ds: Dataset,
  records: StreamRecord[],
  initial = 64,
): { bytes: Buffer; rows: number; rejected: RejectedRecord[] } {
  const w = new ByteWriter(initial);
  const rejected: RejectedRecord[] = [];
  const rows = rowBinaryEncoder(ds).encode(w, records, rejected);
  return { bytes: w.take(), rows, rejected };
}

test('an alert becomes one RowBinary row in column order: Int64 ms, Nullable flags, UTF-8 strings, JSON maps', () => {
  const ds = datasets['alerts.events']!;
  const record = alertRecord({ message: 'line one\nline\ttwo, 412 €/MWh', unit: null }, '3');
  const { bytes, rows, rejected } = encode(ds, [record]);
  const v = record.value;
  const expected = Buffer.concat([
    str(v.alertId), // key columns are never Nullable
    str(v.state),
    i64(v.occurredAt),
    str(v.rule), // required
    some(str(v.severity!)),
    some(str(v.resource!)),
    some(str('line one\nline\ttwo, 412 €/MWh')), // no escaping: RowBinary strings are raw bytes
    some(f64(412.5)),
    some(f64(300)),
    NULL, // unit: null
    some(i64(v.emittedAt!)),
    some(str('{"market":"EPEX","area":"BE"}')),
    i64(record.timestamp), // record_time
  ]);
  expect(rows).toBe(1);
  expect(rejected).toEqual([]);
  expect(bytes.equals(expected)).toBe(true);
});

test('timestamps before 1970 and beyond 2^32 ms keep their Int64 value', () => {
  const ds = datasets['telemetry.readings']!;
  for (const observedAt of [-1, -86_400_000 * 365 * 80 - 7, 2 ** 32, 2 ** 32 - 1, 253_402_300_799_999]) {
    const [r] = telemetryRecords(1);
    const record = { ...r!, value: { ...r!.value, observedAt } };
    const { bytes } = encode(ds, [record]);
    const at = str(r!.value.assetId).length + str(r!.value.metric).length;
    expect(bytes.readBigInt64LE(at)).toBe(BigInt(observedAt));
  }
});

test('strings of any length and script get a LEB128 byte length and their UTF-8 bytes', () => {
  const ds = datasets['telemetry.readings']!;
  const samples = [
    '',
    'a',
    'ü',
    'x'.repeat(42),
    'é'.repeat(42),
    '€'.repeat(42),
    'y'.repeat(43),
    'z'.repeat(127),
    'z'.repeat(128),
    '日本語'.repeat(30),
    'q'.repeat(20_000),
    '\ud83d\ude00 emoji',
  ];
  const [r] = telemetryRecords(1);
  for (const origin of samples) {
    const { bytes } = encode(ds, [{ ...r!, value: { ...r!.value, origin } }], 16);
    // origin is the 9th column, just before record_time (Int64): its bytes end 8 bytes before the row's end
    const tail = Buffer.concat([some(str(origin)), i64(r!.timestamp)]);
    expect(bytes.subarray(bytes.length - tail.length).equals(tail)).toBe(true);
  }
});

test('values of other shapes go through the shared conversions (numbers as text, numeric strings, ISO timestamps)', () => {
  const ds = datasets['market.prices']!;
  const base = {
    market: 'EPEX',
    area: 'BE',
    product: 7, // text column given a number
    deliveryStart: '2024-01-01T00:00:00Z',
    intervalMinutes: '60',
    price: '41.5',
    currency: 'EUR',
    energyUnit: { string: 'MWH' }, // a single-branch Avro union
    volumeMwh: null,
    publishedAt: undefined,
    ingestedAt: 1_704_067_200_000n,
    source: 'test',
  };
  const record: StreamRecord = {
    topic: 'market.prices',
    key: null,
    value: base,
    timestamp: 5,
    partition: 0,
    offset: '0',
  };
  const { bytes, rejected } = encode(ds, [record]);
  expect(rejected).toEqual([]);
  const ms = Date.UTC(2024, 0, 1);
  const expected = Buffer.concat([
    str('EPEX'),
    str('BE'),
    str('7'),
    i64(ms),
    i32(60),
    f64(41.5),
    str('EUR'),
    some(str('MWH')),
    NULL,
    NULL,
    some(i64(ms)),
    some(str('test')),
    i64(5),
  ]);
  expect(bytes.equals(expected)).toBe(true);
});

test('records that do not fit leave no bytes and are rejected with the reason; the others are encoded', () => {
  const ds = datasets['market.fundamentals']!;
  const good = {
    area: 'BE',
    kind: 'LOAD',
    basis: 'ACTUAL',
    deliveryStart: 1_704_067_200_000,
    intervalMinutes: 15,
    valueMw: 9000.5,
    source: 'x',
  };
  const rec = (value: unknown, offset: string): StreamRecord => ({
    topic: 'market.fundamentals',
    key: null,
    value,
    timestamp: 1_704_067_200_000,
    partition: 0,
    offset,
  });
  const records = [
    rec(good, '0'),
    rec({ ...good, intervalMinutes: 2 ** 31 }, '1'), // beyond Int32, found after the key columns were written
    rec({ ...good, deliveryStart: 1e300 }, '2'), // finite but beyond Int64 ms
    rec({ ...good, valueMw: 'lots' }, '3'),
    rec(null, '4'),
    rec({ ...good, basis: undefined }, '5'), // key missing
    rec({ ...good, valueMw: 1 }, '6'),
  ];
  const { bytes, rows, rejected } = encode(ds, records);
  expect(rows).toBe(2);
  expect(rejected.map((r) => [r.record.offset, r.reason])).toEqual([
    ['1', 'market.fundamentals: intervalMinutes must be a 32-bit integer, got 2147483648'],
    ['2', 'market.fundamentals: deliveryStart must be a timestamp within ±2^53 ms, got 1e+300'],
    ['3', 'market.fundamentals: valueMw must be a finite number'],
    ['4', 'market.fundamentals: record value must be an object, got null'],
    ['5', 'market.fundamentals: basis is required'],
  ]);
  const only = encode(ds, [records[0]!, records[6]!]);
  expect(bytes.equals(only.bytes)).toBe(true);
});

test('a writer grows past its initial size and encodes ranges of a batch', () => {
  const ds = datasets['telemetry.readings']!;
  const records = telemetryRecords(1000);
  const all = encode(ds, records, 8).bytes;
  const w = new ByteWriter(8);
  const enc = rowBinaryEncoder(ds);
  const rejected: RejectedRecord[] = [];
  expect(enc.encode(w, records, rejected, 0, 333) + enc.encode(w, records, rejected, 333, 1000)).toBe(1000);
  expect(w.take().equals(all)).toBe(true);
  expect(w.pos).toBe(0);
});
