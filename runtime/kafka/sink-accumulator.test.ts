import { describe, expect, it } from '@jest/globals';
import { VirtualClock } from '../clock.js';
import { toDeadLetter } from '../dlq.js';
import type { StreamRecord } from '../record.js';
import {
  SinkAccumulator,
  batchDeadLetters,
  commitOffsets,
  sinkBatching,
  unbatched,
  type CommitOffset,
  type SinkBatch,
  type SinkChunk,
} from './sink-accumulator.js';

/** A chunk of `n` records of one partition, offsets from..from+n-1. */
function chunk(partition: number, from: number, n: number, topic = 't'): SinkChunk {
  const records: StreamRecord[] = Array.from({ length: n }, (_, i) => ({
    topic,
    partition,
    offset: String(from + i),
    key: `k${from + i}`,
    timestamp: 0,
    value: { v: from + i },
  }));
  const raw = new Map(records.map((r) => [r.offset!, Buffer.from(`raw-${partition}-${r.offset}`)]));
  return { topic, partition, records, deadLetters: [], raw, nextOffset: String(from + n) };
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run (no time passes). */
const settle = () => new Promise((r) => setImmediate(r));

/** An accumulator whose writes complete only when the test says so; records every write and commit. */
function harness(maxRecords: number, maxWaitMs: number) {
  const clock = new VirtualClock(1_000_000);
  const writes: { batch: SinkBatch; done: Deferred }[] = [];
  const commits: CommitOffset[][] = [];
  const log: string[] = [];
  const acc = new SinkAccumulator({
    maxRecords,
    maxWaitMs,
    clock,
    write: (batch) => {
      const done = deferred();
      writes.push({ batch, done });
      log.push(`write ${batch.records.length}`);
      return done.promise.then(() => void log.push(`stored ${batch.records.length}`));
    },
    commit: async (offsets) => {
      commits.push(offsets);
      log.push(`commit ${offsets.map((o) => `${o.partition}@${o.offset}`).join(',')}`);
    },
  });
  return { acc, clock, writes, commits, log };
}

describe('SinkAccumulator', () => {
  it('writes a batch once it holds maxRecords, splitting the chunk that fills it, and commits the split offset', async () => {
    const { acc, writes, commits } = harness(10, 60_000);
    await acc.add(chunk(0, 0, 4));
    await acc.add(chunk(1, 100, 4));
    expect(writes).toHaveLength(0);
    expect(acc.buffered).toBe(8);
    await acc.add(chunk(0, 4, 5)); // 2 of these fill the batch, 3 stay
    expect(writes).toHaveLength(1);
    expect(writes[0]!.batch.records.map((r) => `${r.partition}:${r.offset}`)).toEqual([
      '0:0',
      '0:1',
      '0:2',
      '0:3',
      '1:100',
      '1:101',
      '1:102',
      '1:103',
      '0:4',
      '0:5',
    ]);
    expect(acc.buffered).toBe(3);
    writes[0]!.done.resolve();
    await settle();
    // partition 0 up to offset 5 only: offsets 6..8 are buffered, not stored
    expect(commits).toEqual([
      [
        { topic: 't', partition: 0, offset: '6' },
        { topic: 't', partition: 1, offset: '104' },
      ],
    ]);
  });

  it('writes a partial batch once its oldest record waited maxWaitMs on the injected clock', async () => {
    const { acc, clock, writes } = harness(1000, 500);
    await acc.add(chunk(0, 0, 3));
    clock.advance(300);
    await acc.add(chunk(0, 3, 2));
    clock.advance(199);
    await acc.check();
    expect(writes).toHaveLength(0);
    clock.advance(1); // the first chunk has now waited 500 ms
    await acc.check();
    expect(writes.map((w) => w.batch.records.length)).toEqual([5]);
    // the wait restarts with the next record
    writes[0]!.done.resolve();
    await acc.add(chunk(0, 5, 1));
    clock.advance(499);
    await acc.check();
    expect(writes).toHaveLength(1);
    clock.advance(1);
    await acc.check();
    expect(writes).toHaveLength(2);
  });

  it('commits offsets only after the write resolved, and starts the next write only after that commit', async () => {
    const { acc, writes, log } = harness(5, 60_000);
    await acc.add(chunk(0, 0, 5)); // write 1 starts
    await settle();
    expect(log).toEqual(['write 5']); // nothing committed while it runs
    const second = acc.add(chunk(0, 5, 5)).then(() => void log.push('second add returned'));
    await settle();
    expect(log).toEqual(['write 5']);
    writes[0]!.done.resolve();
    await second;
    expect(log).toEqual(['write 5', 'stored 5', 'commit 0@5', 'write 5', 'second add returned']);
    writes[1]!.done.resolve();
    await acc.flush();
    expect(log.slice(-2)).toEqual(['stored 5', 'commit 0@10']);
  });

  it('holds at most one write and one full batch: add waits while both are taken', async () => {
    const { acc, writes } = harness(5, 60_000);
    await acc.add(chunk(0, 0, 5)); // write 1 starts
    await acc.add(chunk(0, 5, 4)); // buffered
    let accepted = false;
    const full = acc.add(chunk(0, 9, 1)).then(() => (accepted = true)); // fills batch 2: must wait for write 1
    await settle();
    expect(accepted).toBe(false);
    expect(acc.buffered).toBe(5);
    writes[0]!.done.resolve();
    await full;
    expect(writes.map((w) => w.batch.records.length)).toEqual([5, 5]);
    expect(acc.buffered).toBe(0);
  });

  it('commits nothing after a failed write, and fails every later call with its error', async () => {
    const { acc, writes, commits } = harness(3, 60_000);
    await acc.add(chunk(0, 0, 3));
    writes[0]!.done.reject(new Error('disk on fire'));
    await settle();
    expect(commits).toEqual([]);
    await expect(acc.add(chunk(0, 3, 1))).rejects.toThrow('disk on fire');
    await expect(acc.check()).rejects.toThrow('disk on fire');
    await expect(acc.flush()).rejects.toThrow('disk on fire');
    expect(writes).toHaveLength(1);
    expect(commits).toEqual([]);
  });

  it('a failed write stops the batch already waiting behind it from being written or committed', async () => {
    const { acc, writes, commits } = harness(2, 60_000);
    await acc.add(chunk(0, 0, 2));
    await acc.add(chunk(0, 2, 1));
    const flushing = acc.flush();
    writes[0]!.done.reject(new Error('gone'));
    await expect(flushing).rejects.toThrow('gone');
    expect(writes).toHaveLength(1);
    expect(commits).toEqual([]);
  });

  it('flush writes a partial batch and resolves once it is stored and committed', async () => {
    const { acc, writes, commits } = harness(100, 60_000);
    await acc.add(chunk(2, 40, 7));
    let flushed = false;
    const f = acc.flush().then(() => (flushed = true));
    await settle();
    expect(writes.map((w) => w.batch.records.length)).toEqual([7]);
    expect(flushed).toBe(false);
    writes[0]!.done.resolve();
    await f;
    expect(commits).toEqual([[{ topic: 't', partition: 2, offset: '47' }]]);
    expect(acc.idle).toBe(true);
  });

  it('discard drops buffered records (never written, never committed); close ignores later chunks', async () => {
    const { acc, writes, commits } = harness(100, 60_000);
    await acc.add(chunk(0, 0, 7));
    expect(acc.discard()).toBe(7);
    expect(acc.idle).toBe(true);
    await acc.add(chunk(0, 0, 2));
    const closing = acc.close();
    await settle();
    writes[0]!.done.resolve();
    await closing;
    expect(writes.map((w) => w.batch.records.map((r) => r.offset))).toEqual([['0', '1']]);
    expect(commits).toEqual([[{ topic: 't', partition: 0, offset: '2' }]]);
    await acc.add(chunk(0, 2, 5));
    expect(acc.buffered).toBe(0);
    expect(writes).toHaveLength(1);
  });

  it('without declared batching writes each chunk whole, as it comes', async () => {
    const clock = new VirtualClock();
    const sizes: number[] = [];
    const acc = new SinkAccumulator({
      ...unbatched,
      clock,
      write: async (b) => void sizes.push(b.records.length),
      commit: async () => {},
    });
    for (const n of [5000, 3, 12_000]) await acc.add(chunk(0, 0, n));
    await acc.flush();
    expect(sizes).toEqual([5000, 3, 12_000]);
    const def = { definition: { kind: 'sink', name: 'x' } as never, config: {} };
    expect(sinkBatching(def)).toEqual(unbatched);
    const declared = {
      definition: { batching: (c: { n: number }) => ({ maxRecords: c.n, maxWaitMs: 7 }) } as never,
      config: { n: 9 },
    };
    expect(sinkBatching(declared)).toEqual({ maxRecords: 9, maxWaitMs: 7 });
  });

  it('rejects bounds that cannot work', () => {
    const base = { clock: new VirtualClock(), write: async () => {}, commit: async () => {} };
    expect(() => new SinkAccumulator({ ...base, maxRecords: 0, maxWaitMs: 10 })).toThrow('maxRecords');
    expect(() => new SinkAccumulator({ ...base, maxRecords: 10, maxWaitMs: -1 })).toThrow('maxWaitMs');
  });
});

describe('commitOffsets and batchDeadLetters', () => {
  it('commits the highest offset per partition', () => {
    expect(commitOffsets([chunk(0, 0, 3), chunk(1, 9, 1), chunk(0, 3, 2), chunk(0, 1, 1, 'u')])).toEqual([
      { topic: 't', partition: 0, offset: '5' },
      { topic: 't', partition: 1, offset: '10' },
      { topic: 'u', partition: 0, offset: '2' },
    ]);
  });

  it("keeps the batch's decode failures and gives each record the sink rejected its own partition's original bytes", () => {
    const a = chunk(0, 0, 2);
    const b = chunk(1, 0, 2);
    const decodeFailure = { key: 'bad', value: Buffer.from('garbage'), headers: { reason: 'decode' } };
    a.deadLetters.push(decodeFailure);
    const batch: SinkBatch = { records: [...a.records, ...b.records], deadLetters: a.deadLetters, chunks: [a, b] };
    const rejected = toDeadLetter('dlq', b.records[1]!, 'sink', new Error('no'));
    const unknown = toDeadLetter('dlq', { ...b.records[0]!, partition: 7 }, 'sink', new Error('no'));
    const out = batchDeadLetters(batch, [rejected, unknown]);
    expect(out[0]).toBe(decodeFailure);
    expect(out[1]!.value).toEqual(Buffer.from('raw-1-1'));
    expect(out[1]!.headers?.reason).toBe('no');
    expect(out[2]!.value).toEqual(Buffer.from(JSON.stringify({ v: 0 })));
  });
});
