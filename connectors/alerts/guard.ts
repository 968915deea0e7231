import type { Clock } from '@optibid/runtime';

/** Remembers what was delivered so the same alert transition is not sent again within `windowMs`. */
export class DedupWindow {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly clock: Clock,
  ) {}

  /** True when `key` was delivered less than `windowMs` ago. */
  has(key: string): boolean {
    this.prune();
    const at = this.seen.get(key);
    return at !== undefined && this.clock.now() - at < this.windowMs;
  }

  remember(key: string): void {
    this.seen.delete(key);
    this.seen.set(key, this.clock.now());
  }

  private prune(): void {
    const now = this.clock.now();
    // Map iterates in insertion order and remember() re-inserts: the oldest entries come first.
    for (const [key, at] of this.seen) {
      if (now - at < this.windowMs) break;
      this.seen.delete(key);
    }
  }
}

/** At most `limit` deliveries in any sliding window of `periodMs` (a flapping rule cannot spam). */
export class RateLimiter {
  private readonly sent: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly periodMs: number,
    private readonly clock: Clock,
  ) {}

  /** Takes a slot when one is free. */
  tryTake(): boolean {
    const now = this.clock.now();
    while (this.sent.length > 0 && now - this.sent[0]! >= this.periodMs) this.sent.shift();
    if (this.sent.length >= this.limit) return false;
    this.sent.push(now);
    return true;
  }
}
