import { fileURLToPath } from 'node:url';
import { isOptiBidError } from '@optibid/runtime';
import { readPriceCsv } from '../forecast/index.js';
import {
  BatteryOptimizer,
  resolveBattery,
  scheduleBattery,
  settle,
  type Battery,
  type BatterySchedule,
} from './battery.js';
import {
  buildBidCurves,
  MarketRuleError,
  quantityAt,
  roundScheduleToTick,
  validateBidCurves,
  type DayBidCurves,
} from './curves.js';
import { deliveryDay, gateClosure, marketRules, markets } from './markets.js';
import { seededRng } from './rng.js';

const battery: Battery = { powerMw: 1, energyMwh: 2, chargeEfficiency: 0.95, dischargeEfficiency: 0.95 };
const table = readPriceCsv(fileURLToPath(new URL('./fixtures/be-2016-02.csv', import.meta.url)), 'Real price');
const dayPrices = (i: number, column = 'LEAR Ensemble') =>
  Array.from(table.columns[column].subarray(i * 24, (i + 1) * 24));

function expectRule(fn: () => void, rule: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MarketRuleError);
    expect((err as MarketRuleError).rule).toBe(rule);
    expect(isOptiBidError(err, 'OPTIBID_ERR_MARKET_RULE')).toBe(true);
    expect((err as Error).message).toContain(rule);
    return;
  }
  throw new Error(`expected rule ${rule} to be broken`);
}

describe('BatteryOptimizer', () => {
  it('gives the same optimum as a cold solve for many price vectors (warm start is exact)', () => {
    const rng = seededRng(7);
    const opt = new BatteryOptimizer(battery, 24);
    for (let k = 0; k < 30; k++) {
      const prices = Array.from({ length: 24 }, () => rng.next() * 200 - (k % 5 === 0 ? 80 : 0));
      expect(opt.schedule(prices).revenue).toBeCloseTo(scheduleBattery(prices, battery).revenue, 6);
    }
  });
});

describe('buildBidCurves', () => {
  it('builds valid EPEX curves from real forecasts whose quantity at the forecast price is the schedule', () => {
    // 2016-01-31 (index 3) has negative forecast hours, with a tie at -10.5 between two of them.
    for (const d of [3, 10]) {
      const forecast = dayPrices(d);
      const q10 = forecast.map((v) => v - 6);
      const q90 = forecast.map((v) => v + 6);
      const day = buildBidCurves({ market: 'EPEX', deliveryDate: table.days[d], forecast, q10, q90, battery });
      expect(day.curves).toHaveLength(24);
      expect(day.expectedValue).toBeCloseTo(scheduleBattery(forecast, battery).revenue, 6);
      for (const c of day.curves) {
        expect(c.steps[c.steps.length - 1].price).toBe(4000);
        // Just below the forecast price the bid buys at least what the schedule planned, just above at most
        // (to the 0.1 MW tick, rounded toward zero).
        const tick = Math.round(c.forecastPrice * 10) / 10;
        const below = quantityAt(c.steps, tick - 0.1);
        const above = quantityAt(c.steps, tick + 0.1);
        expect(below).toBeGreaterThan(c.scheduledMw - 0.1);
        expect(above).toBeLessThan(c.scheduledMw + 0.1);
        const atForecast = quantityAt(c.steps, tick);
        // Very cheap energy is bought, very dear energy sold (when the battery has room to).
        expect(c.steps[0].quantityMw).toBeGreaterThanOrEqual(atForecast);
        expect(c.steps[c.steps.length - 1].quantityMw).toBeLessThanOrEqual(atForecast);
      }
      expect(() => validateBidCurves(day)).not.toThrow();
    }
  });

  it('wider uncertainty bands put more price levels into the curves', () => {
    const forecast = dayPrices(5);
    const narrow = buildBidCurves({
      market: 'EPEX',
      deliveryDate: table.days[5],
      forecast,
      q10: forecast.map((v) => v - 0.5),
      q90: forecast.map((v) => v + 0.5),
      battery,
    });
    const wide = buildBidCurves({
      market: 'EPEX',
      deliveryDate: table.days[5],
      forecast,
      q10: forecast.map((v) => v - 20),
      q90: forecast.map((v) => v + 20),
      battery,
    });
    const steps = (d: DayBidCurves) => d.curves.reduce((s, c) => s + c.steps.length, 0);
    expect(steps(wide)).toBeGreaterThan(steps(narrow));
  });

  it('builds IEX 15-minute curves in rupees with prices clamped to 0…10,000', () => {
    const rng = seededRng(3);
    const forecast = Array.from(
      { length: 96 },
      (_, t) => 3000 + 2500 * Math.sin((2 * Math.PI * t) / 96) + rng.next() * 200,
    );
    const day = buildBidCurves({ market: 'IEX', deliveryDate: '2024-03-01', forecast, battery, pricePoints: 3 });
    expect(day.currency).toBe('INR');
    expect(day.intervalMinutes).toBe(15);
    for (const c of day.curves) {
      expect(c.steps[0].price).toBeGreaterThanOrEqual(0);
      expect(c.steps[c.steps.length - 1].price).toBe(10_000);
      for (const s of c.steps) expect(Number.isInteger(s.price)).toBe(true);
    }
  });
});

describe('validateBidCurves', () => {
  const built = buildBidCurves({ market: 'EPEX', deliveryDate: table.days[10], forecast: dayPrices(10), battery });
  const good = (): DayBidCurves => structuredClone(built);
  const firstTrading = (d: DayBidCurves) => d.curves.find((c) => c.steps.length >= 2)!;

  it('names the rule a curve breaks', () => {
    expectRule(() => validateBidCurves({ ...good(), currency: 'USD' }), 'currency');
    expectRule(() => validateBidCurves({ ...good(), intervalMinutes: 30 }), 'interval-length');
    expectRule(() => validateBidCurves({ ...good(), curves: good().curves.slice(1) }), 'interval-count');
    let d = good();
    firstTrading(d).steps[0].price = -600;
    expectRule(() => validateBidCurves(d), 'price-range');
    d = good();
    firstTrading(d).steps[0].price = -499.95;
    expectRule(() => validateBidCurves(d), 'price-tick');
    d = good();
    firstTrading(d).steps[0].quantityMw = 0.55;
    expectRule(() => validateBidCurves(d), 'quantity-tick');
    d = good();
    const c = firstTrading(d);
    c.steps[1].price = c.steps[0].price;
    expectRule(() => validateBidCurves(d), 'price-order');
    d = good();
    const c2 = firstTrading(d);
    c2.steps[1].quantityMw = c2.steps[0].quantityMw + 0.1;
    expectRule(() => validateBidCurves(d), 'quantity-order');
    d = good();
    d.curves[0].steps = [];
    expectRule(() => validateBidCurves(d), 'steps-min');
    d = good();
    d.curves[0].steps = Array.from({ length: 201 }, (_, i) => ({ price: i, quantityMw: 0 }));
    expectRule(() => validateBidCurves(d), 'steps-max');
    d = good();
    d.curves[0].steps[0].quantityMw = NaN;
    expectRule(() => validateBidCurves(d), 'finite');
  });

  it('applies each market’s own bounds: a negative price is fine on EPEX, not on IEX', () => {
    const epex = good();
    const iex: DayBidCurves = { ...epex, market: 'IEX', currency: 'INR', intervalMinutes: 15, curves: [] };
    for (let i = 0; i < 96; i++)
      iex.curves.push({
        index: i,
        forecastPrice: 0,
        scheduledMw: 0,
        steps: [{ price: i === 7 ? -5 : 100, quantityMw: 0 }],
      });
    expectRule(() => validateBidCurves(iex), 'price-range');
    expectRule(() => validateBidCurves({ ...epex, market: 'IEX', currency: 'INR' }), 'interval-length');
  });
});

describe('market catalogue', () => {
  it('knows the four markets and their day-ahead gate closures across DST', () => {
    expect(Object.keys(markets).sort()).toEqual(['EPEX', 'IEX', 'NORDPOOL', 'PJM']);
    expect(marketRules('epex').priceMax).toBe(4000);
    expect(() => marketRules('nasdaq')).toThrow(/unknown market "nasdaq"/);
    // 12:00 CET (winter) = 11:00 UTC; 12:00 CEST (summer) = 10:00 UTC, on the day before delivery.
    expect(new Date(gateClosure(markets.EPEX, '2024-01-15')).toISOString()).toBe('2024-01-14T11:00:00.000Z');
    expect(new Date(gateClosure(markets.EPEX, '2024-07-15')).toISOString()).toBe('2024-07-14T10:00:00.000Z');
    expect(new Date(gateClosure(markets.IEX, '2024-07-15')).toISOString()).toBe('2024-07-14T06:30:00.000Z');
    expect(new Date(gateClosure(markets.PJM, '2024-07-15')).toISOString()).toBe('2024-07-14T14:30:00.000Z');
    expect(deliveryDay(markets.EPEX, '2024-03-31').minutes).toBe(23 * 60);
    expect(deliveryDay(markets.EPEX, '2024-10-27').minutes).toBe(25 * 60);
    expect(deliveryDay(markets.PJM, '2024-03-10').minutes).toBe(23 * 60);
  });
});

describe('quantity tick', () => {
  const h1: Battery = { powerMw: 1, energyMwh: 2, chargeEfficiency: 0.95, dischargeEfficiency: 0.95 };
  const schedule = (netMw: number[]): BatterySchedule => ({
    intervalMinutes: 60,
    chargeMw: Float64Array.from(netMw, (n) => Math.max(0, -n)),
    dischargeMw: Float64Array.from(netMw, (n) => Math.max(0, n)),
    netMw: Float64Array.from(netMw),
    socMwh: new Float64Array(netMw.length),
    revenue: 0,
  });
  /** SoC after each interval of a schedule given as net MW (positive = discharge), hourly. */
  const socPath = (b: Battery, netMw: ArrayLike<number>) => {
    let soc = b.initialSocMwh ?? 0;
    return Array.from(netMw, (n) => (soc += n < 0 ? -n * b.chargeEfficiency : -n / b.dischargeEfficiency));
  };
  const onTick = (q: number, tick: number) => Math.abs(q / tick - Math.round(q / tick)) < 1e-9;

  it('every market in the catalogue has a positive quantity tick', () => {
    for (const m of Object.values(markets)) expect(m.quantityTickMw).toBeGreaterThan(0);
  });

  it('rounds a schedule to the tick without leaving the SoC bounds, where rounding each hour alone would', () => {
    // Full battery: sell 0.95 MW (1.0 MWh out of storage), then buy back 1 MW (0.95 MWh in): exactly full again.
    const full: Battery = { ...h1, initialSocMwh: 2, finalSocMwh: 2 };
    const exact = [0.95, -1];
    expect(socPath(full, exact)).toEqual([expect.closeTo(1, 9), expect.closeTo(1.95, 9)]);
    // Each hour rounded toward zero on its own: sell 0.9, buy 1.0 — overfills the battery.
    const naive = exact.map((n) => Math.trunc(n * 10) / 10);
    expect(Math.max(...socPath(full, naive))).toBeGreaterThan(2 + 1e-6);
    // Toward zero with the SoC tracked (no prices: no ticks added back): sell 0.9, buy only 0.9.
    const r0 = roundScheduleToTick(schedule(exact), full, 0.1);
    expect(Array.from(r0.netMw)).toEqual([0.9, -0.9]);
    expect(Math.max(...socPath(full, r0.netMw))).toBeLessThanOrEqual(2);
    expect(r0.socMwh[1]).toBeCloseTo(socPath(full, r0.netMw)[1], 12);
    // With prices, ticks are added back where they pay and fit: when the day may end at 1.8 MWh, one more
    // sell tick at 100 (10) beats a sell-at-100/buy-at-20 pair (8) and still ends at 1.802 MWh.
    const r = roundScheduleToTick(schedule(exact), { ...full, finalSocMwh: 1.8 }, 0.1, [100, 20]);
    expect(Array.from(r.netMw)).toEqual([1, -0.9]);
    expect(Math.max(...socPath(full, r.netMw))).toBeLessThanOrEqual(2);
    expect(r.revenue).toBeCloseTo(100 - 0.9 * 20, 9);
    // Not when it must end full: 1.802 MWh would miss that by more than the toward-zero 1.908 does.
    expect(Array.from(roundScheduleToTick(schedule(exact), full, 0.1, [100, 20]).netMw)).toEqual([0.9, -0.9]);
    // When no added tick pays (selling at 20 with 30/MWh degradation), the toward-zero answer stays.
    const loss = roundScheduleToTick(
      schedule(exact),
      { ...full, finalSocMwh: 1.8, degradationCostPerMwh: 30 },
      0.1,
      [20, 100],
    );
    expect(Array.from(loss.netMw)).toEqual([0.9, -0.9]);
    // Empty battery the other way round: the floor holds too.
    const empty: Battery = { ...h1, socMinMwh: 0.2, initialSocMwh: 0.2 };
    const r2 = roundScheduleToTick(schedule([-0.95, 1]), empty, 0.1);
    expect(Math.min(...socPath(empty, r2.netMw))).toBeGreaterThanOrEqual(0.2 - 1e-12);
    expect(Number.isNaN(r2.revenue)).toBe(true);
  });

  it('keeps random exact schedules on the tick and inside power, SoC and cycle limits', () => {
    const rng = seededRng(11);
    let gained = 0;
    for (let k = 0; k < 40; k++) {
      const mid = k % 5 === 2;
      const b: Battery = {
        powerMw: 0.5 + rng.next() * 2,
        energyMwh: 1 + rng.next() * 4,
        chargeEfficiency: 0.8 + rng.next() * 0.2,
        dischargeEfficiency: 0.8 + rng.next() * 0.2,
        maxCyclesPerDay: k % 3 === 0 ? 0.7 : undefined,
        initialSocMwh: mid ? 0.6 : undefined,
        finalSocMwh: mid ? 0.9 : undefined,
      };
      const tick = [0.1, 0.25, 1][k % 3];
      const minutes = k % 4 === 1 ? 15 : 60;
      const h = minutes / 60;
      const T = (24 * 60) / minutes;
      const prices = Array.from({ length: T }, () => rng.next() * 150 - 20);
      const exact = scheduleBattery(prices, b, minutes);
      const r = roundScheduleToTick(exact, b, tick, prices);
      const towardZero = roundScheduleToTick(exact, b, tick);
      const rb = resolveBattery(b);
      let soc = rb.initialSocMwh;
      let out = 0;
      for (let t = 0; t < T; t++) {
        const c = r.chargeMw[t];
        const d = r.dischargeMw[t];
        expect(onTick(c, tick) && onTick(d, tick)).toBe(true);
        expect(c * d).toBe(0);
        // never the other direction, never more than the exact schedule rounded up to the tick
        expect(c).toBeLessThanOrEqual(Math.ceil(exact.chargeMw[t] / tick - 1e-9) * tick + 1e-9);
        expect(d).toBeLessThanOrEqual(Math.ceil(exact.dischargeMw[t] / tick - 1e-9) * tick + 1e-9);
        expect(towardZero.chargeMw[t]).toBeLessThanOrEqual(exact.chargeMw[t] + 1e-9);
        expect(towardZero.dischargeMw[t]).toBeLessThanOrEqual(exact.dischargeMw[t] + 1e-9);
        expect(Math.max(c, d)).toBeLessThanOrEqual(rb.powerMw);
        soc += (c * rb.chargeEfficiency - d / rb.dischargeEfficiency) * h;
        out += (d * h) / rb.dischargeEfficiency;
        expect(soc).toBeGreaterThanOrEqual(rb.socMinMwh - 1e-9);
        expect(soc).toBeLessThanOrEqual(rb.socMaxMwh + 1e-9);
        expect(r.socMwh[t]).toBeCloseTo(soc, 9);
      }
      expect(out).toBeLessThanOrEqual(rb.maxCyclesPerDay * (rb.socMaxMwh - rb.socMinMwh) + 1e-9);
      expect(r.revenue).toBeCloseTo(settle(r, prices, rb.degradationCostPerMwh), 9);
      // Ticks added back only ever raise revenue, never past the exact optimum, and never end the day
      // further below finalSocMwh than the toward-zero pass.
      const base = settle(towardZero, prices, rb.degradationCostPerMwh);
      expect(r.revenue).toBeGreaterThanOrEqual(base - 1e-9);
      expect(r.revenue).toBeLessThanOrEqual(exact.revenue + 1e-9);
      gained += r.revenue - base;
      expect(soc).toBeGreaterThanOrEqual(Math.min(rb.finalSocMwh, towardZero.socMwh[T - 1]) - 1e-9);
    }
    expect(gained).toBeGreaterThan(0);
  });

  it('builds curves on the market’s own quantity tick, never beyond the battery’s power', () => {
    const coarse = { ...markets.EPEX, quantityTickMw: 0.25 };
    const big: Battery = { ...battery, powerMw: 1.3, energyMwh: 2.9 };
    const forecast = dayPrices(10);
    const day = buildBidCurves({ market: coarse, deliveryDate: table.days[10], forecast, battery: big });
    let offFine = 0;
    for (const c of day.curves) {
      for (const s of c.steps) {
        expect(onTick(s.quantityMw, 0.25)).toBe(true);
        expect(Math.abs(s.quantityMw)).toBeLessThanOrEqual(big.powerMw);
        if (!onTick(s.quantityMw, 0.5)) offFine++;
      }
      // toward zero: the bid at the forecast price never trades more than the schedule
      expect(Math.abs(quantityAt(c.steps, Math.round(c.forecastPrice * 10) / 10))).toBeLessThanOrEqual(
        Math.abs(c.scheduledMw) + 1e-9,
      );
    }
    expect(offFine).toBeGreaterThan(0); // 0.25 and 0.75 MW points exist: the tick is the market's, not 0.5 or 1
    expect(() => validateBidCurves(day, coarse)).not.toThrow();
    // The same curves are off-tick for a coarser market: the rule is named.
    expectRule(() => validateBidCurves(day, { ...coarse, quantityTickMw: 0.5 }), 'quantity-tick');
    // EPEX's 0.1 MW tick accepts 0.3 MW; a 0.25 MW tick does not.
    const d = structuredClone(day);
    for (const c of d.curves) c.steps = [{ price: 10, quantityMw: 0.3 }];
    expect(() => validateBidCurves(d, markets.EPEX)).not.toThrow();
    expectRule(() => validateBidCurves(d, coarse), 'quantity-tick');
  });
});
