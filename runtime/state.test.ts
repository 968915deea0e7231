import { ChangelogStore } from './state.js';

describe('ChangelogStore change tracking', () => {
  it('drains the last change per key in order of first change, across drains', () => {
    const s = new ChangelogStore<number>({ trackChanges: true });
    s.put('a', 1);
    s.put('b', 2);
    s.put('a', 3); // rewritten: still first, last value
    expect(s.drainChanges()).toEqual([
      { key: 'a', value: 3 },
      { key: 'b', value: 2 },
    ]);
    expect(s.drainChanges()).toEqual([]);
    // After a drain, rewriting a key is a change again (its slot was noted in the previous epoch).
    s.put('b', 4);
    s.put('b', 5);
    s.put('a', 6);
    expect(s.drainChanges()).toEqual([
      { key: 'b', value: 5 },
      { key: 'a', value: 6 },
    ]);
    expect([...s.entries()]).toEqual([
      ['a', 6],
      ['b', 5],
    ]);
    expect(s.size).toBe(2);
  });

  it('needs no tombstone for a key created and deleted since the drain, and writes one otherwise', () => {
    const s = new ChangelogStore<number>({ trackChanges: true });
    s.put('old', 1);
    s.drainChanges();
    s.put('new', 2);
    s.delete('new'); // never reached the changelog
    s.delete('never'); // absent before and after
    s.delete('old'); // in the changelog: tombstone
    expect(s.drainChanges()).toEqual([{ key: 'old', value: undefined }]);
    expect(s.get('old')).toBeUndefined();
    // Deleted and written again since the drain: the value (one change), wherever the key was first changed.
    s.put('x', 1);
    s.drainChanges();
    s.put('y', 1);
    s.delete('x');
    s.put('x', 7);
    s.put('new', 3);
    s.delete('new');
    s.put('new', 4);
    expect(s.drainChanges()).toEqual([
      { key: 'y', value: 1 },
      { key: 'x', value: 7 },
      { key: 'new', value: 4 },
    ]);
  });

  it('leaves no trace of keys created and deleted between drains, however many, and keeps the others', () => {
    const s = new ChangelogStore<number>({ trackChanges: true });
    s.put('kept', 1);
    s.put('gone', 1);
    s.drainChanges();
    // A run of short-lived windows, each created, rewritten and deleted within one transaction.
    for (let i = 0; i < 1000; i++) {
      s.put(`w${i}`, i);
      s.put(`w${i}`, i + 1);
      if (i === 500) s.put('kept', 2);
      s.delete(`w${i}`);
    }
    s.delete('gone');
    s.delete('never'); // absent before and after
    s.put('late', 1);
    s.delete('late');
    s.put('late', 2); // created again: counts from here
    expect(s.drainChanges()).toEqual([
      { key: 'kept', value: 2 },
      { key: 'gone', value: undefined },
      { key: 'late', value: 2 },
    ]);
    expect([...s.entries()]).toEqual([
      ['kept', 2],
      ['late', 2],
    ]);
    // Deleting a key created in the previous epoch (now in the changelog) writes a tombstone.
    s.delete('late');
    expect(s.drainChanges()).toEqual([{ key: 'late', value: undefined }]);
  });

  it('forgets pending changes on discard and on clear; restore and untracked stores record nothing', () => {
    const s = new ChangelogStore<number>({ trackChanges: true });
    s.restore('r', 1);
    expect(s.get('r')).toBe(1);
    expect(s.drainChanges()).toEqual([]);
    s.put('r', 2);
    s.discardChanges();
    expect(s.drainChanges()).toEqual([]);
    s.put('r', 3); // a change again after the discard
    expect(s.drainChanges()).toEqual([{ key: 'r', value: 3 }]);
    s.put('q', 1);
    s.clear();
    expect(s.size).toBe(0);
    expect(s.drainChanges()).toEqual([]);
    s.restore('r', undefined);
    const plain = new ChangelogStore<number>();
    plain.put('a', 1);
    plain.put('a', 2);
    plain.delete('b');
    expect(plain.get('a')).toBe(2);
    expect(plain.drainChanges()).toEqual([]);
    expect(() => plain.put('a', undefined as unknown as number)).toThrow(TypeError);
  });

  it('iterates like a Map under writes: updated values seen, new keys visited, deleted ones skipped', () => {
    const s = new ChangelogStore<number>({ trackChanges: true });
    s.put('a', 1);
    s.put('b', 2);
    s.put('c', 3);
    const seen: Array<[string, number]> = [];
    for (const [k, v] of s.entries()) {
      seen.push([k, v]);
      if (k === 'a') {
        s.put('b', 20);
        s.delete('c');
        s.put('d', 4);
      }
    }
    expect(seen).toEqual([
      ['a', 1],
      ['b', 20],
      ['d', 4],
    ]);
  });

  it('changes version with every change of the data, not with reads or drains', () => {
    const store = new ChangelogStore({ trackChanges: true });
    const seen = [store.version];
    const step = (fn: () => void) => {
      fn();
      seen.push(store.version);
    };
    step(() => store.put('a', 1));
    step(() => store.get('a'));
    step(() => store.drainChanges());
    step(() => store.delete('a'));
    step(() => store.restore('b', 2));
    step(() => store.clear());
    // put, delete, restore and clear each move it; get and drain leave it.
    expect(seen.map((v, i) => (i === 0 ? 0 : v - seen[i - 1]!))).toEqual([0, 1, 0, 0, 1, 1, 1]);
  });
});

describe('ChangelogStore collection renewal (young-generation friendly churn)', () => {
  type Internals = { data: Map<string, unknown>; dirty: Map<string, unknown>; fresh: Set<string> };
  const internals = (s: ChangelogStore<number>) => s as unknown as Internals;

  /** The store's semantics without renewal: last change per key in order of first change, fresh keys untracked. */
  class Reference {
    data = new Map<string, number>();
    dirty = new Map<string, number | undefined>();
    fresh = new Set<string>();
    put(k: string, v: number) {
      if (!this.data.has(k) && !this.dirty.has(k)) this.fresh.add(k);
      this.dirty.set(k, v);
      this.data.set(k, v);
    }
    delete(k: string) {
      if (this.fresh.delete(k)) {
        this.dirty.delete(k);
        this.data.delete(k);
        return;
      }
      const had = this.dirty.has(k);
      const existed = this.data.delete(k);
      if (existed || had) this.dirty.set(k, undefined);
    }
    drain() {
      const out = [...this.dirty].map(([key, value]) => ({ key, value }));
      this.dirty = new Map();
      this.fresh = new Set();
      return out;
    }
  }

  it('holds, iterates and drains exactly what a store that never renews would, over long churn', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const s = new ChangelogStore<number>({ trackChanges: true });
    const ref = new Reference();
    let renewals = 0;
    let lastData = internals(s).data;
    let next = 0;
    const live: string[] = [];
    for (let op = 0; op < 30_000; op++) {
      const r = rnd(100);
      if (r < 45) {
        // a new short-lived key (a window opening)
        const k = `w${next++}`;
        live.push(k);
        s.put(k, op);
        ref.put(k, op);
      } else if (r < 85 && live.length) {
        // one closing (or an update of a long-lived key)
        const k = live.splice(rnd(live.length), 1)[0]!;
        s.delete(k);
        ref.delete(k);
      } else if (r < 95) {
        const k = `long${rnd(20)}`;
        s.put(k, op);
        ref.put(k, op);
      } else if (r < 97) {
        const k = `long${rnd(20)}`;
        s.delete(k);
        ref.delete(k);
      } else expect(s.drainChanges()).toEqual(ref.drain());
      if (internals(s).data !== lastData) {
        renewals++;
        lastData = internals(s).data;
      }
      if (op % 997 === 0) expect([...s.entries()]).toEqual([...ref.data]);
    }
    expect([...s.entries()]).toEqual([...ref.data]);
    expect(s.size).toBe(ref.data.size);
    expect(s.drainChanges()).toEqual(ref.drain());
    // ~25 000 keys created or deleted: renewed every 1024 of them or so (the point of it).
    expect(renewals).toBeGreaterThanOrEqual(15);
  });

  it('renews Maps and Set once 1024 keys came and went, and starts drains on fresh ones', () => {
    const s = new ChangelogStore<number>({ trackChanges: true });
    s.put('kept', 1);
    const before = { ...internals(s) };
    for (let i = 0; i < 600; i++) {
      s.put(`w${i}`, i);
      s.delete(`w${i}`);
    }
    const after = internals(s);
    expect(after.data).not.toBe(before.data);
    expect(after.dirty).not.toBe(before.dirty);
    expect(after.fresh).not.toBe(before.fresh);
    expect([...s.entries()]).toEqual([['kept', 1]]);
    expect(s.drainChanges()).toEqual([{ key: 'kept', value: 1 }]);
    const drained = internals(s).dirty;
    s.put('x', 2);
    expect(s.drainChanges()).toEqual([{ key: 'x', value: 2 }]);
    expect(internals(s).dirty).not.toBe(drained);
    // Updates of existing keys are not churn: nothing is renewed however many.
    const data = internals(s).data;
    for (let i = 0; i < 5000; i++) s.put('kept', i);
    expect(internals(s).data).toBe(data);
    // Untracked stores (and restores) renew their data Map too.
    const plain = new ChangelogStore<number>();
    const plainData = internals(plain).data;
    for (let i = 0; i < 600; i++) {
      plain.restore(`r${i}`, i);
      plain.delete(`r${i}`);
    }
    expect(internals(plain).data).not.toBe(plainData);
    expect(plain.size).toBe(0);
  });

  it('does not replace the Map under an iteration: keys added after heavy churn during it are still visited', () => {
    const s = new ChangelogStore<number>({ trackChanges: true });
    s.put('a', 1);
    s.put('b', 2);
    const seen: string[] = [];
    for (const [k] of s.entries()) {
      seen.push(k);
      if (k === 'a') {
        for (let i = 0; i < 3000; i++) {
          s.put(`w${i}`, i);
          s.delete(`w${i}`);
        }
        s.put('z', 26);
      }
    }
    expect(seen).toEqual(['a', 'b', 'z']);
    // An iteration left early (break: the iterator is closed) does not hold renewal back.
    for (const [k] of s.entries()) if (k === 'a') break;
    const data = internals(s).data;
    for (let i = 0; i < 3000; i++) {
      s.put(`v${i}`, i);
      s.delete(`v${i}`);
    }
    expect(internals(s).data).not.toBe(data);
    expect([...s.entries()]).toEqual([
      ['a', 1],
      ['b', 2],
      ['z', 26],
    ]);
  });
});
