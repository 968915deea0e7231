import { createHmac, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { defineSink, systemClock } from '@optibid/runtime';
import type { Clock, StreamRecord } from '@optibid/runtime';
import type { AlertEvent } from '@optibid/schemas';
import { deliveryId } from './alert.js';
import { channelSink, deliveryOptions } from './channel.js';
import type { AlertChannel, DeliveryConfig } from './channel.js';
import { postJson } from './http.js';

/** Headers a webhook delivery carries. */
export const webhookHeaders = {
  signature: 'x-optibid-signature',
  timestamp: 'x-optibid-timestamp',
  delivery: 'x-optibid-delivery',
} as const;

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`: the timestamp is signed so old deliveries cannot be replayed. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * For receivers: true when `signature` is valid for the body and timestamp and the timestamp is
 * within `toleranceMs` of `now`.
 */
export function verifySignature(
  secret: string,
  body: string,
  timestamp: string,
  signature: string,
  opts: { now?: number; toleranceMs?: number } = {},
): boolean {
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return false;
  const age = Math.abs((opts.now ?? Date.now()) - Number(timestamp) * 1000);
  return Number.isFinite(age) && age <= (opts.toleranceMs ?? 300_000);
}

/** The JSON a webhook receives. */
export interface WebhookPayload {
  version: 1;
  deliveryId: string;
  alert: AlertEvent;
  source: { topic: string; partition?: number; offset?: string };
}

export interface WebhookConfig extends DeliveryConfig {
  url: string;
  secret?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** POSTs each alert as JSON, signed with HMAC-SHA256 when a secret is set. */
export class WebhookChannel implements AlertChannel {
  readonly whenExhausted = 'dead-letter' as const;
  readonly describe: string;

  constructor(
    private readonly cfg: WebhookConfig,
    private readonly clock: Clock = systemClock,
  ) {
    this.describe = `webhook ${new URL(cfg.url).origin}`;
  }

  async send(alert: AlertEvent, record: StreamRecord): Promise<void> {
    const payload: WebhookPayload = {
      version: 1,
      deliveryId: deliveryId(alert),
      alert,
      source: { topic: record.topic, partition: record.partition, offset: record.offset },
    };
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(this.clock.now() / 1000));
    const headers: Record<string, string> = {
      ...this.cfg.headers,
      [webhookHeaders.delivery]: payload.deliveryId,
      [webhookHeaders.timestamp]: timestamp,
    };
    if (this.cfg.secret) headers[webhookHeaders.signature] = signPayload(this.cfg.secret, timestamp, body);
    await postJson(this.cfg.url, body, headers, this.cfg.timeoutMs ?? 10_000);
  }
}

export const webhookConfig = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'Receiver URL (http or https)' }),
    secret: Type.Optional(
      Type.String({ description: 'HMAC-SHA256 key; the signature goes in X-OptiBid-Signature', secret: true }),
    ),
    headers: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'Extra request headers (e.g. Authorization)' }),
    ),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Per-request timeout' }),
    ...deliveryOptions,
  },
  { additionalProperties: false },
);

/** The `webhook` alert channel. */
export const webhookSink = defineSink({
  name: 'webhook',
  status: 'beta',
  summary: 'Sends alerts as signed JSON (HMAC-SHA256) to an HTTP endpoint, with retries, rate limit and dedup',
  config: webhookConfig,
  create: (config, ctx) => channelSink(new WebhookChannel(config, ctx.clock), config, ctx),
});
