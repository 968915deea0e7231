import OffsetManager from 'kafkajs/src/consumer/offsetManager/index.js';
import { scopedRegistry } from './scoped-registry.js';

/** A fetch that the broker answered with OFFSET_OUT_OF_RANGE. */
export interface OutOfRange {
  groupId: string;
  topic: string;
  partition: number;
  /** The offset the member fetched from. */
  fetchOffset: string;
}

/**
 * Where a member goes on after an out-of-range fetch (an offset string); the transport logs it. Resolving
 * it must commit nothing: a processor's next transaction commits the new position with its outputs.
 */
export type ResetHandler = (event: OutOfRange) => Promise<string>;

export interface ResetDecision {
  /** The offset to fetch from next. */
  resetTo: string;
  /** Records that were deleted before this group read them (0 when none are known lost). */
  lost: number;
  reason: string;
}

/**
 * Where to fetch after OFFSET_OUT_OF_RANGE, given the partition's offsets listed right after it:
 * - below the log start: the records in between were deleted unread (time/size retention, DeleteRecords);
 *   go on from the log start, and count them as lost;
 * - above the log end: the log was truncated or the topic recreated; read from the log start (the
 *   subscription's `fromBeginning` policy) — these records may be read again;
 * - inside [start, end]: the broker no longer says so; fetch the same offset again.
 */
export function offsetResetDecision(fetchOffset: string, logStart: string, logEnd: string): ResetDecision {
  const at = BigInt(fetchOffset);
  const low = BigInt(logStart);
  const high = BigInt(logEnd);
  if (at < low) {
    return {
      resetTo: logStart,
      lost: Number(low - at),
      reason:
        'records were deleted (retention or DeleteRecords) before the group read them; going on from the log start',
    };
  }
  if (at > high && at > low) {
    return {
      resetTo: logStart,
      lost: 0,
      reason:
        'the fetch offset is beyond the log end (log truncated or topic recreated); reading again from the log start',
    };
  }
  return { resetTo: fetchOffset, lost: 0, reason: 'the offset is in range again; fetching it again' };
}

/**
 * The partition and fetch offset of librdkafka's warning on an offset reset after an error (rdkafka_offset.c:
 * `[thrd:main]: T [P]: offset reset (at offset N (leader epoch E), broker B) to offset BEGINNING ...`);
 * undefined for other lines.
 */
export function parseLibrdkafkaOffsetReset(
  message: string,
): { topic: string; partition: number; fetchOffset: string } | undefined {
  const m = /^(?:\[thrd:[^\]]*\]: )?(\S+) \[(\d+)\]: offset reset \(at offset (-?\d+)/.exec(message);
  return m ? { topic: m[1]!, partition: Number(m[2]), fetchOffset: m[3]! } : undefined;
}

const handlers = scopedRegistry<ResetHandler>();
let installed = false;

/**
 * Takes OFFSET_OUT_OF_RANGE recovery away from kafkajs for one consumer group. kafkajs 2.x answers it
 * (`ConsumerGroup.recoverFromOffsetOutOfRange` → `OffsetManager.setDefaultOffset`) by committing the default
 * offset (-2, "earliest") for the group with a plain OffsetCommit, outside any transaction, and logging it at
 * error level only. In an exactly-once group that moves the committed progress backwards; a crash before the
 * next transaction restarts from the log start. For a guarded group the member instead asks `handler` where
 * to go on and sets only its own fetch position there; nothing is committed until the next transaction
 * (processors) or the next offset commit after a write (sinks). Returns the function that removes the guard.
 */
export function guardOffsetResets(groupId: string, handler: ResetHandler): () => void {
  install();
  return handlers.register(groupId, handler);
}

function install(): void {
  if (installed) return;
  const proto = OffsetManager.prototype;
  const original = proto.setDefaultOffset;
  if (typeof original !== 'function' || typeof proto.nextOffset !== 'function')
    throw new Error(
      'kafkajs OffsetManager changed: setDefaultOffset/nextOffset not found (runtime/kafka/offset-reset.ts)',
    );
  proto.setDefaultOffset = async function (this: typeof proto, tp: { topic: string; partition: number }) {
    const handler = handlers.current(this.groupId);
    const resolved = this.resolvedOffsets[tp.topic];
    if (!handler || !resolved) return original.call(this, tp);
    const fetchOffset = this.nextOffset(tp.topic, tp.partition).toString();
    const resetTo = await handler({ groupId: this.groupId, ...tp, fetchOffset });
    // Only this member's fetch position moves; the next fetch of the partition starts there.
    resolved[tp.partition] = resetTo;
  };
  installed = true;
}
