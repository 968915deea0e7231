import { OptiBidError, type StreamRecord } from '@optibid/runtime';

/** Reads a dotted path (`reading.powerKw`) from a record value. */
export function getPath(value: unknown, path: string): unknown {
  let cur: unknown = value;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The finite number at `path`, or an OPTIBID_ERR_RECORD error naming the field (the record goes to the DLQ). */
export function numericField(record: StreamRecord, path: string): number {
  const v = getPath(record.value, path);
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new OptiBidError('OPTIBID_ERR_RECORD', `field "${path}" is ${v === undefined ? 'missing' : `not a finite number (${JSON.stringify(v)})`}`, {
      context: { topic: record.topic, partition: record.partition, offset: record.offset },
    });
  }
  return v;
}
