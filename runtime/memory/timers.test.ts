import { Type } from '@sinclair/typebox';
import { VirtualClock } from '../clock.js';
import { EndOfInput, defineProcessor, defineSource, type Processor } from '../component.js';
import type { OutRecord } from '../record.js';
import { makeSpec } from '../spec.js';
import { collectingSink } from '../testing.js';
import { MemoryTransport, type MemoryRunningPipeline } from './transport.js';

const minute = 60_000;
const t0 = Date.parse('2026-03-29T00:00:00Z');

/** Waits for I/O progress inside the pipeline (tasks resuming); virtual time does not move meanwhile. */
async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A processor that emits a tick per timer call and counts calls in keyed state. */
const ticker = defineProcessor({
  name: 'ticker',
  status: 'experimental',
  summary: 'emits on every timer call',
  config: Type.Object({ everyMs: Type.Number(), failAt: Type.Optional(Type.Number()) }),
  create: (cfg): Processor => ({
    timerIntervalMs: cfg.everyMs,
    process(r, ctx) {
      ctx.state.put('last', r.timestamp);
    },
    onTimer(now, ctx) {
      const n = ((ctx.state.get('ticks') as number | undefined) ?? 0) + 1;
      ctx.state.put('ticks', n);
      ctx.emit({ key: 'tick', value: { now, n, last: ctx.state.get('last') ?? null }, timestamp: now });
      if (now === cfg.failAt) throw new Error('timer failed');
    },
  }),
});

async function startTicker(clock: VirtualClock, config: { everyMs: number; failAt?: number }, timerPollMs = 60_000) {
  const transport = new MemoryTransport({ timerPollMs });
  const sink = collectingSink('out');
  const spec = makeSpec({
    name: 'timers',
    processors: [{ name: 'ticker', definition: ticker, config, inputs: ['in'], outputs: ['ticks'] }],
    sinks: [{ name: 'out', definition: sink, inputs: ['ticks'] }],
  });
  const run = await transport.start(spec, { clock });
  return { transport, sink, run };
}

describe('processor timers on the memory transport', () => {
  let run: MemoryRunningPipeline | undefined;
  afterEach(async () => {
    await run?.stop();
    run = undefined;
  });

  it('calls onTimer on the injected clock with no input at all, once per interval, missed intervals not replayed', async () => {
    const clock = new VirtualClock(t0);
    const started = await startTicker(clock, { everyMs: minute });
    run = started.run;
    const values = () => started.sink.records.map((r) => r.value as { now: number; n: number });

    await run.runTimers();
    clock.advance(minute - 1);
    await run.runTimers();
    expect(started.transport.broker.records('ticks')).toHaveLength(0); // not due yet

    clock.advance(1);
    await run.runTimers();
    await run.runTimers(); // same instant: nothing more
    await until('the first tick at the sink', () => values().length === 1);
    expect(values()[0]).toMatchObject({ now: t0 + minute });

    clock.advance(10 * minute); // a long pause: one call, not ten
    await run.runTimers();
    await until('the second tick', () => values().length === 2);
    expect(values()[1]).toMatchObject({ now: t0 + 11 * minute });
    expect(started.transport.broker.records('ticks')).toHaveLength(2);
  });

  it('polls the clock by itself: advancing a VirtualClock is enough', async () => {
    const clock = new VirtualClock(t0);
    const started = await startTicker(clock, { everyMs: 5 * minute }, 5);
    run = started.run;
    clock.advance(5 * minute);
    await until('a tick from the poll', () => started.sink.records.length === 1);
    expect(started.sink.records[0]!.timestamp).toBe(t0 + 5 * minute);
  });

  it('runs per input partition with its state, and rolls back the state writes of a failing call', async () => {
    const clock = new VirtualClock(t0);
    const started = await startTicker(clock, { everyMs: minute, failAt: t0 + 2 * minute });
    run = started.run;
    started.transport.broker.append([{ topic: 'in', key: 'a', value: 1, timestamp: t0 - 5000 }]);
    await until('the record processed', () => run!.stats().find((s) => s.name === 'ticker')!.recordsIn === 1);
    const ticks = () => started.sink.records.map((r) => r.value as { now: number; n: number; last: number | null });

    clock.advance(minute);
    await run.runTimers();
    await until('tick 1', () => ticks().length === 1);
    expect(ticks()[0]).toEqual({ now: t0 + minute, n: 1, last: t0 - 5000 }); // sees the partition's state

    clock.advance(minute); // this call throws: its emit is dropped and its ticks=2 write undone
    await run.runTimers();
    clock.advance(minute);
    await run.runTimers();
    await until('tick 3', () => ticks().length === 2);
    expect(ticks()[1]).toEqual({ now: t0 + 3 * minute, n: 2, last: t0 - 5000 });
    expect(run.stats().find((s) => s.name === 'ticker')!.failed).toBe(1);
  });
});

/** Emits every watermark it is given. */
const watermarks = defineProcessor({
  name: 'watermarks',
  status: 'experimental',
  summary: 'emits watermarks',
  config: Type.Object({}),
  create: (): Processor => ({
    process() {},
    onWatermark(wm, ctx) {
      if (Number.isFinite(wm)) ctx.emit({ key: null, value: wm, timestamp: wm });
    },
  }),
});

/** A live source the test pushes records into; it ends only when the pipeline stops. */
function liveSource(topic: string) {
  const queue: OutRecord[] = [];
  let wake: (() => void) | undefined;
  const definition = defineSource({
    name: 'live',
    status: 'experimental',
    summary: 'records pushed by the test',
    outputs: [topic],
    config: Type.Object({}),
    create: (_cfg, ctx) => ({
      connect: async () => {},
      read: async () => {
        while (queue.length === 0) {
          if (ctx.signal.aborted) throw new EndOfInput();
          await new Promise<void>((resolve) => {
            wake = resolve;
            ctx.signal.addEventListener('abort', () => resolve(), { once: true });
          });
        }
        return { records: queue.splice(0), ack: async () => {} };
      },
      close: async () => {},
    }),
  });
  return {
    definition,
    push(rec: OutRecord & { partition?: number }) {
      queue.push(rec);
      wake?.();
    },
  };
}

describe('idle input partitions', () => {
  async function scenario(idlePartitionMs: number | undefined) {
    const clock = new VirtualClock(t0);
    const transport = new MemoryTransport({ idlePartitionMs, timerPollMs: 60_000 });
    const live = liveSource('in');
    const spec = makeSpec({
      name: 'idle',
      sources: [{ name: 'live', definition: live.definition }],
      processors: [{ name: 'wm', definition: watermarks, inputs: ['in'], outputs: ['wm'] }],
      partitions: { in: 2 },
    });
    const run = await transport.start(spec, { clock });
    const processed = () => run.stats().find((s) => s.name === 'wm')!.recordsIn;
    // Partition 1 delivers once and then goes silent; partition 0 keeps going.
    live.push({ topic: 'in', key: null, value: 0, timestamp: t0, partition: 1 });
    await until('first record', () => processed() === 1);
    for (let i = 1; i <= 5; i++) {
      clock.advance(minute);
      live.push({ topic: 'in', key: null, value: i, timestamp: t0 + i * minute, partition: 0 });
      await until(`record ${i}`, () => processed() === i + 1);
    }
    clock.advance(minute);
    await run.runTimers();
    // onWatermark runs once per partition context: distinct values are the watermark's steps.
    const seen = [...new Set(transport.broker.records('wm').map((r) => r.value as number))];
    await run.stop();
    return seen;
  }

  it('a silent partition holds the watermark back without idleness detection', async () => {
    expect(await scenario(undefined)).toEqual([t0]);
  });

  it('a partition silent for idlePartitionMs stops holding it back', async () => {
    // Partition 1 was last seen at t0 (clock), the check runs at t0 + 6 min.
    expect(await scenario(3 * minute)).toEqual([t0, t0 + 5 * minute]);
  });
});
