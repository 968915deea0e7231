import { createRequire } from 'node:module';
import OffsetManager, { type OffsetManagerInstance } from 'kafkajs/src/consumer/offsetManager/index.js';
import {
  apiKeys,
  decodeOffsetFetchV7,
  decodeTxnOffsetCommitV3,
  encodeOffsetFetchV7,
  encodeTxnOffsetCommitV3,
  offsetFetchVersion,
  txnOffsetCommitVersion,
  type OffsetFetchResponseV7,
} from './kafka-protocol-flexible.js';
import { startPositions, type CommittedLookup, type StartPositionOptions } from './start-positions.js';

/**
 * Exactly-once group offsets for the kafkajs transport (KIP-447), which kafkajs 2.x cannot do itself:
 *
 * 1. **Stable start positions.** kafkajs looks up a member's committed offsets with OffsetFetch v4, which returns
 *    the last committed offset even while another producer's open transaction holds newer ones for the group
 *    (a member that lost the partition in mid-transaction): the new owner would process that transaction's
 *    records again once it commits. For a registered member (`GroupMember`), the offset manager's lookup is
 *    replaced: OffsetFetch v7 with `require_stable`, sent to the group coordinator, and a partition answering
 *    UNSTABLE_OFFSET_COMMIT (88) is asked again with the shared policy of start-positions.ts (100 ms doubling to
 *    2 s, logged), heartbeating between attempts so the member keeps its place, until the transaction ends, the
 *    group rebalances (the heartbeat's error goes up to kafkajs, which rejoins) or the member stops. kafkajs
 *    then fetches from exactly those offsets (partitions with none start where the subscription says).
 * 2. **Fenced offset commits.** kafkajs' `sendOffsets` sends TxnOffsetCommit v0/v1, which carries no member id
 *    or generation, so a member that stalled past the rebalance timeout in mid-transaction could still commit
 *    the offsets (and outputs) of a batch that the member now owning the partition also processed. For a
 *    registered transactional id, TxnOffsetCommit goes out as v3 with the consumer's current member id and
 *    generation: the coordinator then refuses a stale member with ILLEGAL_GENERATION (22), UNKNOWN_MEMBER_ID
 *    (25) or FENCED_INSTANCE_ID (82), and the transport aborts the transaction (`isFencedCommit`).
 *
 * Both are patches of kafkajs prototypes (the offset manager's `resolveOffsets`, the broker's
 * `txnOffsetCommit`), installed once and acting only for members and transactional ids registered here; the
 * request bodies are encoded by kafka-protocol-flexible.ts and sent over kafkajs' own broker connections. A
 * broker that does not offer the versions (Kafka before 2.5) gets kafkajs' own requests.
 */

const require = createRequire(import.meta.url);

/** kafkajs 2.2.4 `Broker` (src/broker/index.js): only the members used here. */
interface BrokerInstance {
  versions?: Record<number, { minVersion: number; maxVersion: number }> | null;
  heartbeat(args: { groupId: string; groupGenerationId: number; memberId: string }): Promise<unknown>;
  txnOffsetCommit(args: TxnOffsetCommitArgs): Promise<unknown>;
}

interface TxnOffsetCommitArgs {
  transactionalId: string;
  groupId: string;
  producerId: string | number;
  producerEpoch: number;
  topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
}

interface KafkaJsProtocolError extends Error {
  type?: string;
  code?: number;
  retriable?: boolean;
}

const Broker = require('kafkajs/src/broker/index.js') as { prototype: BrokerInstance };
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (initialSize?: number) => {
  buf: Buffer;
  offset: number;
};
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode: (code: number) => KafkaJsProtocolError;
};
const initializeConsumerOffsets = require('kafkajs/src/consumer/offsetManager/initializeConsumerOffsets.js') as (
  consumerOffsets: TopicOffsets[],
  topicOffsets: TopicOffsets[],
) => TopicOffsets[];
const isInvalidOffset = require('kafkajs/src/consumer/offsetManager/isInvalidOffset.js') as (o: unknown) => boolean;

type TopicOffsets = { topic: string; partitions: Array<{ partition: number; offset: string }> };

/** Error codes of a stale group member's commit (the coordinator fenced it). */
export const fencedErrorCodes: ReadonlySet<number> = new Set([22, 25, 82]);
const fencedTypes = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);
/** Group-level errors of a lookup that kafkajs answers by rejoining (or finding the coordinator again). */
const groupTypes = new Set([...fencedTypes, 'REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP']);

/**
 * The fenced-commit error behind `err` (kafkajs wraps a bailed error in KafkaJSNonRetriableError with the
 * original as `cause`), or undefined when `err` is something else.
 */
export function isFencedCommit(err: unknown): KafkaJsProtocolError | undefined {
  for (let e = err as KafkaJsProtocolError | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type !== undefined && fencedTypes.has(e.type)) return e;
    e = (e as { cause?: KafkaJsProtocolError }).cause;
  }
  return undefined;
}

let sendRequestKey: symbol | undefined;

/** Whether `broker` (a connected kafkajs Broker) offers `version` of `apiKey`. */
function supports(broker: BrokerInstance, apiKey: number, version: number): boolean {
  const v = broker.versions?.[apiKey];
  return v !== undefined && v.minVersion <= version && v.maxVersion >= version;
}

/**
 * Sends a request whose body `body` is encoded already (flexible bodies start with the request header's tagged
 * fields) over a kafkajs broker connection; the response payload (everything after the correlation id) goes to
 * `decode`.
 */
export function sendEncoded<T>(
  broker: unknown,
  req: { apiKey: number; apiVersion: number; apiName: string; body: Buffer; decode: (payload: Buffer) => T },
): Promise<T> {
  sendRequestKey ??= Object.getOwnPropertySymbols(Broker.prototype).find(
    (s) => s.description === 'private:Broker:sendRequest',
  );
  const b = broker as Record<symbol, (r: unknown) => Promise<T>>;
  if (!sendRequestKey || typeof b[sendRequestKey] !== 'function')
    throw new Error('kafkajs internals changed: Broker sendRequest not found (runtime/kafka/group-offsets.ts)');
  return b[sendRequestKey]!.call(broker, {
    request: {
      apiKey: req.apiKey,
      apiVersion: req.apiVersion,
      apiName: req.apiName,
      encode: async () => {
        // An Encoder holding the body as its buffer (kafkajs copies `buf` up to `offset`).
        const e = new Encoder(0);
        e.buf = req.body;
        e.offset = req.body.length;
        return e;
      },
    },
    response: { decode: async (payload: Buffer) => req.decode(payload), parse: async (data: T) => data },
  });
}

/**
 * A stable-offset lookup for `startPositions`: one OffsetFetch v7 (`require_stable`) for `partitions` of `groupId`.
 * A partition's error (UNSTABLE_OFFSET_COMMIT while a transaction holds it) becomes an Error in its place; a
 * group-level error is thrown as kafkajs' protocol error.
 */
export function stableLookup(send: (body: Buffer) => Promise<OffsetFetchResponseV7>, groupId: string): CommittedLookup {
  return async (partitions) => {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions) {
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(partition);
    }
    const res = await send(
      encodeOffsetFetchV7({
        groupId,
        topics: [...byTopic].map(([topic, ps]) => ({ topic, partitions: ps })),
        requireStable: true,
      }),
    );
    if (res.errorCode !== 0) throw createErrorFromCode(res.errorCode);
    const answers = new Map<string, { offset?: number } | Error>();
    for (const t of res.topics)
      for (const p of t.partitions) {
        let a: { offset?: number } | Error;
        if (p.errorCode !== 0) {
          const e = createErrorFromCode(p.errorCode);
          a = new Error(`${e.type ?? 'error ' + p.errorCode}: ${e.message}`);
        } else a = BigInt(p.offset) >= 0n ? { offset: Number(p.offset) } : {};
        answers.set(`${t.topic}\u0000${p.partition}`, a);
      }
    return partitions.map(
      (p) => answers.get(`${p.topic}\u0000${p.partition}`) ?? new Error(`no answer for ${p.topic}[${p.partition}]`),
    );
  };
}

/**
 * One consumer of the kafkajs transport, as a group member: its member id (from kafkajs' GROUP_JOIN) and
 * generation (from the offset manager of that join), and how its stable-offset lookups wait and log.
 */
export class GroupMember {
  memberId: string | undefined;
  generationId = -1;

  constructor(
    readonly groupId: string,
    readonly options: Pick<StartPositionOptions, 'onRetry' | 'timeoutMs'> & {
      /** Waits between lookups (real ms; ends early when the run stops). */
      sleep: (ms: number) => Promise<void>;
      /** False once the member stops: a lookup in progress gives up. */
      running: () => boolean;
    },
  ) {}

  /** Called from kafkajs' GROUP_JOIN with the member id it joined as. */
  joined(memberId: string): void {
    if (this.memberId !== undefined && members.get(this.memberId) === this) members.delete(this.memberId);
    this.memberId = memberId;
    this.generationId = -1; // known once the join's offset manager looks up offsets (before the first fetch)
    members.set(memberId, this);
    install();
  }

  /** Unregisters the member (its consumer stopped). */
  leave(): void {
    if (this.memberId !== undefined && members.get(this.memberId) === this) members.delete(this.memberId);
    for (const [id, m] of commits) if (m === this) commits.delete(id);
  }

  /**
   * Offset commits of transactional id `transactionalId` (this member's producer) go out as TxnOffsetCommit v3
   * carrying this member's id and generation. Returns the undo.
   */
  fenceCommits(transactionalId: string): () => void {
    install();
    commits.set(transactionalId, this);
    return () => {
      if (commits.get(transactionalId) === this) commits.delete(transactionalId);
    };
  }
}

/** Members by member id: the offset manager of a join finds its member by the id kafkajs joined with. */
const members = new Map<string, GroupMember>();
/** Members by the transactional id of their producer. */
const commits = new Map<string, GroupMember>();
let installed = false;

function install(): void {
  if (installed) return;
  const om = OffsetManager.prototype;
  const resolveOffsets = om.resolveOffsets;
  const txnOffsetCommit = Broker.prototype.txnOffsetCommit;
  if (
    typeof resolveOffsets !== 'function' ||
    typeof om.getCoordinator !== 'function' ||
    typeof txnOffsetCommit !== 'function'
  )
    throw new Error(
      'kafkajs internals changed: OffsetManager.resolveOffsets / Broker.txnOffsetCommit not found (runtime/kafka/group-offsets.ts)',
    );
  om.resolveOffsets = async function (this: OffsetManagerInstance) {
    const member = this.memberId === undefined ? undefined : members.get(this.memberId);
    if (!member || member.groupId !== this.groupId) return resolveOffsets.call(this);
    member.generationId = this.generationId;
    return resolveStable(this, member, () => resolveOffsets.call(this));
  };
  Broker.prototype.txnOffsetCommit = async function (this: BrokerInstance, args: TxnOffsetCommitArgs) {
    const member = commits.get(args.transactionalId);
    if (!member || member.groupId !== args.groupId || !supports(this, apiKeys.TxnOffsetCommit, txnOffsetCommitVersion))
      return txnOffsetCommit.call(this, args);
    const res = await sendEncoded(this, {
      apiKey: apiKeys.TxnOffsetCommit,
      apiVersion: txnOffsetCommitVersion,
      apiName: 'TxnOffsetCommit',
      body: encodeTxnOffsetCommitV3({
        ...args,
        memberId: member.memberId ?? '',
        generationId: member.memberId === undefined ? -1 : member.generationId,
        groupInstanceId: null,
      }),
      decode: decodeTxnOffsetCommitV3,
    });
    for (const t of res.topics)
      for (const p of t.partitions) if (p.errorCode !== 0) throw createErrorFromCode(p.errorCode);
    return res;
  };
  installed = true;
}

/**
 * The offset manager's `resolveOffsets` for a registered member: every assigned partition without a known
 * committed offset is looked up with stable offsets (waiting out open transactions, heartbeating between
 * attempts); partitions the group has no offset for start where the subscription says (kafkajs' own rule).
 */
async function resolveStable(om: OffsetManagerInstance, member: GroupMember, fallback: () => Promise<void>) {
  const committed = om.committedOffsets();
  const pending: Array<{ topic: string; partition: number }> = [];
  for (const topic of om.topics)
    for (const partition of om.memberAssignment[topic] ?? [])
      if (isInvalidOffset(committed[topic]?.[partition])) pending.push({ topic, partition });
  if (pending.length === 0) return;
  const coordinator = (await om.getCoordinator()) as BrokerInstance;
  if (!supports(coordinator, apiKeys.OffsetFetch, offsetFetchVersion)) return fallback();
  const { groupId, memberId, generationId } = om;
  /** A group-level error kafkajs must handle (rejoin, find the coordinator): ends the wait, thrown below. */
  let fatal: KafkaJsProtocolError | undefined;
  const lookup = stableLookup(
    (body) =>
      sendEncoded(coordinator, {
        apiKey: apiKeys.OffsetFetch,
        apiVersion: offsetFetchVersion,
        apiName: 'OffsetFetch',
        body,
        decode: decodeOffsetFetchV7,
      }),
    groupId,
  );
  const positions = await startPositions(
    async (list, timeoutMs) => {
      try {
        return await lookup(list, timeoutMs);
      } catch (err) {
        if (groupTypes.has((err as KafkaJsProtocolError).type ?? '')) fatal = err as KafkaJsProtocolError;
        throw err;
      }
    },
    pending,
    {
      ...member.options,
      // Heartbeats between attempts: the member stays in the group however long the transaction stays open;
      // a rebalance (or this member fenced) throws here, and kafkajs rejoins.
      sleep: async (ms) => {
        await coordinator.heartbeat({ groupId, groupGenerationId: generationId, memberId });
        await member.options.sleep(ms);
      },
      stillWanted: () => fatal === undefined && member.options.running() && members.get(memberId) === member,
    },
  );
  if (fatal) throw fatal;
  if (!positions) return; // stopping: the partitions stay unresolved, so nothing is fetched
  const byTopic = new Map<string, TopicOffsets>();
  for (const p of positions) {
    let t = byTopic.get(p.topic);
    if (!t) byTopic.set(p.topic, (t = { topic: p.topic, partitions: [] }));
    t.partitions.push({ partition: p.partition, offset: p.offset === 'beginning' ? '-1' : String(p.offset) });
  }
  let offsets = [...byTopic.values()];
  const unresolved = offsets
    .map(({ topic, partitions }) => ({
      topic,
      partitions: partitions.filter((p) => isInvalidOffset(p.offset)).map(({ partition }) => ({ partition })),
      ...om.topicConfigurations[topic],
    }))
    .filter((t) => t.partitions.length > 0);
  if (unresolved.length) offsets = initializeConsumerOffsets(offsets, await om.cluster.fetchTopicsOffset(unresolved));
  for (const { topic, partitions } of offsets) {
    const known = (committed[topic] ??= {});
    for (const { partition, offset } of partitions) known[partition] = offset;
  }
}
