/**
 * Where a polling source keeps its progress, as Kafka Connect keeps source offsets: one entry per
 * fetched window (e.g. "A44|BE|2024-10-08"), holding when it was fetched and a digest of each fact it
 * emitted, so a restart resumes after the last fetched window and a re-published document only emits
 * what changed.
 */
export interface WindowOffset {
  /** When the window was last fetched, ms UTC. */
  fetchedAt: number;
  /** ok, no-data or not-published, as the parser said. */
  status: string;
  /** fact key → digest of the published content, for deduplication of re-published data. */
  facts: Record<string, string>;
}

export interface OffsetStore {
  /** Loads every stored offset of `source` (called once at connect). */
  load(source: string): Promise<Map<string, WindowOffset>>;
  /** Stores the offset of one window durably. */
  save(source: string, window: string, offset: WindowOffset): Promise<void>;
  close(): Promise<void>;
}

/** Offsets in memory: for tests and one-shot backfills. Shared between instances by passing the same map. */
export class MemoryOffsetStore implements OffsetStore {
  constructor(readonly data = new Map<string, Map<string, WindowOffset>>()) {}
  async load(source: string): Promise<Map<string, WindowOffset>> {
    return new Map(this.data.get(source) ?? []);
  }
  async save(source: string, window: string, offset: WindowOffset): Promise<void> {
    if (!this.data.has(source)) this.data.set(source, new Map());
    this.data.get(source)!.set(window, structuredClone(offset));
  }
  async close(): Promise<void> {}
}
