import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import { Type } from '@sinclair/typebox';
import { defineSink } from '@optibid/runtime';
import type { AlertEvent } from '@optibid/schemas';
import { alertText, alertTitle, deliveryId } from './alert.js';
import { channelSink, deliveryOptions } from './channel.js';
import type { AlertChannel, DeliveryConfig } from './channel.js';
import { DeliveryError } from './retry.js';

export interface EmailConfig extends DeliveryConfig {
  host: string;
  port?: number;
  secure?: boolean;
  username?: string;
  password?: string;
  from: string;
  to: string[];
  timeoutMs?: number;
}

/** Sends each alert as a plain-text email over SMTP. */
export class EmailChannel implements AlertChannel {
  readonly whenExhausted = 'dead-letter' as const;
  readonly describe: string;
  private transport: Transporter | undefined;

  constructor(private readonly cfg: EmailConfig) {
    this.describe = `email ${cfg.host}:${cfg.port ?? 587}`;
  }

  async connect(): Promise<void> {
    this.transport ??= nodemailer.createTransport({
      host: this.cfg.host,
      port: this.cfg.port ?? 587,
      secure: this.cfg.secure ?? false,
      auth: this.cfg.username ? { user: this.cfg.username, pass: this.cfg.password ?? '' } : undefined,
      connectionTimeout: this.cfg.timeoutMs ?? 10_000,
      greetingTimeout: this.cfg.timeoutMs ?? 10_000,
      socketTimeout: this.cfg.timeoutMs ?? 10_000,
    });
  }

  async send(alert: AlertEvent): Promise<void> {
    if (!this.transport) await this.connect();
    try {
      await this.transport!.sendMail({
        from: this.cfg.from,
        to: this.cfg.to,
        subject: alertTitle(alert),
        text: alertText(alert),
        headers: { 'X-OptiBid-Delivery': deliveryId(alert) },
      });
    } catch (err) {
      // SMTP 5xx answers (unknown mailbox, rejected sender) will not change on retry; 4xx and network errors may.
      const code = (err as { responseCode?: number }).responseCode;
      throw new DeliveryError(`SMTP: ${(err as Error).message}`, code === undefined || code < 500, undefined, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    this.transport?.close();
    this.transport = undefined;
  }
}

export const emailConfig = Type.Object(
  {
    host: Type.String({ description: 'SMTP server host' }),
    port: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 587,
      description: 'SMTP port (587 submission, 465 implicit TLS, 25 relay)',
    }),
    secure: Type.Boolean({
      default: false,
      description: 'Implicit TLS (port 465); otherwise STARTTLS is used when offered',
    }),
    username: Type.Optional(Type.String({ description: 'SMTP user' })),
    password: Type.Optional(Type.String({ description: 'SMTP password', secret: true })),
    from: Type.String({ description: 'Sender address, e.g. "OptiBid <alerts@example.com>"' }),
    to: Type.Array(Type.String(), { minItems: 1, description: 'Recipients' }),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Connection and socket timeout' }),
    ...deliveryOptions,
  },
  { additionalProperties: false },
);

/** The `email` alert channel. */
export const emailSink = defineSink({
  name: 'email',
  status: 'beta',
  summary: 'Sends alerts as email over SMTP, with retries, rate limit and dedup',
  config: emailConfig,
  create: (config, ctx) => channelSink(new EmailChannel(config), config, ctx),
});
