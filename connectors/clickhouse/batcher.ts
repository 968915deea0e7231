/** Schedules `fn` after `ms`; returns a function that cancels it. Injected so tests need not wait. */
export type SetTimer = (fn: () => void, ms: number) => () => void;

export const realTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

export interface BatcherOptions<T> {
  /** An insert never carries more rows than this; a buffer that reaches it is sent at once. */
  maxRows: number;
  /** How long rows may wait for more before a partial batch is sent (0: as soon as the previous insert is done). */
  lingerMs: number;
  send(rows: T[]): Promise<void>;
  setTimer?: SetTimer;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group-commit batching bounded by size and time: rows from concurrent `add` calls share inserts,
 * one insert runs at a time, and each `add` resolves once every insert carrying its rows succeeded
 * (or rejects with the first error of one of them).
 */
export class Batcher<T> {
  private pending: T[] = [];
  private waiters: Waiter[] = [];
  private inFlight: Promise<void> | undefined;
  private cancelTimer: (() => void) | undefined;
  /** The linger of pending rows ended while an insert was running: send them right after it. */
  private due = false;
  private readonly setTimer: SetTimer;

  constructor(private readonly opts: BatcherOptions<T>) {
    this.setTimer = opts.setTimer ?? realTimer;
  }

  /** Rows waiting to be sent. */
  get size(): number {
    return this.pending.length;
  }

  add(rows: T[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    for (const r of rows) this.pending.push(r);
    if (this.pending.length >= this.opts.maxRows || this.opts.lingerMs <= 0) this.kick();
    else this.cancelTimer ??= this.setTimer(() => this.kick(), this.opts.lingerMs);
    return done;
  }

  /** Sends everything pending now. */
  flush(): Promise<void> {
    this.kick();
    return this.inFlight ?? Promise.resolve();
  }

  private kick(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (this.pending.length === 0) return;
    if (this.inFlight) {
      this.due = true;
      return;
    }
    this.due = false;
    const rows = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    this.inFlight = (async () => {
      try {
        for (let i = 0; i < rows.length; i += this.opts.maxRows)
          await this.opts.send(rows.slice(i, i + this.opts.maxRows));
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      } finally {
        this.inFlight = undefined;
        // rows that arrived meanwhile go out now, or when their linger ends
        if (
          this.due ||
          this.pending.length >= this.opts.maxRows ||
          (this.pending.length > 0 && this.opts.lingerMs <= 0)
        )
          this.kick();
        else if (this.pending.length > 0) this.cancelTimer ??= this.setTimer(() => this.kick(), this.opts.lingerMs);
      }
    })();
  }
}
