import { ChangelogStore, VirtualClock, type OutRecord, type ProcessContext } from '@optibid/runtime';
import { createPriceForecaster, priceForecastProcessor, type ForecastIssue } from './processor.js';
import { readPriceCsv } from './table.js';

const table = readPriceCsv(new URL('./fixtures/np-2017h1.csv', import.meta.url).pathname, 'Real price');
const HOUR = 3_600_000;
const cetMidnight = (date: string) => Date.parse(`${date}T00:00:00Z`) - HOUR;

function harness() {
  const clock = new VirtualClock(cetMidnight(table.days[0]) - 48 * HOUR);
  const emitted: OutRecord[] = [];
  const ctx: ProcessContext = { emit: (r) => emitted.push({ topic: 'default', ...r } as OutRecord), state: new ChangelogStore(), clock, watermark: -Infinity };
  return { clock, emitted, ctx };
}

/** Feeds day i's prices as published on day i-1 at 13:00 CET (after the auction), in clock order. */
async function feedDay(p: ReturnType<typeof createPriceForecaster>, ctx: ProcessContext, i: number): Promise<void> {
  const start = cetMidnight(table.days[i]);
  for (let h = 0; h < 24; h++) {
    const value = { market: 'NORDPOOL', area: 'SYS', product: 'DAY_AHEAD', deliveryStart: start + h * HOUR, intervalMinutes: 60, price: table.prices[i * 24 + h] };
    await p.process({ topic: 'market.prices', key: 'NORDPOOL|SYS', value, timestamp: ctx.clock.now() }, ctx);
  }
}

describe('price-forecast processor', () => {
  it('is a processor definition with a validated config schema', () => {
    expect(priceForecastProcessor.kind).toBe('processor');
    expect(priceForecastProcessor.name).toBe('price-forecast');
    expect(Object.keys(priceForecastProcessor.config.properties)).toEqual(expect.arrayContaining(['market', 'area', 'model', 'gateClosure']));
  });

  it('issues one forecast per day at gate closure minus lead time, with quantiles once errors exist', async () => {
    const issues: ForecastIssue[] = [];
    const p = createPriceForecaster({ market: 'NORDPOOL', area: 'SYS', model: 'naive-weekly', gateClosure: '12:00', leadMinutes: 60 }, { onIssue: (i) => void issues.push(i) });
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
        const first = emitted[before].value as { deliveryStart: number; price: number; model: string; modelVersion: string; issuedAt: number; quantiles: { probability: number; price: number }[] };
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

  it('sends malformed price records to the dead-letter path by throwing a reason', async () => {
    const p = createPriceForecaster({ market: 'NORDPOOL', area: 'SYS', model: 'naive-daily' });
    const { ctx } = harness();
    await expect(p.process({ topic: 'market.prices', key: null, value: { market: 'NORDPOOL', area: 'SYS', deliveryStart: 0, intervalMinutes: 60, price: 'x' }, timestamp: 0 }, ctx)).rejects.toThrow(/numeric deliveryStart and price/);
    await expect(p.process({ topic: 'market.prices', key: null, value: { market: 'NORDPOOL', area: 'SYS', deliveryStart: 0, intervalMinutes: 15, price: 1 }, timestamp: 0 }, ctx)).rejects.toThrow(/intervalMinutes 15/);
  });

  it('uses market.fundamentals of the area as exogenous inputs, and falls back to prices only when the target day lacks them', async () => {
    const be = readPriceCsv(new URL('./fixtures/be-exog-70d.csv', import.meta.url).pathname, 'Price');
    const run = async (fundamentals: string[] | undefined, skipLoadOf?: string) => {
      const p = createPriceForecaster({ market: 'EPEX', area: 'BE', model: 'lear', ...(fundamentals ? { fundamentals } : {}) });
      const clock = new VirtualClock(cetMidnight(be.days[0]) - 48 * HOUR);
      const emitted: OutRecord[] = [];
      const ctx: ProcessContext = { emit: (r) => emitted.push(r), state: new ChangelogStore(), clock, watermark: -Infinity };
      for (let i = 0; i < 44; i++) {
        const start = cetMidnight(be.days[i]);
        // Day-ahead fundamentals forecasts for day i are published on day i-1 at 09:00 CET, before the issue time.
        clock.set(start - 15 * HOUR);
        for (let h = 0; h < 24; h++) {
          if (be.days[i] === skipLoadOf) continue;
          const base = { area: 'BE', basis: 'DAY_AHEAD_FORECAST', deliveryStart: start + h * HOUR, intervalMinutes: 60, ingestedAt: 0, source: 'test' };
          await p.process({ topic: 'market.fundamentals', key: 'BE|LOAD', value: { ...base, kind: 'LOAD', valueMw: be.columns.Exogenous1[i * 24 + h] }, timestamp: clock.now() }, ctx);
          await p.process({ topic: 'market.fundamentals', key: 'BE|WIND', value: { ...base, kind: 'WIND', valueMw: be.columns.Exogenous2[i * 24 + h] }, timestamp: clock.now() }, ctx);
        }
        clock.set(start - 13 * HOUR + 60_000);
        await p.onWatermark!(clock.now(), ctx);
        clock.set(start - 11 * HOUR);
        for (let h = 0; h < 24; h++) {
          const value = { market: 'EPEX', area: 'BE', product: 'DAY_AHEAD', deliveryStart: start + h * HOUR, intervalMinutes: 60, price: be.prices[i * 24 + h] };
          await p.process({ topic: 'market.prices', key: 'EPEX|BE', value, timestamp: clock.now() }, ctx);
        }
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
        { topic: 'market.fundamentals', key: null, value: { area: 'BE', kind: 'LOAD', basis: 'DAY_AHEAD_FORECAST', deliveryStart: 0, intervalMinutes: 60, valueMw: null }, timestamp: 0 },
        harness().ctx,
      ),
    ).rejects.toThrow(/numeric deliveryStart and valueMw/);
  });
});
