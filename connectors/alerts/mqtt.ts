import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { Type } from '@sinclair/typebox';
import { defineSink, endpointsFromEnv } from '@optibid/runtime';
import type { StreamRecord } from '@optibid/runtime';
import type { AlertEvent } from '@optibid/schemas';
import { deliveryId } from './alert.js';
import { channelSink, deliveryOptions } from './channel.js';
import type { AlertChannel, DeliveryConfig } from './channel.js';
import { DeliveryError } from './retry.js';

/** Fills `{severity}`, `{state}`, `{rule}`, `{alertId}`, `{resource}` in a topic; values lose MQTT wildcards and slashes. */
export function alertTopic(template: string, a: AlertEvent): string {
  const fields: Record<string, string> = {
    severity: a.severity,
    state: a.state,
    rule: a.rule,
    alertId: a.alertId,
    resource: a.resource,
  };
  return template.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in fields ? (fields[name] || '_').replace(/[+#/]/g, '_').replaceAll(String.fromCharCode(0), '_') : m,
  );
}

export interface MqttPublishConfig extends DeliveryConfig {
  url?: string;
  topic?: string;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  clientId?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

/** Publishes each alert as JSON to an MQTT topic (QoS 1 by default: resolved once the broker acknowledged). */
export class MqttPublishChannel implements AlertChannel {
  readonly whenExhausted = 'pause' as const;
  readonly describe: string;
  private client: MqttClient | undefined;

  constructor(
    private readonly cfg: MqttPublishConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.describe = `mqtt ${cfg.topic ?? 'optibid/alerts/{severity}/{rule}'}`;
  }

  async connect(): Promise<void> {
    if (this.client?.connected) return;
    this.client?.end(true);
    this.client = await mqtt.connectAsync(this.cfg.url ?? endpointsFromEnv(this.env).mqttUrl, {
      clientId: this.cfg.clientId ?? `optibid-alerts-${Math.random().toString(16).slice(2, 10)}`,
      username: this.cfg.username,
      password: this.cfg.password,
      connectTimeout: this.cfg.timeoutMs ?? 10_000,
      reconnectPeriod: 1000,
      // while disconnected, fail fast instead of queueing: the sink retries and pauses the pipeline
      queueQoSZero: false,
    });
  }

  async send(alert: AlertEvent, record: StreamRecord): Promise<void> {
    const client = this.client;
    if (!client?.connected) throw new DeliveryError('MQTT broker not connected', true);
    const payload = JSON.stringify({
      deliveryId: deliveryId(alert),
      alert,
      source: { topic: record.topic, partition: record.partition, offset: record.offset },
    });
    const timeout = this.cfg.timeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.publishAsync(alertTopic(this.cfg.topic ?? 'optibid/alerts/{severity}/{rule}', alert), payload, {
          qos: this.cfg.qos ?? 1,
          retain: this.cfg.retain ?? false,
        }),
        new Promise(
          (_, reject) => (timer = setTimeout(() => reject(new Error(`no acknowledgement in ${timeout} ms`)), timeout)),
        ),
      ]);
    } catch (err) {
      throw new DeliveryError(`MQTT publish: ${(err as Error).message}`, true, undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.endAsync();
  }
}

export const mqttPublishConfig = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        description: 'Broker URL, mqtt:// or mqtts:// (default: OPTIBID_MQTT_URL, else the local Mosquitto)',
      }),
    ),
    topic: Type.String({
      default: 'optibid/alerts/{severity}/{rule}',
      description: 'Topic; {severity}, {state}, {rule}, {alertId} and {resource} are filled from the alert',
    }),
    qos: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], {
      default: 1,
      description: 'MQTT QoS of each publish',
    }),
    retain: Type.Boolean({ default: false, description: 'Publish with the retain flag' }),
    clientId: Type.Optional(Type.String({ description: 'MQTT client id (default: random)' })),
    username: Type.Optional(Type.String({ description: 'Broker user' })),
    password: Type.Optional(Type.String({ description: 'Broker password', secret: true })),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Connect and acknowledgement timeout' }),
    ...deliveryOptions,
  },
  { additionalProperties: false },
);

/** The `mqtt-publish` alert channel. */
export const mqttPublishSink = defineSink({
  name: 'mqtt-publish',
  status: 'beta',
  summary: 'Publishes alerts as JSON to an MQTT topic (per severity/rule), with retries, rate limit and dedup',
  config: mqttPublishConfig,
  create: (config, ctx) => channelSink(new MqttPublishChannel(config, ctx.env), config, ctx),
});
