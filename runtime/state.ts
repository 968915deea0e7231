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
  // The three collections are replaced by fresh copies now and then (see `renew`), hence not readonly.
  private data = new Map<string, V>();
  private dirty = new Map<string, V | undefined>();
  /**
   * Keys absent at the last drain that were created since and still exist: deleting one needs no tombstone.
   * Always a subset of the keys of `data` and of `dirty`.
   */
  private fresh = new Set<string>();
  private tracking: boolean;
  /** Bumped by every change of the data (put, delete, restore, clear): see `version`. */
  private changes = 0;
  /** Keys created or deleted since the collections were last renewed (see `renew`). */
  private churn = 0;
  /** `entries()` iterations under way: `data` is not replaced under them (a Map iterator follows its own Map). */
  private iterating = 0;

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
    const dataBefore = data.size;
    if (!this.tracking) {
      data.set(key, value);
      if (data.size !== dataBefore) this.churned();
      return;
    }
    // Hot path (every state write): sizes before and after tell "first change since the drain" and
    // "absent before" without extra lookups.
    const dirty = this.dirty;
    const dirtyBefore = dirty.size;
    dirty.set(key, value);
    data.set(key, value);
    if (data.size !== dataBefore) {
      if (dirty.size !== dirtyBefore) this.fresh.add(key);
      this.churned();
    }
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
      if (this.data.delete(key)) this.churned();
      return;
    }
    const dirty = this.dirty;
    // A key created since the last drain never reached the changelog, so its deletion needs no tombstone:
    // it leaves the pending changes altogether. (A window opened and closed within one transaction used to
    // stay there as a skipped entry: thousands per transaction in the pipeline bench, drained to nothing.)
    if (this.fresh.delete(key)) {
      dirty.delete(key);
      this.data.delete(key);
      this.churned();
      return;
    }
    const dirtyBefore = dirty.size;
    dirty.set(key, undefined);
    const existed = this.data.delete(key);
    // Absent at the last drain and untouched since: nothing to write either.
    if (dirty.size !== dirtyBefore && !existed) dirty.delete(key);
    if (existed) this.churned();
  }

  /**
   * Counts a key created or deleted; after enough of them (`renewAfter`, at least the entries held) the
   * collections are renewed. Amortised, a copied entry per change at most.
   */
  private churned(): void {
    if (++this.churn >= renewAfter && this.churn >= this.data.size + this.dirty.size) this.renew();
  }

  /**
   * Replaces the Maps and the Set by fresh copies (same entries, same order). A store whose keys come and
   * go (a window per key and hour, opened and closed again) lives long, so V8 soon moves its collections to
   * the old generation; every insert past a table's capacity then allocates a new table there, and the
   * table left behind still points at the entries it held (window entries, key strings) until the next
   * full GC. Every young collection (scavenge) takes those pointers as roots: the entries survive, are
   * promoted and die only in a mark-compact. In the pipeline bench that kept 15-25% of the young
   * generation alive at each scavenge (a Map with 20 entries churned in a loop: ~26%, renewed: under 1%).
   * Fresh collections are young, and so are the tables they grow into: what they drop dies young. `data`
   * is kept while an `entries()` iteration is under way (it follows its own Map's later changes).
   */
  private renew(): void {
    this.churn = 0;
    if (this.iterating === 0) this.data = new Map(this.data);
    if (this.tracking) {
      this.dirty = new Map(this.dirty);
      this.fresh = new Set(this.fresh);
    }
  }

  /** A Map's entries iterator (writes during the iteration show as they would in a Map's). */
  *entries(): IterableIterator<[string, V]> {
    this.iterating++;
    try {
      yield* this.data.entries();
    } finally {
      this.iterating--;
    }
  }

  get size(): number {
    return this.data.size;
  }

  /** Applies a change read back from the changelog (restore), without tracking it. */
  restore(key: string, value: V | undefined): void {
    this.changes++;
    const data = this.data;
    const before = data.size;
    if (value === undefined) data.delete(key);
    else data.set(key, value);
    if (data.size !== before) this.churned();
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
    this.discardChanges();
    return out;
  }

  /** Forgets pending changes (after an aborted transaction the store is rebuilt from the changelog). */
  discardChanges(): void {
    // New collections rather than clear(): clearing an old-generation Map allocates its next table there (see `renew`).
    this.dirty = new Map();
    this.fresh = new Set();
  }

  clear(): void {
    this.changes++;
    this.churn = 0;
    if (this.iterating === 0) this.data = new Map();
    else this.data.clear();
    this.discardChanges();
  }
}

/** Keys created or deleted before a store renews its collections (see `ChangelogStore.renew`). */
const renewAfter = 1024;
