/** One watermark partition's highest event time, raised in place (no Map write, no boxed number per record). */
export interface WatermarkSlot {
  max: number;
}

/**
 * The task's event-time watermark exactly as `WatermarkTracker` (../watermark.ts) computes it — each input
 * partition at the highest event time seen there, the lowest of those (partitions that never delivered a
 * record do not hold it back) minus the allowed out-of-orderness, never backwards — shaped for
 * `ProcessorCore`'s per-record loop: the core looks a partition's slot up once per partition switch and
 * raises it in place, `advance` takes the minimum over an array (one partition: one read) and answers
 * with a boolean (the new value is `value`), so a record that moves the watermark allocates nothing.
 */
export class PartitionWatermarks {
  private readonly slots = new Map<string, WatermarkSlot>();
  /** `slots`' values, for `advance`. */
  private list: WatermarkSlot[] = [];
  private current = -Infinity;

  constructor(private readonly maxOutOfOrdernessMs = 0) {}

  /** The slot of a partition (e.g. `topic/3`), or undefined before its first `observe`. */
  slot(partitionKey: string): WatermarkSlot | undefined {
    return this.slots.get(partitionKey);
  }

  /** Records an event time seen on a partition (given its slot when known); returns the partition's slot. */
  observe(partitionKey: string, eventTime: number, slot = this.slots.get(partitionKey)): WatermarkSlot {
    if (slot === undefined) {
      slot = { max: eventTime };
      this.slots.set(partitionKey, slot);
      this.list.push(slot);
    } else if (eventTime > slot.max) slot.max = eventTime;
    return slot;
  }

  /** Forgets a partition (revoked in a rebalance, or idle); its slot is no longer read. */
  forget(partitionKey: string): void {
    if (this.slots.delete(partitionKey)) this.list = [...this.slots.values()];
  }

  /** Recomputes the watermark; true when it advanced (to `value`). */
  advance(): boolean {
    const list = this.list;
    const n = list.length;
    if (n === 0) return false;
    let min = Infinity;
    for (let i = 0; i < n; i++) {
      const t = list[i]!.max;
      if (t < min) min = t;
    }
    if (min === -Infinity) return false;
    const candidate = min - this.maxOutOfOrdernessMs;
    if (candidate > this.current) {
      this.current = candidate;
      return true;
    }
    return false;
  }

  /** Forces the watermark to `value` (end of input flushes every window with +Infinity); true when it moved. */
  forceTo(value: number): boolean {
    if (value > this.current) {
      this.current = value;
      return true;
    }
    return false;
  }

  get value(): number {
    return this.current;
  }

  /** The whole state (each partition's highest event time and the watermark), for `restore`. */
  save(): WatermarkSave {
    const slots: Array<readonly [string, number]> = [];
    for (const [key, slot] of this.slots) slots.push([key, slot.max]);
    return { current: this.current, slots };
  }

  /**
   * Puts a saved state back, for the partitions known now: a partition first seen since the save is dropped, a
   * partition forgotten since (revoked, idle) stays forgotten, the others get their highest event time back,
   * and the watermark may go back (to where uncommitted work began; see `ProcessorCore.discardAll`).
   */
  restore(saved: WatermarkSave): void {
    const then = new Map(saved.slots);
    for (const [key, slot] of this.slots) {
      const max = then.get(key);
      if (max === undefined) this.slots.delete(key);
      else slot.max = max;
    }
    this.list = [...this.slots.values()];
    this.current = saved.current;
  }
}

/** A `PartitionWatermarks` state (`save`). */
export interface WatermarkSave {
  readonly current: number;
  readonly slots: ReadonlyArray<readonly [partitionKey: string, max: number]>;
}
