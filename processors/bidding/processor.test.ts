import {
  VirtualClock,
  isOptiBidError,
  type KeyValueStore,
  type OutRecord,
  type ProcessContext,
  type Processor,
  type StreamRecord,
} from '@optibid/runtime';
import avro from 'avsc';
import { subjectSchemas, type BidSignal, type PriceForecast } from '@optibid/schemas';
import { resolveBattery, scheduleBattery } from './battery.js';
import { validateBidCurves, type DayBidCurves } from './curves.js';
import { batteryBidderProcessor, type BatteryAsset } from './processor.js';
import { deliveryDay, gateClosure, markets } from './markets.js';

const asset: BatteryAsset = {
  assetId: 'bess-antwerp-1',
  market: 'EPEX',
  area: 'BE',
  powerMw: 1,
  energyMwh: 2,
  chargeEfficiency: 0.95,
  dischargeEfficiency: 0.95,
};
const date = '2024-01-15';
const dayStart = deliveryDay(markets.EPEX, date).start;
const gate = gateClosure(markets.EPEX, date);
const shape = [52, 48, 45, 43, 44, 50, 62, 75, 80, 72, 65, 60, 58, 55, 57, 63, 78, 95, 102, 90, 80, 70, 62, 55];

function forecastRecords(prices: number[], issuedAt: number, withQuantiles = true): StreamRecord<PriceForecast>[] {
  return prices.map((price, t) => ({
    topic: 'forecasts.prices',
    key: 'EPEX|BE',
    timestamp: issuedAt,
    value: {
      market: 'EPEX',
      area: 'BE',
      product: 'DAY_AHEAD',
      deliveryStart: dayStart + t * 3_600_000,
      intervalMinutes: 60,
      issuedAt,
      model: 'lear',
      modelVersion: 'v3',
      price,
      currency: 'EUR',
      energyUnit: 'MWH',
      quantiles: withQuantiles
        ? [
            { probability: 0.1, price: price - 8 },
            { probability: 0.5, price },
            { probability: 0.9, price: price + 8 },
          ]
        : [],
    },
  }));
}

function harness(config: Parameters<typeof batteryBidderProcessor.create>[0], clock: VirtualClock) {
  const warnings: unknown[] = [];
  const logger = { debug() {}, info() {}, warn: (o: unknown) => void warnings.push(o), error() {} };
  const processor: Processor = batteryBidderProcessor.create(config, {
    name: 'bidder',
    clock,
    logger,
    env: {},
    signal: new AbortController().signal,
  });
  const out: OutRecord<BidSignal>[] = [];
  const store = new Map<string, unknown>();
  const state: KeyValueStore = {
    get: (k) => store.get(k),
    put: (k, v) => void store.set(k, v),
    delete: (k) => void store.delete(k),
    entries: () => store.entries(),
  };
  const ctx: ProcessContext = {
    emit: (r) => void out.push({ topic: 'bids.signals', ...r } as OutRecord<BidSignal>),
    state,
    clock,
    watermark: -Infinity,
  };
  const feed = async (records: StreamRecord[]) => {
    for (const r of records) await processor.process(r, ctx);
  };
  return { out, feed, warnings, store };
}

/** Replaying the submitted quantities keeps the battery inside its power and SoC bounds; all on the 0.1 MW tick. */
function expectWithinLimits(out: OutRecord<BidSignal>[], a: BatteryAsset = asset): void {
  const b = resolveBattery(a);
  let soc = b.initialSocMwh;
  for (const r of out) {
    const q = r.value.quantityMw;
    expect(Math.abs(q * 10 - Math.round(q * 10))).toBeLessThan(1e-9);
    expect(q).toBeLessThanOrEqual(b.powerMw);
    soc += r.value.side === 'BUY' ? q * b.chargeEfficiency : r.value.side === 'SELL' ? -q / b.dischargeEfficiency : 0;
    expect(soc).toBeGreaterThanOrEqual(b.socMinMwh - 1e-9);
    expect(soc).toBeLessThanOrEqual(b.socMaxMwh + 1e-9);
  }
}

const signalType = avro.Type.forSchema(subjectSchemas['bids.signals-value'] as avro.Schema);
const invalid: string[] = [];

describe('battery-bidder processor', () => {
  it('emits one signal per interval with the exact schedule before gate closure', async () => {
    const clock = new VirtualClock(gate - 3 * 3_600_000);
    const { out, feed } = harness({ assets: [asset] }, clock);
    const records = forecastRecords(shape, clock.now() - 60_000);
    await feed(records.slice(0, 23));
    expect(out).toHaveLength(0); // the day is not complete yet
    await feed(records.slice(23));
    expect(out).toHaveLength(24);
    const expected = scheduleBattery(shape, asset);
    out.forEach((r, t) => {
      const s = r.value;
      expect(r.key).toBe('EPEX|BE|bess-antwerp-1');
      expect(s.deliveryStart).toBe(dayStart + t * 3_600_000);
      expect(s.gateClosure).toBe(gate);
      expect(s.createdAt).toBe(clock.now());
      expect(s.createdAt).toBeLessThan(gate);
      // Model and forecast versions, the revision and the curve travel in the value, not in headers.
      expect(s.forecastModel).toBe('lear');
      expect(s.forecastModelVersion).toBe('v3');
      expect(s.forecastIssuedAt).toBe(records[0].value.issuedAt);
      expect(s.revision).toBe(1);
      expect(r.headers).toBeUndefined();
      expect(signalType.isValid(s, { errorHook: (path) => void invalid.push(path.join('.')) })).toBe(true);
      // The quantity is the exact schedule's on the 0.1 MW tick: never the other way, at most rounded up
      // (where the battery has room: SoC checked below).
      const net = expected.netMw[t];
      expect(Math.abs(s.quantityMw * 10 - Math.round(s.quantityMw * 10))).toBeLessThan(1e-9);
      expect(s.quantityMw).toBeLessThanOrEqual(Math.ceil(Math.abs(net) * 10 - 1e-9) / 10 + 1e-12);
      expect(s.side).toBe(s.quantityMw === 0 ? 'HOLD' : net < 0 ? 'BUY' : 'SELL');
      expect(s.curve.length).toBeGreaterThan(0);
      if (s.side === 'BUY') expect(s.limitPrice!).toBeGreaterThanOrEqual(shape[t] - 0.05);
      if (s.side === 'SELL') expect(s.limitPrice!).toBeLessThanOrEqual(shape[t] + 0.05);
      if (s.side === 'HOLD') expect(s.limitPrice).toBeNull();
    });
    expect(invalid).toEqual([]);
    // The curves of the value form a day the market rules accept.
    const day: DayBidCurves = {
      market: 'EPEX',
      currency: 'EUR',
      deliveryDate: date,
      intervalMinutes: 60,
      curves: out.map((r, t) => ({ index: t, forecastPrice: shape[t], scheduledMw: 0, steps: r.value.curve })),
      schedule: expected,
      expectedValue: expected.revenue,
    };
    expect(() => validateBidCurves(day)).not.toThrow();
    expectWithinLimits(out);
    // Expected values are those of the submitted quantities at the forecast; the day's is their sum,
    // and rounding to the tick can only give up value against the exact schedule.
    const total = out.reduce((a, r, t) => {
      const sign = r.value.side === 'SELL' ? 1 : r.value.side === 'BUY' ? -1 : 0;
      expect(r.value.expectedValue).toBeCloseTo(sign * r.value.quantityMw * shape[t], 9);
      return a + (r.value.expectedValue ?? 0);
    }, 0);
    for (const r of out) expect(r.value.dayExpectedValue).toBeCloseTo(total, 9);
    expect(total).toBeLessThanOrEqual(expected.revenue + 1e-9);
    expect(total).toBeGreaterThan(expected.revenue * 0.8);
  });

  it('re-emits only when a newer forecast changes the schedule materially', async () => {
    const clock = new VirtualClock(gate - 6 * 3_600_000);
    const { out, feed } = harness({ assets: [asset] }, clock);
    await feed(forecastRecords(shape, clock.now()));
    expect(out).toHaveLength(24);
    clock.advance(30 * 60_000);
    await feed(
      forecastRecords(
        shape.map((p) => p + 0.5),
        clock.now(),
      ),
    ); // same shape, shifted: same schedule
    expect(out).toHaveLength(24);
    clock.advance(30 * 60_000);
    const flipped = [...shape].reverse(); // cheap and dear hours swap
    await feed(forecastRecords(flipped, clock.now()));
    expect(out).toHaveLength(48);
    expect(out[24].value.revision).toBe(2);
    expect(out[0].value.revision).toBe(1);
    expect(out[24].value.signalId).toBe(out[0].value.signalId);
    expect(out[24].value.createdAt).toBe(clock.now());
    // A late-arriving older forecast never overrides the newer one.
    await feed(forecastRecords(shape, clock.now() - 3 * 3_600_000));
    expect(out).toHaveLength(48);
  });

  it('puts the hedged schedule on the tick too, within the battery’s limits', async () => {
    const clock = new VirtualClock(gate - 3 * 3_600_000);
    const reserve: BatteryAsset = { ...asset, powerMw: 1.37, socMinMwh: 0.3, initialSocMwh: 0.3, maxCyclesPerDay: 1.2 };
    const { out, feed } = harness({ assets: [reserve], riskAversion: 0.5 }, clock);
    await feed(forecastRecords(shape, clock.now()));
    expect(out).toHaveLength(24);
    expect(out.some((r) => r.value.side !== 'HOLD')).toBe(true);
    expectWithinLimits(out, reserve);
    const total = out.reduce((a, r) => a + (r.value.expectedValue ?? 0), 0);
    for (const r of out) expect(r.value.dayExpectedValue).toBeCloseTo(total, 9);
  });

  it('emits nothing once the gate is (about to be) closed', async () => {
    const clock = new VirtualClock(gate - 2 * 60_000);
    const { out, feed, warnings } = harness({ assets: [asset], gateMarginMinutes: 5 }, clock);
    await feed(forecastRecords(shape, clock.now()));
    expect(out).toHaveLength(0);
    expect(warnings).toHaveLength(1);
  });

  it('learns assets from the registry topic and ignores other markets and models', async () => {
    const clock = new VirtualClock(gate - 3_600_000);
    const { out, feed } = harness({ assetTopic: 'assets.registry', model: 'lear' }, clock);
    await feed(forecastRecords(shape, clock.now()));
    expect(out).toHaveLength(0);
    await feed([{ topic: 'assets.registry', key: asset.assetId, value: asset, timestamp: 0 }]);
    await feed([
      { topic: 'assets.registry', key: 'nl', value: { ...asset, assetId: 'bess-nl', area: 'NL' }, timestamp: 0 },
    ]);
    clock.advance(60_000);
    await feed(forecastRecords(shape, clock.now()));
    expect(new Set(out.map((r) => r.value.assetId))).toEqual(new Set(['bess-antwerp-1']));
    const other = forecastRecords(shape, clock.now() + 1).map((r) => ({ ...r, value: { ...r.value, model: 'naive' } }));
    await feed(other);
    expect(out).toHaveLength(24);
  });

  it('signals stay readable across the BidSignal evolution: old readers skip the new fields, new readers default them', async () => {
    const clock = new VirtualClock(gate - 3 * 3_600_000);
    const { out, feed } = harness({ assets: [asset] }, clock);
    await feed(forecastRecords(shape, clock.now()));
    const added = ['forecastModelVersion', 'revision', 'dayExpectedValue', 'curve'];
    const current = subjectSchemas['bids.signals-value'] as { fields: { name: string }[] };
    const previous = { ...current, fields: current.fields.filter((f) => !added.includes(f.name)) };
    const oldType = avro.Type.forSchema(previous as avro.Schema);
    const trading = out.find((r) => r.value.side !== 'HOLD')!.value;
    // forward: a reader on the previous schema decodes what the bidder writes now
    const fromNew = oldType.fromBuffer(signalType.toBuffer(trading), oldType.createResolver(signalType)) as BidSignal;
    expect(fromNew.quantityMw).toBe(trading.quantityMw);
    expect(fromNew).not.toHaveProperty('curve');
    // backward: a signal written on the previous schema reads with the defaults
    const { forecastModelVersion, revision, dayExpectedValue, curve, ...oldSignal } = trading;
    expect([forecastModelVersion, revision, dayExpectedValue, curve.length > 0]).toEqual([
      'v3',
      1,
      expect.any(Number),
      true,
    ]);
    const fromOld = signalType.fromBuffer(oldType.toBuffer(oldSignal), signalType.createResolver(oldType)) as BidSignal;
    expect(fromOld.curve).toEqual([]);
    expect(fromOld.forecastModelVersion).toBeNull();
    expect(fromOld.revision).toBeNull();
    expect(fromOld.limitPrice).toBe(trading.limitPrice);
  });

  it('rejects malformed records with OPTIBID_ERR_RECORD (they go to the DLQ)', async () => {
    const clock = new VirtualClock(gate - 3_600_000);
    const { feed } = harness({ assets: [asset] }, clock);
    const bad = forecastRecords(shape, 0)[0];
    await expect(
      feed([{ ...bad, value: { ...bad.value, price: 'high' } as unknown as PriceForecast }]),
    ).rejects.toThrow(/field price must be a finite number/);
    await expect(feed([{ ...bad, value: { ...bad.value, market: 'NASDAQ' } }])).rejects.toThrow(
      /unknown market "NASDAQ"/,
    );
    try {
      await feed([{ ...bad, value: { ...bad.value, intervalMinutes: 30 } }]);
      throw new Error('expected a throw');
    } catch (err) {
      expect(isOptiBidError(err, 'OPTIBID_ERR_RECORD')).toBe(true);
    }
  });

  it('with shapeBias, learns the forecast’s intraday bias from realised prices and schedules on the corrected shape', async () => {
    // The forecast puts a phantom peak at 06-08 and misses the real one at 17-20, every day.
    const base = (h: number, d: number) => 50 + 3 * Math.sin(h + d);
    const actualOf = (d: number) => Array.from({ length: 24 }, (_, h) => base(h, d) + (h >= 17 && h <= 20 ? 40 : 0));
    const forecastOf = (d: number) => Array.from({ length: 24 }, (_, h) => base(h, d) + (h >= 6 && h <= 8 ? 40 : 0));
    const days = Array.from({ length: 9 }, (_, d) => `2024-01-${String(8 + d).padStart(2, '0')}`);
    const run = async (shapeBias: boolean) => {
      const clock = new VirtualClock(gateClosure(markets.EPEX, days[0]) - 3 * 3_600_000);
      const config = shapeBias ? { assets: [asset], priceTopic: 'market.prices', shapeBias: {} } : { assets: [asset] };
      const h = harness(config, clock);
      for (let d = 0; d < days.length; d++) {
        clock.set(gateClosure(markets.EPEX, days[d]) - 3 * 3_600_000);
        const start = deliveryDay(markets.EPEX, days[d]).start;
        const issued = clock.now() - 60_000;
        await h.feed(
          forecastRecords(forecastOf(d), issued).map((r, t) => ({
            ...r,
            value: { ...r.value, deliveryStart: start + t * 3_600_000 },
          })),
        );
        if (d === days.length - 1) break; // the last day is only bid
        // The day's auction result, published after the bids.
        const prices: StreamRecord[] = actualOf(d).map((price, t) => ({
          topic: 'market.prices',
          key: 'EPEX|BE',
          timestamp: issued,
          value: {
            market: 'EPEX',
            area: 'BE',
            product: 'DAY_AHEAD',
            deliveryStart: start + t * 3_600_000,
            intervalMinutes: 60,
            price,
          },
        }));
        if (shapeBias) await h.feed(prices);
      }
      return { ...h, last: h.out.slice(-24).map((r) => r.value) };
    };
    const plain = await run(false);
    const fixed = await run(true);
    // Without the correction the battery sells into the phantom morning peak; with it, into the real evening one.
    expect(plain.last[7].side).toBe('SELL');
    expect(fixed.last[7].side).not.toBe('SELL');
    expect([18, 19].every((t) => fixed.last[t].side === 'SELL')).toBe(true);
    expect(fixed.last[18].reason).toMatch(/shape-corrected/);
    // Realised revenue of the last day's submitted quantities at the real prices.
    const realised = (sig: BidSignal[]) =>
      sig.reduce(
        (a, s, t) => a + (s.side === 'SELL' ? 1 : s.side === 'BUY' ? -1 : 0) * s.quantityMw * actualOf(8)[t],
        0,
      );
    expect(realised(fixed.last)).toBeGreaterThan(realised(plain.last) + 20);
    // Eight delivered days were learnt; the per-day buffers are gone once each day is complete.
    const snap = fixed.store.get('shape|EPEX|BE|lear|60') as { actual: number[][] };
    expect(snap.actual[0]).toHaveLength(8);
    expect([...fixed.store.keys()].filter((k) => k.startsWith('px|'))).toEqual([]);
    expect([...fixed.store.keys()].filter((k) => k.startsWith('fc|'))).toHaveLength(1); // the day still to deliver
    expectWithinLimits(fixed.last.map((value) => ({ topic: 'bids.signals', value }) as OutRecord<BidSignal>));
  });

  it('shapeBias needs priceTopic, and malformed price records are rejected', async () => {
    const clock = new VirtualClock(gate - 3_600_000);
    expect(() => harness({ assets: [asset], shapeBias: {} }, clock)).toThrow(/shapeBias needs priceTopic/);
    expect(() =>
      harness({ assets: [asset], priceTopic: 'market.prices', shapeBias: { windowDays: 5 } }, clock),
    ).toThrow(/minDays/);
    const { feed } = harness({ assets: [asset], priceTopic: 'market.prices', shapeBias: {} }, clock);
    const price = { market: 'EPEX', area: 'BE', product: 'DAY_AHEAD', deliveryStart: dayStart, intervalMinutes: 60 };
    try {
      await feed([{ topic: 'market.prices', key: 'EPEX|BE', timestamp: 0, value: { ...price, price: 'cheap' } }]);
      throw new Error('expected a throw');
    } catch (err) {
      expect(isOptiBidError(err, 'OPTIBID_ERR_RECORD')).toBe(true);
      expect(String(err)).toMatch(/price field price must be a finite number/);
    }
    await expect(
      feed([{ topic: 'market.prices', key: 'EPEX|BE', timestamp: 0, value: { ...price, price: 1, area: 7 } }]),
    ).rejects.toThrow(/price field area must be a string/);
  });
});
