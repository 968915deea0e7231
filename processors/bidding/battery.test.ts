import { isOptiBidError } from '@optibid/runtime';
import { buildModel, resolveBattery, scheduleBattery, scheduleHedged, settle, type Battery } from './battery.js';
import { solveLp } from './lp.js';
import { seededRng } from './rng.js';

/**
 * Independent exact optimum by exhaustive search: for every charge/idle/discharge mode per
 * interval, enumerate every vertex of the remaining polytope (every choice of active constraints,
 * solved as a linear system) and keep the best feasible one. The LP optimum is at a vertex, so this
 * is the true optimum of the no-simultaneous model, found without any simplex.
 */
function exhaustiveOptimum(prices: number[], battery: Battery, intervalMinutes: number): number | undefined {
  const b = resolveBattery(battery);
  const T = prices.length;
  const model = buildModel(b, T, intervalMinutes / 60, prices, prices);
  const n = 2 * T;
  let best: number | undefined;
  const modes = 3 ** T;
  for (let m = 0; m < modes; m++) {
    const free: number[] = [];
    let code = m;
    for (let t = 0; t < T; t++) {
      const mode = code % 3;
      code = Math.floor(code / 3);
      if (mode === 1) free.push(t);
      if (mode === 2) free.push(T + t);
    }
    // Rows over the free variables: model constraints plus 0 <= x <= P.
    const rows: { a: number[]; rhs: number; eq: boolean }[] = [];
    for (const c of model.constraints) {
      const a = free.map((j) => c.coefficients[j]);
      if (c.sense === '>=') rows.push({ a: a.map((v) => -v), rhs: -c.rhs, eq: false });
      else rows.push({ a, rhs: c.rhs, eq: c.sense === '=' });
    }
    free.forEach((_, k) => {
      const lo = free.map((__, i) => (i === k ? -1 : 0));
      const hi = free.map((__, i) => (i === k ? 1 : 0));
      rows.push({ a: lo, rhs: 0, eq: false }, { a: hi, rhs: b.powerMw, eq: false });
    });
    const k = free.length;
    const eqRows = rows.filter((r) => r.eq);
    const ineqRows = rows.filter((r) => !r.eq);
    const need = k - eqRows.length;
    const feasible = (x: number[]): boolean =>
      rows.every((r) => {
        const lhs = r.a.reduce((s, v, i) => s + v * x[i], 0);
        return r.eq ? Math.abs(lhs - r.rhs) < 1e-7 : lhs <= r.rhs + 1e-7;
      });
    const value = (x: number[]): number => free.reduce((s, j, i) => s + model.objective[j] * x[i], 0);
    if (need < 0) continue;
    for (const subset of combinations(ineqRows.length, need)) {
      const active = [...eqRows, ...subset.map((i) => ineqRows[i])];
      const x =
        k === 0
          ? []
          : solveSquare(
              active.map((r) => r.a),
              active.map((r) => r.rhs),
            );
      if (!x || !feasible(x)) continue;
      const v = value(x);
      if (best === undefined || v > best) best = v;
    }
    void n;
  }
  return best;
}

function* combinations(n: number, k: number, start = 0, acc: number[] = []): Generator<number[]> {
  if (acc.length === k) {
    yield acc.slice();
    return;
  }
  for (let i = start; i < n; i++) {
    acc.push(i);
    yield* combinations(n, k, i + 1, acc);
    acc.pop();
  }
}

function solveSquare(a: number[][], rhs: number[]): number[] | undefined {
  const n = rhs.length;
  const m = a.map((row, i) => [...row, rhs[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (Math.abs(m[p][c]) < 1e-12) return undefined;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let j = c; j <= n; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}

function checkFeasible(prices: number[], battery: Battery, intervalMinutes: number): void {
  const b = resolveBattery(battery);
  const s = scheduleBattery(prices, battery, intervalMinutes);
  const h = intervalMinutes / 60;
  let soc = b.initialSocMwh;
  let out = 0;
  for (let t = 0; t < prices.length; t++) {
    expect(s.chargeMw[t]).toBeGreaterThanOrEqual(0);
    expect(s.dischargeMw[t]).toBeGreaterThanOrEqual(0);
    expect(s.chargeMw[t]).toBeLessThanOrEqual(b.powerMw + 1e-9);
    expect(s.dischargeMw[t]).toBeLessThanOrEqual(b.powerMw + 1e-9);
    expect(Math.min(s.chargeMw[t], s.dischargeMw[t])).toBeLessThan(1e-7);
    soc += (s.chargeMw[t] * b.chargeEfficiency - s.dischargeMw[t] / b.dischargeEfficiency) * h;
    out += (s.dischargeMw[t] / b.dischargeEfficiency) * h;
    expect(soc).toBeGreaterThanOrEqual(b.socMinMwh - 1e-7);
    expect(soc).toBeLessThanOrEqual(b.socMaxMwh + 1e-7);
    expect(s.socMwh[t]).toBeCloseTo(soc, 9);
  }
  expect(soc).toBeCloseTo(b.finalSocMwh, 7);
  expect(out).toBeLessThanOrEqual(b.maxCyclesPerDay * (b.socMaxMwh - b.socMinMwh) + 1e-7);
  expect(settle(s, prices, b.degradationCostPerMwh)).toBeCloseTo(s.revenue, 7);
}

describe('scheduleBattery', () => {
  it('matches exhaustive vertex search on random small instances (negative prices, degradation, cycle limits included)', () => {
    const rng = seededRng(20240601);
    let infeasible = 0;
    for (let trial = 0; trial < 60; trial++) {
      const T = 2 + rng.int(3);
      const prices = Array.from({ length: T }, () => Math.round((rng.next() * 140 - 30) * 10) / 10);
      const energyMwh = 0.5 + rng.next() * 3;
      const socMaxMwh = energyMwh * (0.7 + 0.3 * rng.next());
      const socMinMwh = socMaxMwh * 0.3 * rng.next();
      const battery: Battery = {
        powerMw: 0.5 + rng.next() * 2,
        energyMwh,
        chargeEfficiency: 0.7 + 0.3 * rng.next(),
        dischargeEfficiency: 0.7 + 0.3 * rng.next(),
        socMinMwh,
        socMaxMwh,
        initialSocMwh: socMinMwh + rng.next() * (socMaxMwh - socMinMwh),
        finalSocMwh: socMinMwh + rng.next() * (socMaxMwh - socMinMwh),
        degradationCostPerMwh: rng.next() < 0.5 ? 0 : rng.next() * 10,
        maxCyclesPerDay: rng.next() < 0.5 ? undefined : rng.next() * 1.5,
      };
      const intervalMinutes = rng.next() < 0.5 ? 60 : 15;
      const exact = exhaustiveOptimum(prices, battery, intervalMinutes);
      if (exact === undefined) {
        infeasible++;
        expect(() => scheduleBattery(prices, battery, intervalMinutes)).toThrow(/cannot reach final SoC/);
        continue;
      }
      const s = scheduleBattery(prices, battery, intervalMinutes);
      expect(s.revenue).toBeCloseTo(exact, 6);
      checkFeasible(prices, battery, intervalMinutes);
    }
    expect(infeasible).toBeLessThan(30);
  });

  it('never charges and discharges at once, even where the LP relaxation would (negative prices)', () => {
    const prices = [-50, -40, 30, 60];
    const battery: Battery = { powerMw: 1, energyMwh: 1, chargeEfficiency: 0.8, dischargeEfficiency: 0.8 };
    const b = resolveBattery(battery);
    const m = buildModel(b, 4, 1, prices, prices);
    const relaxed = solveLp(m);
    expect(relaxed.status).toBe('optimal');
    if (relaxed.status !== 'optimal') return;
    const simultaneous = [0, 1, 2, 3].some((t) => Math.min(relaxed.x[t], relaxed.x[4 + t]) > 1e-6);
    expect(simultaneous).toBe(true);
    const s = scheduleBattery(prices, battery);
    expect(s.revenue).toBeLessThanOrEqual(relaxed.value + 1e-9);
    expect(s.revenue).toBeCloseTo(exhaustiveOptimum(prices, battery, 60)!, 6);
    checkFeasible(prices, battery, 60);
  });

  it('buys the cheapest hours and sells the dearest for a simple day', () => {
    const prices = [50, 10, 12, 40, 90, 80];
    const s = scheduleBattery(prices, { powerMw: 1, energyMwh: 2, chargeEfficiency: 1, dischargeEfficiency: 1 });
    expect(Array.from(s.netMw)).toEqual([0, -1, -1, 0, 1, 1]);
    expect(s.revenue).toBeCloseTo(90 + 80 - 10 - 12, 9);
  });

  it('respects a daily cycle limit', () => {
    const prices = [0, 100, 0, 100, 0, 100];
    const battery: Battery = { powerMw: 1, energyMwh: 1, chargeEfficiency: 1, dischargeEfficiency: 1 };
    expect(scheduleBattery(prices, battery).revenue).toBeCloseTo(300, 9);
    expect(scheduleBattery(prices, { ...battery, maxCyclesPerDay: 1.5 }).revenue).toBeCloseTo(150, 9);
  });

  it('a degradation cost above the spread keeps the battery idle', () => {
    const prices = [20, 40];
    const battery: Battery = { powerMw: 1, energyMwh: 1, chargeEfficiency: 1, dischargeEfficiency: 1 };
    expect(scheduleBattery(prices, battery).revenue).toBeCloseTo(20, 9);
    const idle = scheduleBattery(prices, { ...battery, degradationCostPerMwh: 11 });
    expect(idle.revenue).toBe(0);
    expect(Array.from(idle.netMw)).toEqual([0, 0]);
  });

  it('rejects bad batteries and bad prices naming the problem', () => {
    const ok: Battery = { powerMw: 1, energyMwh: 2, chargeEfficiency: 0.9, dischargeEfficiency: 0.9 };
    expect(() => scheduleBattery([1, 2], { ...ok, chargeEfficiency: 1.2 })).toThrow(
      /chargeEfficiency must be in \(0, 1\]/,
    );
    expect(() => scheduleBattery([1, 2], { ...ok, initialSocMwh: 3 })).toThrow(/initialSocMwh/);
    expect(() => scheduleBattery([1, NaN], ok)).toThrow(/interval 1 is not a finite number/);
    try {
      scheduleBattery([1, 2], { ...ok, powerMw: 0 });
      throw new Error('expected a throw');
    } catch (err) {
      expect(isOptiBidError(err, 'OPTIBID_ERR_CONFIG')).toBe(true);
    }
  });
});

describe('scheduleHedged', () => {
  it('equals the point schedule at zero risk aversion and trades less as it grows', () => {
    const q50 = [30, 20, 25, 60, 70, 45];
    const q10 = q50.map((v, t) => v - 10 - 8 * t);
    const q90 = q50.map((v, t) => v + 10 + 8 * t);
    const battery: Battery = { powerMw: 1, energyMwh: 2, chargeEfficiency: 0.95, dischargeEfficiency: 0.95 };
    const point = scheduleBattery(q50, battery);
    const h0 = scheduleHedged({ q10, q50, q90 }, battery, 0);
    expect(h0.expectedRevenue).toBeCloseTo(point.revenue, 9);
    const volume = (s: { chargeMw: Float64Array }) => s.chargeMw.reduce((a, v) => a + v, 0);
    let previous = volume(h0);
    for (const alpha of [0.5, 1]) {
      const h = scheduleHedged({ q10, q50, q90 }, battery, alpha);
      expect(volume(h)).toBeLessThanOrEqual(previous + 1e-9);
      expect(h.expectedRevenue).toBeLessThanOrEqual(point.revenue + 1e-9);
      expect(h.revenue).toBeLessThanOrEqual(h.expectedRevenue + 1e-9);
      previous = volume(h);
    }
    expect(previous).toBeLessThan(volume(h0));
  });
});
