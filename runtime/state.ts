import type { KeyValueStore } from './component.js';

/** One change to a keyed store, as written to its changelog (`value: undefined` deletes the key). */
export interface StateChange {
  key: string;
  value: unknown;
}

/**
 * An in-memory keyed store that remembers what changed since the last `drainChanges()`, so the
 * runtime can write those changes to a compacted changelog topic in the same transaction as the
 * outputs. Only the last change per key is kept (the changelog is compacted anyway).
 */
export class ChangelogStore<V = unknown> implements KeyValueStore<V> {
  private readonly data = new Map<string, V>();
  private readonly dirty = new Map<string, V | undefined>();
  private tracking: boolean;

  constructor(opts: { trackChanges?: boolean } = {}) {
    this.tracking = opts.trackChanges ?? false;
  }

  get(key: string): V | undefined {
    return this.data.get(key);
  }

  put(key: string, value: V): void {
    if (value === undefined) throw new TypeError('state values may not be undefined; use delete()');
    this.data.set(key, value);
    if (this.tracking) this.dirty.set(key, value);
  }

  delete(key: string): void {
    this.data.delete(key);
    if (this.tracking) this.dirty.set(key, undefined);
  }

  entries(): IterableIterator<[string, V]> {
    return this.data.entries();
  }

  get size(): number {
    return this.data.size;
  }

  /** Applies a change read back from the changelog (restore), without tracking it. */
  restore(key: string, value: V | undefined): void {
    if (value === undefined) this.data.delete(key);
    else this.data.set(key, value);
  }

  /** The changes since the last call, last write per key wins. */
  drainChanges(): StateChange[] {
    if (this.dirty.size === 0) return [];
    const out = [...this.dirty].map(([key, value]) => ({ key, value }));
    this.dirty.clear();
    return out;
  }

  /** Forgets pending changes (after an aborted transaction the store is rebuilt from the changelog). */
  discardChanges(): void {
    this.dirty.clear();
  }

  clear(): void {
    this.data.clear();
    this.dirty.clear();
  }
}
