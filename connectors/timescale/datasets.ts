import type { StreamRecord } from '@optibid/runtime';

/** Logical column types; each sink maps them to its own SQL types. */
export type ColumnType = 'text' | 'int' | 'double' | 'timestamp' | 'json';

/** One stored column and where its value comes from in a record value. */
export interface ColumnSpec {
  /** Column name (snake_case). */
  name: string;
  type: ColumnType;
  /** Candidate field names in the record value, first present wins; `$timestamp` is the record's event time. */
  from: string[];
  /** Part of the natural key (implies required). */
  key?: boolean;
  required?: boolean;
}

/**
 * A topic's table: its columns, natural key and time column. Both the TimescaleDB and the
 * ClickHouse sink store records through these definitions, so the two stores agree on keys.
 */
export interface Dataset {
  /** The topic whose values it stores. */
  topic: string;
  /** Default table name. */
  table: string;
  /** The column tables are partitioned (chunked) and retained by. */
  timeColumn: string;
  columns: ColumnSpec[];
}

/** Every row also records the event time of the record that wrote it (replays never override newer data). */
const recordTime: ColumnSpec = { name: 'record_time', type: 'timestamp', from: ['$timestamp'], required: true };

const col = (
  name: string,
  type: ColumnType,
  field: string,
  opts: { key?: boolean; required?: boolean } = {},
): ColumnSpec => ({
  name,
  type,
  from: [field],
  ...opts,
});
const key = (name: string, type: ColumnType, field: string) => col(name, type, field, { key: true });
const req = (name: string, type: ColumnType, field: string) => col(name, type, field, { required: true });

const interval: ColumnSpec[] = [
  key('delivery_start', 'timestamp', 'deliveryStart'),
  key('interval_minutes', 'int', 'intervalMinutes'),
];

/** The built-in datasets, by topic; fields follow schemas/avro/<topic>-value.avsc. */
export const datasets: Record<string, Dataset> = {
  'market.prices': {
    topic: 'market.prices',
    table: 'market_prices',
    timeColumn: 'delivery_start',
    columns: [
      key('market', 'text', 'market'),
      key('area', 'text', 'area'),
      key('product', 'text', 'product'),
      ...interval,
      req('price', 'double', 'price'),
      req('currency', 'text', 'currency'),
      col('energy_unit', 'text', 'energyUnit'),
      col('volume_mwh', 'double', 'volumeMwh'),
      col('published_at', 'timestamp', 'publishedAt'),
      col('ingested_at', 'timestamp', 'ingestedAt'),
      col('source', 'text', 'source'),
      recordTime,
    ],
  },
  'market.fundamentals': {
    topic: 'market.fundamentals',
    table: 'market_fundamentals',
    timeColumn: 'delivery_start',
    columns: [
      key('area', 'text', 'area'),
      key('kind', 'text', 'kind'),
      key('basis', 'text', 'basis'),
      ...interval,
      req('value_mw', 'double', 'valueMw'),
      col('published_at', 'timestamp', 'publishedAt'),
      col('ingested_at', 'timestamp', 'ingestedAt'),
      col('source', 'text', 'source'),
      recordTime,
    ],
  },
  'telemetry.readings': {
    topic: 'telemetry.readings',
    table: 'telemetry_readings',
    timeColumn: 'observed_at',
    columns: [
      key('asset_id', 'text', 'assetId'),
      key('metric', 'text', 'metric'),
      key('observed_at', 'timestamp', 'observedAt'),
      col('site_id', 'text', 'siteId'),
      req('value', 'double', 'value'),
      col('unit', 'text', 'unit'),
      col('quality', 'text', 'quality'),
      col('received_at', 'timestamp', 'receivedAt'),
      col('origin', 'text', 'origin'),
      recordTime,
    ],
  },
  'forecasts.prices': {
    topic: 'forecasts.prices',
    table: 'forecasts_prices',
    timeColumn: 'delivery_start',
    columns: [
      key('market', 'text', 'market'),
      key('area', 'text', 'area'),
      key('product', 'text', 'product'),
      ...interval,
      key('model', 'text', 'model'),
      key('issued_at', 'timestamp', 'issuedAt'),
      col('model_version', 'text', 'modelVersion'),
      req('price', 'double', 'price'),
      col('currency', 'text', 'currency'),
      col('energy_unit', 'text', 'energyUnit'),
      col('quantiles', 'json', 'quantiles'),
      recordTime,
    ],
  },
  'bids.signals': {
    topic: 'bids.signals',
    table: 'bids_signals',
    timeColumn: 'delivery_start',
    columns: [
      // signalId is deterministic per order; deliveryStart joins the key because partitions are by time.
      key('signal_id', 'text', 'signalId'),
      key('delivery_start', 'timestamp', 'deliveryStart'),
      req('interval_minutes', 'int', 'intervalMinutes'),
      req('market', 'text', 'market'),
      req('area', 'text', 'area'),
      col('product', 'text', 'product'),
      col('asset_id', 'text', 'assetId'),
      req('side', 'text', 'side'),
      req('quantity_mw', 'double', 'quantityMw'),
      col('limit_price', 'double', 'limitPrice'),
      col('currency', 'text', 'currency'),
      col('energy_unit', 'text', 'energyUnit'),
      col('expected_value', 'double', 'expectedValue'),
      col('strategy', 'text', 'strategy'),
      col('forecast_model', 'text', 'forecastModel'),
      col('forecast_issued_at', 'timestamp', 'forecastIssuedAt'),
      col('forecast_model_version', 'text', 'forecastModelVersion'),
      col('revision', 'int', 'revision'),
      col('day_expected_value', 'double', 'dayExpectedValue'),
      col('curve', 'json', 'curve'),
      col('gate_closure', 'timestamp', 'gateClosure'),
      col('created_at', 'timestamp', 'createdAt'),
      col('reason', 'text', 'reason'),
      recordTime,
    ],
  },
  'alerts.events': {
    topic: 'alerts.events',
    table: 'alerts_events',
    timeColumn: 'occurred_at',
    columns: [
      key('alert_id', 'text', 'alertId'),
      key('state', 'text', 'state'),
      key('occurred_at', 'timestamp', 'occurredAt'),
      req('rule', 'text', 'rule'),
      col('severity', 'text', 'severity'),
      col('resource', 'text', 'resource'),
      col('message', 'text', 'message'),
      col('value', 'double', 'value'),
      col('threshold', 'double', 'threshold'),
      col('unit', 'text', 'unit'),
      col('emitted_at', 'timestamp', 'emittedAt'),
      col('labels', 'json', 'labels'),
      recordTime,
    ],
  },
};

/** The dataset ids a sink config may name. */
export const datasetIds = Object.keys(datasets);

/** A value ready for a sink: strings, finite numbers, epoch ms for timestamps, or null. */
export type Cell = string | number | null;

/** A record that cannot be mapped to a row, with the reason. */
export interface RejectedRecord {
  record: StreamRecord;
  reason: string;
}

export function keyColumns(ds: Dataset): ColumnSpec[] {
  return ds.columns.filter((c) => c.key);
}

/** Parses a timestamp given as epoch ms, a Date, a bigint or an ISO-8601 string; NaN when it is none. */
export function toEpochMs(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : NaN;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string' && v.trim() !== '') {
    if (/^-?\d+$/.test(v.trim())) return Number(v);
    return Date.parse(v);
  }
  return NaN;
}

function cell(col: ColumnSpec, raw: unknown): Cell | Error {
  if (raw === undefined || raw === null) return null;
  switch (col.type) {
    case 'text':
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
      // Avro enums decode to strings; unions of a single branch may arrive as { string: "..." }.
      if (typeof raw === 'object' && Object.keys(raw).length === 1) return cell(col, Object.values(raw)[0]);
      return new Error(`${col.from[0]} must be a string`);
    case 'int': {
      const n = typeof raw === 'string' ? Number(raw) : raw;
      return typeof n === 'number' && Number.isInteger(n) ? n : new Error(`${col.from[0]} must be an integer`);
    }
    case 'double': {
      const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      return typeof n === 'number' && Number.isFinite(n) ? n : new Error(`${col.from[0]} must be a finite number`);
    }
    case 'timestamp': {
      const ms = toEpochMs(raw);
      return Number.isFinite(ms) ? ms : new Error(`${col.from[0]} must be a timestamp (epoch ms or ISO-8601)`);
    }
    case 'json':
      return JSON.stringify(raw);
  }
}

/**
 * The value of one column for one record (`value` is the record's value, already checked to be an
 * object), or an Error naming the field when it is missing or of the wrong type.
 */
export function resolveCell(col: ColumnSpec, record: StreamRecord, value: Record<string, unknown>): Cell | Error {
  let raw: unknown;
  for (const field of col.from) {
    raw = field === '$timestamp' ? record.timestamp : value[field];
    if (raw !== undefined && raw !== null) break;
  }
  // fast paths for the common, already well-typed values
  if (col.type === 'text' && typeof raw === 'string') return raw;
  if (col.type === 'double' && typeof raw === 'number' && Number.isFinite(raw)) return raw;
  if (col.type === 'timestamp' && typeof raw === 'number' && Number.isFinite(raw)) return Math.trunc(raw);
  const c = cell(col, raw);
  if (c === null && (col.key || col.required))
    return new Error(`${col.from.filter((f) => f !== '$timestamp').join(' or ') || 'timestamp'} is required`);
  return c;
}

/**
 * Maps records to rows (one array of cells per record, in column order) and, unless `dedupe` is false,
 * keeps only the newest record per natural key, so a batch never upserts the same key twice.
 * Records that do not fit are rejected with a reason.
 */
export function toRows(
  ds: Dataset,
  records: StreamRecord[],
  opts: { dedupe?: boolean } = {},
): { rows: Cell[][]; rejected: RejectedRecord[] } {
  const dedupe = opts.dedupe ?? true;
  const plain: Cell[][] = [];
  const byKey = new Map<string, Cell[]>();
  const rejected: RejectedRecord[] = [];
  const keyIdx = ds.columns.flatMap((c, i) => (c.key ? [i] : []));
  const cols = ds.columns;
  const timeIdx = cols.length - 1; // record_time is last
  for (const record of records) {
    const value = record.value as Record<string, unknown> | null;
    if (value === null || typeof value !== 'object') {
      rejected.push({
        record,
        reason: `${ds.topic}: record value must be an object, got ${value === null ? 'null' : typeof value}`,
      });
      continue;
    }
    const row: Cell[] = new Array(cols.length);
    let reason: string | undefined;
    for (let i = 0; i < cols.length; i++) {
      const c = resolveCell(cols[i]!, record, value);
      if (c instanceof Error) {
        reason = c.message;
        break;
      }
      row[i] = c;
    }
    if (reason !== undefined) {
      rejected.push({ record, reason: `${ds.topic}: ${reason}` });
      continue;
    }
    if (!dedupe) {
      plain.push(row);
      continue;
    }
    let key = '';
    for (const i of keyIdx) key += `${row[i]}\u0000`;
    const previous = byKey.get(key);
    if (previous === undefined) byKey.set(key, row);
    else if ((previous[timeIdx] as number) <= (row[timeIdx] as number)) {
      byKey.delete(key);
      byKey.set(key, row);
    }
  }
  return { rows: dedupe ? [...byKey.values()] : plain, rejected };
}
