import { NotConnected, type Sink } from '../component.js';
import { toDeadLetter } from '../dlq.js';
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

/**
 * Writes batches to a sink: `NotConnected` reconnects and retries with backoff (consumption waits,
 * which is the back-pressure), any other error turns the batch's records into dead letters.
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
          this.opts.logger.warn({ component: this.name, err: err.message, retryInMs: delay }, 'sink not connected, retrying');
          await sleep(delay, this.opts.signal);
          delay = Math.min(delay * 2, this.opts.maxBackoffMs ?? 10_000);
          await retryConnect(() => this.sink.connect(), this.name, this.opts);
          continue;
        }
        this.stats.recordsIn += records.length;
        this.stats.failed += records.length;
        this.stats.dlq += records.length;
        this.opts.logger.error({ component: this.name, err: (err as Error).message, records: records.length }, 'sink write failed, batch dead-lettered');
        return records.map((r) => toDeadLetter(this.opts.dlqTopic, r, this.name, err));
      }
    }
  }

  async close(): Promise<void> {
    await this.sink.close();
  }
}

/** Calls `connect` until it succeeds, with doubling delays; rejects when the signal aborts. */
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
