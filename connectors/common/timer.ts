import type { Clock } from '@optibid/runtime';

/** Waiting, injectable so tests advance virtual time instead of sleeping. */
export interface Sleeper {
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Real waiting with setTimeout; resolves early (without error) when `signal` aborts. */
export const realSleeper: Sleeper = {
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};

/**
 * A sleeper for tests: each sleep advances the virtual clock by `ms` at once and records it, so
 * schedules, back-offs and rate limits run in virtual time.
 */
export class VirtualSleeper implements Sleeper {
  readonly sleeps: number[] = [];
  constructor(private readonly clock: { advance(ms: number): void } & Clock) {}
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    if (ms > 0) this.clock.advance(ms);
  }
}
