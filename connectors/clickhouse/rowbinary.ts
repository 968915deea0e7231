import type { StreamRecord } from '@optibid/runtime';
import { resolveCell } from '../timescale/datasets.js';
import type { Cell, ColumnSpec, Dataset, RejectedRecord } from '../timescale/datasets.js';

/*
 * ClickHouse RowBinary encoding of dataset rows (the same byte layout on 18.16 and current releases):
 * String = unsigned LEB128 byte length + UTF-8 bytes; Int32/Int64/Float64 little-endian;
 * Nullable(T) = one byte (1 = NULL, else 0 followed by T). Numbers are written as bytes, so neither
 * side formats or parses decimal text, which is most of the cost of TabSeparated/JSON in JS.
 */

const TWO_32 = 4_294_967_296;

/** A growable byte buffer that rows are encoded into; `take()` hands the bytes over and starts afresh. */
export class ByteWriter {
  buf: Buffer;
  view: DataView;
  pos = 0;

  constructor(private readonly initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** The bytes written so far (no copy); the writer continues with a fresh buffer of `sizeHint` bytes. */
  take(sizeHint = this.initial): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(sizeHint, 1024));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
    return out;
  }

  string(s: string): void {
    const len = s.length;
    // a UTF-16 unit takes at most 3 UTF-8 bytes, plus up to 5 bytes of length prefix
    this.ensure(len * 3 + 5);
    const buf = this.buf;
    if (len < 43) {
      // short strings (names, units, enums): byte length < 128, so the length prefix is one byte;
      // ASCII is copied in JS, cheaper than a native call per string
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          buf[start] = buf.write(s, start + 1, 'utf8');
          this.pos = start + 1 + buf[start]!;
          return;
        }
        buf[p++] = c;
      }
      buf[start] = len;
      this.pos = p;
      return;
    }
    let n = Buffer.byteLength(s, 'utf8');
    let p = this.pos;
    while (n >= 0x80) {
      buf[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[p++] = n;
    this.pos = p + buf.write(s, p, 'utf8');
  }

  int32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
  }

  /** A safe integer as Int64 (two's complement, little-endian). */
  int64(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / TWO_32);
    this.view.setUint32(this.pos, v - hi * TWO_32, true);
    this.view.setInt32(this.pos + 4, hi, true);
    this.pos += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }
}

/** Writes one column's value of one record; returns an error message when the record does not fit. */
type ColumnWriter = (w: ByteWriter, record: StreamRecord, value: Record<string, unknown>) => string | undefined;

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** Writes a resolved (non-null) cell in the column's type; an error message when it does not fit the type. */
function writeCell(w: ByteWriter, col: ColumnSpec, c: string | number): string | undefined {
  switch (col.type) {
    case 'text':
    case 'json':
      w.string(String(c));
      return undefined;
    case 'int':
      if (typeof c !== 'number' || c < INT32_MIN || c > INT32_MAX)
        return `${col.from[0]} must be a 32-bit integer, got ${String(c)}`;
      w.int32(c);
      return undefined;
    case 'double':
      w.float64(c as number);
      return undefined;
    case 'timestamp':
      if (typeof c !== 'number' || !Number.isSafeInteger(c))
        return `${col.from[0]} must be a timestamp within ±2^53 ms, got ${String(c)}`;
      w.int64(c);
      return undefined;
  }
}

/**
 * One column's writer, decided once per dataset: the common, already well-typed values are written
 * directly; anything else goes through `resolveCell` (the shared conversion and checks of both sinks).
 */
function columnWriter(col: ColumnSpec): ColumnWriter {
  const nullable = !col.key && !col.required;
  const single = col.from.length === 1 ? col.from[0]! : undefined;
  const fromTimestamp = single === '$timestamp';
  const slow: ColumnWriter = (w, record, value) => {
    const c: Cell | Error = resolveCell(col, record, value);
    if (c instanceof Error) return c.message;
    if (c === null) {
      // resolveCell returns null only for optional columns
      w.byte(1);
      return undefined;
    }
    if (nullable) w.byte(0);
    return writeCell(w, col, c);
  };
  if (single === undefined) return slow;
  const prefix = nullable ? (w: ByteWriter) => w.byte(0) : () => undefined;
  switch (col.type) {
    case 'text':
      return (w, record, value) => {
        const raw = value[single];
        if (typeof raw !== 'string') {
          if (nullable && (raw === null || raw === undefined)) {
            w.byte(1);
            return undefined;
          }
          return slow(w, record, value);
        }
        prefix(w);
        w.string(raw);
        return undefined;
      };
    case 'double':
      return (w, record, value) => {
        const raw = value[single];
        if (typeof raw !== 'number' || !Number.isFinite(raw)) return slow(w, record, value);
        prefix(w);
        w.float64(raw);
        return undefined;
      };
    case 'timestamp':
      return (w, record, value) => {
        const raw = fromTimestamp ? record.timestamp : value[single];
        if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) return slow(w, record, value);
        prefix(w);
        w.int64(raw);
        return undefined;
      };
    case 'int':
      return (w, record, value) => {
        const raw = value[single];
        if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < INT32_MIN || raw > INT32_MAX)
          return slow(w, record, value);
        prefix(w);
        w.int32(raw);
        return undefined;
      };
    case 'json':
      return slow;
  }
}

/** Encodes records of a dataset to RowBinary rows, in the dataset's column order. */
export interface RowBinaryEncoder {
  /**
   * Appends one row per valid record of `records[from, to)` to `w`; a record that does not fit leaves
   * no bytes and is added to `rejected` with the reason. Returns the number of rows written.
   */
  encode(
    w: ByteWriter,
    records: readonly StreamRecord[],
    rejected: RejectedRecord[],
    from?: number,
    to?: number,
  ): number;
}

/** Builds the encoder for `ds` once (one writer per column), to be reused for every batch. */
export function rowBinaryEncoder(ds: Dataset): RowBinaryEncoder {
  const writers = ds.columns.map(columnWriter);
  const n = writers.length;
  return {
    encode(w, records, rejected, from = 0, to = records.length) {
      let rows = 0;
      for (let r = from; r < to; r++) {
        const record = records[r]!;
        const value = record.value as Record<string, unknown> | null;
        if (value === null || typeof value !== 'object') {
          rejected.push({
            record,
            reason: `${ds.topic}: record value must be an object, got ${value === null ? 'null' : typeof value}`,
          });
          continue;
        }
        const start = w.pos;
        let reason: string | undefined;
        for (let i = 0; i < n; i++) {
          reason = writers[i]!(w, record, value);
          if (reason !== undefined) break;
        }
        if (reason !== undefined) {
          w.pos = start; // drop the partial row
          rejected.push({ record, reason: `${ds.topic}: ${reason}` });
        } else rows++;
      }
      return rows;
    },
  };
}
