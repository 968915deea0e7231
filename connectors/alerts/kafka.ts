import { Kafka, logLevel } from 'kafkajs';
import type { Producer } from 'kafkajs';
import { Type } from '@sinclair/typebox';
import { defineSink, endpointsFromEnv } from '@optibid/runtime';
import type { StreamRecord } from '@optibid/runtime';
import type { AlertEvent } from '@optibid/schemas';
import { deliveryId } from './alert.js';
import { channelSink, deliveryOptions } from './channel.js';
import type { AlertChannel, DeliveryConfig } from './channel.js';
import { DeliveryError } from './retry.js';

export interface KafkaAlertsConfig extends DeliveryConfig {
  topic: string;
  brokers?: string[];
  clientId?: string;
  timeoutMs?: number;
}

/**
 * Produces each alert as a JSON message keyed by alertId (so one alert's FIRING and RESOLVED stay
 * ordered on one partition), acknowledged by all in-sync replicas.
 */
export class KafkaAlertsChannel implements AlertChannel {
  readonly whenExhausted = 'pause' as const;
  readonly describe: string;
  private producer: Producer | undefined;
  private connected = false;

  constructor(
    private readonly cfg: KafkaAlertsConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.describe = `kafka ${cfg.topic}`;
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    if (!this.producer) {
      const kafka = new Kafka({
        clientId: this.cfg.clientId ?? 'optibid-alerts',
        brokers: this.cfg.brokers ?? endpointsFromEnv(this.env).kafkaBrokers,
        connectionTimeout: this.cfg.timeoutMs ?? 10_000,
        logLevel: logLevel.NOTHING,
        retry: { retries: 2 },
      });
      this.producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1 });
      this.producer.on(this.producer.events.DISCONNECT, () => (this.connected = false));
    }
    await this.producer.connect();
    this.connected = true;
  }

  async send(alert: AlertEvent, record: StreamRecord): Promise<void> {
    if (!this.producer || !this.connected)
      await this.connect().catch((err: Error) => Promise.reject(new DeliveryError(`Kafka: ${err.message}`, true)));
    try {
      await this.producer!.send({
        topic: this.cfg.topic,
        acks: -1,
        timeout: this.cfg.timeoutMs ?? 10_000,
        messages: [
          {
            key: alert.alertId,
            value: JSON.stringify(alert),
            timestamp: String(alert.occurredAt),
            headers: {
              'delivery-id': deliveryId(alert),
              'content-type': 'application/json',
              'source-topic': record.topic,
              ...(record.offset !== undefined ? { 'source-offset': record.offset } : {}),
            },
          },
        ],
      });
    } catch (err) {
      const retriable = (err as { retriable?: boolean }).retriable !== false;
      throw new DeliveryError(`Kafka produce to ${this.cfg.topic}: ${(err as Error).message}`, retriable, undefined, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    this.connected = false;
    await this.producer?.disconnect();
  }
}

export const kafkaAlertsConfig = Type.Object(
  {
    topic: Type.String({
      minLength: 1,
      description: 'Topic the alerts are produced to (JSON values, keyed by alertId)',
    }),
    brokers: Type.Optional(
      Type.Array(Type.String(), {
        description: 'Bootstrap servers (default: OPTIBID_KAFKA_BROKERS, else the local Kafka)',
      }),
    ),
    clientId: Type.Optional(Type.String({ description: 'Kafka client id' })),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Connect and produce timeout' }),
    ...deliveryOptions,
  },
  { additionalProperties: false },
);

/** The `kafka-alerts` alert channel. */
export const kafkaAlertsSink = defineSink({
  name: 'kafka-alerts',
  status: 'beta',
  summary: 'Produces alerts as JSON to a Kafka topic for systems that consume them, with retries, rate limit and dedup',
  config: kafkaAlertsConfig,
  create: (config, ctx) => channelSink(new KafkaAlertsChannel(config, ctx.env), config, ctx),
});
