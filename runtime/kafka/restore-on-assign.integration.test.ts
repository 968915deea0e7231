import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Type } from '@sinclair/typebox';
import type { Consumer, KafkaMessage } from 'kafkajs';
import { VirtualClock } from '../clock.js';
import { defineProcessor, type Processor } from '../component.js';
import type { RunningPipeline } from '../pipeline.js';
import { makeSpec, type PipelineSpec } from '../spec.js';
import { priceForecastProcessor } from '@optibid/processors/forecast/processor.js';
import { kafkaTransports, type SharedKafkaOptions } from './fixtures/transports.js';
import { createTopics, produce, testKafka } from './fixtures/kafka-helpers.js';

jest.setTimeout(180_000);

const runId = `roa${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;
const minute = 60_000;
const hour = 60 * minute;

/**
 * Sums `n` per key in keyed state; once the injected clock reaches `reportAt`, its timer emits one report
 * per input partition from that state (the totals per key) and marks it sent, so it goes out once. With no
 * state it emits nothing (as the forecaster does with no prices).
 */
const reporting = defineProcessor({
  name: 'reporting',
  status: 'experimental',
  summary: 'per-key sums reported once on the timer at reportAt',
  config: Type.Object({ reportAt: Type.Number(), worker: Type.Optional(Type.String()) }),
  create: (cfg): Processor => ({
    process(r, ctx) {
      const key = `sum:${r.key}`;
      ctx.state.put(key, ((ctx.state.get(key) as number | undefined) ?? 0) + (r.value as { n: number }).n);
    },
    timerIntervalMs: 1000,
    onTimer(now, ctx) {
      if (now < cfg.reportAt || ctx.state.get('reported') !== undefined) return;
      const totals: Record<string, number> = {};
      for (const [k, v] of ctx.state.entries()) if (k.startsWith('sum:')) totals[k.slice(4)] = v as number;
      if (Object.keys(totals).length === 0) return;
      ctx.emit({ key: 'report', value: { totals, at: now, by: cfg.worker ?? null } });
      ctx.state.put('reported', now);
    },
    onAssign(partitions) {
      assignments.push({ worker: cfg.worker ?? '', partitions: [...partitions] });
    },
  }),
});
/** Every `onAssign` call of `reporting` in this process, in order. */
const assignments: Array<{ worker: string; partitions: number[] }> = [];
/** The partitions `worker` was last told it holds. */
const heldBy = (worker: string) => assignments.filter((a) => a.worker === worker).at(-1)?.partitions;

/** Polls a condition on I/O progress; virtual time moves only when the test sets it. */
async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Everything committed to `topic` (read committed), collected as it arrives. */
async function collect(topic: string, group: string): Promise<{ messages: KafkaMessage[]; reader: Consumer }> {
  const messages: KafkaMessage[] = [];
  const reader = testKafka().consumer({ groupId: group, readUncommitted: false });
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      messages.push(message);
    },
  });
  return { messages, reader };
}

describe.each(kafkaTransports)('state restored at assignment on the %s transport', (transportName, makeTransport) => {
  const run = `${runId}${transportName}`;

  /** Starts the same worker again and again: same group, changelog and transactional id. */
  const worker = (spec: PipelineSpec, clock: VirtualClock, committed: Set<string>, extra: SharedKafkaOptions = {}) =>
    makeTransport({
      instanceId: 'w1',
      timerPollMs: 20,
      afterCommit: ({ records }) => {
        for (const r of records) committed.add(`${r.partition}/${r.offset}`);
      },
      ...extra,
    }).start(spec, { clock });

  it('a restarted worker that gets no record runs its timer on the restored state of every partition, once', async () => {
    const input = `${run}.sum.in`;
    const output = `${run}.sum.out`;
    await createTopics([{ topic: input, numPartitions: 3 }, { topic: output }]);
    const t0 = Date.parse('2026-03-10T06:00:00Z');
    const reportAt = t0 + 2 * hour;
    const spec = makeSpec({
      name: `${run}-sum`,
      partitions: { [input]: 3 },
      processors: [{ name: 'report', definition: reporting, config: { reportAt }, inputs: [input], outputs: [output] }],
    });
    const clock = new VirtualClock(t0);
    const committed = new Set<string>();
    // Partitions 0 and 2 get records; partition 1 none (no state, so no report from it).
    const records = [
      ...[1, 2, 3].map((n) => ({ key: 'a', value: { n }, partition: 0 })),
      ...[10, 20].map((n) => ({ key: 'b', value: { n }, partition: 0 })),
      ...[100, 200, 300, 400].map((n) => ({ key: 'c', value: { n }, partition: 2 })),
    ];
    const out = await collect(output, `${run}-sum-reader`);
    let w: RunningPipeline | undefined;
    try {
      w = await worker(spec, clock, committed);
      await produce(input, records);
      await until('every record committed', () => committed.size >= records.length);
      clock.set(t0 + hour); // still before reportAt: nothing to report yet
      await new Promise((r) => setTimeout(r, 300));
      await w.stop();
      expect(out.messages).toHaveLength(0);

      // Deploy: the same worker comes back; no record arrives any more.
      w = await worker(spec, clock, committed);
      clock.set(reportAt + minute);
      await until('two reports', () => out.messages.length >= 2);
      await new Promise((r) => setTimeout(r, 1500)); // the 20 ms timer poll runs many times meanwhile
      clock.set(reportAt + 5 * minute); // later ticks must not report again either
      await new Promise((r) => setTimeout(r, 1000));
      const reports = out.messages.map((m) => JSON.parse(m.value!.toString()) as { totals: object; at: number });
      expect(reports.map((r) => r.totals).sort((x, y) => Object.keys(x)[0]!.localeCompare(Object.keys(y)[0]!))).toEqual(
        [{ a: 6, b: 30 }, { c: 1000 }],
      );
      expect(reports.map((r) => r.at)).toEqual([reportAt + minute, reportAt + minute]);

      // The marks were changelogged: a third start reports nothing again.
      await w.stop();
      w = await worker(spec, clock, committed);
      clock.set(reportAt + 10 * minute);
      await new Promise((r) => setTimeout(r, 2500));
      expect(out.messages).toHaveLength(2);
    } finally {
      await w?.stop();
      await out.reader.disconnect();
    }
  });

  it('price-forecast (naive-daily) issues the day-ahead forecast on its timer after a morning restart with no new price', async () => {
    const prices = `${run}.fc.prices`;
    const forecasts = `${run}.fc.forecasts`;
    await createTopics([{ topic: prices }, { topic: forecasts }]);
    const spec = makeSpec({
      name: `${run}-fc`,
      processors: [
        {
          name: 'forecast',
          definition: priceForecastProcessor,
          config: {
            market: 'NORDPOOL',
            area: 'SYS',
            model: 'naive-daily',
            timeZone: 'UTC',
            gateClosure: '12:00',
            leadMinutes: 60,
            tickIntervalMs: 1000,
            outputTopic: forecasts,
          },
          inputs: [prices],
          outputs: [forecasts],
        },
      ],
    });
    // Day X = 2026-03-10: its prices were published on X-1, so the morning of X holds X-2..X. The forecast
    // for X+1 is due at 11:00 (gate 12:00 minus 60 minutes); prices of X+1 come only after the gate.
    const dayX = Date.parse('2026-03-10T00:00:00Z');
    const price = (start: number) =>
      Math.round((40 + 10 * Math.sin(start / hour) + (start - dayX) / (3 * hour)) * 10) / 10;
    const records = [];
    for (let start = dayX - 2 * 24 * hour; start < dayX + 24 * hour; start += hour) {
      records.push({
        key: 'NORDPOOL|SYS',
        value: {
          market: 'NORDPOOL',
          area: 'SYS',
          product: 'DAY_AHEAD',
          deliveryStart: start,
          intervalMinutes: 60,
          price: price(start),
        },
        timestamp: start,
      });
    }
    const clock = new VirtualClock(dayX + 7 * hour);
    const committed = new Set<string>();
    const out = await collect(forecasts, `${run}-fc-reader`);
    let w: RunningPipeline | undefined;
    try {
      w = await worker(spec, clock, committed);
      await produce(prices, records);
      await until('every price committed', () => committed.size >= records.length);
      await w.stop(); // 08:00-ish deploy
      expect(out.messages).toHaveLength(0);

      w = await worker(spec, clock, committed);
      clock.set(dayX + 11 * hour + 5 * minute);
      await until('24 forecasts', () => out.messages.length >= 24);
      await new Promise((r) => setTimeout(r, 1500));
      clock.set(dayX + 11 * hour + 30 * minute);
      await new Promise((r) => setTimeout(r, 1000));
      const values = out.messages.map(
        (m) => JSON.parse(m.value!.toString()) as { deliveryStart: number; price: number; issuedAt: number },
      );
      expect(values).toHaveLength(24);
      expect(values.map((v) => v.deliveryStart)).toEqual(
        Array.from({ length: 24 }, (_, h) => dayX + 24 * hour + h * hour),
      );
      // naive-daily: day X+1 forecast as day X, from the restored prices.
      expect(values.map((v) => v.price)).toEqual(Array.from({ length: 24 }, (_, h) => price(dayX + h * hour)));
      expect(new Set(values.map((v) => v.issuedAt))).toEqual(new Set([dayX + 11 * hour + 5 * minute]));
    } finally {
      await w?.stop();
      await out.reader.disconnect();
    }
  });

  it('after a rebalance each partition reports once, from the worker that holds it, on restored state (no stale store ticks)', async () => {
    const input = `${run}.reb.in`;
    const output = `${run}.reb.out`;
    await createTopics([{ topic: input, numPartitions: 2 }, { topic: output }]);
    const t0 = Date.parse('2026-03-10T06:00:00Z');
    const reportAt = t0 + 2 * hour;
    const specOf = (worker: string) =>
      makeSpec({
        name: `${run}-reb`,
        partitions: { [input]: 2 },
        processors: [
          { name: 'report', definition: reporting, config: { reportAt, worker }, inputs: [input], outputs: [output] },
        ],
      });
    const clock = new VirtualClock(t0);
    const committed = new Set<string>();
    const records = [
      ...[1, 2].map((n) => ({ key: 'a', value: { n }, partition: 0 })),
      ...[30, 40].map((n) => ({ key: 'b', value: { n }, partition: 1 })),
    ];
    const out = await collect(output, `${run}-reb-reader`);
    const workers: RunningPipeline[] = [];
    try {
      workers.push(await worker(specOf(`${transportName}-a`), clock, committed));
      await produce(input, records);
      await until('every record committed', () => committed.size >= records.length);
      await until('a told it holds both partitions', () => heldBy(`${transportName}-a`)?.join() === '0,1');
      // b joins with no record to come: the group rebalances, a keeps one partition and b restores the other.
      workers.push(await worker(specOf(`${transportName}-b`), clock, committed, { instanceId: 'w2' }));
      await until(
        'a and b told they hold one partition each',
        () =>
          heldBy(`${transportName}-a`)?.length === 1 &&
          heldBy(`${transportName}-b`)?.length === 1 &&
          heldBy(`${transportName}-a`)![0] !== heldBy(`${transportName}-b`)![0],
        90_000,
      );
      clock.set(reportAt + minute);
      await until('two reports', () => out.messages.length >= 2);
      await new Promise((r) => setTimeout(r, 1500));
      const reports = out.messages.map(
        (m) => JSON.parse(m.value!.toString()) as { totals: Record<string, number>; by: string },
      );
      const holder = (p: number) =>
        heldBy(`${transportName}-a`)![0] === p ? `${transportName}-a` : `${transportName}-b`;
      expect(
        reports.map((r) => [r.totals, r.by]).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
      ).toEqual([
        [{ a: 3 }, holder(0)],
        [{ b: 70 }, holder(1)],
      ]);
    } finally {
      for (const w of workers.reverse()) await w.stop();
      await out.reader.disconnect();
    }
  });
});
