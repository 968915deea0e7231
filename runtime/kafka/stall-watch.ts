import type { Clock } from '../clock.js';
import type { Logger } from '../component.js';

export interface StallWatchOptions {
  component: string;
  clock: Clock;
  /** Lag above 0 with nothing fetched for this long (clock ms) is a stall. */
  stallMs: number;
  logger: Logger;
}

/**
 * Makes a stuck consumer visible. A component is stalled when its lag has stayed above 0 and nothing was
 * fetched for `stallMs`: counted from the later of the last fetch and the moment the lag turned positive
 * (new input after a quiet spell is not a stall). A stall is logged at warn when it starts and again every
 * `stallMs` it lasts; the first fetch afterwards logs at info how long it lasted.
 */
export class StallWatch {
  private lastFetch: number;
  private lagSince: number | undefined;
  private lastWarn: number | undefined;
  private stallStart: number | undefined;

  constructor(private readonly opts: StallWatchOptions) {
    this.lastFetch = opts.clock.now();
  }

  /** The consumer fetched records (a batch reached the component). */
  fetched(): void {
    const now = this.opts.clock.now();
    if (this.stallStart !== undefined) {
      this.opts.logger.info(
        { component: this.opts.component, stalledMs: now - this.stallStart },
        'consumer fetching again after a stall',
      );
    }
    this.lastFetch = now;
    this.lagSince = undefined;
    this.lastWarn = undefined;
    this.stallStart = undefined;
  }

  /** Checks the current lag (records); `detail` goes into the warning. Returns whether the component is stalled. */
  check(lag: number, detail: Record<string, unknown> = {}): boolean {
    const now = this.opts.clock.now();
    if (!(lag > 0)) {
      this.lagSince = undefined;
      this.lastWarn = undefined;
      this.stallStart = undefined;
      return false;
    }
    this.lagSince ??= now;
    const since = Math.max(this.lastFetch, this.lagSince);
    if (now - since < this.opts.stallMs) return false;
    this.stallStart ??= since;
    if (this.lastWarn === undefined || now - this.lastWarn >= this.opts.stallMs) {
      this.lastWarn = now;
      const silentMs = now - this.lastFetch;
      this.opts.logger.warn(
        { component: this.opts.component, lag, silentMs, stalledMs: now - since, ...detail },
        `consumer stalled: lag ${lag} and nothing fetched for ${Math.round((now - since) / 1000)} s`,
      );
    }
    return true;
  }
}

/** What one stall check measured: records behind, and the partitions behind (named in the warning). */
export interface LagReading {
  lag: number;
  partitions: Array<{ topic: string; partition: number; position: string; end: string }>;
}

/**
 * The periodic stall check both Kafka transports run: `measure` every min(5 s, stallMs / 4), never two at
 * once, its reading handed to a StallWatch (`measure` returns undefined while there is nothing to check,
 * e.g. before the first assignment). A failed measurement is logged at debug. The timer never keeps the
 * process alive. With `stallMs` ≤ 0 nothing runs.
 */
export function startStallChecks(
  opts: StallWatchOptions,
  measure: () => Promise<LagReading | undefined>,
): { fetched(): void; stop(): void } {
  if (opts.stallMs <= 0) return { fetched: () => {}, stop: () => {} };
  const watch = new StallWatch(opts);
  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      const reading = await measure();
      if (reading) watch.check(reading.lag, { partitions: reading.partitions });
    } finally {
      checking = false;
    }
  };
  const ticker = setInterval(
    () =>
      void check().catch((err: Error) =>
        opts.logger.debug({ component: opts.component, err: err.message }, 'stall check failed'),
      ),
    Math.max(250, Math.min(5000, opts.stallMs / 4)),
  );
  ticker.unref(); // never what keeps a process alive (a start that fails later never stops it)
  return { fetched: () => watch.fetched(), stop: () => clearInterval(ticker) };
}
