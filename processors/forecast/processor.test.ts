import {
  ChangelogStore,
  MemoryTransport,
  VirtualClock,
  arraySource,
  collectingSink,
  localDay,
  makeSpec,
  nextDate,
  type OutRecord,
  type ProcessContext,
} from '@optibid/runtime';
import { createPriceForecaster, priceForecastProcessor, type ForecastIssue } from './processor.js';
import { readPriceCsv } from './table.js';

const table = readPriceCsv(new URL('./fixtures/np-2017h1.csv', import.meta.url).pathname, 'Real price');
const HOUR = 3_600_000;
const cetMidnight = (date: string) => Date.parse(`${date}T00:00:00Z`) - HOUR;

function harness() {
  const clock = new VirtualClock(cetMidnight(table.days[0]) - 48 * HOUR);
  const emitted: OutRecord[] = [];
  const ctx: ProcessContext = {
    emit: (r) => emitted.push({ topic: 'default', ...r } as OutRecord),
    state: new ChangelogStore(),
    clock,
    watermark: -Infinity,
  };
  return { clock, emitted, ctx };
}

/** Sends one DAY_AHEAD price per interval start (hourly) to the processor, stamped with the clock's time. */
async function sendPrices(
  p: ReturnType<typeof createPriceForecaster>,
  ctx: ProcessContext,
  [market, area]: [string, string],
  starts: number[],
  price: (k: number) => number,
): Promise<void> {
  for (const [k, deliveryStart] of starts.entries()) {
    const value = { market, area, product: 'DAY_AHEAD', deliveryStart, intervalMinutes: 60, price: price(k) };
    await p.process({ topic: 'market.prices', key: `${market}|${area}`, value, timestamp: ctx.clock.now() }, ctx);
  }
}

/** The 24 hourly interval starts of a day beginning at `start`. */
const hoursFrom = (start: number, n = 24) => Array.from({ length: n }, (_, h) => start + h * HOUR);

/** Feeds day i's prices as published on day i-1 at 13:00 CET (after the auction), in clock order. */
async function feedDay(p: ReturnType<typeof createPriceForecaster>, ctx: ProcessContext, i: number): Promise<void> {
  await sendPrices(p, ctx, ['NORDPOOL', 'SYS'], hoursFrom(cetMidnight(table.days[i])), (h) => table.prices[i * 24 + h]);
}

describe('price-forecast processor', () => {
  it('is a processor definition with a validated config schema', () => {
    expect(priceForecastProcessor.kind).toBe('processor');
    expect(priceForecastProcessor.name).toBe('price-forecast');
    expect(Object.keys(priceForecastProcessor.config.properties)).toEqual(
      expect.arrayContaining(['market', 'area', 'model', 'gateClosure']),
    );
  });

  it('issues one forecast per day at gate closure minus lead time, with quantiles once errors exist', async () => {
    const issues: ForecastIssue[] = [];
    const p = createPriceForecaster(
      { market: 'NORDPOOL', area: 'SYS', model: 'naive-weekly', gateClosure: '12:00', leadMinutes: 60 },
      { onIssue: (i) => void issues.push(i) },
    );
    const { clock, emitted, ctx } = harness();
    for (let i = 0; i < 20; i++) {
      // Day i-1, 10:30 CET: before issue time (11:00) nothing is issued for day i.
      clock.set(Math.max(clock.now(), cetMidnight(table.days[i]) - 13.5 * HOUR));
      const before = emitted.length;
      await p.onWatermark!(clock.now(), ctx);
      expect(emitted.length).toBe(before);
      clock.set(cetMidnight(table.days[i]) - 13 * HOUR + 60_000); // 11:01 CET on day i-1
      await p.onWatermark!(clock.now(), ctx);
      await p.onWatermark!(clock.now(), ctx); // idempotent: a day is issued once
      if (i >= 7) {
        expect(emitted.length - before).toBe(24);
        const first = emitted[before].value as {
          deliveryStart: number;
          price: number;
          model: string;
          modelVersion: string;
          issuedAt: number;
          quantiles: { probability: number; price: number }[];
        };
        expect(first.deliveryStart).toBe(cetMidnight(table.days[i]));
        expect(first.price).toBe(table.prices[(i - 7) * 24]);
        expect(first.model).toBe('naive-weekly');
        expect(first.modelVersion).toBe(`naive-weekly@${table.days[i - 1]}`);
        expect(first.issuedAt).toBe(clock.now());
        expect(emitted[before].topic).toBe('forecasts.prices');
        if (i >= 8) {
          expect(first.quantiles.map((q) => q.probability)).toEqual([0.1, 0.5, 0.9]);
          expect(first.quantiles[0].price).toBeLessThanOrEqual(first.quantiles[2].price);
        } else expect(first.quantiles).toEqual([]);
      } else expect(emitted.length).toBe(before);
      // 13:00 CET: the auction result for day i is published.
      clock.set(cetMidnight(table.days[i]) - 11 * HOUR);
      await feedDay(p, ctx, i);
    }
    expect(issues.map((i) => i.targetDate)).toEqual(table.days.slice(7, 20));
    expect(issues[0]).toMatchObject({ trainingFrom: table.days[0], trainingTo: table.days[6] });
  });

  it('keeps its quantile calibration in keyed state: a processor restarted from that state issues the same bands', async () => {
    const cfg = { market: 'NORDPOOL', area: 'SYS', model: 'naive-weekly', gateClosure: '12:00', leadMinutes: 60 };
    const { emitted, ctx } = harness();
    /** Runs day i: issue at 11:01 CET on day i-1, then the day's prices at 13:00. */
    const day = async (p: ReturnType<typeof createPriceForecaster>, c: ProcessContext, i: number) => {
      const clock = c.clock as VirtualClock;
      clock.set(cetMidnight(table.days[i]) - 13 * HOUR + 60_000);
      await p.onWatermark!(clock.now(), c);
      clock.set(cetMidnight(table.days[i]) - 11 * HOUR);
      await feedDay(p, c, i);
    };
    const first = createPriceForecaster(cfg);
    for (let i = 0; i < 30; i++) await day(first, ctx, i);
    // A restart: a new processor on a copy of the state (as restored from the changelog).
    const restored = new ChangelogStore();
    for (const [k, v] of ctx.state.entries()) restored.put(k, structuredClone(v));
    const after: OutRecord[] = [];
    const restartedCtx: ProcessContext = {
      ...ctx,
      clock: new VirtualClock(ctx.clock.now()),
      state: restored,
      emit: (r) => after.push(r as OutRecord),
    };
    const restarted = createPriceForecaster(cfg);
    const before = emitted.length;
    await day(first, ctx, 30);
    await day(restarted, restartedCtx, 30);
    const bands = (rs: OutRecord[]) => rs.map((r) => (r.value as { quantiles: unknown[] }).quantiles);
    expect(bands(after)).toHaveLength(24);
    expect(bands(after)[0]).toHaveLength(3);
    expect(bands(after)).toEqual(bands(emitted.slice(before)));
  });

  it('sends malformed price records to the dead-letter path by throwing a reason', async () => {
    const p = createPriceForecaster({ market: 'NORDPOOL', area: 'SYS', model: 'naive-daily' });
    const { ctx } = harness();
    await expect(
      p.process(
        {
          topic: 'market.prices',
          key: null,
          value: { market: 'NORDPOOL', area: 'SYS', deliveryStart: 0, intervalMinutes: 60, price: 'x' },
          timestamp: 0,
        },
        ctx,
      ),
    ).rejects.toThrow(/numeric deliveryStart and price/);
    await expect(
      p.process(
        {
          topic: 'market.prices',
          key: null,
          value: { market: 'NORDPOOL', area: 'SYS', deliveryStart: 0, intervalMinutes: 15, price: 1 },
          timestamp: 0,
        },
        ctx,
      ),
    ).rejects.toThrow(/intervalMinutes 15/);
  });

  it('uses market.fundamentals of the area as exogenous inputs, and falls back to prices only when the target day lacks them', async () => {
    const be = readPriceCsv(new URL('./fixtures/be-exog-70d.csv', import.meta.url).pathname, 'Price');
    const run = async (fundamentals: string[] | undefined, skipLoadOf?: string) => {
      const p = createPriceForecaster({
        market: 'EPEX',
        area: 'BE',
        model: 'lear',
        ...(fundamentals ? { fundamentals } : {}),
      });
      const clock = new VirtualClock(cetMidnight(be.days[0]) - 48 * HOUR);
      const emitted: OutRecord[] = [];
      const ctx: ProcessContext = {
        emit: (r) => emitted.push(r),
        state: new ChangelogStore(),
        clock,
        watermark: -Infinity,
      };
      for (let i = 0; i < 44; i++) {
        const start = cetMidnight(be.days[i]);
        // Day-ahead fundamentals forecasts for day i are published on day i-1 at 09:00 CET, before the issue time.
        clock.set(start - 15 * HOUR);
        for (let h = 0; h < 24; h++) {
          if (be.days[i] === skipLoadOf) continue;
          const base = {
            area: 'BE',
            basis: 'DAY_AHEAD_FORECAST',
            deliveryStart: start + h * HOUR,
            intervalMinutes: 60,
            ingestedAt: 0,
            source: 'test',
          };
          await p.process(
            {
              topic: 'market.fundamentals',
              key: 'BE|LOAD',
              value: { ...base, kind: 'LOAD', valueMw: be.columns.Exogenous1[i * 24 + h] },
              timestamp: clock.now(),
            },
            ctx,
          );
          await p.process(
            {
              topic: 'market.fundamentals',
              key: 'BE|WIND',
              value: { ...base, kind: 'WIND', valueMw: be.columns.Exogenous2[i * 24 + h] },
              timestamp: clock.now(),
            },
            ctx,
          );
        }
        clock.set(start - 13 * HOUR + 60_000);
        await p.onWatermark!(clock.now(), ctx);
        clock.set(start - 11 * HOUR);
        await sendPrices(p, ctx, ['EPEX', 'BE'], hoursFrom(start), (h) => be.prices[i * 24 + h]);
      }
      const byDay = new Map<string, number[]>();
      for (const r of emitted) {
        const v = r.value as { deliveryStart: number; price: number };
        const day = new Date(v.deliveryStart + HOUR).toISOString().slice(0, 10);
        byDay.set(day, [...(byDay.get(day) ?? []), v.price]);
      }
      return byDay;
    };
    const pricesOnly = await run(undefined);
    const withExog = await run(['LOAD', 'WIND']);
    const missing = be.days[42];
    const withGap = await run(['LOAD', 'WIND'], missing);
    expect([...withExog.keys()]).toEqual([...pricesOnly.keys()]);
    expect(withExog.get(be.days[41])).not.toEqual(pricesOnly.get(be.days[41]));
    expect(withGap.get(be.days[41])).toEqual(withExog.get(be.days[41]));
    expect(withGap.get(missing)).toEqual(pricesOnly.get(missing));
    await expect(
      createPriceForecaster({ market: 'EPEX', area: 'BE', fundamentals: ['LOAD'] }).process(
        {
          topic: 'market.fundamentals',
          key: null,
          value: {
            area: 'BE',
            kind: 'LOAD',
            basis: 'DAY_AHEAD_FORECAST',
            deliveryStart: 0,
            intervalMinutes: 60,
            valueMw: null,
          },
          timestamp: 0,
        },
        harness().ctx,
      ),
    ).rejects.toThrow(/numeric deliveryStart and valueMw/);
  });

  /** Hourly prices of one local day: interval k from local midnight costs 100 × day + k. */
  const dstPrices = (market: string, zone: string, date: string, day: number) => {
    const { start, end } = localDay(date, zone);
    const out: {
      market: string;
      area: string;
      product: string;
      deliveryStart: number;
      intervalMinutes: number;
      price: number;
    }[] = [];
    for (let t = start, k = 0; t < end; t += HOUR, k++)
      out.push({
        market,
        area: 'X',
        product: 'DAY_AHEAD',
        deliveryStart: t,
        intervalMinutes: 60,
        price: 100 * day + k,
      });
    return out;
  };

  it.each([
    {
      // Spring forward: the target day 2026-03-29 has 23 hours (no 02:00); its gate is 12:00 CET on 03-28 (11:00Z).
      market: 'NORDPOOL',
      zone: 'Europe/Oslo',
      days: ['2026-03-27', '2026-03-28', '2026-03-29'],
      issues: [
        {
          target: '2026-03-29',
          at: '2026-03-28T10:00:00Z',
          prices: (b: number) => [0, 1, ...Array.from({ length: 21 }, (_, i) => i + 3)].map((k) => b + k),
        },
        // the 23-hour history day on the 24-slot grid: 02:00 is interpolated between 01:00 and 03:00
        {
          target: '2026-03-30',
          at: '2026-03-29T09:00:00Z',
          prices: (b: number) => [0, 1, 1.5, ...Array.from({ length: 21 }, (_, i) => i + 2)].map((k) => b + k),
        },
      ],
    },
    {
      // Fall back: the target day 2026-10-25 has 25 hours (02:00 twice); its gate is 12:00 CEST on 10-24 (10:00Z).
      market: 'EPEX',
      zone: 'Europe/Brussels',
      days: ['2026-10-23', '2026-10-24', '2026-10-25'],
      issues: [
        {
          target: '2026-10-25',
          at: '2026-10-24T09:00:00Z',
          prices: (b: number) => [0, 1, 2, 2, ...Array.from({ length: 21 }, (_, i) => i + 3)].map((k) => b + k),
        },
        // the 25-hour history day: the two 02:00 hours are averaged
        {
          target: '2026-10-26',
          at: '2026-10-25T10:00:00Z',
          prices: (b: number) => [0, 1, 2.5, ...Array.from({ length: 21 }, (_, i) => i + 4)].map((k) => b + k),
        },
      ],
    },
  ])(
    'issues at the right UTC instant across DST in $zone, with 23/25-hour delivery days',
    async ({ market, zone, days, issues }) => {
      const issued: ForecastIssue[] = [];
      const p = createPriceForecaster(
        { market, area: 'X', model: 'naive-daily' },
        { onIssue: (i) => void issued.push(i) },
      );
      const clock = new VirtualClock(Date.parse(`${days[0]}T00:00:00Z`) - 48 * HOUR);
      const emitted: OutRecord[] = [];
      const ctx: ProcessContext = {
        emit: (r) => emitted.push(r),
        state: new ChangelogStore(),
        clock,
        watermark: -Infinity,
      };
      for (const [d, date] of days.entries())
        for (const value of dstPrices(market, zone, date, d))
          await p.process({ topic: 'market.prices', key: null, value, timestamp: clock.now() }, ctx);
      expect(emitted).toHaveLength(0);
      for (const { target, at, prices } of issues) {
        const issueAt = Date.parse(at);
        clock.set(issueAt - 60_000);
        await p.onTimer!(clock.now(), ctx);
        expect(emitted).toHaveLength(0); // a minute early: nothing
        clock.set(issueAt);
        await p.onTimer!(clock.now(), ctx);
        await p.onTimer!(clock.now() + 60_000, ctx); // once per delivery day
        const { start, end } = localDay(target, zone);
        const values = emitted.map((r) => r.value as { deliveryStart: number; price: number; issuedAt: number });
        expect(values.map((v) => v.deliveryStart)).toEqual(
          Array.from({ length: (end - start) / HOUR }, (_, k) => start + k * HOUR),
        );
        expect(values.map((v) => v.price)).toEqual(prices(100 * days.indexOf(nextDate(target, -1))));
        expect(values.every((v) => v.issuedAt === issueAt)).toBe(true);
        emitted.length = 0;
      }
      expect(issued.map((i) => i.targetDate)).toEqual(issues.map((i) => i.target));
    },
  );

  it('refuses a market outside the catalogue without timeZone and gateClosure, and accepts overrides', async () => {
    expect(() => createPriceForecaster({ market: 'NOWHERE', area: 'X' })).toThrow(
      /not in the market catalogue.*set timeZone and gateClosure/,
    );
    expect(() =>
      createPriceForecaster({ market: 'NOWHERE', area: 'X', timeZone: 'Mars/Olympus', gateClosure: '12:00' }),
    ).toThrow(/not an IANA time zone/);
    // Overrides: a 10:30 New York gate with a 30-minute lead issues at 10:00 EDT = 14:00Z.
    const p = createPriceForecaster({
      market: 'NOWHERE',
      area: 'X',
      model: 'naive-daily',
      timeZone: 'America/New_York',
      gateClosure: '10:30',
      leadMinutes: 30,
    });
    const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
    const emitted: OutRecord[] = [];
    const ctx: ProcessContext = {
      emit: (r) => emitted.push(r),
      state: new ChangelogStore(),
      clock,
      watermark: -Infinity,
    };
    for (const value of dstPrices('NOWHERE', 'America/New_York', '2026-06-01', 1))
      await p.process({ topic: 'market.prices', key: null, value, timestamp: 0 }, ctx);
    clock.set(Date.parse('2026-06-01T13:59:00Z'));
    await p.onTimer!(clock.now(), ctx);
    expect(emitted).toHaveLength(0);
    clock.set(Date.parse('2026-06-01T14:00:00Z'));
    await p.onTimer!(clock.now(), ctx);
    expect(emitted).toHaveLength(24);
    expect((emitted[0].value as { deliveryStart: number }).deliveryStart).toBe(Date.parse('2026-06-02T04:00:00Z'));
  });

  it('in a pipeline that reads only day-ahead prices (published after the gate), the runtime timer issues the next day before the gate', async () => {
    // Day-ahead prices for 2026-05-07 (CEST), published 13:30 on 05-06: after that day's gate, so no record
    // arrives between 11:00 and 12:00 on 05-07. The timer alone must issue 05-08.
    const clock = new VirtualClock(Date.parse('2026-05-06T11:30:00Z'));
    const records = dstPrices('NORDPOOL', 'Europe/Oslo', '2026-05-07', 1).map((value) => ({
      topic: 'market.prices',
      key: 'NORDPOOL|X',
      value,
      timestamp: value.deliveryStart,
    }));
    const sink = collectingSink('out');
    const spec = makeSpec({
      name: 'forecast-timer',
      sources: [{ name: 'prices', definition: arraySource('prices', records), config: {}, outputs: ['market.prices'] }],
      processors: [
        {
          name: 'fc',
          definition: priceForecastProcessor,
          config: { market: 'NORDPOOL', area: 'X', model: 'naive-daily' },
          inputs: ['market.prices'],
          outputs: ['forecasts.prices'],
        },
      ],
      sinks: [{ name: 'out', definition: sink, inputs: ['forecasts.prices'] }],
    });
    const transport = new MemoryTransport({ timerPollMs: 60_000 });
    const run = await transport.start(spec, { clock });
    try {
      // All 24 prices published and consumed at 13:30 CEST on 05-06, before the clock moves on.
      const consumed = () =>
        transport.broker.records('market.prices').length === 24 &&
        run.stats().every((s) => s.kind !== 'processor' || s.lag === 0);
      for (let i = 0; i < 1000 && !consumed(); i++) await new Promise((r) => setTimeout(r, 5));
      expect(consumed()).toBe(true);
      clock.set(Date.parse('2026-05-07T08:59:00Z')); // 10:59 CEST: not yet
      await run.runTimers();
      expect(transport.broker.records('forecasts.prices')).toHaveLength(0);
      clock.set(Date.parse('2026-05-07T09:00:00Z')); // 11:00 CEST = 12:00 gate − 60 min
      await run.runTimers();
      for (let i = 0; i < 400 && sink.records.length < 24; i++) await new Promise((r) => setTimeout(r, 5));
      expect(sink.records).toHaveLength(24);
      const first = sink.records[0].value as { deliveryStart: number; price: number; issuedAt: number };
      expect(first).toMatchObject({
        deliveryStart: Date.parse('2026-05-07T22:00:00Z'),
        price: 100,
        issuedAt: Date.parse('2026-05-07T09:00:00Z'),
      });
      expect(sink.records.map((r) => (r.value as { price: number }).price)).toEqual(
        Array.from({ length: 24 }, (_, k) => 100 + k),
      );
    } finally {
      await run.stop();
    }
  });
});

describe('price-forecast with a holiday calendar', () => {
  it('hands the calendar to the model: with holidays NORDIC, LEAR forecasts Good Friday 2017 closer to the real prices', async () => {
    const goodFriday = table.days.indexOf('2017-04-14');
    const oslo = (i: number) => localDay(table.days[i], 'Europe/Oslo');
    const forecastFor = async (holidays?: 'NORDIC') => {
      const p = createPriceForecaster({
        market: 'NORDPOOL',
        area: 'SYS',
        model: 'lear',
        leadMinutes: 60,
        ...(holidays ? { holidays } : {}),
      });
      const { clock, emitted, ctx } = harness();
      // Prices on Oslo's clock (the spring-forward day has 23 hours, so its 24th row is left out).
      for (let i = 0; i < goodFriday; i++) {
        const { start, end } = oslo(i);
        await sendPrices(
          p,
          ctx,
          ['NORDPOOL', 'SYS'],
          hoursFrom(start, (end - start) / HOUR),
          (h) => table.prices[i * 24 + h],
        );
      }
      clock.set(oslo(goodFriday).start - 13 * HOUR + 60_000); // 11:01 on Maundy Thursday, Oslo time
      await p.onWatermark!(clock.now(), ctx);
      const prices = emitted.map((r) => r.value as { price: number });
      expect(prices).toHaveLength(24);
      return prices.reduce((s, v, h) => s + Math.abs(v.price - table.prices[goodFriday * 24 + h]), 0) / 24;
    };
    const without = await forecastFor();
    const nordic = await forecastFor('NORDIC');
    expect(nordic).toBeLessThan(0.8 * without);
  });
});
