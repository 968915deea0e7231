import { createHash } from 'node:crypto';
import {
  EndOfInput,
  OptiBidError,
  VirtualClock,
  type ComponentContext,
  type Source,
  type SourceBatch,
} from '@optibid/runtime';
import { Type, type Static } from '@sinclair/typebox';
import { HttpFetcher, type HttpRequest } from './http.js';
import { MemoryOffsetStore, type OffsetStore, type WindowOffset } from './offsets.js';
import { KafkaOffsetStore } from './offsets-kafka.js';
import { factContent, factKey, toOutRecord, type NormalizedRecord } from './records.js';
import { realSleeper, VirtualSleeper, type Sleeper } from './timer.js';
import { dateRange, localDate, nextDate } from './time.js';
import type { Payload } from './payload.js';

/** One unit of fetching: a request for one delivery date (and variant: area, document type). */
export interface FeedWindow {
  /** Stable id, the offset key: e.g. "A44|10YBE----------2|2024-10-08". */
  id: string;
  date: string;
  request: HttpRequest;
}

/** What a feed's parser made of one window's response. */
export interface ParsedWindow {
  status: 'ok' | 'no-data' | 'not-published';
  records: NormalizedRecord[];
  warnings: string[];
}

/** What a polled HTTP feed must say: which windows a date has and how to read a response. */
export interface PollingFeed {
  /** Connector name; also the offset namespace together with the component name. */
  name: string;
  /** Time zone of delivery dates (which "today" to poll). */
  timeZone: string;
  windows(date: string): FeedWindow[];
  parse(p: Payload, now: number): ParsedWindow;
  /** Asynchronous parser (declarative feeds evaluate JSONata); used instead of `parse` when present. */
  parseAsync?(p: Payload, now: number, date: string): Promise<ParsedWindow>;
}

/** Config fields every polled feed shares (scheduling, pacing, backfill, offsets). */
export const pollingConfig = {
  live: Type.Optional(
    Type.Boolean({
      default: true,
      description:
        'Poll today and the next `lookaheadDays` delivery days on a schedule. false: run the backfill only, then end.',
    }),
  ),
  pollEveryMinutes: Type.Optional(Type.Number({ minimum: 1, default: 15, description: 'Minutes between live polls.' })),
  lookaheadDays: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 7,
      default: 1,
      description: 'Delivery days after today that live polling fetches (day-ahead results appear the day before).',
    }),
  ),
  backfill: Type.Optional(
    Type.Object(
      {
        from: Type.String({ pattern: '^\\d{4}-\\d\\d-\\d\\d$', description: 'First delivery date, YYYY-MM-DD.' }),
        to: Type.String({
          pattern: '^\\d{4}-\\d\\d-\\d\\d$',
          description: 'Last delivery date, YYYY-MM-DD (inclusive).',
        }),
      },
      {
        additionalProperties: false,
        description:
          'Delivery dates to fetch once; dates already fetched (per the stored offsets) are skipped, so a restarted backfill resumes.',
      },
    ),
  ),
  requestsPerMinute: Type.Optional(
    Type.Number({ minimum: 0.1, default: 30, description: 'Rate limit towards the upstream API.' }),
  ),
  maxRetries: Type.Optional(
    Type.Integer({
      minimum: 0,
      default: 4,
      description:
        'Retries on network errors, timeouts, 429 and 5xx, with exponential back-off or the Retry-After header.',
    }),
  ),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, default: 30000, description: 'Per-request timeout.' })),
  offsets: Type.Optional(
    Type.Union([Type.Literal('kafka'), Type.Literal('memory')], {
      default: 'kafka',
      description: 'Where fetched windows are remembered: kafka (compacted topic, survives restarts) or memory.',
    }),
  ),
  offsetsTopic: Type.Optional(
    Type.String({ default: '_optibid.source-offsets', description: 'Compacted Kafka topic holding source offsets.' }),
  ),
};
/** The polling fields as a schema (for the config type). */
export const pollingSchema = Type.Object(pollingConfig);
export type PollingConfig = Static<typeof pollingSchema>;

/** Things tests inject; production takes them from the component context. */
export interface PollingDeps {
  sleeper?: Sleeper;
  offsets?: OffsetStore;
}

function digest(rec: NormalizedRecord): string {
  return createHash('sha1').update(factContent(rec)).digest('base64url').slice(0, 12);
}

/**
 * A source that polls an HTTP feed: backfill over a date range, then (when live) the current and
 * next delivery days on a schedule. Each window's response is parsed, records whose content is
 * unchanged since the last fetch are dropped (a revised document emits only what changed, under the
 * same keys, so it replaces rather than duplicates), and the window's offset is stored once the batch
 * is acknowledged. Failed windows are retried at the next poll; a backfill-only run ends with an error
 * naming the windows that kept failing.
 */
export class PollingSource implements Source {
  private readonly fetcher: HttpFetcher;
  private readonly sleeper: Sleeper;
  private readonly store: OffsetStore;
  private offsets = new Map<string, WindowOffset>();
  private queue: FeedWindow[] = [];
  private readonly failed = new Map<string, string>();
  private nextPoll = -Infinity;
  private readonly namespace: string;
  /** Counters for logs, metrics and tests. */
  readonly stats = { fetched: 0, emitted: 0, duplicates: 0, failed: 0, skippedByOffset: 0 };

  constructor(
    private readonly feed: PollingFeed,
    private readonly cfg: PollingConfig,
    private readonly ctx: ComponentContext,
    deps: PollingDeps = {},
  ) {
    this.sleeper = deps.sleeper ?? (ctx.clock instanceof VirtualClock ? new VirtualSleeper(ctx.clock) : realSleeper);
    this.fetcher = new HttpFetcher(
      ctx.clock,
      this.sleeper,
      { requestsPerMinute: cfg.requestsPerMinute, maxRetries: cfg.maxRetries, timeoutMs: cfg.timeoutMs },
      ctx.logger,
      ctx.signal,
    );
    this.store =
      deps.offsets ??
      (cfg.offsets === 'memory'
        ? new MemoryOffsetStore()
        : new KafkaOffsetStore({ env: ctx.env, topic: cfg.offsetsTopic }));
    this.namespace = `${feed.name}/${ctx.name}`;
  }

  /** Requests sent so far (rate-limit and retry tests). */
  get requests(): number {
    return this.fetcher.requests;
  }

  async connect(): Promise<void> {
    this.offsets = await this.store.load(this.namespace);
    if (this.cfg.backfill) {
      const { from, to } = this.cfg.backfill;
      if (from > to) throw new OptiBidError('OPTIBID_ERR_CONFIG', `backfill.from ${from} is after backfill.to ${to}`);
      for (const date of dateRange(from, to)) {
        for (const w of this.feed.windows(date)) {
          const done = this.offsets.get(w.id);
          // Fetched before with data or a definite "no data": done. Not yet published: fetch again.
          if (done && done.status !== 'not-published') this.stats.skippedByOffset++;
          else this.queue.push(w);
        }
      }
    }
  }

  private liveWindows(): FeedWindow[] {
    const today = localDate(this.ctx.clock.now(), this.feed.timeZone);
    const dates = [today];
    for (let i = 1; i <= (this.cfg.lookaheadDays ?? 1); i++) dates.push(nextDate(today, i));
    return dates.flatMap((d) => this.feed.windows(d));
  }

  async read(): Promise<SourceBatch> {
    for (;;) {
      if (this.ctx.signal.aborted) throw new EndOfInput();
      const w = this.queue.shift();
      if (!w) {
        if (this.cfg.live === false) {
          if (this.failed.size) {
            throw new OptiBidError(
              'OPTIBID_ERR_UPSTREAM',
              `backfill finished with ${this.failed.size} window(s) failing: ${[...this.failed].map(([id, why]) => `${id}: ${why}`).join('; ')}`,
              { retriable: true },
            );
          }
          throw new EndOfInput();
        }
        const wait = this.nextPoll - this.ctx.clock.now();
        if (wait > 0) await this.sleeper.sleep(wait, this.ctx.signal);
        if (this.ctx.signal.aborted) throw new EndOfInput();
        this.nextPoll = this.ctx.clock.now() + (this.cfg.pollEveryMinutes ?? 15) * 60_000;
        this.queue.push(...this.liveWindows());
        continue;
      }
      const batch = await this.fetchWindow(w);
      if (batch) return batch;
    }
  }

  private async fetchWindow(w: FeedWindow): Promise<SourceBatch | undefined> {
    let parsed: ParsedWindow;
    try {
      const payload = await this.fetcher.get(w.request);
      parsed = this.feed.parseAsync
        ? await this.feed.parseAsync(payload, this.ctx.clock.now(), w.date)
        : this.feed.parse(payload, this.ctx.clock.now());
    } catch (err) {
      if (!(err instanceof OptiBidError)) throw err;
      this.stats.failed++;
      this.failed.set(w.id, err.message);
      this.ctx.logger.error({ window: w.id, code: err.code }, err.message);
      return undefined;
    }
    this.stats.fetched++;
    this.failed.delete(w.id);
    for (const warning of parsed.warnings) this.ctx.logger.warn({ window: w.id }, warning);
    const previous = this.offsets.get(w.id);
    const facts: Record<string, string> = { ...(previous?.facts ?? {}) };
    const fresh = new Map<string, NormalizedRecord>();
    for (const rec of parsed.records) {
      const key = factKey(rec);
      const d = digest(rec);
      if (facts[key] === d && !fresh.has(key)) {
        this.stats.duplicates++;
        continue;
      }
      facts[key] = d;
      fresh.set(key, rec);
    }
    const offset: WindowOffset = { fetchedAt: this.ctx.clock.now(), status: parsed.status, facts };
    const commit = async (): Promise<void> => {
      await this.store.save(this.namespace, w.id, offset);
      this.offsets.set(w.id, offset);
    };
    if (fresh.size === 0) {
      await commit();
      return undefined;
    }
    const records = [...fresh.values()].map((r) => toOutRecord(r, { 'source-window': w.id }));
    this.stats.emitted += records.length;
    return {
      records,
      ack: async (err?: Error) => {
        if (err) {
          // Not handed on: fetch the window again rather than lose it.
          this.queue.unshift(w);
          return;
        }
        await commit();
      },
    };
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
