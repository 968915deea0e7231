import { fileURLToPath } from 'node:url';
import { isOptiBidError } from '@optibid/runtime';
import { readPriceCsv } from '../forecast/index.js';
import { BatteryOptimizer, scheduleBattery, type Battery } from './battery.js';
import { buildBidCurves, MarketRuleError, quantityAt, validateBidCurves, type DayBidCurves } from './curves.js';
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
