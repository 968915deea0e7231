import { Type } from '@sinclair/typebox';
import { VirtualClock } from '../clock.js';
import { defineProcessor, type Logger, type Processor } from '../component.js';
import { makeSpec } from '../spec.js';
import { arraySource, collectingSink } from '../testing.js';
import { MemoryTransport } from '../memory/transport.js';
import { ProcessorCore } from './processor.js';
import { TxStore } from './tx-store.js';
import { ChangelogStore } from '../state.js';
import { WatermarkTracker } from '../watermark.js';
import { projectionOf, registerProjection } from './projection.js';

/**
 * Keeps a running sum per key; before failing on `fail: true` it writes the sum, a marker key and
 * deletes `keep`, so a rollback that misses any of the three shows.
 */
const summing = defineProcessor({
  name: 'summing',
  status: 'experimental',
  summary: 'running sum per key, fails on fail: true after writing state',
  config: Type.Object({}),
  create: (): Processor => ({
    process(r, ctx) {
      const v = r.value as { n?: number; fail?: boolean };
      const sum = ((ctx.state.get(`sum:${r.key}`) as number | undefined) ?? 0) + (v.n ?? 100);
      ctx.state.put(`sum:${r.key}`, sum);
      if (v.fail) {
        ctx.state.put(`touched:${r.offset}`, true);
        ctx.state.delete('keep');
        throw new Error('poison');
      }
      if (ctx.state.get('keep') === undefined) ctx.state.put('keep', 'yes');
      ctx.emit({ value: { sum, keep: ctx.state.get('keep') } });
    },
  }),
});

const rec = (offset: number, value: object) => ({
  topic: 'in',
  key: 'a',
  value,
  timestamp: offset * 1000,
  partition: 0,
  offset: String(offset),
});

describe('state rollback of a failed call', () => {
  it('ProcessorCore: a failing record leaves state and the changelog as they were', async () => {
    const node = { name: 'sum', definition: summing, config: {}, inputs: ['in'], outputs: ['out'] };
    const core = ProcessorCore.create(
      node,
      { name: 'sum', clock: new VirtualClock(), logger: console, env: {}, signal: new AbortController().signal },
      {
        dlqTopic: 'dlq.t',
        clock: new VirtualClock(),
        maxOutOfOrdernessMs: 0,
        trackChanges: true,
      },
    );
    const result = await core.run([rec(0, { n: 1 }), rec(1, { fail: true }), rec(2, { n: 2 })]);
    expect(result.outputs.map((o) => o.value)).toEqual([
      { sum: 1, keep: 'yes' },
      { sum: 3, keep: 'yes' },
    ]);
    expect(result.deadLetters).toHaveLength(1);
    // What goes to the changelog: only committed writes (last per key), nothing of offset 1.
    expect(result.changes).toEqual([
      {
        partition: 0,
        changes: [
          { key: 'sum:a', value: 3 },
          { key: 'keep', value: 'yes' },
        ],
      },
    ]);
    expect([...core.store(0).entries()]).toEqual([
      ['sum:a', 3],
      ['keep', 'yes'],
    ]);
  });

  it('ProcessorCore: a batch run in chunks without draining gives the changes of one run, taken once', async () => {
    const kv = defineProcessor({
      name: 'kv',
      status: 'experimental',
      summary: 'puts or deletes keys; fails on a negative value',
      config: Type.Object({}),
      create: (): Processor => ({
        process(r, ctx) {
          const v = r.value as { op: 'put' | 'del'; k: string; v?: number };
          if ((v.v ?? 0) < 0) throw new Error('negative');
          if (v.op === 'put') ctx.state.put(v.k, v.v);
          else ctx.state.delete(v.k);
          ctx.emit({ value: v.k });
        },
      }),
    });
    const make = () =>
      ProcessorCore.create(
        { name: 'kv', definition: kv, config: {}, inputs: ['in'], outputs: ['out'] },
        { name: 'kv', clock: new VirtualClock(), logger: console, env: {}, signal: new AbortController().signal },
        { dlqTopic: 'dlq.t', clock: new VirtualClock(), maxOutOfOrdernessMs: 0, trackChanges: true },
      );
    // x is created and deleted within the batch (in different chunks): the changelog never needs it.
    const records = [
      rec(0, { op: 'put', k: 'x', v: 1 }),
      rec(1, { op: 'put', k: 'y', v: 2 }),
      rec(2, { op: 'del', k: 'x' }),
      rec(3, { op: 'put', k: 'y', v: -1 }),
      rec(4, { op: 'put', k: 'y', v: 3 }),
      rec(5, { op: 'put', k: 'z', v: 4 }),
    ];
    const once = await make().run(records);
    expect(once.changes).toEqual([
      {
        partition: 0,
        changes: [
          { key: 'y', value: 3 },
          { key: 'z', value: 4 },
        ],
      },
    ]);
    const chunked = make();
    const parts = [];
    for (const chunk of [records.slice(0, 2), records.slice(2, 4), records.slice(4)]) {
      const r = await chunked.run(chunk, false);
      expect(r.changes).toEqual([]);
      parts.push(r);
    }
    expect(parts.flatMap((r) => r.outputs)).toEqual(once.outputs);
    expect(parts.flatMap((r) => r.deadLetters)).toEqual(once.deadLetters);
    expect(chunked.takeChanges()).toEqual(once.changes);
    expect(chunked.takeChanges()).toEqual([]);
    // Draining per chunk instead would write x and then its tombstone.
    const drained = make();
    const perChunk = [];
    for (const chunk of [records.slice(0, 2), records.slice(2, 4), records.slice(4)])
      perChunk.push(...(await drained.run(chunk)).changes.flatMap((c) => c.changes));
    expect(perChunk).toContainEqual({ key: 'x', value: undefined });
  });

  it('memory transport: the next record sees the state before the failed one', async () => {
    const sink = collectingSink('out');
    const spec = makeSpec({
      name: 'rollback',
      sources: [
        {
          name: 'src',
          definition: arraySource('src', [rec(0, { n: 1 }), rec(1, { fail: true }), rec(2, { n: 2 })], {
            batchSize: 1,
          }),
        },
      ],
      processors: [{ name: 'sum', definition: summing, inputs: ['in'], outputs: ['out'] }],
      sinks: [{ name: 'out', definition: sink, inputs: ['out'] }],
    });
    const transport = new MemoryTransport();
    const run = await transport.start(spec, { clock: new VirtualClock(), untilIdle: true });
    await run.done;
    expect(sink.records.map((r) => r.value)).toEqual([
      { sum: 1, keep: 'yes' },
      { sum: 3, keep: 'yes' },
    ]);
    expect(transport.broker.records('dlq.rollback').map((r) => r.headers?.reason)).toEqual(['poison']);
  });
});

describe('TxStore', () => {
  it('reads its own writes, commits them to the base, or forgets them', () => {
    const base = new ChangelogStore({ trackChanges: true });
    base.put('a', 1);
    base.put('b', 2);
    base.drainChanges();
    const tx = new TxStore(base);
    tx.put('a', 10);
    tx.delete('b');
    tx.put('c', 3);
    expect([tx.get('a'), tx.get('b'), tx.get('c')]).toEqual([10, undefined, 3]);
    expect([...tx.entries()]).toEqual([
      ['a', 10],
      ['c', 3],
    ]);
    expect(base.get('a')).toBe(1);
    tx.rollback();
    expect([...tx.entries()]).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(base.drainChanges()).toEqual([]);
    tx.put('a', 11);
    tx.delete('b');
    tx.commit();
    expect([...base.entries()]).toEqual([['a', 11]]);
    expect(base.drainChanges()).toEqual([
      { key: 'a', value: 11 },
      { key: 'b', value: undefined },
    ]);
  });

  it('writes no tombstone for a key created and deleted between two drains, but keeps the others', () => {
    const store = new ChangelogStore({ trackChanges: true });
    store.put('old', 1);
    expect(store.drainChanges()).toEqual([{ key: 'old', value: 1 }]);
    store.put('window:1', 5); // opened and closed within one batch: the changelog never saw it
    store.put('window:1', 6);
    store.delete('window:1');
    store.delete('never'); // deleting what never existed
    store.delete('old'); // existed at the last drain: its tombstone must go out
    store.put('new', 2);
    store.delete('gone'); // absent...
    store.put('gone', 3); // ...then written: a value, not a tombstone
    expect(store.drainChanges()).toEqual([
      { key: 'old', value: undefined },
      { key: 'new', value: 2 },
      { key: 'gone', value: 3 },
    ]);
    // Written in one batch and deleted in the next: the changelog holds it, so the tombstone goes out.
    store.delete('new');
    expect(store.drainChanges()).toEqual([{ key: 'new', value: undefined }]);
  });

  it('an object read and written back (updated in place) reaches the changelog; the base keeps it only while unchanged', () => {
    const base = new ChangelogStore<{ n: number }>({ trackChanges: true });
    const entry = { n: 1 };
    base.put('w', entry);
    base.drainChanges();
    const tx = new TxStore(base);
    // The common call: read, update in place, write back.
    tx.get('w')!.n = 2;
    tx.put('w', entry);
    tx.commit();
    expect(base.get('w')).toBe(entry);
    expect(base.drainChanges()).toEqual([{ key: 'w', value: { n: 2 } }]);
    // Again after a drain: the key is changed again.
    tx.get('w')!.n = 3;
    tx.put('w', entry);
    tx.commit();
    expect(base.drainChanges()).toEqual([{ key: 'w', value: { n: 3 } }]);
    // The base changed between the read and the commit (deleted, restored or cleared under the call): stored again.
    for (const change of [() => base.delete('w'), () => base.restore('w', undefined), () => base.clear()]) {
      tx.get('w');
      change();
      tx.put('w', entry);
      tx.commit();
      expect(base.get('w')).toBe(entry);
      expect(base.drainChanges()).toEqual([{ key: 'w', value: entry }]);
    }
    // Read one key, write its value under another: stored under that key.
    tx.get('w');
    tx.put('v', entry);
    tx.commit();
    expect([...base.entries()].map(([k]) => k)).toEqual(['w', 'v']);
    // A read left over from a rolled-back call does not count for the next one.
    tx.get('w');
    tx.rollback();
    base.delete('w');
    tx.put('w', entry);
    tx.commit();
    expect(base.get('w')).toBe(entry);
    // Created since the drain, then rewritten in place and deleted: still no tombstone.
    base.drainChanges();
    const fresh = { n: 9 };
    tx.put('f', fresh);
    tx.commit();
    tx.get('f');
    tx.put('f', fresh);
    tx.commit();
    tx.delete('f');
    tx.commit();
    expect(base.drainChanges()).toEqual([]);
  });

  it('iterates like a Map under writes: deleted unvisited keys skipped, updated visited keys not repeated, new keys visited', () => {
    const base = new ChangelogStore();
    for (const k of ['a', 'b', 'c']) base.put(k, k);
    const tx = new TxStore(base);
    const seen: string[] = [];
    for (const [k, v] of tx.entries()) {
      seen.push(`${k}=${String(v)}`);
      if (k === 'a') {
        tx.put('a', 'A'); // visited: not again
        tx.delete('c'); // not yet visited: skipped
        tx.put('b', 'B'); // not yet visited: seen with its new value
        tx.put('d', 'd'); // new: visited
      }
    }
    expect(seen).toEqual(['a=a', 'b=B', 'd=d']);
  });

  it('keeps write order and read-your-writes when the first written key is rewritten, deleted or iterated over', () => {
    const base = new ChangelogStore({ trackChanges: true });
    base.put('x', 0);
    base.drainChanges();
    const tx = new TxStore(base);
    tx.put('n', 1); // first key of the call
    tx.put('m', 2);
    tx.put('n', 3); // rewritten: keeps its place (first)
    expect([tx.get('n'), tx.get('m'), tx.dirty]).toEqual([3, 2, true]);
    tx.delete('n');
    expect(tx.get('n')).toBeUndefined();
    tx.put('n', 4);
    // Iterating mid-call sees the first key's latest write, and writes during iteration stay visible.
    const seen: string[] = [];
    for (const [k, v] of tx.entries()) {
      seen.push(`${k}=${String(v)}`);
      if (k === 'x') tx.put('x', 9); // visited: not again
    }
    expect(seen).toEqual(['x=0', 'n=4', 'm=2']);
    tx.put('n', 5); // after the iteration, still the same call
    expect(tx.get('n')).toBe(5);
    tx.commit();
    expect(tx.dirty).toBe(false);
    expect(base.drainChanges()).toEqual([
      { key: 'n', value: 5 },
      { key: 'm', value: 2 },
      { key: 'x', value: 9 },
    ]);
    // A deleted first key reaches the base as a delete; a rolled-back one not at all.
    tx.delete('m');
    tx.commit();
    tx.put('x', 1);
    tx.rollback();
    expect([...base.entries()]).toEqual([
      ['x', 9],
      ['n', 5],
    ]);
  });
});

/** Emits every watermark per partition store; async or failing (at watermark 3000) on request. */
function watermarkProbe(mode: 'sync' | 'async' | 'fail-at-3000'): ProcessorCore {
  const probe = defineProcessor({
    name: 'probe',
    status: 'experimental',
    summary: 'emits each watermark',
    config: Type.Object({}),
    create: (): Processor => ({
      process(r, ctx) {
        ctx.state.put(`seen:${r.offset}`, true);
      },
      onWatermark(wm, ctx) {
        ctx.state.put(`wm:${wm}`, true);
        ctx.emit({ key: null, value: wm, timestamp: wm });
        if (mode === 'fail-at-3000' && wm === 3000) throw new Error('boom');
        if (mode === 'async') return Promise.resolve();
      },
    }),
  });
  const node = { name: 'probe', definition: probe, config: {}, inputs: ['in'], outputs: ['out'] };
  const clock = new VirtualClock();
  return ProcessorCore.create(
    node,
    { name: 'probe', clock, logger: console, env: {}, signal: new AbortController().signal },
    { dlqTopic: 'dlq.t', clock, maxOutOfOrdernessMs: 0, trackChanges: true },
  );
}

const at = (partition: number, offset: number, ts: number) => ({
  topic: 'in',
  key: 'k',
  value: null,
  timestamp: ts,
  partition,
  offset: String(offset),
});

describe('ProcessorCore watermarks', () => {
  it.each(['sync', 'async'] as const)(
    '%s onWatermark runs once per advance and per partition store, records in order',
    async (mode) => {
      const core = watermarkProbe(mode);
      // Partition 1 holds the watermark back at its highest time (2000) until it moves on.
      const r = await core.run([at(0, 0, 1000), at(1, 0, 2000), at(0, 1, 3000), at(0, 2, 3000), at(1, 1, 4000)]);
      // 1000 (only p0 seen, one store), min(1000, 2000) does not move, min(3000, 2000) = 2000 on both stores,
      // a repeated 3000 does nothing, then min(3000, 4000) = 3000.
      expect(r.outputs.map((o) => o.value)).toEqual([1000, 2000, 2000, 3000, 3000]);
      expect(core.currentWatermark).toBe(3000);
    },
  );

  it('a failing onWatermark loses its own emits and state writes only', async () => {
    const core = watermarkProbe('fail-at-3000');
    const r = await core.run([at(0, 0, 1000), at(0, 1, 3000), at(0, 2, 5000)]);
    expect(r.outputs.map((o) => o.value)).toEqual([1000, 5000]);
    expect(core.stats.failed).toBe(1);
    expect(core.store(0).get('wm:3000')).toBeUndefined();
    expect(core.store(0).get('wm:5000')).toBe(true);
    expect(core.store(0).get('seen:1')).toBe(true);
  });

  it('after a revoked partition is dropped, the next record moves the watermark without a new maximum', async () => {
    const core = watermarkProbe('sync');
    await core.run([at(0, 0, 1000), at(1, 0, 1000), at(1, 1, 5000)]);
    expect(core.currentWatermark).toBe(1000); // partition 0 holds it back
    core.dropPartition(0, ['in']);
    // An older record of partition 1: only forgetting partition 0 lets the watermark reach 5000.
    const r = await core.run([at(1, 2, 4000)]);
    expect(core.currentWatermark).toBe(5000);
    expect(r.outputs.map((o) => o.value)).toEqual([5000]);
  });
});

/**
 * A processor with `watermarkRequests`: a record's value `{ due }` asks for a watermark at that time; every
 * onWatermark call is emitted as [partition store's first key, watermark] and asks again for what it keeps
 * in `open` (times not yet reached). `failAt`: the call at that watermark throws once.
 */
function requesting(failAt?: number): ProcessorCore {
  let failed = false;
  const def = defineProcessor({
    name: 'requesting',
    status: 'experimental',
    summary: 'asks for its watermarks',
    config: Type.Object({}),
    create: (): Processor => ({
      watermarkRequests: true,
      process(r, ctx) {
        const due = (r.value as { due: number }).due;
        const open = (ctx.state.get('open') as number[] | undefined) ?? [];
        ctx.state.put('open', [...open, due]);
        ctx.requestWatermark!(due);
      },
      onWatermark(wm, ctx) {
        const open = (ctx.state.get('open') as number[] | undefined) ?? [];
        const rest = open.filter((t) => t > wm);
        ctx.state.put('open', rest);
        ctx.emit({ key: null, value: [ctx.state.get('p'), wm], timestamp: 0 });
        if (wm === failAt && !failed) {
          failed = true;
          throw new Error('boom');
        }
        if (rest.length) ctx.requestWatermark!(Math.min(...rest));
      },
    }),
  });
  const node = { name: 'requesting', definition: def, config: {}, inputs: ['in'], outputs: ['out'] };
  const clock = new VirtualClock();
  return ProcessorCore.create(
    node,
    {
      name: 'requesting',
      clock,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      env: {},
      signal: new AbortController().signal,
    },
    { dlqTopic: 'dlq.t', clock, maxOutOfOrdernessMs: 0, trackChanges: true },
  );
}

const asking = (partition: number, offset: number, ts: number, due: number) => ({
  ...at(partition, offset, ts),
  value: { due },
});

describe('ProcessorCore watermark after discarded work (aborted transactions)', () => {
  /** A processor to which a record behind the watermark is late (a window aggregate with lateness 0 alike). */
  const lateness = defineProcessor({
    name: 'lateness',
    status: 'experimental',
    summary: 'fails records behind the watermark',
    config: Type.Object({}),
    create: (): Processor => ({
      process(r, ctx) {
        if (r.timestamp < ctx.watermark) throw new Error(`late: ${r.timestamp} < ${ctx.watermark}`);
        ctx.state.put(`seen:${r.offset}`, true);
        ctx.emit({ value: r.timestamp });
      },
    }),
  });
  const newCore = () =>
    ProcessorCore.create(
      { name: 'late', definition: lateness, config: {}, inputs: ['in'], outputs: ['out'] },
      { name: 'late', clock: new VirtualClock(), logger: console, env: {}, signal: new AbortController().signal },
      { dlqTopic: 'dlq', clock: new VirtualClock(), maxOutOfOrdernessMs: 0, trackChanges: true },
    );
  const batch = (from: number, to: number, partition = 0) =>
    Array.from({ length: to - from }, (_, i) => at(partition, from + i, (from + i) * 1000));

  it('processing discarded mid-transaction: the records read again are on time, not late', async () => {
    const core = newCore();
    await core.run(batch(0, 5), false);
    core.takeChanges(); // committed
    await core.run(batch(5, 8), false);
    await core.run(batch(8, 10), false);
    core.discardAll(); // e.g. a produce failed: aborted, state restored, the batch fetched again
    expect(core.currentWatermark).toBe(4000);
    const again = await core.run(batch(5, 10), false);
    expect(again.deadLetters).toEqual([]);
    expect(again.outputs.map((o) => o.value)).toEqual([5000, 6000, 7000, 8000, 9000]);
    expect(core.currentWatermark).toBe(9000);
  });

  it('a commit that failed after the drain: back to where that transaction began; a tick and a flush are units too', async () => {
    const core = newCore();
    await core.run(batch(0, 3), false);
    core.takeChanges();
    await core.run(batch(3, 6), false);
    core.takeChanges(); // then its commit fails
    core.discardAll();
    core.discardAll(); // and the restore at the next assignment discards again: still there
    expect(core.currentWatermark).toBe(2000);
    expect((await core.run(batch(3, 6), false)).deadLetters).toEqual([]);
    core.takeChanges();
    // A flush whose transaction is aborted does not leave the watermark at +Infinity.
    await core.flush();
    expect(core.currentWatermark).toBe(Infinity);
    core.discardAll();
    expect(core.currentWatermark).toBe(5000);
    expect((await core.run(batch(6, 7), true)).deadLetters).toEqual([]);
  });

  it('a discard right after a commit the transport confirmed keeps the watermark where that unit ended', async () => {
    const core = newCore();
    await core.run(batch(0, 3), false);
    core.takeChanges();
    await core.run(batch(3, 6), false);
    core.takeChanges();
    core.committed(); // its transaction committed; then a rebalance discards with no work since
    core.discardAll();
    expect(core.currentWatermark).toBe(5000);
    // A record older than the committed unit's newest is late, as it was before the discard.
    expect((await core.run([at(0, 6, 4500)], false)).deadLetters).toHaveLength(1);
    // Without the confirmation the same discard goes back to where that unit began (the commit may have failed).
    const unsure = newCore();
    await unsure.run(batch(0, 3), false);
    unsure.takeChanges();
    await unsure.run(batch(3, 6), false);
    unsure.takeChanges();
    unsure.discardAll();
    expect(unsure.currentWatermark).toBe(2000);
  });

  it('a commit confirmed after the next unit began changes nothing: a discard goes back to where that unit began', async () => {
    const core = newCore();
    await core.run(batch(0, 3), false);
    core.takeChanges();
    await core.run(batch(3, 6), false); // the next unit began before the confirmation arrived
    core.committed();
    core.discardAll();
    expect(core.currentWatermark).toBe(2000);
  });

  it('a partition first seen in the discarded work is unknown again, one dropped there stays dropped', async () => {
    const core = newCore();
    await core.run([...batch(0, 2, 0), ...batch(0, 2, 1), ...batch(0, 2, 3)], true);
    expect(core.currentWatermark).toBe(1000);
    const unit = [...batch(2, 4, 0), ...batch(0, 3, 2), ...batch(4, 6, 0)];
    await core.run(unit.slice(0, 2), false);
    core.dropPartition(1, ['in']); // revoked during the work that is then discarded
    await core.run(unit.slice(2), false);
    expect(core.currentWatermark).toBe(1000); // partition 3 holds it back
    core.discardAll();
    expect(core.currentWatermark).toBe(1000);
    // Partition 2 is unknown again: its first record (0 s) is behind the watermark, as the first time.
    const again = await core.run(unit, false);
    expect(again.deadLetters.map((d) => d.headers?.['source-offset'])).toEqual(['0']);
    // Partition 1 stays dropped: once partition 3 moves on, only partitions 0 (5 s) and 2 (2 s) count.
    await core.run(batch(2, 9, 3), false);
    expect(core.currentWatermark).toBe(2000);
  });
});

describe('ProcessorCore watermark requests (watermarkRequests)', () => {
  it('calls onWatermark on a store only once the watermark reaches what it asked for, then as it asks again', async () => {
    const core = requesting();
    core.store(0).put('p', 0);
    const r = await core.run([
      asking(0, 0, 1000, 5000),
      asking(0, 1, 2000, 3000), // an earlier request lowers the store's due time
      asking(0, 2, 2500, 9000),
      asking(0, 3, 3000, 9000), // reaches 3000: one call, which asks for 5000 (its earliest open time)
      asking(0, 4, 4000, 9000),
      asking(0, 5, 6000, 9000), // passes 5000: one call, asks for 9000
      asking(0, 6, 7000, 9000),
    ]);
    expect(r.outputs.map((o) => o.value)).toEqual([
      [0, 3000],
      [0, 6000],
    ]);
    // End of input: called whether or not anything was asked for.
    expect((await core.flush()).outputs.map((o) => o.value)).toEqual([[0, Infinity]]);
  });

  it('keeps a due time per partition store', async () => {
    const core = requesting();
    core.store(0).put('p', 0);
    core.store(1).put('p', 1);
    const r = await core.run([
      asking(0, 0, 1000, 2000),
      asking(1, 0, 1000, 8000),
      asking(0, 1, 3000, 9000),
      asking(1, 1, 3000, 9000),
    ]);
    // The watermark reaches 3000 (both partitions at 3000): only partition 0's store asked for it.
    expect(r.outputs.map((o) => o.value)).toEqual([[0, 3000]]);
  });

  it('answers a request at or below the current watermark at the next advance', async () => {
    const core = requesting();
    core.store(0).put('p', 0);
    const r = await core.run([asking(0, 0, 5000, 1000), asking(0, 1, 5000, 9000), asking(0, 2, 5001, 9000)]);
    // The first record asks for 1000 and moves the watermark to 5000 itself: called at once.
    // The second (no advance) asks for nothing yet due; 5001 is below 9000: no call.
    expect(r.outputs.map((o) => o.value)).toEqual([[0, 5000]]);
    const late = await core.run([asking(0, 3, 4000, 4500), asking(0, 4, 5002, 9000)]);
    // 4500 is already passed when asked for: answered at the next advance (5002).
    expect(late.outputs.map((o) => o.value)).toEqual([[0, 5002]]);
  });

  it('calls again at the next advance after a call that threw, its writes and emits dropped', async () => {
    const core = requesting(3000);
    core.store(0).put('p', 0);
    const r = await core.run([asking(0, 0, 1000, 3000), asking(0, 1, 3000, 9000), asking(0, 2, 3500, 9000)]);
    // 3000 threw (its emit dropped, `open` unchanged); 3500 retries although nothing new was asked for.
    expect(r.outputs.map((o) => o.value)).toEqual([[0, 3500]]);
    expect(core.stats.failed).toBe(1);
    expect(core.store(0).get('open')).toEqual([9000, 9000]);
  });

  it('calls a store whose state was restored at the next advance (what it holds may be due)', async () => {
    const core = requesting();
    core.restorePartition(0, [
      ['p', 0],
      ['open', [1500]],
    ]);
    const r = await core.run([asking(0, 0, 1000, 9000), asking(0, 1, 2000, 9000)]);
    // The restored store is called at the first advance (1000): it finds nothing due and asks for 1500.
    expect(r.outputs.map((o) => o.value)).toEqual([
      [0, 1000],
      [0, 2000],
    ]);
  });

  it('without watermarkRequests onWatermark still runs at every advance; a request is ignored', async () => {
    const seen: number[] = [];
    const def = defineProcessor({
      name: 'plain',
      status: 'experimental',
      summary: 'every watermark',
      config: Type.Object({}),
      create: (): Processor => ({
        process(r, ctx) {
          // Destructured: emit works without `this` being the context (as with the object contexts before).
          const { emit } = ctx;
          ctx.requestWatermark!(1e12);
          emit({ value: ctx.watermark });
        },
        onWatermark(wm) {
          seen.push(wm);
        },
      }),
    });
    const clock = new VirtualClock();
    const core = ProcessorCore.create(
      { name: 'plain', definition: def, config: {}, inputs: ['in'], outputs: ['out'] },
      { name: 'plain', clock, logger: console, env: {}, signal: new AbortController().signal },
      { dlqTopic: 'dlq.t', clock, maxOutOfOrdernessMs: 0 },
    );
    const r = await core.run([at(0, 0, 1000), at(0, 1, 2000), at(0, 2, 3000)]);
    expect(seen).toEqual([1000, 2000, 3000]);
    // ctx.watermark as the record is processed: before its own advance.
    expect(r.outputs.map((o) => o.value)).toEqual([-Infinity, 1000, 2000]);
  });
});

describe('ProcessorCore state restored at assignment', () => {
  /** On each timer call, emits the partition's `total` with what the processor was told it holds. */
  const timed = defineProcessor({
    name: 'timed',
    status: 'experimental',
    summary: 'emits its state on the timer',
    config: Type.Object({}),
    create: (): Processor => {
      const assignments: Array<readonly number[]> = [];
      return {
        process(r, ctx) {
          ctx.state.put('total', ((ctx.state.get('total') as number | undefined) ?? 0) + (r.value as { n: number }).n);
        },
        timerIntervalMs: 1000,
        onTimer(now, ctx) {
          ctx.emit({
            key: 'k',
            value: { total: ctx.state.get('total') ?? null, held: ctx.assignedPartitions ?? null },
          });
          ctx.state.put('ticked', now);
        },
        onAssign(partitions) {
          assignments.push(partitions);
          if (partitions.includes(99)) throw new Error('bad assignment');
        },
        close: async () => {
          (globalThis as { assignments?: unknown }).assignments = assignments;
        },
      };
    },
  });
  const make = (clock: VirtualClock, logger: Logger = console) => {
    const node = { name: 'timed', definition: timed, config: {}, inputs: ['in'], outputs: ['out'] };
    return ProcessorCore.create(
      node,
      { name: 'timed', clock, logger, env: {}, signal: new AbortController().signal },
      { dlqTopic: 'dlq.t', clock, maxOutOfOrdernessMs: 0, trackChanges: true, logger },
    );
  };

  it('ticks a restored partition that never saw a record, keeps its timer writes, and skips unassigned stores', async () => {
    const clock = new VirtualClock(0);
    const core = make(clock);
    core.setAssignment([2, 0]);
    core.restorePartition(0, [['total', 5]]);
    core.restorePartition(2, new Map([['total', 7]]));
    expect(core.hasPartition(0) && core.hasPartition(2)).toBe(true);
    expect(core.assignedPartitions).toEqual([0, 2]);
    // Restoring tracks nothing for the changelog.
    expect((await core.flush(-Infinity)).changes).toEqual([]);

    clock.set(1000);
    const first = await core.tick(clock.now());
    expect(first.outputs.map((o) => o.value)).toEqual([
      { total: 5, held: [0, 2] },
      { total: 7, held: [0, 2] },
    ]);
    // The timer's own writes go to each partition's changelog.
    expect(first.changes.map((c) => [c.partition, c.changes.map((x) => [x.key, x.value])])).toEqual([
      [0, [['ticked', 1000]]],
      [2, [['ticked', 1000]]],
    ]);

    // Partition 2 revoked: its store is not ticked even before the transport drops it.
    core.setAssignment([0]);
    clock.set(2000);
    expect((await core.tick(clock.now())).outputs.map((o) => o.value)).toEqual([{ total: 5, held: [0] }]);

    // Nothing held: one call on a throwaway context, as before any record.
    core.setAssignment([]);
    clock.set(3000);
    const none = await core.tick(clock.now());
    expect(none.outputs.map((o) => o.value)).toEqual([{ total: null, held: [] }]);
    expect(none.changes).toEqual([]);
  });

  it('a restore replaces what the task held for the partition, and records then build on it', async () => {
    const clock = new VirtualClock(0);
    const core = make(clock);
    await core.run([{ topic: 'in', key: 'a', value: { n: 100 }, timestamp: 0, partition: 1, offset: '0' }]);
    core.restorePartition(1, [['total', 3]]);
    await core.run([{ topic: 'in', key: 'a', value: { n: 4 }, timestamp: 1, partition: 1, offset: '1' }]);
    expect(core.store(1).get('total')).toBe(7);
    expect(core.store(1).get('ticked')).toBeUndefined();
  });

  it('onAssign gets the assignment; a throw is counted and logged, not thrown', async () => {
    const clock = new VirtualClock(0);
    const core = make(clock);
    await core.notifyAssigned(); // no assignment known: not called
    core.setAssignment([3, 1, 3]);
    await core.notifyAssigned();
    const errors: unknown[] = [];
    const logged = make(clock, { ...console, error: (o: object | string) => void errors.push(o) });
    logged.setAssignment([99]);
    await logged.notifyAssigned();
    expect(logged.stats.failed).toBe(1);
    expect(errors).toHaveLength(1);
    await core.close();
    expect((globalThis as { assignments?: unknown }).assignments).toEqual([[1, 3]]);
  });
});

describe('value projections (ProcessorDefinition.valueFields)', () => {
  const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
  const reading = () =>
    defineProcessor({
      name: 'reading',
      status: 'experimental',
      summary: 'declares the fields it reads from its config',
      config: Type.Object({ fields: Type.Optional(Type.Array(Type.String())) }),
      valueFields: (cfg) => cfg.fields,
      create: (): Processor => ({ process() {} }),
    });
  const core = (name: string, fields: string[] | undefined) => {
    const clock = new VirtualClock();
    return ProcessorCore.create(
      { name, definition: reading(), config: { fields }, inputs: ['in'], outputs: ['out'] },
      { name, clock, logger: quiet, env: {}, signal: new AbortController().signal },
      { dlqTopic: 'dlq', clock, maxOutOfOrdernessMs: 0 },
    );
  };

  it('a core registers its processor projection for its decoders until it closes; a definition without one reads whole values', async () => {
    const a = core('proj-a', ['price', 'area']);
    expect(a.valueFields).toEqual(['price', 'area']);
    expect(projectionOf('proj-a')).toEqual(['price', 'area']);
    // The same array until the registrations change (the serde caches its projected reader by identity).
    expect(projectionOf('proj-a')).toBe(projectionOf('proj-a'));
    await a.close();
    expect(projectionOf('proj-a')).toBeUndefined();
    const plain = ProcessorCore.create(
      { name: 'proj-plain', definition: summing, config: {}, inputs: ['in'], outputs: ['out'] },
      { name: 'proj-plain', clock: new VirtualClock(), logger: quiet, env: {}, signal: new AbortController().signal },
      { dlqTopic: 'dlq', clock: new VirtualClock(), maxOutOfOrdernessMs: 0 },
    );
    expect(plain.valueFields).toBeUndefined();
    expect(projectionOf('proj-plain')).toBeUndefined();
    await plain.close();
  });

  it('cores sharing a name get the union of their fields, or whole values when any of them reads whole values', async () => {
    const a = core('proj-b', ['price']);
    const b = core('proj-b', ['area', 'price']);
    expect([...projectionOf('proj-b')!].sort()).toEqual(['area', 'price']);
    const c = core('proj-b', undefined);
    expect(projectionOf('proj-b')).toBeUndefined();
    await c.close();
    await c.close(); // idempotent
    expect([...projectionOf('proj-b')!].sort()).toEqual(['area', 'price']);
    await b.close();
    expect(projectionOf('proj-b')).toEqual(['price']);
    await a.close();
    expect(projectionOf('proj-b')).toBeUndefined();
  });

  it('registerProjection alone: the undo removes exactly its own entry', () => {
    const undo1 = registerProjection('proj-c', ['x']);
    const undo2 = registerProjection('proj-c', ['x']);
    undo1();
    undo1();
    expect(projectionOf('proj-c')).toEqual(['x']);
    undo2();
    expect(projectionOf('proj-c')).toBeUndefined();
  });
});

describe('ProcessorCore watermark against a plain WatermarkTracker', () => {
  it('advances exactly as observe + advance per record would, across partitions, chunks, drops and idle ticks', async () => {
    let seed = 3;
    const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let trial = 0; trial < 30; trial++) {
      const ooo = trial % 3 === 0 ? 0 : 250;
      const fired: number[] = [];
      const def = defineProcessor({
        name: 'wm',
        status: 'experimental',
        summary: 'records every watermark',
        config: Type.Object({}),
        create: (): Processor => ({
          process() {},
          onWatermark(wm) {
            fired.push(wm);
          },
        }),
      });
      const clock = new VirtualClock(0);
      const core = ProcessorCore.create(
        { name: 'wm', definition: def, config: {}, inputs: ['in'], outputs: ['out'] },
        { name: 'wm', clock, logger: console, env: {}, signal: new AbortController().signal },
        { dlqTopic: 'dlq', clock, maxOutOfOrdernessMs: ooo, idlePartitionMs: 1000 },
      );
      // The reference: observe + advance for every record, forget on drop and idleness.
      const ref = new WatermarkTracker(ooo);
      const refFired: number[] = [];
      const lastSeen = new Map<string, number>();
      const partitions = 1 + (trial % 3);
      let offset = 0;
      let t = 0;
      for (let step = 0; step < 40; step++) {
        const roll = rnd();
        if (roll < 0.08 && partitions > 1) {
          const p = Math.floor(rnd() * partitions);
          core.dropPartition(p, ['in']);
          ref.forget(`in/${p}`);
          lastSeen.delete(`in/${p}`);
          continue;
        }
        if (roll < 0.16) {
          clock.advance(600);
          await core.tick(clock.now());
          let forgot = false;
          for (const [k, seen] of lastSeen) {
            if (clock.now() - seen < 1000) continue;
            ref.forget(k);
            lastSeen.delete(k);
            forgot = true;
          }
          const adv = forgot ? ref.advance() : undefined;
          if (adv !== undefined) refFired.push(adv);
          continue;
        }
        // A batch: mostly one partition in rising time (the fast path), sometimes mixed and out of order.
        const batch = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => {
          const p = rnd() < 0.8 ? step % partitions : Math.floor(rnd() * partitions);
          t += Math.floor(rnd() * 300) - (rnd() < 0.2 ? 500 : 0);
          return { topic: 'in', key: 'k', value: null, timestamp: t, partition: p, offset: String(offset++) };
        });
        await core.run(batch);
        for (const r of batch) {
          ref.observe(`in/${r.partition}`, r.timestamp);
          const adv = ref.advance();
          if (adv !== undefined) refFired.push(adv);
          lastSeen.set(`in/${r.partition}`, clock.now());
        }
        // Stores: one per partition seen, each fired per advance; compare the distinct advances.
        expect([...new Set(fired)]).toEqual(refFired);
        expect(core.currentWatermark).toBe(ref.value);
      }
      expect(refFired.length).toBeGreaterThan(5);
    }
  });
});
