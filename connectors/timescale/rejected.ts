import { OptiBidError } from '@optibid/runtime';
import type { RejectedRecord } from './datasets.js';

/**
 * Thrown by a sink after it stored the valid records of a batch when some records could not be
 * mapped to rows. `rejected` names each bad record and why, so a runtime can dead-letter exactly
 * those; a runtime that dead-letters the whole batch stays correct because the writes are idempotent.
 */
export class RejectedRecordsError extends OptiBidError {
  constructor(
    readonly rejected: RejectedRecord[],
    readonly written: number,
    sink: string,
  ) {
    const first = rejected[0]?.reason ?? '';
    super('OPTIBID_ERR_DECODE', `${sink}: ${rejected.length} record(s) rejected (${written} stored); first: ${first}`, {
      context: {
        topic: rejected[0]?.record.topic,
        partition: rejected[0]?.record.partition,
        offset: rejected[0]?.record.offset,
      },
    });
    this.name = 'RejectedRecordsError';
  }
}
