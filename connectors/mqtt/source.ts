import { createHash } from 'node:crypto';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { Type, type Static } from '@sinclair/typebox';
import {
  defineSource,
  EndOfInput,
  endpointsFromEnv,
  NotConnected,
  OptiBidError,
  toDeadLetter,
  type ComponentContext,
  type OutRecord,
  type Source,
  type SourceBatch,
} from '@optibid/runtime';
import { toOutRecord } from '../common/records.js';
import { makeDecoder, MalformedPayload, type MqttDecoder } from './decoders/index.js';
import { topicMatches } from './topic-filter.js';
import { credentialOptions, fatalConnectError, shownUrl } from './connection.js';

export const mqttConfig = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        description: 'Broker URL (mqtt://, mqtts://, ws://); default OPTIBID_MQTT_URL or mqtt://127.0.0.1:1883.',
      }),
    ),
    topics: Type.Array(
      Type.Object(
        {
          filter: Type.String({
            description: 'Topic filter, wildcards allowed: sites/+/telemetry, tele/#, spBv1.0/plant/#.',
          }),
          qos: Type.Optional(
            Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], {
              default: 1,
              description: 'Subscription QoS.',
            }),
          ),
          decoder: Type.Union(
            [
              Type.Literal('json'),
              Type.Literal('tasmota'),
              Type.Literal('shelly'),
              Type.Literal('victron'),
              Type.Literal('sparkplug'),
            ],
            { description: 'Payload decoder for this filter.' },
          ),
          mapping: Type.Optional(
            Type.String({
              description:
                'JSONata mapping (json decoder): payload → {assetId, metric, value, unit, observedAt?} or an array of them; $topic and $levels are bound.',
            }),
          ),
          timeZone: Type.Optional(Type.String({ description: 'IANA zone of device-local timestamps (tasmota).' })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, description: 'Subscriptions; a message is decoded by the first filter it matches.' },
    ),
    topic: Type.Optional(
      Type.String({
        default: 'telemetry.readings',
        description:
          "Topic the decoded readings go to (per-site or per-run topics); list it in the source's outputs when it is not telemetry.readings.",
      }),
    ),
    clientId: Type.Optional(
      Type.String({
        description:
          'Client id; give a stable one with cleanSession false so the broker keeps the session (subscriptions and queued QoS 1/2 messages) while OptiBid is away.',
      }),
    ),
    cleanSession: Type.Optional(
      Type.Boolean({ default: false, description: 'false: persistent session (needs a stable clientId).' }),
    ),
    usernameEnv: Type.Optional(Type.String({ description: 'Environment variable holding the username.' })),
    passwordEnv: Type.Optional(Type.String({ description: 'Environment variable holding the password (secret).' })),
    tls: Type.Optional(
      Type.Object(
        {
          caFile: Type.Optional(Type.String({ description: 'PEM file of the CA that signed the broker certificate.' })),
          certFile: Type.Optional(Type.String({ description: 'Client certificate (PEM) for mutual TLS.' })),
          keyFile: Type.Optional(Type.String({ description: 'Client key (PEM) for mutual TLS.' })),
          rejectUnauthorized: Type.Optional(
            Type.Boolean({ default: true, description: 'Verify the broker certificate.' }),
          ),
        },
        { additionalProperties: false, description: 'TLS settings (use an mqtts:// URL).' },
      ),
    ),
    maxPayloadBytes: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 262144,
        description: 'Larger payloads go to the dead-letter topic as oversized.',
      }),
    ),
    deadLetterTopic: Type.Optional(
      Type.String({
        default: 'dlq.mqtt',
        description: 'Where malformed payloads go, with headers naming the MQTT topic and the reason.',
      }),
    ),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, default: 500, description: 'Most messages per batch.' })),
    maxBuffered: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 10000,
        description: 'Messages buffered before reading from the broker pauses (back-pressure).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type MqttConfig = Static<typeof mqttConfig>;

interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
  receivedAt: number;
}

/** How many (topic, packet id, payload) of QoS 1/2 deliveries are remembered to drop redeliveries. */
const DEDUP_WINDOW = 10_000;

/**
 * MQTT telemetry source: subscribes with wildcards at QoS 0/1/2 on a persistent session (stable
 * clientId, cleanSession false), decodes each message with the decoder of the first matching filter
 * and emits telemetry.readings. A QoS 1/2 redelivery (DUP flag, same packet id, topic and payload as a
 * message already taken) is dropped. Malformed payloads (invalid JSON, nan, wrong types, oversized,
 * unknown Sparkplug aliases) go to the dead-letter topic with the MQTT topic and the reason; the
 * source keeps running. Acknowledgements are sent when a message is buffered (the MQTT client library
 * acknowledges in order, one at a time, so holding them until Kafka confirms would serialise the
 * stream); buffering pauses at `maxBuffered` messages.
 */
export class MqttSource implements Source {
  private client?: MqttClient;
  private readonly buffer: Received[] = [];
  private waiter?: () => void;
  private resumeReading?: () => void;
  private readonly decoders: { filter: string; decoder: MqttDecoder }[];
  private readonly seen = new Set<string>();
  private lastError?: Error;
  /** A connection failure waiting cannot fix (credentials, certificates), thrown by the next read. */
  private fatal?: OptiBidError;
  readonly stats = { received: 0, duplicates: 0, deadLettered: 0, readings: 0 };
  /** Protocol events from decoders (Sparkplug births, deaths, sequence gaps), newest last. */
  readonly events: string[] = [];

  constructor(
    private readonly cfg: MqttConfig,
    private readonly ctx: ComponentContext,
  ) {
    this.decoders = cfg.topics.map((t) => ({
      filter: t.filter,
      decoder: makeDecoder(t.decoder, { mapping: t.mapping, timeZone: t.timeZone }),
    }));
    if (cfg.cleanSession === false && !cfg.clientId) {
      // A persistent session is keyed by the client id: a random one would leave orphan sessions behind.
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        'mqtt: a persistent session (cleanSession false) needs a stable clientId',
      );
    }
  }

  private options(url: string): IClientOptions {
    return {
      clientId: this.cfg.clientId ?? `optibid-${this.ctx.name}-${Math.random().toString(36).slice(2, 10)}`,
      clean: this.cfg.cleanSession ?? !this.cfg.clientId,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      resubscribe: true,
      protocolVersion: 4,
      ...credentialOptions(this.cfg, this.ctx.env, url),
    };
  }

  /**
   * Connects and subscribes. Settings that waiting cannot fix fail at once with OPTIBID_ERR_CONFIG
   * (missing or unreadable TLS files, credentials refused by the broker, an untrusted broker certificate,
   * a refused client certificate, a subscription the broker's ACL denies), so the runtime stops instead
   * of retrying; an unreachable broker is NotConnected after 10 s and retried. Messages and logs show the
   * URL without a password, never a secret.
   */
  async connect(): Promise<void> {
    await this.dropClient();
    this.fatal = undefined;
    this.lastError = undefined;
    const url = this.cfg.url ?? endpointsFromEnv(this.ctx.env).mqttUrl;
    const shown = shownUrl(url);
    const options = this.options(url);
    if (options.rejectUnauthorized === false)
      this.ctx.logger.warn(
        { url: shown },
        'mqtt: tls.rejectUnauthorized is false: the broker certificate is not verified',
      );
    const client = mqtt.connect(url, options);
    // Called for every PUBLISH in order; calling back lets the client acknowledge it and read the next.
    client.handleMessage = (packet, callback) => {
      this.take(packet);
      if (this.buffer.length < (this.cfg.maxBuffered ?? 10000)) callback();
      else this.resumeReading = () => callback();
    };
    this.client = client;
    let connected = false;
    let failConnect: ((err: Error) => void) | undefined;
    client.on('error', (err) => {
      const fatal = fatalConnectError(err, this.cfg, url);
      if (!fatal) {
        this.lastError = err;
        this.ctx.logger.warn({ url: shown, err: err.message }, 'mqtt client error');
        return;
      }
      // mqtt.js stops reconnecting after a refused CONNACK but retries TLS failures forever: stop it here,
      // and let the waiting read (or connect) throw instead of hanging or looping.
      client.end(true);
      if (this.fatal) return;
      this.fatal = fatal;
      if (connected) this.ctx.logger.error({ url: shown, code: fatal.code }, fatal.message);
      failConnect?.(fatal);
      this.waiter?.();
    });
    client.on('offline', () => {
      if (!this.fatal) this.ctx.logger.warn({ url: shown }, 'mqtt broker unreachable; reconnecting');
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end(true);
        reject(
          new NotConnected(
            `mqtt: could not connect to ${shown} within 10 s${this.lastError ? ` (${this.lastError.message})` : ''}`,
          ),
        );
      }, 10_000);
      failConnect = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    connected = true;
    failConnect = undefined;
    const granted = await client.subscribeAsync(
      Object.fromEntries(this.cfg.topics.map((t) => [t.filter, { qos: t.qos ?? 1 }])),
    );
    const refused = granted.filter((g) => g.qos === 128);
    if (refused.length) {
      // An ACL that denies a filter does not change by waiting: stop rather than retry.
      await this.dropClient();
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `mqtt: the broker ${shown} refused the subscription to ${refused.map((g) => g.topic).join(', ')}: not authorized for ${refused.length > 1 ? 'these filters' : 'this filter'} (check the broker's ACL for this user, or the topics)`,
        { context: { service: shown } },
      );
    }
  }

  /** Ends the client of an earlier connect (the runtime calls connect again after NotConnected). */
  private async dropClient(): Promise<void> {
    const old = this.client;
    this.client = undefined;
    await old?.endAsync(true).catch(() => {});
  }

  /** Takes one PUBLISH into the buffer, dropping QoS 1/2 redeliveries of messages already taken. */
  take(packet: IPublishPacket): void {
    this.stats.received++;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (packet.qos > 0 && packet.messageId !== undefined) {
      const key = `${packet.topic}\u0000${packet.messageId}\u0000${createHash('sha1').update(payload).digest('base64url')}`;
      if (packet.dup && this.seen.has(key)) {
        this.stats.duplicates++;
        return;
      }
      this.seen.add(key);
      if (this.seen.size > DEDUP_WINDOW) this.seen.delete(this.seen.values().next().value!);
    }
    this.buffer.push({ topic: packet.topic, payload, packet, receivedAt: this.ctx.clock.now() });
    this.waiter?.();
  }

  private deadLetter(m: Received, reason: string, err: unknown): OutRecord {
    this.stats.deadLettered++;
    const shown =
      m.payload.length > 4096 ? `${m.payload.subarray(0, 4096).toString('utf8')}…` : m.payload.toString('utf8');
    const rec: OutRecord = {
      topic: m.topic,
      key: m.topic,
      value: shown,
      timestamp: m.receivedAt,
      headers: { 'mqtt-topic': m.topic, 'mqtt-qos': String(m.packet.qos) },
    };
    const dl = toDeadLetter(this.cfg.deadLetterTopic ?? 'dlq.mqtt', rec, this.ctx.name, err);
    dl.headers!.reason = reason;
    return dl;
  }

  private async decode(m: Received): Promise<OutRecord[]> {
    const max = this.cfg.maxPayloadBytes ?? 262144;
    if (m.payload.length > max) {
      const reason = `oversized payload: ${m.payload.length} bytes (limit ${max})`;
      return [this.deadLetter(m, reason, new MalformedPayload(m.topic, reason))];
    }
    const entry = this.decoders.find((d) => topicMatches(d.filter, m.topic));
    if (!entry)
      return [
        this.deadLetter(
          m,
          'no subscription filter matches the topic',
          new MalformedPayload(m.topic, 'no subscription filter matches the topic'),
        ),
      ];
    try {
      const res = await entry.decoder.decode({ topic: m.topic, payload: m.payload, receivedAt: m.receivedAt });
      for (const e of res.events ?? []) {
        this.events.push(e);
        if (/gap|repeated/.test(e)) this.ctx.logger.warn({ topic: m.topic }, e);
      }
      if (this.events.length > 1000) this.events.splice(0, this.events.length - 1000);
      this.stats.readings += res.readings.length;
      const topic = this.cfg.topic ?? 'telemetry.readings';
      return res.readings.map((r) => ({
        ...toOutRecord({ topic: 'telemetry.readings', value: r }, { 'mqtt-topic': m.topic }),
        topic,
      }));
    } catch (err) {
      if (err instanceof MalformedPayload) return [this.deadLetter(m, err.reason, err)];
      throw err;
    }
  }

  async read(): Promise<SourceBatch> {
    while (this.buffer.length === 0) {
      if (this.fatal) throw this.fatal;
      if (!this.client) throw new NotConnected('mqtt: not connected');
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        this.waiter = () => {
          this.ctx.signal.removeEventListener('abort', onAbort);
          resolve();
        };
        this.ctx.signal.addEventListener('abort', onAbort, { once: true });
      });
      this.waiter = undefined;
      if (this.ctx.signal.aborted && this.buffer.length === 0) throw new EndOfInput();
      if (this.fatal && this.buffer.length === 0) throw this.fatal;
    }
    const taken = this.buffer.splice(0, this.cfg.batchSize ?? 500);
    const resume = this.resumeReading;
    this.resumeReading = undefined;
    resume?.();
    const records: OutRecord[] = [];
    for (const m of taken) records.push(...(await this.decode(m)));
    return { records, ack: async () => {} };
  }

  async close(): Promise<void> {
    this.resumeReading?.();
    await this.client?.endAsync();
    this.client = undefined;
    this.waiter?.();
  }

  /** Test hook: the underlying client (to cut the connection). */
  get mqttClient(): MqttClient | undefined {
    return this.client;
  }
}

export const mqttSource = defineSource({
  name: 'mqtt',
  status: 'beta',
  summary:
    'MQTT telemetry (JSON via JSONata, Tasmota, Shelly Gen2, Victron Venus, Sparkplug B) with wildcards, QoS 0/1/2, persistent sessions, TLS and a dead-letter path.',
  outputs: ['telemetry.readings'],
  config: mqttConfig,
  create: (cfg, ctx) => new MqttSource(cfg, ctx),
});
