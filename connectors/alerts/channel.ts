import { Type } from '@sinclair/typebox';
import { NotConnected, systemClock } from '@optibid/runtime';
import type { Clock, ComponentContext, Logger, Sink, StreamRecord } from '@optibid/runtime';
import type { AlertEvent } from '@optibid/schemas';
import type { RejectedRecord } from '../timescale/datasets.js';
import { RejectedRecordsError } from '../timescale/rejected.js';
import { parseAlert } from './alert.js';
import { DedupWindow, RateLimiter } from './guard.js';
import { abortableSleep, realSleep, withRetries } from './retry.js';
import type { Sleep } from './retry.js';

/** Delivery options every alert channel shares (merged into each channel's config schema). */
export const deliveryOptions = {
  maxAttempts: Type.Integer({
    minimum: 1,
    default: 5,
    description: 'Attempts per alert before it is dead-lettered (or the pipeline pauses, for MQTT/Kafka)',
  }),
  backoffMs: Type.Integer({
    minimum: 1,
    default: 1000,
    description: 'First retry delay; doubles per attempt, with jitter',
  }),
  maxBackoffMs: Type.Integer({ minimum: 1, default: 60_000, description: 'Longest retry delay' }),
  rateLimit: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'Most alerts sent per ratePeriodMs; the rest are dropped with a warning',
  }),
  ratePeriodMs: Type.Integer({ minimum: 1, default: 60_000, description: 'Sliding window of the rate limit' }),
  dedupWindowMs: Type.Integer({
    minimum: 0,
    default: 300_000,
    description: 'The same alert (alertId) in the same state is sent at most once per window',
  }),
};

export interface DeliveryConfig {
  maxAttempts?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  rateLimit?: number;
  ratePeriodMs?: number;
  dedupWindowMs?: number;
}

/** Where alerts go. `send` throws `DeliveryError` (transient or not) or any error (treated as transient). */
export interface AlertChannel {
  /** For logs: `webhook https://…`, `mqtt optibid/alerts`. */
  readonly describe: string;
  /** After the last attempt: dead-letter the alert (external receivers) or pause consumption (our own brokers). */
  readonly whenExhausted: 'dead-letter' | 'pause';
  connect?(): Promise<void>;
  send(alert: AlertEvent, record: StreamRecord): Promise<void>;
  close?(): Promise<void>;
}

/** What tests and the runtime inject: time, waiting and randomness. */
export interface DeliveryDeps {
  clock?: Clock;
  sleep?: Sleep;
  random?: () => number;
}

export interface DeliveryStats {
  delivered: number;
  duplicates: number;
  rateLimited: number;
  deadLettered: number;
  retries: number;
}

/**
 * A sink that sends each `alerts.events` record through a channel, with a deduplication window,
 * a rate limit and retries with exponential backoff and jitter. Alerts that still fail are
 * dead-lettered (thrown as `RejectedRecordsError` after the rest of the batch was sent).
 */
export class AlertSink implements Sink {
  readonly stats: DeliveryStats = { delivered: 0, duplicates: 0, rateLimited: 0, deadLettered: 0, retries: 0 };
  private readonly dedup: DedupWindow;
  private readonly limiter: RateLimiter;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly random: () => number;

  constructor(
    readonly channel: AlertChannel,
    private readonly cfg: DeliveryConfig,
    private readonly logger: Logger,
    deps: DeliveryDeps = {},
  ) {
    this.clock = deps.clock ?? systemClock;
    this.sleep = deps.sleep ?? realSleep;
    this.random = deps.random ?? Math.random;
    this.dedup = new DedupWindow(cfg.dedupWindowMs ?? 300_000, this.clock);
    this.limiter = new RateLimiter(cfg.rateLimit ?? 30, cfg.ratePeriodMs ?? 60_000, this.clock);
  }

  async connect(): Promise<void> {
    try {
      await this.channel.connect?.();
    } catch (err) {
      throw new NotConnected(`${this.channel.describe}: ${String((err as { message?: unknown }).message ?? err)}`, {
        cause: err,
      });
    }
  }

  async write(records: StreamRecord[]): Promise<void> {
    const rejected: RejectedRecord[] = [];
    let sent = 0;
    for (const record of records) {
      const alert = parseAlert(record);
      if (typeof alert === 'string') {
        rejected.push({ record, reason: alert });
        continue;
      }
      const key = `${alert.alertId}|${alert.state}`;
      if (this.dedup.has(key)) {
        this.stats.duplicates++;
        this.logger.debug(
          { channel: this.channel.describe, alertId: alert.alertId, state: alert.state },
          'alert suppressed: duplicate within the dedup window',
        );
        continue;
      }
      if (!this.limiter.tryTake()) {
        this.stats.rateLimited++;
        this.logger.warn(
          { channel: this.channel.describe, alertId: alert.alertId, rule: alert.rule },
          'alert dropped: channel rate limit reached',
        );
        continue;
      }
      try {
        await withRetries(() => this.channel.send(alert, record), {
          maxAttempts: this.cfg.maxAttempts ?? 5,
          baseMs: this.cfg.backoffMs ?? 1000,
          maxMs: this.cfg.maxBackoffMs ?? 60_000,
          random: this.random,
          sleep: this.sleep,
          onRetry: (n, delayMs, err) => {
            this.stats.retries++;
            this.logger.warn(
              {
                channel: this.channel.describe,
                alertId: alert.alertId,
                attempt: n,
                retryInMs: delayMs,
                err: String((err as { message?: unknown }).message),
              },
              'alert delivery failed, retrying',
            );
          },
        });
        this.dedup.remember(key);
        this.stats.delivered++;
        sent++;
      } catch (err) {
        if (err instanceof NotConnected) throw err; // shutting down: the batch is not acknowledged
        const reason = `${this.channel.describe}: ${String((err as { message?: unknown }).message ?? err)} (after ${(err as { attempts?: number }).attempts ?? 1} attempt(s))`;
        if (this.channel.whenExhausted === 'pause') throw new NotConnected(reason, { cause: err });
        this.stats.deadLettered++;
        rejected.push({ record, reason });
      }
    }
    if (rejected.length > 0) throw new RejectedRecordsError(rejected, sent, this.channel.describe);
  }

  async close(): Promise<void> {
    await this.channel.close?.();
  }
}

/** An alert channel's sink as a pipeline creates it: the run's logger and clock, sleeps that end on stop. */
export function channelSink(channel: AlertChannel, cfg: DeliveryConfig, ctx: ComponentContext): AlertSink {
  return new AlertSink(channel, cfg, ctx.logger, { clock: ctx.clock, sleep: abortableSleep(ctx.signal) });
}
