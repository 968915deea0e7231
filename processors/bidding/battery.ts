import { OptiBidError } from '@optibid/runtime';
import { DenseSimplex, type LinearConstraint } from './lp.js';

/**
 * A battery as the scheduler sees it. Power is measured at the grid connection: charging at
 * `c` MW for `h` hours stores `c·h·chargeEfficiency` MWh; discharging at `d` MW delivers `d·h` MWh
 * to the grid and takes `d·h/dischargeEfficiency` MWh out of storage.
 */
export interface Battery {
  /** Maximum charge and discharge power (MW). */
  powerMw: number;
  /** Usable capacity (MWh); the default upper SoC bound. */
  energyMwh: number;
  /** Fraction of grid energy stored when charging, in (0, 1]. */
  chargeEfficiency: number;
  /** Fraction of stored energy delivered when discharging, in (0, 1]. */
  dischargeEfficiency: number;
  /** Lower state-of-charge bound (MWh, default 0). */
  socMinMwh?: number;
  /** Upper state-of-charge bound (MWh, default energyMwh). */
  socMaxMwh?: number;
  /** State of charge at the start of the day (MWh, default socMinMwh). */
  initialSocMwh?: number;
  /** Required state of charge at the end of the day (MWh, default initialSocMwh). */
  finalSocMwh?: number;
  /** Cost per MWh of grid-side throughput (charged plus discharged), in the price unit (default 0). */
  degradationCostPerMwh?: number;
  /** Most full cycles per day: energy taken out of storage ≤ cycles × (socMax − socMin). */
  maxCyclesPerDay?: number;
}

/** A battery with every default filled in and checked. */
export type ResolvedBattery = Required<Battery>;

/** A charge/discharge schedule for one delivery day (arrays are per delivery interval). */
export interface BatterySchedule {
  intervalMinutes: number;
  /** Grid-side charging power (MW, ≥ 0). */
  chargeMw: Float64Array;
  /** Grid-side discharging power (MW, ≥ 0). */
  dischargeMw: Float64Array;
  /** Net injection, dischargeMw − chargeMw (MW; positive = sell, negative = buy). */
  netMw: Float64Array;
  /** State of charge at the end of each interval (MWh). */
  socMwh: Float64Array;
  /** Objective value on the prices it was optimised on: energy revenue minus degradation (price unit). */
  revenue: number;
}

/** Default battery of the backtest: 1 MW / 2 MWh, 95 % each way, empty at start and end of the day. */
export const defaultBattery: Battery = { powerMw: 1, energyMwh: 2, chargeEfficiency: 0.95, dischargeEfficiency: 0.95 };

/** Fills defaults and rejects impossible parameters (OPTIBID_ERR_CONFIG naming the field). */
export function resolveBattery(b: Battery): ResolvedBattery {
  const socMinMwh = b.socMinMwh ?? 0;
  const socMaxMwh = b.socMaxMwh ?? b.energyMwh;
  const initialSocMwh = b.initialSocMwh ?? socMinMwh;
  const r: ResolvedBattery = {
    powerMw: b.powerMw,
    energyMwh: b.energyMwh,
    chargeEfficiency: b.chargeEfficiency,
    dischargeEfficiency: b.dischargeEfficiency,
    socMinMwh,
    socMaxMwh,
    initialSocMwh,
    finalSocMwh: b.finalSocMwh ?? initialSocMwh,
    degradationCostPerMwh: b.degradationCostPerMwh ?? 0,
    maxCyclesPerDay: b.maxCyclesPerDay ?? Infinity,
  };
  const bad = (field: string, why: string): never => {
    throw new OptiBidError('OPTIBID_ERR_CONFIG', `battery ${field} ${why}`, { context: { field } });
  };
  for (const [k, v] of Object.entries(r)) if (Number.isNaN(v) || v === -Infinity) bad(k, `must be a number, got ${v}`);
  if (!(r.powerMw > 0) || !Number.isFinite(r.powerMw)) bad('powerMw', `must be positive, got ${r.powerMw}`);
  if (!(r.energyMwh > 0) || !Number.isFinite(r.energyMwh)) bad('energyMwh', `must be positive, got ${r.energyMwh}`);
  if (!(r.chargeEfficiency > 0 && r.chargeEfficiency <= 1))
    bad('chargeEfficiency', `must be in (0, 1], got ${r.chargeEfficiency}`);
  if (!(r.dischargeEfficiency > 0 && r.dischargeEfficiency <= 1))
    bad('dischargeEfficiency', `must be in (0, 1], got ${r.dischargeEfficiency}`);
  if (!(r.socMinMwh >= 0 && r.socMinMwh <= r.socMaxMwh))
    bad('socMinMwh', `must be in [0, socMaxMwh], got ${r.socMinMwh}`);
  if (!(r.socMaxMwh <= r.energyMwh)) bad('socMaxMwh', `must not exceed energyMwh (${r.energyMwh}), got ${r.socMaxMwh}`);
  if (!(r.initialSocMwh >= r.socMinMwh && r.initialSocMwh <= r.socMaxMwh))
    bad('initialSocMwh', `must be within the SoC bounds, got ${r.initialSocMwh}`);
  if (!(r.finalSocMwh >= r.socMinMwh && r.finalSocMwh <= r.socMaxMwh))
    bad('finalSocMwh', `must be within the SoC bounds, got ${r.finalSocMwh}`);
  if (!(r.degradationCostPerMwh >= 0)) bad('degradationCostPerMwh', `must be ≥ 0, got ${r.degradationCostPerMwh}`);
  if (!(r.maxCyclesPerDay >= 0)) bad('maxCyclesPerDay', `must be ≥ 0, got ${r.maxCyclesPerDay}`);
  return r;
}

/** Prices to optimise against; `buy` defaults to `sell` (hedging uses different ones). */
export interface SchedulePrices {
  sell: ArrayLike<number>;
  buy?: ArrayLike<number>;
}

/**
 * The revenue-maximising schedule for one day, exactly: a linear program (dense simplex) over
 * charge and discharge power per interval, with branch and bound on the rare intervals where the
 * LP would charge and discharge at once (only profitable at negative prices, and impossible for a
 * real inverter), so the answer is the optimum of the mixed-integer model.
 */
export function scheduleBattery(
  prices: ArrayLike<number> | SchedulePrices,
  battery: Battery,
  intervalMinutes = 60,
): BatterySchedule {
  const p: SchedulePrices = isSchedulePrices(prices) ? prices : { sell: prices };
  const sell = p.sell;
  const buy = p.buy ?? p.sell;
  const T = sell.length;
  if (T === 0) throw new OptiBidError('OPTIBID_ERR_USAGE', 'cannot schedule an empty day');
  if (buy.length !== T)
    throw new OptiBidError('OPTIBID_ERR_USAGE', `buy prices have ${buy.length} intervals, sell prices ${T}`);
  for (let t = 0; t < T; t++) {
    if (!Number.isFinite(sell[t]) || !Number.isFinite(buy[t])) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `price of interval ${t} is not a finite number (${sell[t]}, ${buy[t]})`,
      );
    }
  }
  if (!(intervalMinutes > 0))
    throw new OptiBidError('OPTIBID_ERR_USAGE', `intervalMinutes must be positive, got ${intervalMinutes}`);
  return new BatteryOptimizer(battery, T, intervalMinutes).schedule(sell, buy);
}

/** Revenue of a schedule settled at `prices` (energy revenue minus degradation, price unit × MWh). */
export function settle(schedule: BatterySchedule, prices: ArrayLike<number>, degradationCostPerMwh = 0): number {
  if (prices.length !== schedule.netMw.length) {
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `settlement prices have ${prices.length} intervals, schedule ${schedule.netMw.length}`,
    );
  }
  const h = schedule.intervalMinutes / 60;
  let revenue = 0;
  for (let t = 0; t < prices.length; t++) {
    revenue += prices[t] * schedule.netMw[t] * h;
    revenue -= degradationCostPerMwh * (schedule.chargeMw[t] + schedule.dischargeMw[t]) * h;
  }
  return revenue;
}

/** Forecast quantiles for one day (q50 is the point forecast). */
export interface PriceQuantiles {
  q10: ArrayLike<number>;
  q50: ArrayLike<number>;
  q90: ArrayLike<number>;
}

/** A hedged schedule: what it expects to earn at the median, and at its own conservative prices. */
export interface HedgedSchedule extends BatterySchedule {
  /** Revenue if prices come out at q50. */
  expectedRevenue: number;
  riskAversion: number;
}

/**
 * Schedules against forecast uncertainty: energy is bought as if it cost
 * `q50 + α·(q90 − q50)` and sold as if it fetched `q50 − α·(q50 − q10)`. With α = 0 this is the
 * point-forecast schedule; as α grows the battery trades only spreads that survive the forecast's
 * own 10–90 % band, which cuts the loss on days where the forecast shape is wrong.
 */
export function scheduleHedged(
  q: PriceQuantiles,
  battery: Battery,
  riskAversion = 0.5,
  intervalMinutes = 60,
): HedgedSchedule {
  if (!(riskAversion >= 0 && riskAversion <= 1))
    throw new OptiBidError('OPTIBID_ERR_USAGE', `riskAversion must be in [0, 1], got ${riskAversion}`);
  const T = q.q50.length;
  if (q.q10.length !== T || q.q90.length !== T)
    throw new OptiBidError('OPTIBID_ERR_USAGE', 'q10, q50 and q90 must have the same length');
  const sell = new Float64Array(T);
  const buy = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const lo = Math.min(q.q10[t], q.q50[t]);
    const hi = Math.max(q.q90[t], q.q50[t]);
    sell[t] = q.q50[t] - riskAversion * (q.q50[t] - lo);
    buy[t] = q.q50[t] + riskAversion * (hi - q.q50[t]);
  }
  const s = scheduleBattery({ sell, buy }, battery, intervalMinutes);
  const b = resolveBattery(battery);
  return { ...s, expectedRevenue: settle(s, q.q50, b.degradationCostPerMwh), riskAversion };
}

/**
 * The exact scheduler for one battery and day length. The LP is built and made feasible once; each
 * price vector re-optimises from the last basis. Where the LP would charge and discharge in the same
 * interval (only worth it at negative prices), a depth-first branch and bound splits on that
 * interval; a branch forbids charge or discharge through a prohibitive objective penalty, so every
 * node is a warm re-optimisation too.
 */
export class BatteryOptimizer {
  private readonly b: ResolvedBattery;
  private readonly simplex: DenseSimplex;
  private readonly h: number;
  /** Nodes explored by the last `schedule` call (1 when the LP was already exact). */
  lastNodes = 0;

  constructor(
    battery: Battery,
    private readonly T: number,
    private readonly intervalMinutes = 60,
  ) {
    this.b = resolveBattery(battery);
    this.h = intervalMinutes / 60;
    const zero = new Float64Array(T);
    this.simplex = new DenseSimplex(buildModel(this.b, T, this.h, zero, zero));
    if (this.simplex.solve().status !== 'optimal') {
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `battery cannot reach final SoC ${this.b.finalSocMwh} MWh from ${this.b.initialSocMwh} MWh in ${T} intervals of ${intervalMinutes} min`,
      );
    }
  }

  /** The exact revenue-maximising schedule for these prices. */
  schedule(sell: ArrayLike<number>, buy: ArrayLike<number> = sell): BatterySchedule {
    const T = this.T;
    if (sell.length !== T || buy.length !== T)
      throw new OptiBidError('OPTIBID_ERR_USAGE', `expected ${T} prices, got ${sell.length} and ${buy.length}`);
    const objective = objectiveOf(this.b, T, this.h, sell, buy);
    let scale = 1;
    for (const v of objective) scale = Math.max(scale, Math.abs(v));
    const penalty =
      (1e3 * (scale + this.b.degradationCostPerMwh + 1)) / (this.b.chargeEfficiency * this.b.dischargeEfficiency);
    const tol = 1e-7 * Math.max(1, this.b.powerMw);
    let best: { x: Float64Array; value: number } | undefined;
    const stack: number[][] = [[]];
    this.lastNodes = 0;
    while (stack.length > 0) {
      const forbidden = stack.pop()!;
      this.lastNodes++;
      const obj = objective.slice();
      for (const j of forbidden) obj[j] = -penalty;
      const r = this.simplex.reoptimise(obj);
      if (r.status !== 'optimal') continue;
      if (forbidden.some((j) => r.x[j] > tol)) continue; // the branch is infeasible
      let value = 0;
      for (let j = 0; j < 2 * T; j++) value += objective[j] * r.x[j];
      if (best && value <= best.value + 1e-9 * Math.max(1, Math.abs(best.value))) continue;
      let split = -1;
      let worst = tol;
      for (let t = 0; t < T; t++) {
        const both = Math.min(r.x[t], r.x[T + t]);
        if (both > worst) {
          worst = both;
          split = t;
        }
      }
      if (split < 0) {
        best = { x: r.x, value };
        continue;
      }
      // Explore "charge only" first: simultaneous operation happens at negative prices, where charging pays.
      stack.push([...forbidden, split], [...forbidden, T + split]);
    }
    if (!best) {
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `battery cannot reach final SoC ${this.b.finalSocMwh} MWh from ${this.b.initialSocMwh} MWh in ${T} intervals of ${this.intervalMinutes} min without charging and discharging at once`,
      );
    }
    return toSchedule(best.x, this.b, T, this.intervalMinutes, best.value);
  }
}

/** The battery LP for `T` intervals; x = [charge_0..charge_{T-1}, discharge_0..discharge_{T-1}]. */
export interface BatteryModel {
  objective: Float64Array;
  constraints: LinearConstraint[];
  upper: Float64Array;
}

/** Builds the LP (exported for tests and for the bid-curve price sweep). */
export function buildModel(
  b: ResolvedBattery,
  T: number,
  h: number,
  sell: ArrayLike<number>,
  buy: ArrayLike<number>,
): BatteryModel {
  const n = 2 * T;
  const objective = objectiveOf(b, T, h, sell, buy);
  const constraints: LinearConstraint[] = [];
  const cum = new Float64Array(n);
  for (let t = 0; t < T; t++) {
    cum[t] = b.chargeEfficiency * h;
    cum[T + t] = -h / b.dischargeEfficiency;
    if (t < T - 1) {
      constraints.push({ coefficients: cum.slice(), sense: '<=', rhs: b.socMaxMwh - b.initialSocMwh });
      constraints.push({ coefficients: cum.map((v) => -v), sense: '<=', rhs: b.initialSocMwh - b.socMinMwh });
    } else {
      constraints.push({ coefficients: cum.slice(), sense: '=', rhs: b.finalSocMwh - b.initialSocMwh });
    }
  }
  // charge + discharge <= power: valid (one of them is zero) and it is the convex hull of the
  // per-interval choice, which keeps the branch and bound small at negative prices.
  for (let t = 0; t < T; t++) {
    const both = new Float64Array(n);
    both[t] = 1;
    both[T + t] = 1;
    constraints.push({ coefficients: both, sense: '<=', rhs: b.powerMw });
  }
  if (Number.isFinite(b.maxCyclesPerDay)) {
    const out = new Float64Array(n);
    for (let t = 0; t < T; t++) out[T + t] = h / b.dischargeEfficiency;
    constraints.push({ coefficients: out, sense: '<=', rhs: b.maxCyclesPerDay * (b.socMaxMwh - b.socMinMwh) });
  }
  return { objective, constraints, upper: new Float64Array(n).fill(b.powerMw) };
}

function objectiveOf(
  b: ResolvedBattery,
  T: number,
  h: number,
  sell: ArrayLike<number>,
  buy: ArrayLike<number>,
): Float64Array {
  const objective = new Float64Array(2 * T);
  for (let t = 0; t < T; t++) {
    objective[t] = -(buy[t] + b.degradationCostPerMwh) * h;
    objective[T + t] = (sell[t] - b.degradationCostPerMwh) * h;
  }
  return objective;
}

/** Turns an LP solution into a schedule, snapping solver noise to the bounds. */
export function toSchedule(
  x: Float64Array,
  b: ResolvedBattery,
  T: number,
  intervalMinutes: number,
  revenue: number,
): BatterySchedule {
  const h = intervalMinutes / 60;
  const snap = (v: number): number => {
    if (Math.abs(v) < 1e-9) return 0;
    if (Math.abs(v - b.powerMw) < 1e-9) return b.powerMw;
    return v;
  };
  const chargeMw = new Float64Array(T);
  const dischargeMw = new Float64Array(T);
  const netMw = new Float64Array(T);
  const socMwh = new Float64Array(T);
  let soc = b.initialSocMwh;
  for (let t = 0; t < T; t++) {
    chargeMw[t] = snap(x[t]);
    dischargeMw[t] = snap(x[T + t]);
    netMw[t] = dischargeMw[t] - chargeMw[t];
    soc += (chargeMw[t] * b.chargeEfficiency - dischargeMw[t] / b.dischargeEfficiency) * h;
    socMwh[t] = soc;
  }
  return { intervalMinutes, chargeMw, dischargeMw, netMw, socMwh, revenue };
}

function isSchedulePrices(p: ArrayLike<number> | SchedulePrices): p is SchedulePrices {
  return typeof (p as SchedulePrices).sell === 'object';
}
