import type { Message } from 'kafkajs';
import { ProduceAhead } from './produce-ahead.js';

const msgs = (tag: string, n: number): Message[] =>
  Array.from({ length: n }, (_, i) => ({ key: 'k', value: Buffer.alloc(100, i), timestamp: '1', headers: { tag } }));

/** A transaction whose sends resolve only when released, in order; records what each send carried. */
function fakeTx(failAt?: number) {
  const sent: Array<Array<[string, number]>> = [];
  const gates: Array<() => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const tx = {
    send: async (byTopic: Map<string, Message[]>) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const n = sent.length;
      sent.push([...byTopic].map(([t, l]) => [t, l.length]));
      await new Promise<void>((r) => gates.push(r));
      inFlight--;
      if (n === failAt) throw new Error(`send ${n} failed`);
    },
  };
  const release = async () => {
    for (let i = 0; i < 50; i++) {
      while (gates.length) gates.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { tx, sent, release, maxInFlight: () => maxInFlight };
}

describe('ProduceAhead', () => {
  it('sends in the background once the threshold is pending, one send at a time, in order; finish sends the rest', async () => {
    const f = fakeTx();
    let begun = 0;
    const ahead = new ProduceAhead(async () => (begun++, f.tx), 1000);
    await ahead.add('out', msgs('a', 3)); // ~450 B: nothing sent yet
    expect(f.sent.length).toBe(0);
    expect(begun).toBe(0);
    await ahead.add('out', msgs('b', 5)); // over 1000 B: goes out (transaction begun now)
    expect(begun).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(f.sent).toEqual([[['out', 8]]]);
    await ahead.add('out', msgs('c', 8)); // chained behind the first, not yet sent
    await new Promise((r) => setImmediate(r));
    expect(f.sent.length).toBe(1);
    await ahead.add('cl', msgs('d', 1));
    const finished = ahead.finish();
    await f.release();
    expect(await finished).toBe(f.tx);
    expect(f.sent).toEqual([[['out', 8]], [['out', 8]], [['cl', 1]]]);
    expect(f.maxInFlight()).toBe(1);
    expect(begun).toBe(1);
  });

  it('begins the transaction at finish when nothing went out before', async () => {
    const f = fakeTx();
    let begun = 0;
    const ahead = new ProduceAhead(async () => (begun++, f.tx), 1_000_000);
    await ahead.add('out', msgs('a', 2));
    const finished = ahead.finish();
    await f.release();
    await finished;
    expect(begun).toBe(1);
    expect(f.sent).toEqual([[['out', 2]]]);
  });

  it('surfaces a failed background send at the next add and lets the caller settle and abort', async () => {
    const f = fakeTx(0);
    const ahead = new ProduceAhead(async () => f.tx, 500);
    await ahead.add('out', msgs('a', 5)); // sent, will fail
    await ahead.add('out', msgs('b', 5)); // chained behind the failing send: never sent
    await f.release();
    await expect(ahead.add('out', msgs('c', 1))).rejects.toThrow('send 0 failed');
    await expect(ahead.finish()).rejects.toThrow('send 0 failed');
    expect(await ahead.settle()).toBe(f.tx);
    expect(f.sent.length).toBe(1);
  });

  it('settles to no transaction when nothing was sent', async () => {
    const ahead = new ProduceAhead(async () => fakeTx().tx, 1_000_000);
    await ahead.add('out', msgs('a', 1));
    expect(await ahead.settle()).toBeUndefined();
  });

  it('holds outputs back while mayBegin says no, then sends all that is pending', async () => {
    const f = fakeTx();
    let allowed = false;
    let asked = 0;
    const ahead = new ProduceAhead(
      async () => f.tx,
      500,
      () => (asked++, allowed),
    );
    await ahead.add('out', msgs('a', 5));
    await ahead.add('out', msgs('b', 5));
    await new Promise((r) => setImmediate(r));
    expect(f.sent.length).toBe(0);
    expect(asked).toBe(2);
    allowed = true;
    await ahead.add('out', msgs('c', 1));
    await new Promise((r) => setImmediate(r));
    expect(f.sent).toEqual([[['out', 11]]]);
    allowed = false; // once begun, it is not asked again
    await ahead.add('out', msgs('d', 5));
    const finished = ahead.finish();
    await f.release();
    await finished;
    expect(asked).toBe(3);
    expect(f.sent).toEqual([[['out', 11]], [['out', 5]]]);
  });

  it('begin gives the one transaction, begun once, whether or not outputs went out', async () => {
    const f = fakeTx();
    let begun = 0;
    const ahead = new ProduceAhead(async () => (begun++, f.tx), 1_000_000);
    expect(await ahead.begin()).toBe(f.tx);
    await ahead.add('out', msgs('a', 1));
    expect(await ahead.begin()).toBe(f.tx);
    const finished = ahead.finish();
    await f.release();
    expect(await finished).toBe(f.tx);
    expect(begun).toBe(1);
    expect(ahead.sends).toBe(0);
  });

  it('gives the event loop a turn per add while sends are in flight, so answers arrive during the batch', async () => {
    const done: number[] = [];
    let n = 0;
    // each send completes on a macrotask (as a broker answer would), never on a microtask
    const tx = {
      send: async () => {
        const i = n++;
        await new Promise<void>((r) => setImmediate(r));
        done.push(i);
      },
    };
    const ahead = new ProduceAhead(async () => tx, 500);
    await ahead.add('out', msgs('a', 5)); // send 0 starts
    await ahead.add('out', msgs('b', 1)); // below the threshold: no send, but a turn of the loop
    expect(done).toEqual([0]);
    await ahead.add('out', msgs('c', 5)); // send 1 starts behind the finished send 0
    await ahead.add('out', msgs('d', 1));
    expect(done).toEqual([0, 1]);
    await ahead.finish();
    expect(done).toEqual([0, 1, 2]);
  });
});
