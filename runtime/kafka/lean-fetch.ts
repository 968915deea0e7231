import { createRequire } from 'node:module';
import { OptiBidError } from '../errors.js';
import { crc32c } from './crc32c.js';
import { mergeScanned, scanRecordBatches, type AbortedTransaction, type ScannedRecords } from './record-batches.js';
import { scopedRegistry } from './scoped-registry.js';

/**
 * The lean fetch path of the kafkajs transport. kafkajs decodes every fetched record into an object
 * (a Decoder, several `Long`s, a string offset, key/value/header Buffers, a batch context) and then
 * filters them in arrays; on 50-byte records that and its garbage were most of a processor's CPU. For
 * the consumer groups registered here, `ConsumerGroup.fetch` (kafkajs 2.2.4 internals, patched once)
 * sends the same Fetch request over the consumer's own broker connection but decodes the response
 * itself: each partition's record bytes stay one Buffer (a view of the response), record batch headers
 * are read to apply read-committed filtering (aborted transactions, control batches, the fetch offset
 * inside a batch; see record-batches.ts), and the batch handed to `eachBatch` is a `LeanBatch` whose
 * records the transport walks in place. Everything else (group membership, heartbeats, assignment and
 * rebalances, pause/seek, offset resolution, the offset-reset guard, transactions and `sendOffsets`)
 * stays kafkajs'. Groups not registered keep kafkajs' own fetch.
 */

const require = createRequire(import.meta.url);

interface TopicPartitions {
  topic: string;
  partitions: number[];
}
interface FetchPartitionRequest {
  partition: number;
  fetchOffset: string;
  maxBytes: number;
}
interface ProtocolRequest {
  request: unknown;
  response: { decode(raw: Buffer): Promise<unknown>; parse(data: unknown): Promise<unknown> };
  requestTimeout: number;
}
interface BrokerInstance {
  lookupRequest(apiKey: number, definition: unknown): (args: Record<string, unknown>) => ProtocolRequest;
}
interface ConsumerGroupInstance {
  groupId: string;
  cluster: {
    refreshMetadataIfNecessary(): Promise<void>;
    findBroker(q: { nodeId: number }): Promise<BrokerInstance>;
  };
  subscriptionState: {
    assigned(): TopicPartitions[];
    isPaused(topic: string, partition: number): boolean;
  };
  seekOffset: { has(topic: string, partition: number): boolean };
  offsetManager: {
    committedOffsets(): Record<string, Record<string, string | undefined | null>>;
    nextOffset(topic: string, partition: number): { toString(): string };
  };
  maxBytesPerPartition: number;
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  rackId: string;
  checkForStaleAssignment(): void;
  filterPartitionsByNode(nodeId: number, tps: TopicPartitions[]): TopicPartitions[];
  seekOffsets(tps: TopicPartitions[]): Promise<void>;
  getActiveTopicPartitions(): Record<string, Set<number>>;
  recoverFromFetch(e: unknown): Promise<void>;
  fetch(nodeId: number): Promise<unknown[]>;
}

const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroupInstance };
const Broker = require('kafkajs/src/broker/index.js') as { prototype: object };
const { requests } = require('kafkajs/src/protocol/requests/index.js') as {
  requests: {
    Fetch: {
      versions: string[];
      protocol(v: { version: number }): (args: Record<string, unknown>) => ProtocolRequest;
    };
  };
};
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as { Fetch: number };
const { parse: parseFetch } = require('kafkajs/src/protocol/requests/fetch/v0/response.js') as {
  parse(data: unknown): Promise<unknown>;
};
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode(code: number): Error;
};
const { lookupCodec } = require('kafkajs/src/protocol/message/compression/index.js') as {
  lookupCodec(type: number): { decompress(b: Buffer): Promise<Buffer> } | null;
};

/** One partition of a Fetch response, its records left as bytes. */
export interface LeanPartitionData {
  partition: number;
  errorCode: number;
  highWatermark: string;
  lastStableOffset: string;
  logStartOffset: string;
  abortedTransactions: AbortedTransaction[] | null;
  records: Buffer | null;
}

export interface LeanFetchResponse {
  throttleTime: number;
  clientSideThrottleTime: number;
  errorCode: number;
  responses: Array<{ topicName: string; partitions: LeanPartitionData[] }>;
}

/**
 * Decodes a Fetch response of `version` (4–11, what kafkajs negotiates) without touching the records:
 * each partition's record set is a view of `raw`. Field presence per version: throttle time (v1+),
 * error code and session id (v7+), last stable offset and aborted transactions (v4+), log start offset
 * (v5+), preferred read replica (v11+).
 */
export function decodeFetchResponse(raw: Buffer, version: number): LeanFetchResponse {
  let p = 0;
  const i16 = () => {
    const v = raw.readInt16BE(p);
    p += 2;
    return v;
  };
  const i32 = () => {
    const v = raw.readInt32BE(p);
    p += 4;
    return v;
  };
  const i64 = () => {
    const v = raw.readBigInt64BE(p);
    p += 8;
    return v;
  };
  const throttle = version >= 1 ? i32() : 0;
  let errorCode = 0;
  if (version >= 7) {
    errorCode = i16();
    i32(); // session id
  }
  const responses: LeanFetchResponse['responses'] = [];
  const topics = i32();
  for (let t = 0; t < topics; t++) {
    const nameLen = i16();
    const topicName = raw.toString('utf8', p, (p += nameLen));
    const partitions: LeanPartitionData[] = [];
    const n = i32();
    for (let i = 0; i < n; i++) {
      const partition = i32();
      const partitionError = i16();
      const highWatermark = i64().toString();
      const lastStableOffset = version >= 4 ? i64().toString() : '-1';
      const logStartOffset = version >= 5 ? i64().toString() : '-1';
      let abortedTransactions: AbortedTransaction[] | null = null;
      if (version >= 4) {
        const count = i32();
        if (count >= 0) {
          abortedTransactions = [];
          for (let a = 0; a < count; a++) abortedTransactions.push({ producerId: i64(), firstOffset: i64() });
        }
      }
      if (version >= 11) i32(); // preferred read replica
      const size = i32();
      let records: Buffer | null = null;
      if (size >= 0) {
        if (p + size > raw.length)
          throw new Error(`fetch response truncated: ${size} record bytes at ${p} of ${raw.length}`);
        records = raw.subarray(p, (p += size));
      }
      partitions.push({
        partition,
        errorCode: partitionError,
        highWatermark,
        lastStableOffset,
        logStartOffset,
        abortedTransactions,
        records,
      });
    }
    responses.push({ topicName, partitions });
  }
  return version >= 8
    ? { throttleTime: 0, clientSideThrottleTime: throttle, errorCode, responses }
    : { throttleTime: throttle, clientSideThrottleTime: 0, errorCode, responses };
}

/**
 * A fetched partition as the lean path hands it to `eachBatch`, with the interface kafkajs' runner uses
 * of its `Batch` (emptiness, first/last offset, lags). `messages` only has a `length` (the number of
 * records delivered): read the records with `forEachRecord(batch.records.spans, …)` (codec.ts
 * `decodeLeanBatch`). The last offset is the last one of the last complete record batch fetched at or
 * above the fetch offset (control and aborted batches included), so resolving it moves past markers.
 */
export class LeanBatch {
  readonly messages: { readonly length: number };
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly highWatermark: string,
    readonly fetchedOffset: string,
    readonly records: ScannedRecords,
  ) {
    this.messages = { length: records.count };
  }
  isEmpty(): boolean {
    return this.records.count === 0;
  }
  isEmptyIncludingFiltered(): boolean {
    return this.records.lastOffset < 0;
  }
  isEmptyDueToFiltering(): boolean {
    return this.isEmpty() && this.records.lastOffset >= 0;
  }
  isEmptyControlRecord(): boolean {
    return this.isEmptyDueToFiltering();
  }
  isEmptyDueToLogCompactedMessages(): boolean {
    return false;
  }
  firstOffset(): string | null {
    return this.records.firstOffset < 0 ? null : String(this.records.firstOffset);
  }
  lastOffset(): string {
    return this.records.lastOffset >= 0
      ? String(this.records.lastOffset)
      : (BigInt(this.highWatermark) - 1n).toString();
  }
  offsetLag(): string {
    return (BigInt(this.highWatermark) - 1n - BigInt(this.lastOffset())).toString();
  }
  offsetLagLow(): string {
    const first = this.firstOffset();
    return first === null ? '0' : (BigInt(this.highWatermark) - 1n - BigInt(first)).toString();
  }
}

/** Whether a batch handed to `eachBatch` came from the lean path. */
export function isLeanBatch(batch: unknown): batch is LeanBatch {
  return batch instanceof LeanBatch;
}

const decompress = async (codec: number, bytes: Buffer): Promise<Buffer> => {
  const c = lookupCodec(codec);
  if (!c) throw new OptiBidError('OPTIBID_ERR_UPSTREAM', `record batch with unknown compression codec ${codec}`);
  return c.decompress(bytes);
};

interface LeanGroupOptions {
  /** Verify each record batch's CRC-32C (default false: kafkajs does not either; TCP and the broker check already). */
  checkCrc?: boolean;
}

const groups = scopedRegistry<LeanGroupOptions>();
let installed = false;
let sendRequest: symbol | undefined;

/**
 * Routes the fetches of consumer group `groupId` (kafkajs consumers in this process) through the lean
 * path; returns the function that takes it back. Registered before the consumer runs.
 */
export function useLeanFetch(groupId: string, options: LeanGroupOptions = {}): () => void {
  install();
  return groups.register(groupId, options);
}

function install(): void {
  if (installed) return;
  const proto = ConsumerGroup.prototype;
  const original = proto.fetch;
  sendRequest = Object.getOwnPropertySymbols(Broker.prototype).find(
    (s) => s.description === 'private:Broker:sendRequest',
  );
  const needed = [
    'checkForStaleAssignment',
    'filterPartitionsByNode',
    'seekOffsets',
    'getActiveTopicPartitions',
    'recoverFromFetch',
  ] as const;
  if (typeof original !== 'function' || !sendRequest || needed.some((m) => typeof proto[m] !== 'function'))
    throw new Error(
      'kafkajs internals changed: ConsumerGroup.fetch / Broker sendRequest not found (runtime/kafka/lean-fetch.ts)',
    );
  proto.fetch = function (this: ConsumerGroupInstance, nodeId: number) {
    const options = groups.current(this.groupId);
    if (!options) return original.call(this, nodeId);
    return leanFetch(this, nodeId, options);
  };
  installed = true;
}

type Scan = (data: LeanPartitionData, fetchOffset: string) => Promise<ScannedRecords>;
type FetchTopics = Array<{ topic: string; partitions: FetchPartitionRequest[] }>;

/** A fetch started ahead for a member's next positions (see `leanFetch`). */
interface Prefetch {
  nodeId: number;
  /** The positions it fetched from (`topic/partition@offset`, sorted). */
  key: string;
  result: Promise<Fetched[] | undefined>;
}
const prefetches = new WeakMap<ConsumerGroupInstance, Map<number, Prefetch>>();

const positionsKey = (topics: FetchTopics) =>
  topics
    .flatMap((t) => t.partitions.map((p) => `${t.topic}/${p.partition}@${p.fetchOffset}`))
    .sort()
    .join(',');

/**
 * kafkajs' `ConsumerGroup.fetch` with the lean response and batches (same positions, pauses, seeks and
 * recovery). While the batches it returns are processed, the fetch from the positions they lead to is
 * already under way (no broker wait): the next call uses it when the member's positions are exactly
 * those (the batches were resolved) and it did not reach the end of what was readable (a backlog), else
 * drops it and fetches as usual. So the broker reads the next
 * records while the worker processes these; a member holds at most two fetches' records at once.
 */
async function leanFetch(group: ConsumerGroupInstance, nodeId: number, options: LeanGroupOptions): Promise<unknown[]> {
  try {
    await group.cluster.refreshMetadataIfNecessary();
    group.checkForStaleAssignment();
    const tps = group.filterPartitionsByNode(nodeId, group.subscriptionState.assigned());
    await group.seekOffsets(tps);
    const committed = group.offsetManager.committedOffsets();
    const active = group.getActiveTopicPartitions();
    const topics: FetchTopics = [];
    for (const { topic, partitions } of tps) {
      const wanted: FetchPartitionRequest[] = [];
      for (const partition of partitions) {
        // Only partitions with a resolved position (kafkajs: concurrent out-of-range recovery clears them).
        if (committed[topic]?.[partition] == null || !active[topic]?.has(partition)) continue;
        wanted.push({
          partition,
          fetchOffset: group.offsetManager.nextOffset(topic, partition).toString(),
          maxBytes: group.maxBytesPerPartition,
        });
      }
      if (wanted.length) topics.push({ topic, partitions: wanted });
    }
    let pending = prefetches.get(group);
    const ahead = pending?.get(nodeId);
    pending?.delete(nodeId);
    if (!topics.length) {
      await new Promise((r) => setTimeout(r, group.maxWaitTime));
      return [];
    }
    const crc32 = options.checkCrc ? (b: Buffer) => crc32c(b) : undefined;
    const scan: Scan = (data, fetchOffset) =>
      scanRecordBatches(data.records, Number(fetchOffset), data.abortedTransactions, { decompress, crc32c: crc32 });
    const broker = await group.cluster.findBroker({ nodeId });
    let fetched = ahead && ahead.key === positionsKey(topics) ? await ahead.result : undefined;
    // Used only under a backlog: records beyond it were readable already, or it is the large tail of one
    // (`backlogBytes` or more). A small prefetch that reached the end is dropped, so at low rates records that
    // arrived since come with a fresh fetch instead of a cycle later; a large one is used (fetching it again
    // would make the member wait for the whole tail of a backlog).
    // The first fetch of a member (or after a seek or rebalance: no prefetch was out) hands its first response
    // over at once, not extended (see `extendFetches`): a member starting on a backlog processes the first log
    // segment while its prefetch, extended, brings the next ones.
    const backlog = (f: Fetched) =>
      f.scanned.lastOffset >= 0 && (f.scanned.lastOffset + 1 < Number(f.end) || f.bytes >= backlogBytes);
    if (!fetched?.some(backlog))
      fetched = await fetchOnce(group, broker, topics, group.maxWaitTime, scan, ahead !== undefined);
    // Paused or sought while the fetch was out: those partitions' records are not handed over.
    fetched = fetched.filter(
      (f) => !group.seekOffset.has(f.topic, f.partition) && !group.subscriptionState.isPaused(f.topic, f.partition),
    );
    const next: FetchTopics = [];
    for (const f of fetched) {
      if (f.scanned.lastOffset < 0) continue;
      let t = next.find((x) => x.topic === f.topic);
      if (!t) next.push((t = { topic: f.topic, partitions: [] }));
      t.partitions.push({
        partition: f.partition,
        fetchOffset: String(f.scanned.lastOffset + 1),
        maxBytes: group.maxBytesPerPartition,
      });
    }
    // Positions of partitions that brought nothing stay as they are: they belong to the next fetch too.
    for (const t of topics)
      for (const p of t.partitions)
        if (!fetched.some((f) => f.topic === t.topic && f.partition === p.partition && f.scanned.lastOffset >= 0)) {
          let n = next.find((x) => x.topic === t.topic);
          if (!n) next.push((n = { topic: t.topic, partitions: [] }));
          n.partitions.push(p);
        }
    if (fetched.some((f) => f.scanned.lastOffset >= 0)) {
      if (!pending) prefetches.set(group, (pending = new Map()));
      const result = fetchOnce(group, broker, next, 0, scan, true).catch(() => undefined);
      pending.set(nodeId, { nodeId, key: positionsKey(next), result });
    }
    return fetched.map((f) => new LeanBatch(f.topic, f.partition, f.highWatermark, f.fetchedOffset, f.scanned));
  } catch (e) {
    await group.recoverFromFetch(e);
    return [];
  }
}

/**
 * One Fetch (waiting up to `waitMs` for data), plus its follow-ups (`extendFetches`) when `extend`; throws what
 * the response says.
 */
async function fetchOnce(
  group: ConsumerGroupInstance,
  broker: BrokerInstance,
  topics: FetchTopics,
  waitMs: number,
  scan: Scan,
  extend: boolean,
): Promise<Fetched[]> {
  const response = (await send(broker, {
    replicaId: -1,
    maxWaitTime: waitMs,
    minBytes: waitMs > 0 ? group.minBytes : 0,
    maxBytes: group.maxBytes,
    isolationLevel: group.isolationLevel,
    topics,
    rackId: group.rackId,
  })) as LeanFetchResponse;
  const fetched: Fetched[] = [];
  for (const { topicName, partitions } of response.responses) {
    const requested = topics.find((t) => t.topic === topicName);
    for (const data of partitions) {
      const fetchedOffset = requested?.partitions.find((p) => p.partition === data.partition)?.fetchOffset;
      if (fetchedOffset === undefined) continue;
      fetched.push({
        topic: topicName,
        partition: data.partition,
        fetchedOffset,
        highWatermark: data.highWatermark,
        end: group.isolationLevel === 1 ? data.lastStableOffset : data.highWatermark,
        bytes: data.records?.length ?? 0,
        scanned: await scan(data, fetchedOffset),
      });
    }
  }
  if (extend) await extendFetches(group, broker, fetched, scan);
  return fetched;
}

/** One partition's fetched records, possibly from several Fetch responses (see `extendFetches`). */
interface Fetched {
  topic: string;
  partition: number;
  fetchedOffset: string;
  highWatermark: string;
  /**
   * Where readable records ended when the first response came (last stable offset when reading committed,
   * else the high watermark): follow-up fetches go no further, so a trickle of new records never keeps a
   * batch from being handed over.
   */
  end: string;
  bytes: number;
  scanned: ScannedRecords;
}

/** A prefetch that brought this many record bytes is used even when it reached the end (see `leanFetch`). */
const backlogBytes = 512 * 1024;

/** Most follow-up Fetch requests per `fetch` call (each returns at most one log segment per partition). */
const maxExtensions = 16;

/**
 * A broker answers a Fetch with records of one log segment per partition at most, and segments roll by
 * size and by record time (`segment.ms`: a week of event time by default), so a backlog of records with
 * dense old timestamps comes a segment (here 10–15k records) per fetch however large the fetch size. One
 * transaction per fetch then pays its round trips that often. So while a partition still has readable
 * records beyond what came (its last offset + 1 < the last stable offset the first response reported) and
 * less than `maxBytesPerPartition` came so far, fetch on from there at once (no wait), and hand the records over as one batch: the
 * records a member takes at once stay bounded by the fetch size it asked for. Each response is filtered
 * on its own (aborted transactions as listed in it), as the Java consumer does per fetch. A follow-up
 * fetch that fails stops extending; the next regular fetch meets the error and recovers as kafkajs does.
 * A member's first fetch (no prefetch was out) is not extended: it hands its first response over at once.
 */
async function extendFetches(
  group: ConsumerGroupInstance,
  broker: BrokerInstance,
  fetched: Fetched[],
  scan: Scan,
): Promise<void> {
  for (let round = 0; round < maxExtensions; round++) {
    const more = fetched.filter(
      (f) =>
        f.scanned.lastOffset >= 0 &&
        f.bytes < group.maxBytesPerPartition &&
        f.scanned.lastOffset + 1 < Number(f.end) &&
        !group.seekOffset.has(f.topic, f.partition) &&
        !group.subscriptionState.isPaused(f.topic, f.partition),
    );
    if (more.length === 0) return;
    const topics: Array<{ topic: string; partitions: FetchPartitionRequest[] }> = [];
    for (const f of more) {
      let t = topics.find((x) => x.topic === f.topic);
      if (!t) topics.push((t = { topic: f.topic, partitions: [] }));
      t.partitions.push({
        partition: f.partition,
        fetchOffset: String(f.scanned.lastOffset + 1),
        maxBytes: group.maxBytesPerPartition - f.bytes,
      });
    }
    let response: LeanFetchResponse;
    try {
      response = (await send(broker, {
        replicaId: -1,
        maxWaitTime: 0,
        minBytes: 0,
        maxBytes: group.maxBytes,
        isolationLevel: group.isolationLevel,
        topics,
        rackId: group.rackId,
      })) as LeanFetchResponse;
    } catch {
      return;
    }
    let progressed = false;
    for (const { topicName, partitions } of response.responses) {
      for (const data of partitions) {
        const f = more.find((x) => x.topic === topicName && x.partition === data.partition);
        if (!f) continue;
        const next = await scan(data, String(f.scanned.lastOffset + 1));
        if (next.lastOffset < 0) {
          f.bytes = group.maxBytesPerPartition; // nothing more came: stop asking for this partition
          continue;
        }
        f.scanned = mergeScanned(f.scanned, next);
        f.bytes += data.records?.length ?? 0;
        f.highWatermark = data.highWatermark;
        progressed = true;
      }
    }
    if (!progressed) return;
  }
}

/** Sends a Fetch request on the broker's fetch connection with the lean response decoder. */
async function send(broker: BrokerInstance, args: Record<string, unknown>): Promise<unknown> {
  let version = 0;
  const fetch = broker.lookupRequest(apiKeys.Fetch, {
    versions: requests.Fetch.versions,
    protocol: ({ version: v }: { version: number }) => {
      version = v;
      return requests.Fetch.protocol({ version: v });
    },
  });
  const request = fetch(args);
  if (version < 4)
    throw new OptiBidError(
      'OPTIBID_ERR_UPSTREAM',
      `the broker offers Fetch v${version}; the lean fetch path needs v4+ (read_committed)`,
    );
  const lean: ProtocolRequest = {
    ...request,
    response: {
      decode: async (raw: Buffer) => {
        const decoded = decodeFetchResponse(raw, version);
        if (decoded.errorCode !== 0) throw createErrorFromCode(decoded.errorCode);
        return decoded;
      },
      parse: parseFetch,
    },
  };
  return (broker as unknown as Record<symbol, (r: ProtocolRequest) => Promise<unknown>>)[sendRequest!]!.call(
    broker,
    lean,
  );
}
