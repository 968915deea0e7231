import { Type } from '@sinclair/typebox';
import { defineSink } from '@optibid/runtime';
import type { AlertEvent } from '@optibid/schemas';
import { alertText, alertTitle } from './alert.js';
import { channelSink, deliveryOptions } from './channel.js';
import type { AlertChannel, DeliveryConfig } from './channel.js';
import { postJson } from './http.js';

const icons: Record<string, string> = {
  CRITICAL: ':red_circle:',
  WARNING: ':large_orange_circle:',
  INFO: ':large_blue_circle:',
};

/** The message body of a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat). */
export function slackMessage(
  a: AlertEvent,
  opts: { channel?: string; username?: string } = {},
): Record<string, unknown> {
  const icon = a.state === 'RESOLVED' ? ':white_check_mark:' : (icons[a.severity] ?? ':grey_question:');
  const [, ...rest] = alertText(a).split('\n');
  return {
    text: `${icon} ${alertTitle(a)}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${icon} *${alertTitle(a)}*` } },
      ...(rest.length ? [{ type: 'section', text: { type: 'mrkdwn', text: rest.join('\n') } }] : []),
    ],
    ...(opts.channel ? { channel: opts.channel } : {}),
    ...(opts.username ? { username: opts.username } : {}),
  };
}

export interface SlackConfig extends DeliveryConfig {
  url: string;
  channel?: string;
  username?: string;
  timeoutMs?: number;
}

/** Posts each alert to a Slack-compatible incoming webhook. */
export class SlackChannel implements AlertChannel {
  readonly whenExhausted = 'dead-letter' as const;
  readonly describe: string;

  constructor(private readonly cfg: SlackConfig) {
    this.describe = `slack ${new URL(cfg.url).origin}`;
  }

  async send(alert: AlertEvent): Promise<void> {
    await postJson(this.cfg.url, JSON.stringify(slackMessage(alert, this.cfg)), {}, this.cfg.timeoutMs ?? 10_000);
  }
}

export const slackConfig = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      description: 'Incoming-webhook URL (it is the credential: keep it secret)',
      secret: true,
    }),
    channel: Type.Optional(Type.String({ description: 'Channel override, where the service allows it' })),
    username: Type.Optional(Type.String({ description: 'Sender name override, where the service allows it' })),
    timeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Per-request timeout' }),
    ...deliveryOptions,
  },
  { additionalProperties: false },
);

/** The `slack` alert channel. */
export const slackSink = defineSink({
  name: 'slack',
  status: 'beta',
  summary: 'Posts alerts to a Slack-compatible incoming webhook, with retries, rate limit and dedup',
  config: slackConfig,
  create: (config, ctx) => channelSink(new SlackChannel(config), config, ctx),
});
