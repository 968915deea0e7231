import type { KeyValueStore } from '../component.js';
import type { ChangelogStore } from '../state.js';

const DELETED = Symbol('deleted');

/**
 * The `ctx.state` a processor sees: a keyed store whose writes during one call (`process`,
 * `onWatermark`, `onTimer`) are held in an overlay and reach the underlying ChangelogStore (and so the
 * changelog) only on `commit()`. `rollback()` forgets them, so a call that throws leaves the state as
 * it was. Reads see the call's own writes. Values mutated in place are shared objects and not undone.
 */
export class TxStore<V = unknown> implements KeyValueStore<V> {
  private readonly overlay = new Map<string, V | typeof DELETED>();

  constructor(readonly base: ChangelogStore<V>) {}

  private readonly apply = (v: V | typeof DELETED, key: string): void => {
    if (v === DELETED) this.base.delete(key);
    else this.base.put(key, v);
  };

  get(key: string): V | undefined {
    if (this.overlay.size !== 0) {
      const v = this.overlay.get(key);
      if (v === DELETED) return undefined;
      if (v !== undefined) return v;
    }
    return this.base.get(key);
  }

  put(key: string, value: V): void {
    if (value === undefined) throw new TypeError('state values may not be undefined; use delete()');
    this.overlay.set(key, value);
  }

  delete(key: string): void {
    this.overlay.set(key, DELETED);
  }

  /**
   * The merged view, evaluated lazily with a Map's semantics under writes during iteration: a deleted
   * key not yet visited is skipped, a new key is visited, an updated key that was visited is not again.
   */
  *entries(): IterableIterator<[string, V]> {
    const overlay = this.overlay;
    let overlaid: Set<string> | undefined;
    for (const entry of this.base.entries()) {
      if (overlay.size !== 0 && overlay.has(entry[0])) {
        (overlaid ??= new Set()).add(entry[0]);
        continue;
      }
      yield entry;
    }
    for (const [key, v] of overlay) {
      if (v === DELETED) continue;
      if (this.base.get(key) !== undefined && !overlaid?.has(key)) continue; // visited from the base already
      yield [key, v];
    }
  }

  /** True when the current call has written something. */
  get dirty(): boolean {
    return this.overlay.size !== 0;
  }

  /** Applies the current call's writes to the underlying store. */
  commit(): void {
    if (this.overlay.size === 0) return;
    // forEach, not for-of: no [key, value] array per entry (this runs after every process call).
    this.overlay.forEach(this.apply);
    this.overlay.clear();
  }

  /** Forgets the current call's writes. */
  rollback(): void {
    this.overlay.clear();
  }
}
