import type { RdError } from './client.js';

/**
 * Why the group coordinator refused a transaction's offset commit, when it fenced a stale member: the member
 * id or generation that `sendOffsetsToTransaction` sent with the consumer's group metadata (KIP-447) is no
 * longer the group's (the member stalled past `max.poll.interval.ms` or its session and was dropped).
 * Undefined for any other error.
 *
 * librdkafka reports a refused TxnOffsetCommit as an abortable transaction error whose code is the
 * partition's broker error when it has one, and whose message names each partition's error
 * (`...[0](Broker: Unknown member)`), so both are looked at.
 */
export function fencedCommitReason(err: Pick<RdError, 'code' | 'message'>): FencedReason | undefined {
  const byCode = err.code === undefined ? undefined : fencedCodes.get(err.code);
  if (byCode) return byCode;
  for (const [reason, text] of fencedTexts) if (err.message.includes(text)) return reason;
  return undefined;
}

export type FencedReason = 'ILLEGAL_GENERATION' | 'UNKNOWN_MEMBER_ID' | 'FENCED_INSTANCE_ID';

/** Kafka's error codes of a fenced group member (librdkafka's RD_KAFKA_RESP_ERR_*). */
const fencedCodes = new Map<number, FencedReason>([
  [22, 'ILLEGAL_GENERATION'],
  [25, 'UNKNOWN_MEMBER_ID'],
  [82, 'FENCED_INSTANCE_ID'],
]);

/** librdkafka's texts for those codes (rd_kafka_err2str), as they appear inside a transaction error's message. */
const fencedTexts: Array<[FencedReason, string]> = [
  ['UNKNOWN_MEMBER_ID', 'Broker: Unknown member'],
  ['ILLEGAL_GENERATION', 'Broker: Specified group generation id is not valid'],
  ['FENCED_INSTANCE_ID', 'Broker: Static consumer fenced by other consumer with same group.instance.id'],
];
