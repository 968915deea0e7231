import { Type } from '@sinclair/typebox';
import { VirtualClock } from '../clock.js';
import { defineProcessor } from '../component.js';
import { dlqHeaders } from '../dlq.js';
import { makeSpec } from '../spec.js';
import { arraySource, collectingSink } from '../testing.js';
import { MemoryTransport } from './transport.js';

const double = defineProcessor({
  name: 'double',
  status: 'stable',
  summary: 'doubles value.x, rejects negatives',
  config: Type.Object({}),
  create: () => ({
    process(r, ctx) {
      const x = (r.value as { x: number }).x;
      if (x < 0) throw new Error(`negative x ${x}`);
      ctx.emit({ key: r.key, value: { x: x * 2 }, timestamp: r.timestamp });
    },
  }),
});

const counter = defineProcessor({
  name: 'count-by-key',
  status: 'stable',
  summary: 'running count per key in keyed state',
  config: Type.Object({}),
  create: () => ({
    process(r, ctx) {
      const n = ((ctx.state.get(r.key!) as number | undefined) ?? 0) + 1;
      ctx.state.put(r.key!, n);
      ctx.emit({ key: r.key, value: n, timestamp: r.timestamp });
    },
  }),
});

const rec = (x: number, i: number, key = 'k') => ({ topic: 'in', key, value: { x }, timestamp: i * 1000 });

describe('MemoryTransport', () => {
  it('runs source -> processor -> sink and stops when idle', async () => {
    const source = arraySource(
      'src',
      [1, 2, 3].map((x, i) => rec(x, i)),
      { batchSize: 2 },
    );
    const sink = collectingSink('out');
    const spec = makeSpec({
      name: 'p',
      sources: [{ name: 'src', definition: source }],
      processors: [{ name: 'double', definition: double, inputs: ['in'], outputs: ['doubled'] }],
      sinks: [{ name: 'out', definition: sink, inputs: ['doubled'] }],
    });
    const run = await new MemoryTransport().start(spec, { clock: new VirtualClock(), untilIdle: true });
    await run.done;
    expect(sink.records.map((r) => r.value)).toEqual([{ x: 2 }, { x: 4 }, { x: 6 }]);
    expect(source.acked()).toBe(2);
    const stats = run.stats();
    expect(stats.find((s) => s.name === 'double')).toMatchObject({
      recordsIn: 3,
      recordsOut: 3,
      failed: 0,
      lag: 0,
      state: 'stopped',
    });
  });

  it('sends a record whose processing throws to dlq.<pipeline> with headers and keeps going', async () => {
    const transport = new MemoryTransport();
    const source = arraySource('src', [rec(1, 0), rec(-5, 1), rec(3, 2)]);
    const spec = makeSpec({
      name: 'prices',
      sources: [{ name: 'src', definition: source }],
      processors: [{ name: 'double', definition: double, inputs: ['in'], outputs: ['doubled'] }],
    });
    const run = await transport.start(spec, { untilIdle: true });
    await run.done;
    expect(transport.broker.records('doubled').map((r) => r.value)).toEqual([{ x: 2 }, { x: 6 }]);
    const dead = transport.broker.records('dlq.prices');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.value).toEqual({ x: -5 });
    expect(dead[0]!.headers).toMatchObject({
      [dlqHeaders.reason]: 'negative x -5',
      [dlqHeaders.sourceTopic]: 'in',
      [dlqHeaders.sourcePartition]: '0',
      [dlqHeaders.sourceOffset]: '1',
      [dlqHeaders.component]: 'double',
    });
  });

  it('keeps keyed state per key across batches and partitions', async () => {
    const transport = new MemoryTransport();
    const input = ['a', 'b', 'a', 'c', 'a', 'b'].map((k, i) => rec(0, i, k));
    const spec = makeSpec({
      name: 'c',
      sources: [{ name: 'src', definition: arraySource('src', input, { batchSize: 1 }) }],
      processors: [{ name: 'count', definition: counter, inputs: ['in'], outputs: ['counts'] }],
      partitions: { in: 3 },
      settings: { batchSize: 2 },
    });
    await (
      await transport.start(spec, { untilIdle: true })
    ).done;
    const last = new Map(
      transport.broker
        .records('counts')
        .sort((x, y) => x.timestamp - y.timestamp)
        .map((r) => [r.key, r.value]),
    );
    expect(Object.fromEntries(last)).toEqual({ a: 3, b: 2, c: 1 });
  });

  it('tells a processor once, before its first record, that it holds every partition of its inputs', async () => {
    const transport = new MemoryTransport();
    const calls: string[] = [];
    const watcher = defineProcessor({
      name: 'watch-assignment',
      status: 'stable',
      summary: 'records onAssign calls and the assignment seen while processing',
      config: Type.Object({}),
      create: () => ({
        onAssign(partitions) {
          calls.push(`assign ${partitions.join(',')}`);
        },
        process(r, ctx) {
          calls.push(`record ${r.key} held ${ctx.assignedPartitions?.join(',')}`);
        },
      }),
    });
    const spec = makeSpec({
      name: 'assign',
      sources: [
        { name: 'src', definition: arraySource('src', [rec(0, 0, 'a'), { ...rec(0, 1, 'b'), topic: 'other' }]) },
      ],
      processors: [{ name: 'watch', definition: watcher, inputs: ['in', 'other'], outputs: [] }],
      partitions: { in: 3, other: 1 },
    });
    await (
      await transport.start(spec, { untilIdle: true })
    ).done;
    expect(calls[0]).toBe('assign 0,1,2');
    expect(calls.filter((c) => c.startsWith('assign'))).toHaveLength(1);
    expect(calls.slice(1).sort()).toEqual(['record a held 0,1,2', 'record b held 0,1,2']);
  });

  it('dead-letters a record emitted to a topic the processor does not declare', async () => {
    const rogue = defineProcessor({
      name: 'rogue',
      status: 'experimental',
      summary: 'writes elsewhere',
      config: Type.Object({}),
      create: () => ({ process: (r, ctx) => ctx.emit({ ...r, topic: 'elsewhere' }) }),
    });
    const transport = new MemoryTransport();
    const spec = makeSpec({
      name: 'r',
      sources: [{ name: 'src', definition: arraySource('src', [rec(1, 0)]) }],
      processors: [{ name: 'rogue', definition: rogue, inputs: ['in'], outputs: ['out'] }],
    });
    await (
      await transport.start(spec, { untilIdle: true })
    ).done;
    expect(transport.broker.records('elsewhere')).toHaveLength(0);
    expect(transport.broker.records('dlq.r')[0]!.headers![dlqHeaders.reason]).toMatch(/not among its outputs/);
  });

  it('applies back-pressure: a slow sink holds the source back and retained records stay bounded', async () => {
    const transport = new MemoryTransport({ retention: 'consumed' });
    const input = Array.from({ length: 5000 }, (_, i) => rec(i, i));
    let maxRetained = 0;
    const sink = collectingSink('slow', {
      onWrite: async () => {
        maxRetained = Math.max(maxRetained, transport.broker.retained());
        await new Promise((r) => setImmediate(r));
      },
    });
    const spec = makeSpec({
      name: 'bp',
      sources: [{ name: 'src', definition: arraySource('src', input, { batchSize: 50 }) }],
      processors: [{ name: 'double', definition: double, inputs: ['in'], outputs: ['doubled'] }],
      sinks: [{ name: 'slow', definition: sink, inputs: ['doubled'] }],
      settings: { batchSize: 10, maxInFlight: 100 },
    });
    await (
      await transport.start(spec, { untilIdle: true })
    ).done;
    expect(sink.records).toHaveLength(5000);
    // two topics, each holding at most maxInFlight + one batch, twice that before a trim
    expect(maxRetained).toBeLessThanOrEqual(2 * (100 + 50) + 2 * (100 + 10));
  });

  it('dead-letters a batch a sink rejects and goes on with the next one', async () => {
    const transport = new MemoryTransport();
    const sink = collectingSink('picky', { failWhen: (r) => (r.value as { x: number }).x === 2 });
    const spec = makeSpec({
      name: 's',
      sources: [
        {
          name: 'src',
          definition: arraySource(
            'src',
            [1, 2, 3].map((x, i) => rec(x, i)),
          ),
        },
      ],
      sinks: [{ name: 'picky', definition: sink, inputs: ['in'] }],
      settings: { batchSize: 1 },
    });
    await (
      await transport.start(spec, { untilIdle: true })
    ).done;
    expect(sink.records.map((r) => r.value)).toEqual([{ x: 1 }, { x: 3 }]);
    expect(transport.broker.records('dlq.s').map((r) => [r.value, r.headers![dlqHeaders.component]])).toEqual([
      [{ x: 2 }, 'picky'],
    ]);
  });
});
