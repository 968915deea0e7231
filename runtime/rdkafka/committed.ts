/**
 * Where a read-committed group member starts on the partitions it was given: the group's committed offsets,
 * looked up by us before `assign`, never by librdkafka's assignment.
 *
 * Why: while another producer's open transaction holds this group's offsets for a partition (a worker that lost
 * the partition in mid-transaction, or one that crashed and is not fenced yet), the broker answers the
 * committed-offset lookup of a read-committed member with UNSTABLE_OFFSET_COMMIT. librdkafka's assignment
 * retries that a few times and then starts the partition with no offset at all, so `auto.offset.reset` sends it
 * to the log start: every record committed before is processed a second time, breaking exactly-once (seen as a
 * worker restarted after SIGKILL writing all its input again). Passing explicit offsets to `assign` skips that
 * lookup. Here an unstable partition is asked again until the transaction ends, however long that takes; the
 * transaction timeout bounds it.
 */

// The lookup-and-retry policy is shared with the kafkajs transport: see runtime/kafka/start-positions.ts.
export {
  startPositions,
  retryLogLevel,
  waitingForOffsetsMessage,
  type CommittedLookup,
  type StartPosition,
  type StartPositionOptions,
} from '../kafka/start-positions.js';
