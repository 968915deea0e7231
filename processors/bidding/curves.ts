import { OptiBidError } from '@optibid/runtime';
import { BatteryOptimizer, resolveBattery, type Battery, type BatterySchedule } from './battery.js';
import { deliveryDay, marketRules, type MarketRules } from './markets.js';

/**
 * One point of an interval's bid curve, with step semantics: at a clearing price P the order
 * executes the quantity of the first point whose price is ≥ P. Quantity is net purchase in MW:
 * positive buys (charges), negative sells (discharges). Prices increase strictly along a curve and
 * quantities never increase, as every exchange requires.
 */
export interface BidStep {
  price: number;
  quantityMw: number;
}

/** The curve of one delivery interval. */
export interface IntervalBidCurve {
  /** Interval index within the delivery day (0-based). */
  index: number;
  /** The point forecast the schedule used for this interval. */
  forecastPrice: number;
  /** Net purchase of the schedule at the forecast (MW, positive = buy). */
  scheduledMw: number;
  steps: BidStep[];
}

/** Exchange-ready curves for one delivery day. */
export interface DayBidCurves {
  market: string;
  currency: string;
  deliveryDate: string;
  intervalMinutes: number;
  curves: IntervalBidCurve[];
  /** The schedule on the point forecast. */
  schedule: BatterySchedule;
  /** Revenue the schedule expects at the point forecast (price unit × MWh). */
  expectedValue: number;
}

/** A curve that breaks one of the market's rules; `rule` names it. */
export class MarketRuleError extends OptiBidError {
  constructor(
    readonly rule: string,
    message: string,
    context: Record<string, unknown> = {},
  ) {
    super('OPTIBID_ERR_MARKET_RULE', `bid curve breaks market rule ${rule}: ${message}`, {
      context: { rule, ...context },
    });
  }
}

export interface BuildBidCurvesOptions {
  market: MarketRules | string;
  deliveryDate: string;
  /** Point forecast per interval. */
  forecast: ArrayLike<number>;
  /** Forecast quantiles; they set the price range each curve spans. */
  q10?: ArrayLike<number>;
  q90?: ArrayLike<number>;
  battery: Battery;
  intervalMinutes?: number;
  /** Price points evaluated inside each interval's uncertainty band (default 7). */
  pricePoints?: number;
}

/**
 * Turns a forecast and its uncertainty into price–quantity curves. For each interval the schedule
 * is re-optimised with that interval's price set to each point of a grid spanning its 10–90 %
 * band (plus the market's floor and cap), all other intervals at the forecast: the optimal net
 * purchase at each price is the quantity the battery should bid there. Because an LP's optimal
 * value of a variable is monotone in its own price, the curve falls as price rises; it is then
 * snapped to the market's ticks and checked against every rule before it is returned.
 */
export function buildBidCurves(opts: BuildBidCurvesOptions): DayBidCurves {
  const market = typeof opts.market === 'string' ? marketRules(opts.market) : opts.market;
  const T = opts.forecast.length;
  const intervalMinutes = opts.intervalMinutes ?? (24 * 60) / T;
  const forecast = Float64Array.from(opts.forecast);
  const optimizer = new BatteryOptimizer(opts.battery, T, intervalMinutes);
  const schedule = optimizer.schedule(forecast);
  const spread = fallbackBand(forecast);
  const points = Math.max(2, opts.pricePoints ?? 7);
  const curves: IntervalBidCurve[] = [];
  const prices = forecast.slice();
  for (let t = 0; t < T; t++) {
    const f = forecast[t];
    const lo = Math.min(f, opts.q10?.[t] ?? f - spread);
    const hi = Math.max(f, opts.q90?.[t] ?? f + spread);
    const grid = new Set<number>([market.priceMin, market.priceMax, snapPrice(f, market)]);
    for (let k = 0; k < points; k++) grid.add(snapPrice(lo + ((hi - lo) * k) / (points - 1), market));
    const sorted = [...grid].sort((a, b) => a - b);
    const raw: BidStep[] = [];
    for (const p of sorted) {
      prices[t] = p;
      const s = optimizer.schedule(prices);
      raw.push({ price: p, quantityMw: s.chargeMw[t] - s.dischargeMw[t] });
    }
    prices[t] = f;
    curves.push({
      index: t,
      forecastPrice: f,
      scheduledMw: schedule.chargeMw[t] - schedule.dischargeMw[t],
      steps: toSteps(raw, market),
    });
  }
  const day: DayBidCurves = {
    market: market.id,
    currency: market.currency,
    deliveryDate: opts.deliveryDate,
    intervalMinutes,
    curves,
    schedule,
    expectedValue: schedule.revenue,
  };
  validateBidCurves(day, market);
  return day;
}

/** Checks every curve of a day against the market's rules; throws MarketRuleError naming the first rule broken. */
export function validateBidCurves(day: DayBidCurves, rules?: MarketRules): void {
  const market = rules ?? marketRules(day.market);
  if (day.currency !== market.currency)
    throw new MarketRuleError('currency', `${market.id} trades in ${market.currency}, curve is in ${day.currency}`);
  if (!market.intervalMinutes.includes(day.intervalMinutes)) {
    throw new MarketRuleError(
      'interval-length',
      `${market.id} trades ${market.intervalMinutes.join(' or ')}-minute intervals, curve has ${day.intervalMinutes}`,
    );
  }
  const expected = /^\d{4}-\d{2}-\d{2}$/.test(day.deliveryDate)
    ? deliveryDay(market, day.deliveryDate).minutes / day.intervalMinutes
    : undefined;
  if (expected !== undefined && day.curves.length !== expected) {
    throw new MarketRuleError(
      'interval-count',
      `${day.deliveryDate} has ${expected} intervals of ${day.intervalMinutes} min in ${market.timeZone}, got ${day.curves.length} curves`,
    );
  }
  const onTick = (v: number, tick: number) => Math.abs(v / tick - Math.round(v / tick)) < 1e-6;
  for (const c of day.curves) {
    const where = { interval: c.index };
    const at = `interval ${c.index}`;
    if (c.steps.length < 1) throw new MarketRuleError('steps-min', `${at} has no price–quantity point`, where);
    if (c.steps.length > market.maxSteps)
      throw new MarketRuleError(
        'steps-max',
        `${at} has ${c.steps.length} points, ${market.id} allows ${market.maxSteps}`,
        where,
      );
    for (let i = 0; i < c.steps.length; i++) {
      const { price, quantityMw } = c.steps[i];
      if (!Number.isFinite(price) || !Number.isFinite(quantityMw))
        throw new MarketRuleError('finite', `${at} point ${i} is (${price}, ${quantityMw})`, where);
      if (price < market.priceMin || price > market.priceMax) {
        throw new MarketRuleError(
          'price-range',
          `${at} price ${price} is outside ${market.priceMin}…${market.priceMax} ${market.currency}/MWh`,
          where,
        );
      }
      if (!onTick(price, market.priceTick))
        throw new MarketRuleError('price-tick', `${at} price ${price} is not a multiple of ${market.priceTick}`, where);
      if (!onTick(quantityMw, market.quantityTickMw)) {
        throw new MarketRuleError(
          'quantity-tick',
          `${at} quantity ${quantityMw} MW is not a multiple of ${market.quantityTickMw} MW`,
          where,
        );
      }
      if (i > 0) {
        const prev = c.steps[i - 1];
        if (!(price > prev.price))
          throw new MarketRuleError(
            'price-order',
            `${at} prices must increase strictly: ${prev.price} then ${price}`,
            where,
          );
        if (quantityMw > prev.quantityMw) {
          throw new MarketRuleError(
            'quantity-order',
            `${at} quantity rises from ${prev.quantityMw} to ${quantityMw} MW as price rises from ${prev.price} to ${price}`,
            where,
          );
        }
      }
    }
  }
}

/**
 * A schedule whose every quantity is a multiple of the market's quantity tick and never exceeds
 * the battery's limits (power, SoC bounds, daily cycle budget).
 *
 * 1. Each interval's net power is rounded toward zero to the tick, then cut further (again to the
 *    tick) when the state of charge the rounded schedule has reached would leave the SoC bounds or
 *    the cycle budget. Rounding every interval toward zero on its own is not enough: a discharge
 *    rounded down leaves more energy stored, and a later full-tick charge can then overfill.
 * 2. With `prices`, ticks are added back greedily where they pay at those prices and the battery
 *    has room: one more tick of a discharge, or a charge tick paired with a discharge tick (the pair
 *    that earns most first), each quantity staying in the exact schedule's direction and at most
 *    the exact quantity rounded up to the tick. Every step is checked against all limits, and the
 *    day never ends further below `finalSocMwh` than step 1 did. Revenue only rises.
 *
 * The rounded day may end off `finalSocMwh` by what the ticks could not trade (never below
 * `socMinMwh`). With `prices`, `revenue` is the rounded schedule settled at them (degradation
 * included), else NaN.
 */
export function roundScheduleToTick(
  schedule: BatterySchedule,
  battery: Battery,
  quantityTickMw: number,
  prices?: ArrayLike<number>,
): BatterySchedule {
  const tick = quantityTickMw;
  if (!(tick > 0) || !Number.isFinite(tick))
    throw new OptiBidError('OPTIBID_ERR_USAGE', `quantity tick must be a positive number of MW, got ${tick}`);
  const b = resolveBattery(battery);
  const T = schedule.netMw.length;
  if (prices && prices.length !== T)
    throw new OptiBidError('OPTIBID_ERR_USAGE', `prices have ${prices.length} intervals, schedule ${T}`);
  const h = schedule.intervalMinutes / 60;
  const floorTick = (x: number) => tickToward(Math.max(0, x), tick);
  const budget = b.maxCyclesPerDay * (b.socMaxMwh - b.socMinMwh); // MWh out of storage per day
  const chargeMw = new Float64Array(T);
  const dischargeMw = new Float64Array(T);
  const exactNet = (t: number) => schedule.dischargeMw[t] - schedule.chargeMw[t];

  // 1. toward zero, cut to what the SoC reached so far allows
  let soc = b.initialSocMwh;
  let out = 0;
  for (let t = 0; t < T; t++) {
    const net = exactNet(t);
    if (net < 0) {
      const c = Math.min(
        floorTick(Math.min(-net, b.powerMw)),
        floorTick((b.socMaxMwh - soc) / (b.chargeEfficiency * h)),
      );
      chargeMw[t] = c;
      soc = Math.min(b.socMaxMwh, soc + c * b.chargeEfficiency * h);
    } else if (net > 0) {
      const room = Math.min(soc - b.socMinMwh, budget - out);
      const d = Math.min(floorTick(Math.min(net, b.powerMw)), floorTick((room * b.dischargeEfficiency) / h));
      dischargeMw[t] = d;
      soc = Math.max(b.socMinMwh, soc - (d * h) / b.dischargeEfficiency);
      out += (d * h) / b.dischargeEfficiency;
    }
  }

  // 2. add ticks back where they pay
  if (prices) {
    const endFloor = Math.min(b.finalSocMwh, soc) - 1e-9;
    const cap = (t: number) => Math.min(floorTick(b.powerMw), tick * Math.ceil(Math.abs(exactNet(t)) / tick - 1e-9));
    const feasible = (): boolean => {
      let s = b.initialSocMwh;
      let o = 0;
      for (let t = 0; t < T; t++) {
        s += (chargeMw[t] * b.chargeEfficiency - dischargeMw[t] / b.dischargeEfficiency) * h;
        o += (dischargeMw[t] * h) / b.dischargeEfficiency;
        if (s < b.socMinMwh - 1e-9 || s > b.socMaxMwh + 1e-9) return false;
      }
      return o <= budget + 1e-9 && s >= endFloor;
    };
    const value = tick * h;
    for (let iter = 0; iter < 4 * T; iter++) {
      const ups: number[] = [];
      const downs: number[] = [];
      for (let t = 0; t < T; t++) {
        const net = exactNet(t);
        if (net > 0 && dischargeMw[t] + tick <= cap(t) + 1e-9) ups.push(t);
        if (net < 0 && chargeMw[t] + tick <= cap(t) + 1e-9) downs.push(t);
      }
      // moves: [charge interval or -1, discharge interval or -1, gain]
      const moves: [number, number, number][] = [];
      const sellGain = (t: number) => value * (prices[t] - b.degradationCostPerMwh);
      const buyGain = (t: number) => -value * (prices[t] + b.degradationCostPerMwh);
      for (const t of ups) moves.push([-1, t, sellGain(t)]);
      for (const t of downs) moves.push([t, -1, buyGain(t)]);
      for (const c of downs) for (const d of ups) moves.push([c, d, buyGain(c) + sellGain(d)]);
      moves.sort((x, y) => y[2] - x[2]);
      let applied = false;
      for (const [c, d, gain] of moves) {
        if (!(gain > 1e-12)) break;
        if (c >= 0) chargeMw[c] = snapTick(chargeMw[c] + tick, tick);
        if (d >= 0) dischargeMw[d] = snapTick(dischargeMw[d] + tick, tick);
        if (feasible()) {
          applied = true;
          break;
        }
        if (c >= 0) chargeMw[c] = snapTick(chargeMw[c] - tick, tick);
        if (d >= 0) dischargeMw[d] = snapTick(dischargeMw[d] - tick, tick);
      }
      if (!applied) break;
    }
  }

  const netMw = new Float64Array(T);
  const socMwh = new Float64Array(T);
  let level = b.initialSocMwh;
  let revenue = 0;
  for (let t = 0; t < T; t++) {
    const c = chargeMw[t];
    const d = dischargeMw[t];
    netMw[t] = d - c + 0;
    level += (c * b.chargeEfficiency - d / b.dischargeEfficiency) * h;
    socMwh[t] = level;
    if (prices) revenue += h * (prices[t] * (d - c) - b.degradationCostPerMwh * (c + d));
  }
  return {
    intervalMinutes: schedule.intervalMinutes,
    chargeMw,
    dischargeMw,
    netMw,
    socMwh,
    revenue: prices ? revenue : NaN,
  };
}

/** The quantity a step curve executes at clearing price `price` (0 above the last point). */
export function quantityAt(steps: BidStep[], price: number): number {
  for (const s of steps) if (s.price >= price) return s.quantityMw;
  return 0;
}

function toSteps(raw: BidStep[], market: MarketRules): BidStep[] {
  const out: BidStep[] = [];
  let cap = Infinity;
  for (const r of raw) {
    cap = Math.min(cap, r.quantityMw);
    const q = snapQuantity(cap, market);
    const last = out[out.length - 1];
    if (last && last.quantityMw === q) last.price = r.price;
    else out.push({ price: r.price, quantityMw: q });
  }
  return out;
}

/** Rounds a price to the market tick inside its bounds. */
function snapPrice(p: number, m: MarketRules): number {
  const v = Math.min(m.priceMax, Math.max(m.priceMin, Math.round(p / m.priceTick) * m.priceTick));
  return Number(v.toFixed(decimals(m.priceTick)));
}

/** Rounds a quantity toward zero to the quantity tick, so a bid never exceeds the battery's power. */
function snapQuantity(q: number, m: MarketRules): number {
  return q < 0 ? -tickToward(-q, m.quantityTickMw) + 0 : tickToward(q, m.quantityTickMw);
}

/** A value that is a multiple of `tick` up to float noise, printed exactly. */
function snapTick(q: number, tick: number): number {
  return Number((Math.round(q / tick) * tick).toFixed(decimals(tick))) + 0;
}

/** The largest multiple of `tick` not above `q ≥ 0` (a value within 1e-9 ticks below a multiple counts as it). */
function tickToward(q: number, tick: number): number {
  const ticks = Math.floor(q / tick + 1e-9);
  return Number((ticks * tick).toFixed(decimals(tick)));
}

/** Decimal places of a tick (0.1 → 1, 0.25 → 2, 1e-7 → 7), so snapped values print without float noise. */
function decimals(tick: number): number {
  for (let k = 0; k < 15; k++) if (Math.abs(tick * 10 ** k - Math.round(tick * 10 ** k)) < 1e-9 * 10 ** k) return k;
  return 15;
}

/** Without quantiles, each curve spans ± the day's forecast standard deviation. */
function fallbackBand(f: Float64Array): number {
  const mean = f.reduce((a, v) => a + v, 0) / f.length;
  const sd = Math.sqrt(f.reduce((a, v) => a + (v - mean) ** 2, 0) / f.length);
  return Math.max(sd, 1);
}
