/**
 * Event-time watermark of one task. Each input partition advances to the highest event time seen
 * there; the task's watermark is the lowest of those (partitions that have never delivered a record
 * do not hold it back) minus the allowed out-of-orderness. It never goes backwards.
 */
export class WatermarkTracker {
  private readonly maxByPartition = new Map<string, number>();
  private current = -Infinity;

  constructor(private readonly maxOutOfOrdernessMs = 0) {}

  /** Records an event time seen on `partitionKey` (e.g. `topic/3`). */
  observe(partitionKey: string, eventTime: number): void {
    const prev = this.maxByPartition.get(partitionKey);
    if (prev === undefined || eventTime > prev) this.maxByPartition.set(partitionKey, eventTime);
  }

  /** Forgets a partition (revoked in a rebalance). */
  forget(partitionKey: string): void {
    this.maxByPartition.delete(partitionKey);
  }

  /** Recomputes the watermark; returns the new value when it advanced, otherwise undefined. */
  advance(): number | undefined {
    if (this.maxByPartition.size === 0) return undefined;
    let min = Infinity;
    for (const t of this.maxByPartition.values()) if (t < min) min = t;
    if (min === -Infinity) return undefined;
    const candidate = min - this.maxOutOfOrdernessMs;
    if (candidate > this.current) {
      this.current = candidate;
      return candidate;
    }
    return undefined;
  }

  /** Forces the watermark to `value` (end of input flushes every window with +Infinity). */
  forceTo(value: number): number | undefined {
    if (value > this.current) {
      this.current = value;
      return value;
    }
    return undefined;
  }

  get value(): number {
    return this.current;
  }
}
