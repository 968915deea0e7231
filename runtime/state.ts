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
  /**
   * Keys absent at the last drain that were created since and still exist: deleting one needs no tombstone.
   * Always a subset of the keys of `data` and of `dirty`.
   */
  private readonly fresh = new Set<string>();
  private tracking: boolean;
  /** Bumped by every change of the data (put, delete, restore, clear): see `version`. */
  private changes = 0;

  constructor(opts: { trackChanges?: boolean } = {}) {
    this.tracking = opts.trackChanges ?? false;
  }

  get(key: string): V | undefined {
    return this.data.get(key);
  }

  /** Changes whenever the data may have: a value read at one version is still the key's value at the same version. */
  get version(): number {
    return this.changes;
  }

  put(key: string, value: V): void {
    if (value === undefined) throw new TypeError('state values may not be undefined; use delete()');
    const data = this.data;
    this.changes++;
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

  /**
   * `put(key, value)` for a key that holds `value` already (the same object, updated in place): records the
   * change for the changelog without storing the value again. `value` must be what `get(key)` returns (e.g.
   * read at the current `version`).
   */
  touch(key: string, value: V): void {
    if (this.tracking) this.dirty.set(key, value);
  }

  delete(key: string): void {
    this.changes++;
    if (!this.tracking) {
      this.data.delete(key);
      return;
    }
    const dirty = this.dirty;
    // A key created since the last drain never reached the changelog, so its deletion needs no tombstone:
    // it leaves the pending changes altogether. (A window opened and closed within one transaction used to
    // stay there as a skipped entry: thousands per transaction in the pipeline bench, drained to nothing.)
    if (this.fresh.delete(key)) {
      dirty.delete(key);
      this.data.delete(key);
      return;
    }
    const dirtyBefore = dirty.size;
    dirty.set(key, undefined);
    const existed = this.data.delete(key);
    // Absent at the last drain and untouched since: nothing to write either.
    if (dirty.size !== dirtyBefore && !existed) dirty.delete(key);
  }

  entries(): IterableIterator<[string, V]> {
    return this.data.entries();
  }

  get size(): number {
    return this.data.size;
  }

  /** Applies a change read back from the changelog (restore), without tracking it. */
  restore(key: string, value: V | undefined): void {
    this.changes++;
    if (value === undefined) this.data.delete(key);
    else this.data.set(key, value);
  }

  /**
   * The changes since the last call, last write per key wins, in order of each key's first change. A key
   * created and deleted again in between (a window opened and closed within one batch) is left out: the
   * changelog never held it, so it needs no tombstone (created again after that, it counts from then).
   */
  drainChanges(): StateChange[] {
    if (this.dirty.size === 0) return [];
    const out: StateChange[] = [];
    // Keys created and deleted again since the last drain already left `dirty` (see `delete`).
    this.dirty.forEach((value, key) => {
      out.push({ key, value });
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
    this.changes++;
    this.data.clear();
    this.dirty.clear();
    this.fresh.clear();
  }
}
