import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { ensureCompactedTopic } from '@optibid/runtime';
import { RegistryError } from './errors.js';
import { RegistryState, keyText } from './state.js';
import type { LogRecord, RegistryStore } from './store.js';

export interface KafkaStoreOptions {
  brokers: string[];
  /** Default `_schemas`, as Confluent's. */
  topic?: string;
  /** How long a sync or append may wait for the log (default 30 s). */
  timeoutMs?: number;
  clientId?: string;
}

/**
 * The registry log in a compacted, single-partition Kafka topic. Every instance reads the whole
 * topic from the beginning with its own consumer group (no offsets committed) and applies each
 * record to its state; writes are appended and waited for until read back, so the log order, not
 * the writer, decides ids and versions, and two instances on one topic agree.
 */
export class KafkaStore implements RegistryStore {
  readonly state = new RegistryState();
  readonly description: string;
  private readonly topic: string;
  private readonly timeoutMs: number;
  private readonly kafka: Kafka;
  private admin?: Admin;
  private producer?: Producer;
  private consumer?: Consumer;
  /** Offset after the last record applied. */
  private appliedUpTo = 0;
  private waiters: { upTo: number; resolve: () => void }[] = [];
  private readonly tombstoned = new Set<string>();
  private failure?: Error;

  constructor(private readonly opts: KafkaStoreOptions) {
    this.topic = opts.topic ?? '_schemas';
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.description = `kafka topic ${this.topic} on ${opts.brokers.join(',')}`;
    this.kafka = new Kafka({
      clientId: opts.clientId ?? 'optibid-registry',
      brokers: opts.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 200 },
    });
  }

  async start(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    // Right after a broker (re)start its partitions may have no leader yet: retriable, so wait for it.
    await retryWhileRetriable(() => this.ensureTopic(), this.timeoutMs);
    this.producer = this.kafka.producer({ maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await this.producer.connect();
    this.consumer = this.kafka.consumer({
      groupId: `optibid-registry-${randomUUID()}`,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      // kafkajs restarts the consumer itself after a retriable error (e.g. the group coordinator still
      // loading right after the broker started); only a crash it gives up on is the registry's failure.
      if (e.payload.restart) return;
      this.failure = new Error(`registry log consumer crashed: ${String(e.payload.error)}`);
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          this.state.apply(offset, m.key?.toString('utf8') ?? '', m.value === null ? null : m.value.toString('utf8'));
          this.appliedUpTo = offset + 1;
        }
        if (batch.messages.length > 0) this.appliedUpTo = Math.max(this.appliedUpTo, Number(batch.lastOffset()) + 1);
        this.wake();
        this.cleanRejected();
      },
    });
    await this.sync();
  }

  private async ensureTopic(): Promise<void> {
    const admin = this.admin!;
    await ensureCompactedTopic(admin, this.topic);
    const meta = await admin.fetchTopicMetadata({ topics: [this.topic] });
    const partitions = meta.topics[0]?.partitions.length ?? 0;
    if (partitions !== 1) {
      throw RegistryError.storeError(
        `topic ${this.topic} has ${partitions} partitions; the registry log needs exactly 1 (delete it or use --topic)`,
      );
    }
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => this.appliedUpTo >= w.upTo);
    this.waiters = this.waiters.filter((w) => this.appliedUpTo < w.upTo);
    for (const w of ready) w.resolve();
  }

  /** Tombstones rejected registration attempts so compaction cannot bring them back. */
  private cleanRejected(): void {
    const keys = [...this.state.rejectedKeys].filter((k) => !this.tombstoned.has(k));
    if (keys.length === 0 || !this.producer) return;
    for (const k of keys) this.tombstoned.add(k);
    this.producer
      .send({ topic: this.topic, acks: -1, messages: keys.map((key) => ({ key, value: null })) })
      .catch(() => {
        for (const k of keys) this.tombstoned.delete(k);
      });
  }

  private waitApplied(upTo: number, what: string): Promise<void> {
    if (this.failure) return Promise.reject(RegistryError.storeError(this.failure.message));
    if (this.appliedUpTo >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { upTo, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          RegistryError.storeTimeout(`timed out after ${this.timeoutMs} ms waiting for ${what} in ${this.description}`),
        );
      }, this.timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async sync(): Promise<void> {
    const offsets = await retryWhileRetriable(() => this.admin!.fetchTopicOffsets(this.topic), this.timeoutMs);
    const high = Number(offsets[0]?.high ?? 0);
    await this.waitApplied(high, `the log to be read up to offset ${high}`);
  }

  async append(records: LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const [meta] = await this.producer!.send({
      topic: this.topic,
      acks: -1,
      messages: records.map((r) => ({ key: keyText(r.key), value: r.value === null ? null : JSON.stringify(r.value) })),
    });
    const last = Number(meta!.baseOffset) + records.length - 1;
    await this.waitApplied(last + 1, `offset ${last} to be read back`);
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }
}

/** True for a Kafka error the broker may stop returning on its own (no leader yet, coordinator loading, ...). */
export function isRetriableKafkaError(err: unknown): boolean {
  for (let e = err as { retriable?: boolean; cause?: unknown; originalError?: unknown } | undefined; e;) {
    if (e.retriable === true) return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
}

/**
 * Runs `fn` again while it fails with a retriable Kafka error (backing off from 250 ms to 2 s) until
 * `timeoutMs` has passed; any other error, or the last one after the time is up, is thrown.
 */
export async function retryWhileRetriable<T>(
  fn: () => Promise<T>,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => number = Date.now,
): Promise<T> {
  const deadline = now() + timeoutMs;
  for (let wait = 250; ; wait = Math.min(2000, wait * 2)) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriableKafkaError(err) || now() + wait > deadline) throw err;
      await sleep(wait);
    }
  }
}
