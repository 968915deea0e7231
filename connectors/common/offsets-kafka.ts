import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { endpointsFromEnv, ensureCompactedTopic, OptiBidError } from '@optibid/runtime';
import type { OffsetStore, WindowOffset } from './offsets.js';

export interface KafkaOffsetStoreOptions {
  env?: NodeJS.ProcessEnv;
  brokers?: string[];
  /** Compacted topic holding the offsets (default `_optibid.source-offsets`). */
  topic?: string;
  /** How long `load` may take to read the topic to its end, ms (default 30000). */
  loadTimeoutMs?: number;
}

/**
 * Source offsets in a compacted Kafka topic, as Kafka Connect keeps them: key `<source>\u0000<window>`,
 * value the JSON offset. `load` reads the topic from the beginning up to its end offsets; compaction
 * keeps only the latest offset per window.
 */
export class KafkaOffsetStore implements OffsetStore {
  private readonly kafka: Kafka;
  private readonly topic: string;
  private producer?: Producer;
  private admin?: Admin;

  constructor(private readonly opts: KafkaOffsetStoreOptions = {}) {
    const brokers = opts.brokers ?? endpointsFromEnv(opts.env).kafkaBrokers;
    this.kafka = new Kafka({ clientId: 'optibid-source-offsets', brokers, logLevel: logLevel.NOTHING });
    this.topic = opts.topic ?? '_optibid.source-offsets';
  }

  private async ensureTopic(): Promise<void> {
    this.admin ??= this.kafka.admin();
    await this.admin.connect();
    await ensureCompactedTopic(this.admin, this.topic);
  }

  async load(source: string): Promise<Map<string, WindowOffset>> {
    const out = new Map<string, WindowOffset>();
    try {
      await this.ensureTopic();
      const ends = await this.admin!.fetchTopicOffsets(this.topic);
      const pending = new Map(
        ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]),
      );
      if (pending.size === 0) return out;
      const consumer = this.kafka.consumer({ groupId: `optibid-offsets-reader-${process.pid}-${Date.now()}` });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: this.topic, fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () =>
              reject(
                new OptiBidError(
                  'OPTIBID_ERR_TIMEOUT',
                  `reading source offsets from ${this.topic} took over ${this.opts.loadTimeoutMs ?? 30000} ms`,
                  { retriable: true },
                ),
              ),
            this.opts.loadTimeoutMs ?? 30000,
          );
          consumer
            .run({
              eachMessage: async ({ partition, message }) => {
                const key = message.key?.toString() ?? '';
                const sep = key.indexOf('\u0000');
                if (sep > 0 && key.slice(0, sep) === source) {
                  const window = key.slice(sep + 1);
                  if (message.value === null) out.delete(window);
                  else out.set(window, JSON.parse(message.value.toString()) as WindowOffset);
                }
                if (Number(message.offset) + 1 >= (pending.get(partition) ?? 0)) pending.delete(partition);
                if (pending.size === 0) {
                  clearTimeout(timer);
                  resolve();
                }
              },
            })
            .catch(reject);
        });
      } finally {
        await consumer.disconnect();
      }
      return out;
    } catch (err) {
      if (err instanceof OptiBidError) throw err;
      throw new OptiBidError(
        'OPTIBID_ERR_NETWORK',
        `cannot read source offsets from Kafka topic ${this.topic}: ${(err as Error).message}`,
        { retriable: true, cause: err },
      );
    }
  }

  async save(source: string, window: string, offset: WindowOffset): Promise<void> {
    if (!this.producer) {
      this.producer = this.kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
      await this.producer.connect();
    }
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key: `${source}\u0000${window}`, value: JSON.stringify(offset) }],
    });
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    this.producer = undefined;
    this.admin = undefined;
  }
}
