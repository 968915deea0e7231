import { createRequire } from 'node:module';
import type { Kafka as KafkaClient, Message, PartitionerArgs } from 'kafkajs';
import { OptiBidError } from '../errors.js';
import { cachingPartitioner } from './partitioner.js';
import { sendLeanProduce, type ProduceTopicData } from './lean-produce.js';

/**
 * Direct transactional produce for the kafkajs transport's processors (lean wire path).
 *
 * kafkajs' `transaction.sendBatch` validates and merges the call's message lists, groups them per partition
 * by copying a partition's list for every message (quadratic; see the history in runtime/README.md), builds
 * per-partition topic data and only then produces, one `sendBatch` per ~512 KiB. Here a transaction's
 * encoded messages go out as they are: partitioned in one pass (explicit partition, else the key's partition
 * remembered for the call, else kafkajs' default murmur2 partitioner through `cachingPartitioner`), grouped in
 * linear time, cut into record batches of at most `maxBatchBytes` per partition, packed into as few Produce
 * requests as the broker accepts (one batch per partition per request), each body encoded in one Buffer
 * (`sendLeanProduce`).
 *
 * The transaction itself stays kafkajs': this producer owns a kafkajs `Cluster` (created by the client, as
 * its producers' are) and kafkajs' own transactional `EosManager`, which keeps the producer id and epoch,
 * the sequence number of every partition, the partitions already added to the transaction
 * (AddPartitionsToTxn is sent for new ones before their first Produce), `sendOffsets`, commit and abort.
 * Errors and retries follow kafkajs' `sendMessages`: a failed Produce gives its sequence numbers back, stale
 * metadata and connection errors refresh the metadata and retry, non-retriable errors surface at once;
 * requests that succeeded are not sent again on a retry. One difference: AddPartitionsToTxn answered
 * CONCURRENT_TRANSACTIONS (the previous transaction's markers are still being written, which Kafka 4 answers
 * right after most commits) is retried after 5–80 ms rather than after kafkajs' ~300 ms retry back-off,
 * as Kafka's own Java producer does.
 */

const require = createRequire(import.meta.url);

interface Broker {
  nodeId: number;
}

/** kafkajs 2.2.4 `Cluster` (src/cluster/index.js): only the members used here. */
interface Cluster {
  retry: Record<string, unknown>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  isConnected(): boolean;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findTopicPartitionMetadata(topic: string): PartitionerArgs['partitionMetadata'];
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<Broker>;
  removeBroker(args: { host: string; port: number }): void;
  markOffsetAsCommitted(args: { groupId: string; topic: string; partition: number; offset: string }): void;
  findGroupCoordinator(args: { groupId: string; coordinatorType?: number }): Promise<Broker>;
}

/** kafkajs 2.2.4 `EosManager` (src/producer/eosManager/index.js), transactional. */
interface EosManager {
  getProducerId(): number | string;
  getProducerEpoch(): number;
  initProducerId(): Promise<void>;
  isInitialized(): boolean;
  isInTransaction(): boolean;
  beginTransaction(): void;
  addPartitionsToTransaction(
    topicData: Array<{ topic: string; partitions: Array<{ partition: number }> }>,
  ): Promise<void>;
  getSequence(topic: string, partition: number): number;
  updateSequence(topic: string, partition: number, increment: number): void;
  sendOffsets(args: OffsetsArgs): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  acquireBrokerLock(broker: Broker): Promise<void>;
  releaseBrokerLock(broker: Broker): void;
}

type Retrier = <T>(fn: (bail: (err: Error) => void, retryCount: number, retryTime: number) => Promise<T>) => Promise<T>;

export interface OffsetsArgs {
  consumerGroupId: string;
  topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
}

interface KafkaJsError extends Error {
  type?: string;
  retriable?: boolean;
  host?: string;
  port?: number;
}

const createEosManager = require('kafkajs/src/producer/eosManager/index.js') as (o: {
  logger: unknown;
  cluster: Cluster;
  transactionTimeout?: number;
  transactional: boolean;
  transactionalId: string;
}) => EosManager;
const createRetry = require('kafkajs/src/retry/index.js') as (o: Record<string, unknown>) => Retrier;
const { staleMetadata } = require('kafkajs/src/protocol/error.js') as { staleMetadata: (e: unknown) => boolean };
const { KafkaJSMetadataNotLoaded, KafkaJSNonRetriableError } = require('kafkajs/src/errors.js') as {
  KafkaJSMetadataNotLoaded: new (message: string) => Error;
  KafkaJSNonRetriableError: new (message: string) => Error;
};

/** Largest record batch sent per partition (bytes, estimated generously); the broker's default limit is 1 MiB. */
export const defaultMaxBatchBytes = 512 * 1024;
/** Largest Produce request body (bytes, estimated): partitions beyond it go in the next request. */
export const defaultMaxRequestBytes = 8 * 1024 * 1024;

/** Generous size of a message in a record batch: key, value and headers plus the per-record fields. */
export function estimatedRecordBytes(m: Message): number {
  let n = 40; // length, attributes, timestamp and offset deltas, key and value lengths, header count: at most 36
  const len = (v: unknown) =>
    v === null || v === undefined ? 0 : typeof v === 'string' ? 3 * v.length : ((v as { length?: number }).length ?? 0);
  n += len(m.value) + len(m.key);
  if (m.headers)
    for (const k in m.headers) {
      const v = m.headers[k];
      if (Array.isArray(v)) for (const x of v) n += 16 + len(k) + len(x);
      else n += 16 + len(k) + len(v);
    }
  return n;
}

/** One partition's messages going out as one record batch. */
export interface Piece {
  topic: string;
  partition: number;
  messages: Message[];
  bytes: number;
}

/**
 * Messages per partition (`partitionOf` called once per message, except for string-keyed messages without
 * an explicit partition after their key's first) in their order, each partition's list cut into pieces of
 * at most `maxBatchBytes` (a single larger message gets a piece of its own).
 */
export function piecesOf(
  topic: string,
  messages: readonly Message[],
  partitionOf: (m: Message) => number,
  maxBatchBytes = defaultMaxBatchBytes,
): Piece[] {
  const byPartition = new Map<number, Piece[]>();
  const byKey = new Map<string, number>();
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    let p: number;
    if (m.partition !== undefined && m.partition !== null) p = m.partition;
    else if (typeof m.key === 'string') {
      const known = byKey.get(m.key);
      if (known === undefined) byKey.set(m.key, (p = partitionOf(m)));
      else p = known;
    } else p = partitionOf(m);
    const b = estimatedRecordBytes(m);
    let list = byPartition.get(p);
    if (list === undefined) byPartition.set(p, (list = []));
    let last = list[list.length - 1];
    if (last === undefined || (last.messages.length > 0 && last.bytes + b > maxBatchBytes)) {
      last = { topic, partition: p, messages: [], bytes: 61 };
      list.push(last);
    }
    last.messages.push(m);
    last.bytes += b;
  }
  // Round-major order: every partition's first piece, then every second one, ... (see requestsOf).
  const out: Piece[] = [];
  const lists = [...byPartition.values()];
  for (let round = 0, left = true; left; round++) {
    left = false;
    for (const list of lists)
      if (round < list.length) {
        out.push(list[round]!);
        left = true;
      }
  }
  return out;
}

/**
 * Pieces packed into Produce requests in order: a request holds at most one piece per partition (the broker
 * takes one record batch per partition per request) and about `maxRequestBytes`; a partition's pieces keep
 * their order across requests, so their sequence numbers do.
 */
export function requestsOf(pieces: readonly Piece[], maxRequestBytes = defaultMaxRequestBytes): Piece[][] {
  const out: Piece[][] = [];
  /** Index of the last request holding each partition. */
  const lastOf = new Map<string, number>();
  for (const piece of pieces) {
    const id = `${piece.topic}\u0000${piece.partition}`;
    const after = lastOf.get(id) ?? -1;
    let r = after + 1;
    // The first request after this partition's previous piece with room for it (or a new one).
    while (r < out.length && out[r]!.reduce((a, q) => a + q.bytes, 0) + piece.bytes > maxRequestBytes) r++;
    if (r === out.length) out.push([]);
    out[r]!.push(piece);
    lastOf.set(id, r);
  }
  return out;
}

/** Produce topic data of one request: pieces grouped by topic, with the given first sequences. */
export function topicDataOf(request: readonly Piece[], sequences: readonly number[]): ProduceTopicData[] {
  const byTopic = new Map<string, ProduceTopicData>();
  request.forEach((piece, i) => {
    let t = byTopic.get(piece.topic);
    if (!t) byTopic.set(piece.topic, (t = { topic: piece.topic, partitions: [] }));
    t.partitions.push({ partition: piece.partition, firstSequence: sequences[i]!, messages: piece.messages });
  });
  return [...byTopic.values()];
}

export interface DirectTransaction {
  /** Produces messages (by topic) inside the transaction. */
  send(byTopic: Map<string, Message[]>): Promise<void>;
  /** kafkajs' `sendOffsets`: the consumed offsets commit with the transaction. */
  sendOffsets(args: OffsetsArgs): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isActive(): boolean;
}

export interface DirectProducerOptions {
  transactionalId: string;
  transactionTimeout?: number;
  maxBatchBytes?: number;
  maxRequestBytes?: number;
}

/** The coordinator requests of a transaction; an error from one of them forgets the cached coordinators. */
const coordinatorRequests = ['addPartitionsToTxn', 'addOffsetsToTxn', 'txnOffsetCommit', 'endTxn', 'initProducerId'];

/**
 * kafkajs' `Cluster.findGroupCoordinator` sends a FindCoordinator request every time it is asked, and its
 * EosManager asks before every AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit (group coordinator) and
 * EndTxn: four extra round trips per transaction. On this producer's own cluster the answer is kept per
 * group id and coordinator type, as Kafka's Java client keeps it, until a request to a coordinator fails
 * (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, a closed connection, anything): then every kept answer is
 * forgotten and the retry looks the coordinator up again.
 */
function cacheCoordinators(cluster: Cluster, counters: { coordinatorLookups: number }): void {
  const lookup = cluster.findGroupCoordinator.bind(cluster);
  const known = new Map<string, Broker>();
  const wrapped = new WeakSet<Broker>();
  cluster.findGroupCoordinator = async (args) => {
    const id = `${args.coordinatorType ?? 0}\u0000${args.groupId}`;
    const have = known.get(id);
    if (have) return have;
    counters.coordinatorLookups++;
    const broker = await lookup(args);
    if (!wrapped.has(broker)) {
      wrapped.add(broker);
      const b = broker as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      for (const name of coordinatorRequests) {
        const call = b[name];
        if (typeof call !== 'function') continue;
        b[name] = async (...a: unknown[]) => {
          try {
            return await call.apply(broker, a);
          } catch (err) {
            // CONCURRENT_TRANSACTIONS comes from the right coordinator: keep it.
            if ((err as KafkaJsError).type !== 'CONCURRENT_TRANSACTIONS') known.clear();
            throw err;
          }
        };
      }
    }
    known.set(id, broker);
    return broker;
  };
}

/** Produce requests in flight per broker connection (Kafka allows at most 5 for an idempotent producer). */
const maxInFlightRequests = 5;

/** How often, and after how long, AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS is retried at once. */
const concurrentRetries = [5, 10, 20, 40, 80, 80, 80, 80];

/** A transactional producer sending its encoded messages directly (see above). */
export class DirectProducer {
  private readonly cluster: Cluster;
  private readonly eos: EosManager;
  private readonly retrier: Retrier;
  private readonly partitioner: (args: PartitionerArgs) => number;
  private closing = false;
  /** Test hook: counts of requests sent and CONCURRENT_TRANSACTIONS retries taken. */
  readonly counters = { produceRequests: 0, concurrentRetries: 0, coordinatorLookups: 0 };

  constructor(
    kafka: KafkaClient,
    private readonly options: DirectProducerOptions,
  ) {
    const k = kafka as unknown as Record<symbol, (o: Record<string, unknown>) => Cluster>;
    const create = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
    if (!create || typeof k[create] !== 'function')
      throw new Error('kafkajs internals changed: Kafka createCluster not found (runtime/kafka/direct-produce.ts)');
    // As kafkajs' own producer: its own cluster (connections, metadata), 5-minute metadata age.
    // Up to 5 Produce requests in flight per connection (Kafka's bound for an idempotent producer).
    this.cluster = k[create]!({ metadataMaxAge: 300_000, allowAutoTopicCreation: true, maxInFlightRequests });
    const logger = (kafka.logger() as unknown as { namespace(n: string): unknown }).namespace('Producer');
    this.eos = createEosManager({
      logger,
      cluster: this.cluster,
      transactionTimeout: options.transactionTimeout,
      transactional: true,
      transactionalId: options.transactionalId,
    });
    // An idempotent kafkajs producer retries without bound (retries: MAX_SAFE_INTEGER), with the cluster's back-off.
    this.retrier = createRetry({ ...this.cluster.retry, retries: Number.MAX_SAFE_INTEGER });
    this.partitioner = cachingPartitioner();
    cacheCoordinators(this.cluster, this.counters);
  }

  async connect(): Promise<void> {
    await this.cluster.connect();
    this.closing = false;
  }

  async disconnect(): Promise<void> {
    this.closing = true;
    await this.cluster.disconnect();
  }

  /** Begins a transaction (the first one initialises the producer id, fencing a predecessor with the same id). */
  async transaction(): Promise<DirectTransaction> {
    const eos = this.eos;
    if (eos.isInTransaction())
      throw new KafkaJSNonRetriableError(
        'There is already an ongoing transaction for this producer. Please end the transaction before beginning another.',
      );
    if (!eos.isInitialized()) await eos.initProducerId();
    eos.beginTransaction();
    let ended = false;
    const guard =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
      (...a: A): Promise<R> =>
        !ended && eos.isInTransaction()
          ? fn(...a)
          : Promise.reject(new KafkaJSNonRetriableError('Cannot continue to use transaction once ended'));
    return {
      send: guard((byTopic: Map<string, Message[]>) => this.send(byTopic)),
      sendOffsets: guard(async (args: OffsetsArgs) => {
        await eos.sendOffsets(args);
        for (const { topic, partitions } of args.topics)
          for (const { partition, offset } of partitions)
            this.cluster.markOffsetAsCommitted({ groupId: args.consumerGroupId, topic, partition, offset });
      }),
      commit: guard(async () => {
        await eos.commit();
        ended = true;
      }),
      abort: guard(async () => {
        await eos.abort();
        ended = true;
      }),
      isActive: () => !ended && eos.isInTransaction(),
    };
  }

  private partitionOf(topic: string, partitionMetadata: PartitionerArgs['partitionMetadata']) {
    return (message: Message) => this.partitioner({ topic, partitionMetadata, message });
  }

  private async send(byTopic: Map<string, Message[]>): Promise<void> {
    if (this.closing)
      throw new KafkaJSNonRetriableError(
        `The producer is disconnecting; therefore, it can't safely accept messages anymore`,
      );
    const topics: string[] = [];
    for (const [topic, messages] of byTopic) {
      if (messages.length === 0) continue;
      topics.push(topic);
      for (let i = 0; i < messages.length; i++)
        if (messages[i]!.value === undefined)
          throw new KafkaJSNonRetriableError(`Invalid message without value for topic "${topic}"`);
    }
    if (topics.length === 0) return;
    /** Requests already answered, by broker and index: not sent again when a later one fails and the call retries. */
    const done = new Set<string>();
    const { cluster, eos } = this;
    await this.retrier(async (bail) => {
      try {
        await cluster.addMultipleTargetTopics(topics);
        await cluster.refreshMetadataIfNecessary();
        const byLeader = new Map<string, Piece[]>();
        for (const topic of topics) {
          const partitionMetadata = cluster.findTopicPartitionMetadata(topic);
          if (partitionMetadata.length === 0) throw new KafkaJSMetadataNotLoaded('Producing to topic without metadata');
          const pieces = piecesOf(
            topic,
            byTopic.get(topic)!,
            this.partitionOf(topic, partitionMetadata),
            this.options.maxBatchBytes,
          );
          const leaders = cluster.findLeaderForPartitions(topic, [...new Set(pieces.map((p) => p.partition))]);
          const leaderOf = new Map<number, string>();
          for (const [node, ps] of Object.entries(leaders)) for (const p of ps) leaderOf.set(p, node);
          for (const piece of pieces) {
            const node = leaderOf.get(piece.partition);
            // kafkajs drops messages of a partition the metadata does not know; here it is an error.
            if (node === undefined)
              throw new OptiBidError(
                'OPTIBID_ERR_UPSTREAM',
                `cannot produce to ${topic}[${piece.partition}]: the topic has no such partition`,
              );
            let list = byLeader.get(node);
            if (!list) byLeader.set(node, (list = []));
            list.push(piece);
          }
        }
        await Promise.all(
          [...byLeader].map(async ([node, pieces]) => {
            const broker = await cluster.findBroker({ nodeId: node });
            const requests = requestsOf(pieces, this.options.maxRequestBytes);
            await eos.acquireBrokerLock(broker);
            try {
              await this.addPartitions(pieces);
              const todo = requests.flatMap((request, r) => (done.has(`${node}/${r}`) ? [] : [{ request, r }]));
              const failed = await this.produceAll(
                broker,
                todo.map((t) => t.request),
              );
              todo.forEach((t, i) => {
                if (failed.index === undefined || i < failed.index) done.add(`${node}/${t.r}`);
              });
              if (failed.error !== undefined) throw failed.error;
            } finally {
              eos.releaseBrokerLock(broker);
            }
          }),
        );
      } catch (err) {
        // As kafkajs' sendMessages: reconnect or refresh metadata and retry what is retriable; bail on the rest.
        const e = err as KafkaJsError;
        if (e.name === 'KafkaJSConnectionClosedError') cluster.removeBroker({ host: e.host!, port: e.port! });
        if (!cluster.isConnected()) {
          await cluster.connect();
          await cluster.refreshMetadata();
          throw e;
        }
        if (
          staleMetadata(e) ||
          e.name === 'KafkaJSMetadataNotLoaded' ||
          e.name === 'KafkaJSConnectionError' ||
          e.name === 'KafkaJSConnectionClosedError' ||
          (e.name === 'KafkaJSProtocolError' && e.retriable)
        ) {
          await cluster.refreshMetadata();
          throw e;
        }
        if (e.retriable === true) throw e;
        bail(e);
      }
    });
  }

  /** AddPartitionsToTxn for the pieces' partitions not yet in the transaction (kafkajs' EosManager keeps track). */
  private async addPartitions(pieces: readonly Piece[]): Promise<void> {
    const byTopic = new Map<string, Set<number>>();
    for (const p of pieces) {
      let s = byTopic.get(p.topic);
      if (!s) byTopic.set(p.topic, (s = new Set()));
      s.add(p.partition);
    }
    const topicData = [...byTopic].map(([topic, ps]) => ({
      topic,
      partitions: [...ps].map((partition) => ({ partition })),
    }));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.eos.addPartitionsToTransaction(topicData);
        return;
      } catch (err) {
        if ((err as KafkaJsError).type !== 'CONCURRENT_TRANSACTIONS' || attempt >= concurrentRetries.length) throw err;
        this.counters.concurrentRetries++;
        await new Promise((r) => setTimeout(r, concurrentRetries[attempt]));
      }
    }
  }

  /**
   * A broker's Produce requests, pipelined: sequence numbers taken from the EosManager in request order, every
   * request sent at once (the connection keeps their order and at most `maxInFlightRequests` in flight), so
   * the encoding of one overlaps the broker's append of the one before. Returns the first failed request
   * (index and error) after all have settled: it and every request after it gave their sequence numbers back
   * (the broker rejects a sequence after a gap, so nothing after a failure was appended), the ones before it
   * count as sent. A later request that succeeded anyway means the failed one was appended (an answer lost,
   * not a write): then it counts as sent too.
   */
  private async produceAll(
    broker: Broker,
    requests: ReadonlyArray<readonly Piece[]>,
  ): Promise<{ index?: number; error?: unknown }> {
    const eos = this.eos;
    const sent = requests.map((request) => {
      const sequences = request.map((piece) => {
        const s = eos.getSequence(piece.topic, piece.partition);
        eos.updateSequence(piece.topic, piece.partition, piece.messages.length);
        return s;
      });
      this.counters.produceRequests++;
      return sendLeanProduce(broker, {
        transactionalId: this.options.transactionalId,
        producerId: eos.getProducerId(),
        producerEpoch: eos.getProducerEpoch(),
        acks: -1,
        timeout: 30000,
        compression: 0,
        topicData: topicDataOf(request, sequences),
      });
    });
    const results = await Promise.allSettled(sent);
    const lastOk = results.map((r) => r.status).lastIndexOf('fulfilled');
    const index = results.findIndex((r, i) => r.status === 'rejected' && i > lastOk);
    if (index < 0) return {};
    for (let i = requests.length - 1; i >= index; i--)
      for (const piece of requests[i]!) eos.updateSequence(piece.topic, piece.partition, -piece.messages.length);
    return { index, error: (results[index] as PromiseRejectedResult).reason };
  }
}
