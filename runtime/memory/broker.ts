import { OptiBidError } from '../errors.js';
import type { OutRecord, StreamRecord } from '../record.js';

/** What a memory topic keeps: everything (tests, demo) or only what some subscribed group has not consumed yet. */
export type MemoryRetention = 'all' | 'consumed';

class MemoryPartition {
  log: StreamRecord[] = [];
  /** Offset of log[0]. */
  base = 0;
  get end(): number {
    return this.base + this.log.length;
  }
}

class MemoryTopic {
  readonly partitions: MemoryPartition[];
  /** Consumer groups reading this topic, for lag and retention. */
  readonly groups = new Set<string>();
  constructor(
    readonly name: string,
    partitionCount: number,
  ) {
    this.partitions = Array.from({ length: partitionCount }, () => new MemoryPartition());
  }
}

/** Partition of a key: FNV-1a hash, null keys round-robin to partition 0. */
export function partitionForKey(key: string | null, partitions: number): number {
  if (key === null || partitions === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/**
 * An in-process, deterministic stand-in for a Kafka cluster: partitioned append-only logs with
 * offsets, consumer-group positions, lag, and a change signal tasks wait on instead of polling.
 */
export class MemoryBroker {
  private readonly topics = new Map<string, MemoryTopic>();
  private readonly positions = new Map<string, number>();
  private waiters: Array<() => void> = [];

  constructor(readonly retention: MemoryRetention = 'all') {}

  /** Creates a topic (idempotent: an existing topic keeps its partition count). */
  createTopic(name: string, partitions = 1): void {
    if (!this.topics.has(name)) this.topics.set(name, new MemoryTopic(name, partitions));
  }

  hasTopic(name: string): boolean {
    return this.topics.has(name);
  }

  partitionCount(topic: string): number {
    return this.topic(topic).partitions.length;
  }

  private topic(name: string): MemoryTopic {
    const t = this.topics.get(name);
    if (!t)
      throw new OptiBidError('OPTIBID_ERR_CONFIG', `memory transport: unknown topic "${name}"`, {
        context: { topic: name },
      });
    return t;
  }

  /** Appends records (each to the partition of its key, or its own `partition`), creating missing topics with one partition. */
  append(records: Array<OutRecord | (OutRecord & { partition?: number })>): void {
    if (records.length === 0) return;
    for (const rec of records) {
      let t = this.topics.get(rec.topic);
      if (!t) {
        this.createTopic(rec.topic, 1);
        t = this.topics.get(rec.topic)!;
      }
      const n = t.partitions.length;
      const explicit = (rec as { partition?: number }).partition;
      const p = explicit !== undefined && explicit < n ? explicit : partitionForKey(rec.key, n);
      const part = t.partitions[p]!;
      part.log.push({
        topic: rec.topic,
        key: rec.key,
        value: rec.value,
        timestamp: rec.timestamp,
        headers: rec.headers,
        partition: p,
        offset: String(part.end),
      });
      // Nobody reads it: keep the last 1000 records for inspection (trimmed in steps, amortised O(1)).
      if (this.retention === 'consumed' && t.groups.size === 0 && part.log.length >= 2000)
        this.trim(part, part.end - 1000);
    }
    this.notify();
  }

  /** Registers a consumer group on topics, starting at the current beginning (so lag counts everything unread). */
  subscribe(group: string, topics: string[]): void {
    for (const name of topics) {
      this.createTopic(name, 1);
      const t = this.topic(name);
      t.groups.add(group);
      t.partitions.forEach((part, p) => {
        const key = posKey(group, name, p);
        if (!this.positions.has(key)) this.positions.set(key, part.base);
      });
    }
  }

  /** Next offset `group` reads on a partition. */
  position(group: string, topic: string, partition: number): number {
    return this.positions.get(posKey(group, topic, partition)) ?? this.topic(topic).partitions[partition]!.base;
  }

  endOffset(topic: string, partition: number): number {
    return this.topic(topic).partitions[partition]!.end;
  }

  /** Up to `max` records from `offset` on. */
  read(topic: string, partition: number, offset: number, max: number): StreamRecord[] {
    const part = this.topic(topic).partitions[partition]!;
    const from = Math.max(offset, part.base) - part.base;
    return part.log.slice(from, from + max);
  }

  /** Commits `group`'s position (the next offset to read) and releases what every group has consumed. */
  commit(group: string, topic: string, partition: number, nextOffset: number): void {
    this.positions.set(posKey(group, topic, partition), nextOffset);
    if (this.retention === 'consumed') {
      const t = this.topic(topic);
      const part = t.partitions[partition]!;
      let min = Infinity;
      for (const g of t.groups) min = Math.min(min, this.position(g, topic, partition));
      const consumed = min - part.base;
      // Trim once at least half the log is consumed: amortised O(1) per record, memory at most 2x the backlog.
      if (consumed > 0 && consumed * 2 >= part.log.length) this.trim(part, min);
    }
    this.notify();
  }

  private trim(part: MemoryPartition, upTo: number): void {
    const n = Math.min(upTo - part.base, part.log.length);
    if (n <= 0) return;
    part.log = part.log.slice(n);
    part.base += n;
  }

  /** Unread records of `group` over `topics`. */
  lag(group: string, topics: string[]): number {
    let lag = 0;
    for (const name of topics) {
      const t = this.topics.get(name);
      if (!t) continue;
      t.partitions.forEach((part, p) => (lag += part.end - this.position(group, name, p)));
    }
    return lag;
  }

  /** The highest lag of any group subscribed to `topic` (0 when nobody reads it). */
  topicLag(topic: string): number {
    const t = this.topics.get(topic);
    if (!t) return 0;
    let max = 0;
    for (const g of t.groups) max = Math.max(max, this.lag(g, [topic]));
    return max;
  }

  /** Every retained record of a topic, partition by partition (tests and the demo read outputs here). */
  records(topic: string): StreamRecord[] {
    const t = this.topics.get(topic);
    if (!t) return [];
    return t.partitions.flatMap((p) => p.log);
  }

  /** Records currently held in memory over all topics (back-pressure keeps this bounded). */
  retained(): number {
    let n = 0;
    for (const t of this.topics.values()) for (const p of t.partitions) n += p.log.length;
    return n;
  }

  topicNames(): string[] {
    return [...this.topics.keys()].sort();
  }

  /** Resolves on the next append or commit anywhere. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wakes every waiter (used on shutdown too). */
  notify(): void {
    if (this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

function posKey(group: string, topic: string, partition: number): string {
  return `${group}\u0000${topic}\u0000${partition}`;
}
