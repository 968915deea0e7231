import { Batcher } from './batcher.js';
import type { SetTimer } from './batcher.js';

/** A timer the test fires by hand. */
function manualTimer(): { setTimer: SetTimer; fire(): void; pending(): number } {
  let timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  return {
    setTimer: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return () => (t.cancelled = true);
    },
    fire() {
      const due = timers.filter((t) => !t.cancelled);
      timers = [];
      for (const t of due) t.fn();
    },
    pending: () => timers.filter((t) => !t.cancelled).length,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('a partial batch waits for the linger, then goes out as one insert', async () => {
  const sent: number[][] = [];
  const timer = manualTimer();
  const b = new Batcher<number>({
    maxRows: 10,
    lingerMs: 500,
    setTimer: timer.setTimer,
    send: async (rows) => void sent.push(rows),
  });
  let done = 0;
  void b.add([1, 2]).then(() => done++);
  void b.add([3]).then(() => done++);
  await tick();
  expect(sent).toEqual([]);
  expect(timer.pending()).toBe(1);
  timer.fire();
  await tick();
  expect(sent).toEqual([[1, 2, 3]]);
  expect(done).toBe(2);
});

test('a full buffer is sent at once and split so no insert exceeds maxRows', async () => {
  const sent: number[][] = [];
  const timer = manualTimer();
  const b = new Batcher<number>({
    maxRows: 4,
    lingerMs: 60_000,
    setTimer: timer.setTimer,
    send: async (rows) => void sent.push(rows),
  });
  await b.add([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  expect(sent).toEqual([
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    [9, 10],
  ]);
});

test('with no linger, rows that arrive during an insert share the next one', async () => {
  const sent: number[][] = [];
  let release!: () => void;
  const b = new Batcher<number>({
    maxRows: 100,
    lingerMs: 0,
    send: (rows) => {
      sent.push(rows);
      return sent.length === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
    },
  });
  const first = b.add([1]);
  const second = b.add([2]);
  const third = b.add([3]);
  await tick();
  expect(sent).toEqual([[1]]);
  release();
  await Promise.all([first, second, third]);
  expect(sent).toEqual([[1], [2, 3]]);
});

test('a failed insert rejects every write whose rows it carried, and later writes still go out', async () => {
  let fail = true;
  const sent: number[][] = [];
  const b = new Batcher<number>({
    maxRows: 100,
    lingerMs: 0,
    send: async (rows) => {
      if (fail) throw new Error('down');
      sent.push(rows);
    },
  });
  await expect(b.add([1, 2])).rejects.toThrow('down');
  fail = false;
  await b.add([3]);
  expect(sent).toEqual([[3]]);
});

test('a linger that ends during an insert sends the waiting rows right after it', async () => {
  const sent: number[][] = [];
  const timer = manualTimer();
  let release!: () => void;
  const b = new Batcher<number>({
    maxRows: 2,
    lingerMs: 500,
    setTimer: timer.setTimer,
    send: (rows) => {
      sent.push(rows);
      return sent.length === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
    },
  });
  const full = b.add([1, 2]); // full: sent at once, stays in flight
  const partial = b.add([3]); // waits for the linger
  timer.fire(); // linger ends while [1, 2] is in flight
  await tick();
  expect(sent).toEqual([[1, 2]]);
  release();
  await Promise.all([full, partial]);
  expect(sent).toEqual([[1, 2], [3]]);
  expect(timer.pending()).toBe(0);
});

test('weighted items (slices of writes) fill inserts up to maxRows; an item heavier than that goes alone', async () => {
  const sent: string[][] = [];
  const b = new Batcher<string>({
    maxRows: 10,
    lingerMs: 60_000,
    weight: (item) => item.length,
    send: async (items) => void sent.push(items),
  });
  expect(b.busy).toBe(false);
  const first = b.add(['aaaa', 'bbbb']); // 8 rows: waits for the linger
  expect(b.size).toBe(8);
  const second = b.add(['cc', 'dddddddddddd', 'e']); // 23 rows in total: full, sent at once
  expect(b.size).toBe(0);
  expect(b.busy).toBe(true);
  await Promise.all([first, second]);
  expect(sent).toEqual([['aaaa', 'bbbb', 'cc'], ['dddddddddddd'], ['e']]);
  expect(b.busy).toBe(false);
});
