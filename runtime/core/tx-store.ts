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
  /**
   * The call's first written key and its value, held outside the overlay Map: most calls write one key
   * (a window's entry per record), so the hot path needs no Map and no iteration to commit it.
   */
  private slotKey: string | undefined = undefined;
  private slotValue: V | typeof DELETED | undefined = undefined;
  /**
   * Further keys written by the call, in write order after the slot's key. Emptied by replacing it (not
   * `clear()`): the store lives long, and an old-generation Map's next table is allocated there too and its
   * last one keeps the keys it held alive until a full GC (see `ChangelogStore.renew`).
   */
  private overlay = new Map<string, V | typeof DELETED>();
  /** Set by `entries()`: the slot was moved into the overlay and every write goes there until commit/rollback. */
  private mapOnly = false;
  /**
   * The last key this call read from the base, the value it got and the base's version then: a commit that
   * writes that same value back to an unchanged base (an object updated in place, e.g. a window's entry) only
   * marks the key changed (`ChangelogStore.touch`) instead of storing it again.
   */
  private readKey: string | undefined = undefined;
  private readValue: V | undefined = undefined;
  private readVersion = -1;

  constructor(readonly base: ChangelogStore<V>) {}

  private readonly apply = (v: V | typeof DELETED, key: string): void => {
    if (v === DELETED) this.base.delete(key);
    else this.base.put(key, v);
  };

  get(key: string): V | undefined {
    if (this.slotKey === key) {
      const v = this.slotValue;
      return v === DELETED ? undefined : v;
    }
    if (this.overlay.size !== 0) {
      const v = this.overlay.get(key);
      if (v === DELETED) return undefined;
      if (v !== undefined) return v;
    }
    const v = this.base.get(key);
    this.readKey = key;
    this.readValue = v;
    this.readVersion = this.base.version;
    return v;
  }

  put(key: string, value: V): void {
    if (value === undefined) throw new TypeError('state values may not be undefined; use delete()');
    this.write(key, value);
  }

  delete(key: string): void {
    this.write(key, DELETED);
  }

  private write(key: string, value: V | typeof DELETED): void {
    if (!this.mapOnly && (this.slotKey === undefined || this.slotKey === key)) {
      this.slotKey = key;
      this.slotValue = value;
    } else this.overlay.set(key, value);
  }

  /** Moves the slot into the overlay Map (first in write order) and sends later writes there. */
  private toMap(): void {
    this.mapOnly = true;
    const key = this.slotKey;
    if (key === undefined) return;
    const value = this.slotValue as V | typeof DELETED;
    this.slotKey = undefined;
    this.slotValue = undefined;
    if (this.overlay.size === 0) {
      this.overlay.set(key, value);
      return;
    }
    const rest = this.overlay;
    this.overlay = new Map([[key, value]]);
    for (const [k, v] of rest) this.overlay.set(k, v);
  }

  /**
   * The merged view, evaluated lazily with a Map's semantics under writes during iteration: a deleted
   * key not yet visited is skipped, a new key is visited, an updated key that was visited is not again.
   */
  *entries(): IterableIterator<[string, V]> {
    this.toMap();
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
    return this.slotKey !== undefined || this.overlay.size !== 0;
  }

  /** Applies the current call's writes to the underlying store (in write order). */
  commit(): void {
    this.mapOnly = false;
    const key = this.slotKey;
    if (key !== undefined) {
      const value = this.slotValue as V | typeof DELETED;
      this.slotKey = undefined;
      this.slotValue = undefined;
      if (
        key === this.readKey &&
        value === this.readValue &&
        value !== undefined &&
        this.readVersion === this.base.version
      )
        this.base.touch(key, value as V);
      else this.apply(value, key);
    }
    this.readKey = undefined;
    this.readValue = undefined;
    if (this.overlay.size === 0) return;
    // forEach, not for-of: no [key, value] array per entry (this runs after every process call).
    this.overlay.forEach(this.apply);
    this.overlay = new Map();
  }

  /** Forgets the current call's writes. */
  rollback(): void {
    this.mapOnly = false;
    this.readKey = undefined;
    this.readValue = undefined;
    this.slotKey = undefined;
    this.slotValue = undefined;
    if (this.overlay.size !== 0) this.overlay = new Map();
  }
}
