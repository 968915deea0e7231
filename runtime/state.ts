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
  /** Keys absent at the last drain that were first touched since: deleting them again needs no tombstone. */
  private readonly fresh = new Set<string>();
  private tracking: boolean;

  constructor(opts: { trackChanges?: boolean } = {}) {
    this.tracking = opts.trackChanges ?? false;
  }

  get(key: string): V | undefined {
    return this.data.get(key);
  }

  put(key: string, value: V): void {
    if (value === undefined) throw new TypeError('state values may not be undefined; use delete()');
    const data = this.data;
    if (!this.tracking) {
      data.set(key, value);
      return;
    }
    // Hot path (every state write): sizes before and after tell "first change since the drain" and
    // "absent before" without extra lookups.
    const dirty = this.dirty;
    const dirtyBefore = dirty.size;
    dirty.set(key, value);
    const dataBefore = data.size;
    data.set(key, value);
    if (dirty.size !== dirtyBefore && data.size !== dataBefore) this.fresh.add(key);
  }

  delete(key: string): void {
    if (!this.tracking) {
      this.data.delete(key);
      return;
    }
    const dirty = this.dirty;
    const dirtyBefore = dirty.size;
    dirty.set(key, undefined);
    const existed = this.data.delete(key);
    // The first change of a key since the last drain notes whether it existed.
    if (dirty.size !== dirtyBefore && !existed) this.fresh.add(key);
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

  /**
   * The changes since the last call, last write per key wins. A key created and deleted again in between
   * (a window opened and closed within one batch) is left out: the changelog never held it, so it needs
   * no tombstone.
   */
  drainChanges(): StateChange[] {
    if (this.dirty.size === 0) return [];
    const out: StateChange[] = [];
    this.dirty.forEach((value, key) => {
      if (value !== undefined || !this.fresh.has(key)) out.push({ key, value });
    });
    this.dirty.clear();
    this.fresh.clear();
    return out;
  }

  /** Forgets pending changes (after an aborted transaction the store is rebuilt from the changelog). */
  discardChanges(): void {
    this.dirty.clear();
    this.fresh.clear();
  }

  clear(): void {
    this.data.clear();
    this.dirty.clear();
    this.fresh.clear();
  }
}
