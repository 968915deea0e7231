/** Schedules `fn` after `ms`; returns a function that cancels it. Injected so tests need not wait. */
export type SetTimer = (fn: () => void, ms: number) => () => void;

export const realTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

export interface BatcherOptions<T> {
  /** An insert never carries more rows than this (unless one item alone does); a buffer that reaches it is sent at once. */
  maxRows: number;
  /** Rows an item stands for (default 1): items may be whole slices of a write. */
  weight?: (item: T) => number;
  /** How long rows may wait for more before a partial batch is sent (0: as soon as the previous insert is done). */
  lingerMs: number;
  send(items: T[]): Promise<void>;
  setTimer?: SetTimer;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group-commit batching bounded by size and time: items from concurrent `add` calls share inserts,
 * one insert runs at a time, and each `add` resolves once every insert carrying its items succeeded
 * (or rejects with the first error of one of them).
 */
export class Batcher<T> {
  private pending: T[] = [];
  /** Rows of the pending items. */
  private rows = 0;
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
    return this.rows;
  }

  /** True while an insert runs. */
  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  private weight(item: T): number {
    return this.opts.weight ? this.opts.weight(item) : 1;
  }

  add(items: T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    for (const item of items) {
      this.pending.push(item);
      this.rows += this.weight(item);
    }
    if (this.rows >= this.opts.maxRows || this.opts.lingerMs <= 0) this.kick();
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
    const items = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.rows = 0;
    this.waiters = [];
    this.inFlight = (async () => {
      try {
        // consecutive items up to maxRows per insert; an item heavier than that goes alone
        let group: T[] = [];
        let rows = 0;
        for (const item of items) {
          const w = this.weight(item);
          if (group.length > 0 && rows + w > this.opts.maxRows) {
            await this.opts.send(group);
            group = [];
            rows = 0;
          }
          group.push(item);
          rows += w;
        }
        if (group.length > 0) await this.opts.send(group);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      } finally {
        this.inFlight = undefined;
        // rows that arrived meanwhile go out now, or when their linger ends
        if (this.due || this.rows >= this.opts.maxRows || (this.pending.length > 0 && this.opts.lingerMs <= 0))
          this.kick();
        else if (this.pending.length > 0) this.cancelTimer ??= this.setTimer(() => this.kick(), this.opts.lingerMs);
      }
    })();
  }
}
