import { OptiBidError } from './errors.js';
import type { OutRecord, StreamRecord } from './record.js';

/** Header names every dead-letter record carries. */
export const dlqHeaders = {
  reason: 'reason',
  sourceTopic: 'source-topic',
  sourcePartition: 'source-partition',
  sourceOffset: 'source-offset',
  component: 'component',
  errorCode: 'error-code',
} as const;

/** Why a record failed, as one line. */
export function failureReason(err: unknown): string {
  if (err instanceof OptiBidError) return err.message.split('\n')[0]!;
  if (err instanceof Error) return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`.split('\n')[0]!;
  return String(err);
}

/**
 * The dead-letter copy of `record`: same key, value and timestamp, original headers kept, plus
 * headers naming the reason, the source topic, partition and offset and the failing component.
 */
export function toDeadLetter(
  topic: string,
  record: StreamRecord | OutRecord,
  component: string,
  err: unknown,
): OutRecord {
  const r = record as StreamRecord;
  const headers: Record<string, string> = {
    ...(record.headers ?? {}),
    [dlqHeaders.reason]: failureReason(err),
    [dlqHeaders.sourceTopic]: record.topic,
    [dlqHeaders.component]: component,
  };
  if (r.partition !== undefined) headers[dlqHeaders.sourcePartition] = String(r.partition);
  if (r.offset !== undefined) headers[dlqHeaders.sourceOffset] = r.offset;
  if (err instanceof OptiBidError) headers[dlqHeaders.errorCode] = err.code;
  return { topic, key: record.key, value: record.value, timestamp: record.timestamp, headers };
}
