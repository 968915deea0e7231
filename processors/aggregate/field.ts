import { OptiBidError, type StreamRecord } from '@optibid/runtime';

/** Reads a dotted path (`reading.powerKw`) from a record value. */
export function getPath(value: unknown, path: string): unknown {
  // Hot path (every record of a window): the split path is cached, a plain field needs no loop.
  let parts = splitPaths.get(path);
  if (parts === undefined) splitPaths.set(path, (parts = path.split('.')));
  if (parts.length === 1) {
    return value === null || typeof value !== 'object' ? undefined : (value as Record<string, unknown>)[path];
  }
  let cur: unknown = value;
  for (let i = 0; i < parts.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[parts[i]!];
  }
  return cur;
}

/** Dotted paths split once (config paths: a handful per process). */
const splitPaths = new Map<string, string[]>();

/**
 * `numericField` for one path, resolved once: a plain field is read by a closure over its name (no
 * path lookup per record). Same results and errors as `numericField(record, path)`.
 */
export function numericFieldReader(path: string): (record: StreamRecord) => number {
  if (path.includes('.')) return (record) => numericField(record, path);
  return (record) => {
    const value = record.value;
    const v = value === null || typeof value !== 'object' ? undefined : (value as Record<string, unknown>)[path];
    return typeof v === 'number' && Number.isFinite(v) ? v : notNumeric(record, path, v);
  };
}

/** The finite number at `path`, or an OPTIBID_ERR_RECORD error naming the field (the record goes to the DLQ). */
export function numericField(record: StreamRecord, path: string): number {
  const v = getPath(record.value, path);
  return typeof v === 'number' && Number.isFinite(v) ? v : notNumeric(record, path, v);
}

function notNumeric(record: StreamRecord, path: string, v: unknown): never {
  throw new OptiBidError(
    'OPTIBID_ERR_RECORD',
    `field "${path}" is ${v === undefined ? 'missing' : `not a finite number (${JSON.stringify(v)})`}`,
    {
      context: { topic: record.topic, partition: record.partition, offset: record.offset },
    },
  );
}

/** Field (dotted path) → the value it must equal, or a list of allowed values. */
export type WhereClause = Record<string, string | number | boolean | Array<string | number | boolean>>;

/** A record filter from `where`: every listed field equals its value (or one of its values); no clause keeps all. */
export function recordFilter(where: WhereClause | undefined): (value: unknown) => boolean {
  const clauses = Object.entries(where ?? {}).map(
    ([path, want]) => [path, Array.isArray(want) ? want : [want]] as const,
  );
  if (clauses.length === 0) return () => true;
  return (value) =>
    clauses.every(([path, allowed]) => allowed.includes(getPath(value, path) as string | number | boolean));
}
