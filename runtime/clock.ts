/** A source of time. Everything that depends on "now" takes a Clock so tests can use virtual time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class VirtualClock implements Clock {
  constructor(private current = 0) {}
  now(): number {
    return this.current;
  }
  /** Moves time forward by `ms` milliseconds. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('a clock cannot go backwards');
    this.current += ms;
  }
  /** Sets the time; it may not go backwards. */
  set(ms: number): void {
    if (ms < this.current) throw new RangeError('a clock cannot go backwards');
    this.current = ms;
  }
}
