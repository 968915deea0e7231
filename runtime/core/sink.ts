import { NotConnected, type Sink } from '../component.js';
import { toDeadLetter } from '../dlq.js';
import { OptiBidError, type ErrorCode } from '../errors.js';
import type { OutRecord, StreamRecord } from '../record.js';
import type { Logger } from '../component.js';
import { newStats, type ComponentStats } from './stats.js';

export interface SinkCoreOptions {
  dlqTopic: string;
  logger: Logger;
  signal: AbortSignal;
  /** First retry delay after NotConnected (doubles up to maxBackoffMs). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** A record a sink could not store, with the reason. */
export interface RejectedRecord {
  record: StreamRecord;
  reason: string;
}

/**
 * Thrown by a sink's `write` after it stored the valid records of a batch, naming each record it could
 * not store and why. The runtime dead-letters exactly those (each with its own reason) and counts the
 * rest as written; offsets are committed as for a successful write.
 */
export class RejectedRecordsError extends OptiBidError {
  constructor(
    readonly rejected: RejectedRecord[],
    readonly written: number,
    sink: string,
    code: ErrorCode = 'OPTIBID_ERR_DECODE',
  ) {
    const first = rejected[0]?.reason ?? '';
    super(code, `${sink}: ${rejected.length} record(s) rejected (${written} stored); first: ${first}`, {
      context: {
        topic: rejected[0]?.record.topic,
        partition: rejected[0]?.record.partition,
        offset: rejected[0]?.record.offset,
      },
    });
    this.name = 'RejectedRecordsError';
  }
}

/** True for a RejectedRecordsError, also one from another copy of this module (dist vs sources). */
export function isRejectedRecordsError(err: unknown): err is RejectedRecordsError {
  return (
    err instanceof RejectedRecordsError ||
    (err instanceof Error &&
      err.name === 'RejectedRecordsError' &&
      Array.isArray((err as RejectedRecordsError).rejected))
  );
}

/**
 * Writes batches to a sink: `NotConnected` reconnects and retries with backoff (consumption waits,
 * which is the back-pressure), `RejectedRecordsError` dead-letters just the records it lists, any
 * other error turns the batch's records into dead letters.
 */
export class SinkCore {
  readonly stats: ComponentStats;

  constructor(
    readonly name: string,
    readonly sink: Sink,
    private readonly opts: SinkCoreOptions,
  ) {
    this.stats = newStats(name, 'sink');
  }

  async connect(): Promise<void> {
    await retryConnect(() => this.sink.connect(), this.name, this.opts);
  }

  /** Writes `records`; resolves with dead letters for a batch the sink rejected. Rejects only when aborted. */
  async write(records: StreamRecord[]): Promise<OutRecord[]> {
    if (records.length === 0) return [];
    const started = performance.now();
    let delay = this.opts.backoffMs ?? 100;
    for (;;) {
      try {
        await this.sink.write(records);
        this.stats.recordsIn += records.length;
        this.stats.recordsOut += records.length;
        const ms = performance.now() - started;
        this.stats.busyMs += ms;
        this.stats.onBatch?.(records.length, ms);
        return [];
      } catch (err) {
        if (err instanceof NotConnected) {
          if (this.opts.signal.aborted) throw err;
          this.opts.logger.warn(
            { component: this.name, err: err.message, retryInMs: delay },
            'sink not connected, retrying',
          );
          await sleep(delay, this.opts.signal);
          delay = Math.min(delay * 2, this.opts.maxBackoffMs ?? 10_000);
          await retryConnect(() => this.sink.connect(), this.name, this.opts);
          continue;
        }
        if (isRejectedRecordsError(err)) return this.rejected(records.length, err, started);
        this.stats.recordsIn += records.length;
        this.stats.failed += records.length;
        this.stats.dlq += records.length;
        this.opts.logger.error(
          { component: this.name, err: (err as Error).message, records: records.length },
          'sink write failed, batch dead-lettered',
        );
        return records.map((r) => toDeadLetter(this.opts.dlqTopic, r, this.name, err));
      }
    }
  }

  /** The sink stored all but the records it lists: only those become dead letters, each with its reason. */
  private rejected(total: number, err: RejectedRecordsError, started: number): OutRecord[] {
    const code = err.code;
    const dead = err.rejected.map(({ record, reason }) =>
      toDeadLetter(this.opts.dlqTopic, record, this.name, new OptiBidError(code, reason)),
    );
    this.stats.recordsIn += total;
    this.stats.recordsOut += total - dead.length;
    this.stats.failed += dead.length;
    this.stats.dlq += dead.length;
    const ms = performance.now() - started;
    this.stats.busyMs += ms;
    this.stats.onBatch?.(total, ms);
    this.opts.logger.warn(
      { component: this.name, rejected: dead.length, records: total, first: err.rejected[0]?.reason },
      'sink rejected records; those are dead-lettered',
    );
    return dead;
  }

  async close(): Promise<void> {
    await this.sink.close();
  }
}

/**
 * Calls `connect` until it succeeds, with doubling delays; rejects when the signal aborts, and at once on
 * an OPTIBID_ERR_CONFIG error (a missing file or a bad setting does not fix itself by waiting).
 */
export async function retryConnect(
  connect: () => Promise<void>,
  name: string,
  opts: { logger: Logger; signal: AbortSignal; backoffMs?: number; maxBackoffMs?: number },
): Promise<void> {
  let delay = opts.backoffMs ?? 100;
  for (;;) {
    try {
      await connect();
      return;
    } catch (err) {
      if (opts.signal.aborted) throw err;
      if (err instanceof OptiBidError && err.code === 'OPTIBID_ERR_CONFIG' && !err.retriable) throw err;
      opts.logger.warn({ component: name, err: (err as Error).message, retryInMs: delay }, 'connect failed, retrying');
      await sleep(delay, opts.signal);
      delay = Math.min(delay * 2, opts.maxBackoffMs ?? 10_000);
    }
  }
}

/** Waits `ms` of real time (connection backoff only; never used to let virtual time pass). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
