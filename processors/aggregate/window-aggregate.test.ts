import {
  MemoryTransport,
  ProcessorCore,
  VirtualClock,
  arraySource,
  defineProcessor,
  makeSpec,
  type OutRecord,
  type ProcessContext,
  type Processor,
  type ProcessorDefinition,
  type StreamRecord,
} from '@optibid/runtime';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { tableJoinDefinition } from './join.js';
import { rollupDefinition } from './rollup.js';
import { sortSmall, windowAggregate, windowAggregateDefinition } from './window-aggregate.js';
import { accumulate, accumulateInto, windowsFor, type WindowSpec } from './window.js';

const H = 3_600_000;
const M = 60_000;

async function run(
  def: ProcessorDefinition,
  config: unknown,
  input: OutRecord[],
  opts: { inputs?: string[]; outputs?: string[] } = {},
) {
  if (!Value.Check(def.config, config))
    throw new Error(`bad config ${JSON.stringify([...Value.Errors(def.config, config)][0])}`);
  const transport = new MemoryTransport();
  const spec = makeSpec({
    name: 't',
    sources: [{ name: 'src', definition: arraySource('src', input, { batchSize: 3, outputs: opts.inputs ?? ['in'] }) }],
    processors: [
      { name: 'w', definition: def, config, inputs: opts.inputs ?? ['in'], outputs: opts.outputs ?? ['out', 'late'] },
    ],
  });
  const clock = new VirtualClock(Date.UTC(2024, 0, 1));
  await (
    await transport.start(spec, { clock, untilIdle: true })
  ).done;
  return {
    out: transport.broker.records('out'),
    late: transport.broker.records('late'),
    dlq: transport.broker.records('dlq.t'),
  };
}

const price = (t: number, p: number, key = 'NO1'): OutRecord => ({
  topic: 'in',
  key,
  value: { priceEurPerMwh: p },
  timestamp: t,
});

describe('windowsFor', () => {
  it('assigns one tumbling window and size/advance hopping windows', () => {
    expect(windowsFor({ type: 'tumbling', sizeMs: H }, 90 * M)).toEqual([{ start: H, end: 2 * H }]);
    expect(windowsFor({ type: 'hopping', sizeMs: H, advanceMs: 15 * M }, 70 * M)).toEqual([
      { start: 15 * M, end: 75 * M },
      { start: 30 * M, end: 90 * M },
      { start: 45 * M, end: 105 * M },
      { start: 60 * M, end: 120 * M },
    ]);
    expect(windowsFor({ type: 'tumbling', sizeMs: 24 * H, offsetMs: 23 * H }, 0)).toEqual([{ start: -H, end: 23 * H }]);
  });
});

describe('rollup (tumbling windows on event time)', () => {
  it('emits one OHLC bar per key and hour when the watermark passes the hour', async () => {
    const input = [
      price(0, 10),
      price(15 * M, 30),
      price(30 * M, 5),
      price(45 * M, 20),
      price(0, 100, 'NO2'),
      price(H, 7),
      price(H + 5 * M, 9, 'NO2'),
    ];
    const { out } = await run(rollupDefinition, { interval: '1h', field: 'priceEurPerMwh' }, input);
    const bars = out.map((r) => [r.key, r.value, r.headers?.window]);
    expect(bars[0]).toEqual([
      'NO1',
      {
        key: 'NO1',
        windowStart: 0,
        windowEnd: H,
        count: 4,
        sum: 65,
        mean: 16.25,
        min: 5,
        max: 30,
        open: 10,
        close: 20,
      },
      'final',
    ]);
    expect(bars[1]).toMatchObject(['NO2', { windowStart: 0, count: 1, open: 100 }, 'final']);
    // the hour-1 bars only close at end of input (watermark +Infinity)
    expect(bars.slice(2).map((b) => [b[0], (b[1] as { windowStart: number }).windowStart])).toEqual([
      ['NO1', H],
      ['NO2', H],
    ]);
    expect(out.map((r) => r.timestamp)).toEqual([0, 0, H, H]);
  });

  it('does not close a window before the watermark passes its end', async () => {
    // out of order within the hour: the 50-minute record arrives after 10 minutes, all in one window
    const input = [price(50 * M, 1), price(10 * M, 2), price(59 * M, 3)];
    const { out } = await run(rollupDefinition, { interval: '1h', field: 'priceEurPerMwh' }, input);
    expect(out).toHaveLength(1);
    expect(out[0]!.value).toMatchObject({ count: 3, open: 2, close: 3 });
  });

  it('updates a closed window for a record within the allowed lateness and sends later ones to the late topic', async () => {
    const input = [
      price(10 * M, 10),
      price(H + 20 * M, 50), // watermark 1:20 closes hour 0
      price(30 * M, 20), // 50 min behind the watermark, lateness 1h: updates hour 0
      price(2 * H + 30 * M, 60), // watermark 2:30: hour 0 is now past end + lateness (2:00)
      price(40 * M, 99), // too late
    ];
    const { out, late } = await run(
      rollupDefinition,
      { interval: '1h', field: 'priceEurPerMwh', allowedLateness: '1h', lateTopic: 'late' },
      input,
    );
    const hour0 = out.filter((r) => (r.value as { windowStart: number }).windowStart === 0);
    expect(hour0.map((r) => [r.headers?.window, (r.value as { count: number }).count])).toEqual([
      ['final', 1],
      ['update', 2],
    ]);
    expect(late.map((r) => [r.value, r.headers?.['late-by-ms']])).toEqual([[{ priceEurPerMwh: 99 }, String(30 * M)]]);
  });

  it('sends too-late records to the DLQ when no late topic is configured, and non-numeric fields too', async () => {
    const input = [
      price(10 * M, 1),
      price(2 * H, 2),
      price(5 * M, 3),
      { topic: 'in', key: 'NO1', value: { priceEurPerMwh: 'n/a' }, timestamp: 2 * H },
    ];
    const { dlq, out } = await run(rollupDefinition, { interval: '1h', field: 'priceEurPerMwh' }, input);
    expect(dlq.map((r) => r.headers?.['error-code'])).toEqual(['OPTIBID_ERR_LATE', 'OPTIBID_ERR_RECORD']);
    expect(dlq[1]!.headers?.reason).toMatch(/priceEurPerMwh.*not a finite number/);
    expect(out.map((r) => (r.value as { count: number }).count)).toEqual([1, 1]);
  });
});

describe('window-aggregate', () => {
  it('hopping windows count each record in size/advance windows', async () => {
    const input = [price(0, 1), price(30 * M, 2), price(60 * M, 3)];
    const { out } = await run(
      windowAggregateDefinition,
      { window: { type: 'hopping', size: '1h', advance: '30m' }, field: 'priceEurPerMwh' },
      input,
    );
    expect(
      out.map((r) => [(r.value as { windowStart: number }).windowStart / M, (r.value as { sum: number }).sum]),
    ).toEqual([
      [-30, 1],
      [0, 3],
      [30, 5],
      [60, 3],
    ]);
  });

  it('session windows merge records closer than the gap and split on a longer silence', async () => {
    const input = [price(0, 1), price(10 * M, 2), price(5 * M, 5, 'NO2'), price(25 * M, 3), price(2 * H, 4)];
    const { out } = await run(
      windowAggregateDefinition,
      { window: { type: 'session', gap: '20m' }, field: 'priceEurPerMwh' },
      input,
    );
    const sessions = out.map((r) => {
      const v = r.value as { windowStart: number; windowEnd: number; count: number };
      return [r.key, v.windowStart / M, v.windowEnd / M, v.count];
    });
    // NO2's session [5, 25) closes as soon as the 25-minute record moves the watermark to 25
    expect(sessions).toEqual([
      ['NO2', 5, 25, 1],
      ['NO1', 0, 45, 3],
      ['NO1', 120, 140, 1],
    ]);
  });

  it('merges two sessions bridged by a late record', async () => {
    const input = [price(0, 1), price(30 * M, 2), price(15 * M, 3)];
    const { out } = await run(
      windowAggregateDefinition,
      { window: { type: 'session', gap: '20m' }, field: 'priceEurPerMwh', allowedLateness: '1h' },
      input,
    );
    // 0 and 30 are separate sessions until 15 arrives (the first one had already closed at watermark 30)
    expect(
      out.map((r) => [
        r.headers?.window,
        (r.value as { windowStart: number }).windowStart / M,
        (r.value as { count: number }).count,
      ]),
    ).toEqual([
      ['final', 0, 1],
      ['final', 0, 3],
    ]);
  });
});

describe('table-join', () => {
  it('enriches stream records with the latest table value for their key', async () => {
    const asset = (t: number, key: string, name: string | null): OutRecord => ({
      topic: 'assets',
      key,
      value: name === null ? null : { name },
      timestamp: t,
    });
    const reading = (t: number, key: string, kw: number): OutRecord => ({
      topic: 'readings',
      key,
      value: { powerKw: kw },
      timestamp: t,
    });
    const input = [
      asset(0, 'b1', 'Battery 1'),
      reading(1, 'b1', 5),
      reading(2, 'b2', 7),
      asset(3, 'b1', 'Battery One'),
      reading(4, 'b1', 6),
      asset(5, 'b1', null),
      reading(6, 'b1', 1),
    ];
    const { out } = await run(tableJoinDefinition, { table: 'assets', as: 'asset' }, input, {
      inputs: ['assets', 'readings'],
      outputs: ['out'],
    });
    expect(out.map((r) => r.value)).toEqual([
      { powerKw: 5, asset: { name: 'Battery 1' } },
      { powerKw: 7, asset: null },
      { powerKw: 6, asset: { name: 'Battery One' } },
      { powerKw: 1, asset: null },
    ]);
  });
});

describe('where: aggregating only some records', () => {
  const reading = (t: number, metric: string, value: number | string): OutRecord => ({
    topic: 'in',
    key: 'bess-1',
    value: { assetId: 'bess-1', metric, value },
    timestamp: t,
  });

  it('window-aggregate and rollup skip records whose fields do not match (not dead letters), and their timestamps still move the watermark', async () => {
    // The power readings carry a non-numeric value: aggregating them would dead-letter them.
    const input = [
      reading(0, 'state_of_charge', 50),
      reading(10_000, 'dc_power', 'n/a'),
      reading(30_000, 'state_of_charge', 48),
      reading(70_000, 'dc_power', -208),
    ];
    const w = await run(
      windowAggregateDefinition,
      { window: { type: 'tumbling', size: '1m' }, field: 'value', where: { metric: 'state_of_charge' } },
      input,
    );
    expect(w.out.map((r) => r.value)).toEqual([
      {
        key: 'bess-1',
        windowStart: 0,
        windowEnd: M,
        count: 2,
        sum: 98,
        mean: 49,
        min: 48,
        max: 50,
        open: 50,
        close: 48,
      },
    ]);
    expect(w.out[0]!.headers?.window).toBe('final'); // closed by the dc_power record at 70 s, not only by the end of input
    expect(w.dlq).toEqual([]);
    const r = await run(
      rollupDefinition,
      { interval: '1m', field: 'value', where: { metric: ['dc_power', 'state_of_charge'] } },
      input,
    );
    // A list matches any of its values: the "n/a" power reading is taken and dead-lettered, the rest aggregated.
    expect(r.out.map((o) => [o.value.windowStart, o.value.count, o.value.close])).toEqual([
      [0, 2, 48],
      [M, 1, -208],
    ]);
    expect(r.dlq.map((d) => d.headers?.reason)).toEqual(['field "value" is not a finite number ("n/a")']);
  });
});

describe('valueFields (the projection the Kafka decoders may limit input values to)', () => {
  it('names the top-level fields of `field` and `where`; whole values when late records are forwarded', () => {
    expect(rollupDefinition.valueFields!({ interval: '1h', field: 'price' })).toEqual(['price']);
    expect(
      rollupDefinition.valueFields!({
        interval: '1h',
        field: 'reading.value',
        where: { 'meta.unit': 'kW', metric: 'p' },
      }),
    ).toEqual(['reading', 'meta', 'metric']);
    expect(rollupDefinition.valueFields!({ interval: '1h', field: 'price', lateTopic: 'late' })).toBeUndefined();
    const tumbling = { type: 'tumbling' as const, size: '1h' };
    expect(windowAggregateDefinition.valueFields!({ window: tumbling, field: 'price', where: { price: 1 } })).toEqual([
      'price',
    ]);
    expect(windowAggregateDefinition.valueFields!({ window: tumbling, field: 'p', lateTopic: 'late' })).toBeUndefined();
  });

  it('values cut down to those fields give the same bars as whole values', async () => {
    const config = { interval: '1h', field: 'reading.value', where: { metric: ['soc', 'p'] } };
    const fields = rollupDefinition.valueFields!(config)!;
    const whole = Array.from({ length: 40 }, (_, i) => ({
      topic: 'in',
      key: `k${i % 3}`,
      value: {
        assetId: `a${i}`,
        metric: ['soc', 'p', 'q'][i % 3],
        reading: { value: i * 1.5, unit: 'kW' },
        source: 'test',
      },
      timestamp: i * 7 * M,
    }));
    const cut = whole.map((r) => ({
      ...r,
      value: Object.fromEntries(Object.entries(r.value).filter(([k]) => fields.includes(k))),
    }));
    expect(cut[0]!.value).toEqual({ metric: 'soc', reading: { value: 0, unit: 'kW' } });
    const a = await run(rollupDefinition, config, whole);
    const b = await run(rollupDefinition, config, cut);
    expect(a.out.length).toBeGreaterThan(5);
    expect(b.out).toEqual(a.out);
    expect(b.dlq).toEqual(a.dlq);
  });
});

describe('accumulateInto', () => {
  it('leaves the accumulator as accumulate returns it, for any order of values and times', () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let n = 0; n < 200; n++) {
      let copied = accumulate(undefined, rnd() * 100 - 50, Math.floor(rnd() * 1000));
      const inPlace = { ...copied };
      for (let i = 0; i < 20; i++) {
        const v = rnd() < 0.1 ? [NaN, Infinity, -0, 0][i % 4]! : rnd() * 100 - 50;
        const t = Math.floor(rnd() * 1000);
        copied = accumulate(copied, v, t);
        accumulateInto(inPlace, v, t);
        expect(inPlace).toEqual(copied);
      }
    }
  });
});

describe('watermark requests (the core calls onWatermark only when a window is due)', () => {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  /**
   * The processor as the core runs it (`watermarkRequests`: onWatermark only once a requested time is
   * reached), or as a processor without requests (onWatermark at every advance, no `requestWatermark`),
   * counting its onWatermark calls.
   */
  const variant = (opts: Parameters<typeof windowAggregate>[0], requests: boolean) => {
    const calls = { n: 0 };
    const inner = windowAggregate(opts);
    const hidden = (ctx: ProcessContext): ProcessContext => ({
      state: ctx.state,
      clock: ctx.clock,
      emit: ctx.emit,
      get watermark() {
        return ctx.watermark;
      },
    });
    const processor: Processor = requests
      ? {
          ...inner,
          onWatermark(wm, ctx) {
            calls.n++;
            return inner.onWatermark!(wm, ctx);
          },
        }
      : {
          process: (r, ctx) => inner.process(r, hidden(ctx)),
          onWatermark(wm, ctx) {
            calls.n++;
            return inner.onWatermark!(wm, hidden(ctx));
          },
        };
    expect(processor.watermarkRequests === true).toBe(requests);
    const def = defineProcessor({
      name: 'w',
      status: 'experimental',
      summary: 'window aggregate variant',
      config: Type.Object({}),
      create: () => processor,
    });
    const clock = new VirtualClock(0);
    const core = ProcessorCore.create(
      { name: 'w', definition: def, config: {}, inputs: ['in'], outputs: ['out', 'late'] },
      { name: 'w', clock, logger: quiet, env: {}, signal: new AbortController().signal },
      { dlqTopic: 'dlq.t', clock, maxOutOfOrdernessMs: opts.allowedLatenessMs ? 2 * M : 0, trackChanges: true },
    );
    return { core, calls };
  };
  /** Random records over 3 partitions and 4 keys: event time mostly rising, some records late, some bad values. */
  const input = (seed: number, n: number): StreamRecord[] => {
    const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const clocks = [0, 0, 0];
    return Array.from({ length: n }, (_, i) => {
      const partition = Math.floor(rnd() * 3);
      clocks[partition]! += Math.floor(rnd() * 9 * M);
      const late = rnd() < 0.15 ? Math.floor(rnd() * 3 * H) : 0;
      return {
        topic: 'in',
        partition,
        offset: String(i),
        key: rnd() < 0.05 ? null : `k${Math.floor(rnd() * 4)}`,
        timestamp: clocks[partition]! - late,
        value: { p: rnd() < 0.02 ? 'bad' : Math.round(rnd() * 1000) / 10 },
      };
    });
  };

  it('a store whose state is restored under it is looked at again: restored windows close at the next advance', async () => {
    const { core } = variant({ window: { type: 'tumbling', sizeMs: H }, field: 'p' }, true);
    const at = (offset: number, t: number, p: number): StreamRecord => ({
      topic: 'in',
      partition: 0,
      offset: String(offset),
      key: 'k',
      timestamp: t,
      value: { p },
    });
    // Window [4 h, 5 h) closed by the watermark at 5 h; [5 h, 6 h) open: the store's next due time is 6 h.
    const first = await core.run([at(0, 4 * H, 1), at(1, 5 * H, 2)]);
    expect(first.outputs.map((o) => (o.value as { windowStart: number }).windowStart)).toEqual([4 * H]);
    // The partition's state is replaced (e.g. re-read from the changelog) by one holding an earlier window.
    const acc = accumulate(undefined, 7, 2 * H);
    core.restorePartition(0, [[`w\u0000k\u0000${2 * H}`, { k: 'k', s: 2 * H, e: 3 * H, acc, fired: false }]]);
    const r = await core.run([at(2, 5 * H + 2 * M, 3)]);
    expect(r.outputs.map((o) => [o.value, o.headers?.window])).toEqual([
      [
        {
          key: 'k',
          windowStart: 2 * H,
          windowEnd: 3 * H,
          count: 1,
          sum: 7,
          mean: 7,
          min: 7,
          max: 7,
          open: 7,
          close: 7,
        },
        'final',
      ],
    ]);
  });

  const windows: WindowSpec[] = [
    { type: 'tumbling', sizeMs: H },
    { type: 'tumbling', sizeMs: 15 * M, offsetMs: 5 * M },
    { type: 'hopping', sizeMs: H, advanceMs: 20 * M },
    { type: 'session', gapMs: 25 * M },
  ];
  const cases = windows.flatMap((window) => [
    { window, field: 'p' },
    { window, field: 'p', allowedLatenessMs: 30 * M, lateTopic: 'late' },
    { window, field: 'p', allowedLatenessMs: 2 * H },
  ]);

  it.each(
    cases.map((c) => [
      `${c.window.type} ${JSON.stringify(c.window)} lateness ${c.allowedLatenessMs ?? 0} ${c.lateTopic ?? 'dlq'}`,
      c,
    ]),
  )(
    '%s: same outputs, late records, dead letters and changelog as onWatermark at every advance, with fewer calls',
    async (_name, opts) => {
      for (const seed of [1, 2, 3]) {
        const records = input(seed, 600);
        const results = [];
        for (const requests of [true, false]) {
          const { core, calls } = variant(opts, requests);
          // Each batch's result as text when it is returned (window entries are updated in place later).
          const got: string[] = [];
          // Batches of varying size, a partition revoked half way (its stores dropped) and the end of input.
          for (let i = 0, b = 1; i < records.length; i += b, b = ((b * 7) % 53) + 1) {
            got.push(JSON.stringify(await core.run(records.slice(i, i + b))));
            if (i < 300 && i + b >= 300) core.dropPartition(2, ['in']);
          }
          got.push(JSON.stringify(await core.flush()));
          results.push({ got, calls: calls.n });
          await core.close();
        }
        const [withRequests, everyAdvance] = results;
        expect(withRequests!.got.length).toBe(everyAdvance!.got.length);
        withRequests!.got.forEach((batch, i) => expect([i, batch]).toEqual([i, everyAdvance!.got[i]]));
        // Something was emitted, late, dead-lettered and changed (the comparison means something) ...
        const text = everyAdvance!.got.join('');
        expect(text).toContain('"final"');
        if (opts.lateTopic) expect(text).toContain('"late-by-ms"');
        else expect(text).toContain('OPTIBID_ERR_LATE');
        if (opts.allowedLatenessMs) expect(text).toContain('"update"');
        expect(text).toContain('"changes":[{"partition"');
        // ... and the fast path skipped most calls.
        expect(withRequests!.calls).toBeLessThan(everyAdvance!.calls / 2);
      }
    },
  );
});

describe('sortSmall', () => {
  it('orders like Array.prototype.sort (stable) for short and long arrays with many ties', () => {
    let seed = 11;
    const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const cmp = (a: { s: number; k: string | null }, b: { s: number; k: string | null }) =>
      a.s - b.s || String(a.k).localeCompare(String(b.k));
    for (let n = 0; n < 40; n++) {
      const xs = Array.from({ length: n }, (_, i) => ({
        s: Math.floor(rnd() * 4),
        k: rnd() < 0.1 ? null : ['b', 'a', 'B', 'é', 'c'][Math.floor(rnd() * 5)]!,
        i,
      }));
      const expected = [...xs].sort(cmp);
      sortSmall(xs, cmp);
      // Same order, ties (same s and k) kept in their original order.
      expect(xs.map((x) => x.i)).toEqual(expected.map((x) => x.i));
    }
  });
});
