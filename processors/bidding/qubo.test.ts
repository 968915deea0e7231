import { Qubo, simulatedAnnealing, solveExhaustive } from './qubo.js';
import { buildBlockQubo, conflicts, exportBlockQubo, selectBlockOrders } from './blocks.js';
import { seededRng } from './rng.js';
import type { Battery } from './battery.js';

function randomQubo(n: number, seed: number): Qubo {
  const rng = seededRng(seed);
  const q = new Qubo(Array.from({ length: n }, (_, i) => `x${i}`));
  for (let i = 0; i < n; i++) {
    q.addLinear(i, rng.next() * 4 - 2);
    for (let j = i + 1; j < n; j++) if (rng.next() < 0.5) q.addQuadratic(i, j, rng.next() * 6 - 3);
  }
  return q;
}

/** Brute force without the Gray-code trick: evaluates every assignment from scratch. */
function bruteForce(q: Qubo): number {
  let best = Infinity;
  for (let m = 0; m < 2 ** q.size; m++) {
    const x = Array.from({ length: q.size }, (_, i) => (m >> i) & 1);
    best = Math.min(best, q.energy(x));
  }
  return best;
}

describe('QUBO solvers', () => {
  it('Gray-code enumeration agrees with plain brute force', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const q = randomQubo(10, seed);
      expect(solveExhaustive(q).energy).toBeCloseTo(bruteForce(q), 9);
    }
  });

  it('simulated annealing finds the exact minimum of random 14-variable QUBOs', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const q = randomQubo(14, 100 + seed);
      const exact = solveExhaustive(q);
      const sa = simulatedAnnealing(q, { seed, sweeps: 200, restarts: 4 });
      expect(sa.energy).toBeCloseTo(exact.energy, 9);
      expect(q.energy(sa.x)).toBeCloseTo(sa.energy, 9);
    }
  });

  it('is reproducible for a seed', () => {
    const q = randomQubo(30, 9);
    const a = simulatedAnnealing(q, { seed: 42, sweeps: 50, restarts: 2 });
    const b = simulatedAnnealing(q, { seed: 42, sweeps: 50, restarts: 2 });
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
  });

  it('round-trips through JSON with the same energies', () => {
    const q = randomQubo(8, 3);
    q.offset = 2.5;
    const json = JSON.parse(JSON.stringify(q.toJSON()));
    expect(json.format).toBe('optibid.qubo.v1');
    expect(json.quadratic.every((c: { i: number; j: number }) => c.i < c.j)).toBe(true);
    const back = Qubo.fromJSON(json);
    const rng = seededRng(5);
    for (let k = 0; k < 20; k++) {
      const x = Array.from({ length: 8 }, () => rng.int(2));
      expect(back.energy(x)).toBeCloseTo(q.energy(x), 12);
    }
    expect(() => Qubo.fromJSON({ ...json, format: 'other' })).toThrow(/not an optibid.qubo.v1/);
  });
});

describe('block-order selection', () => {
  const battery: Battery = { powerMw: 1, energyMwh: 2, chargeEfficiency: 0.95, dischargeEfficiency: 0.95 };
  const day = (seed: number) => {
    const rng = seededRng(seed);
    const forecast = Array.from(
      { length: 24 },
      (_, t) => 40 + 25 * Math.sin((2 * Math.PI * (t - 8)) / 12) + rng.next() * 10,
    );
    return { forecast, q10: forecast.map((v, t) => v - 3 - (t % 5)), q90: forecast.map((v, t) => v + 3 + (t % 5)) };
  };

  it('annealing picks the same blocks as exhaustive enumeration, and they never overlap', () => {
    for (const seed of [1, 2, 3]) {
      for (const riskAversion of [0, 0.05]) {
        const opts = { ...day(seed), battery: { ...battery, maxCyclesPerDay: 2 }, maxCandidates: 16, riskAversion };
        const exact = selectBlockOrders({ ...opts, solver: 'exhaustive' });
        const sa = selectBlockOrders({ ...opts, anneal: { seed, sweeps: 300, restarts: 6 } });
        expect(sa.energy).toBeCloseTo(exact.energy, 6);
        expect(sa.expectedProfit).toBeCloseTo(exact.expectedProfit, 6);
        expect(exact.selected.length).toBeGreaterThan(0);
        expect(exact.selected.length).toBeLessThanOrEqual(2);
        for (const a of sa.selected) for (const b of sa.selected) if (a !== b) expect(conflicts(a, b)).toBe(false);
      }
    }
  });

  it('a cycle limit of one keeps only the best single cycle; risk aversion trades profit for variance', () => {
    const d = day(4);
    const one = selectBlockOrders({
      ...d,
      battery: { ...battery, maxCyclesPerDay: 1 },
      maxCandidates: 14,
      solver: 'exhaustive',
    });
    expect(one.selected).toHaveLength(1);
    const best = buildBlockQubo({ ...d, battery, maxCandidates: 14 }).candidates[0];
    expect(one.selected[0].id).toBe(best.id);
    const neutral = selectBlockOrders({ ...d, battery, maxCandidates: 14, solver: 'exhaustive' });
    const averse = selectBlockOrders({ ...d, battery, maxCandidates: 14, riskAversion: 1, solver: 'exhaustive' });
    expect(averse.expectedProfit).toBeLessThanOrEqual(neutral.expectedProfit + 1e-9);
    expect(averse.variance).toBeLessThan(neutral.variance);
  });

  it('exports the QUBO as JSON with the candidates and penalty', () => {
    const json = exportBlockQubo({ ...day(5), battery: { ...battery, maxCyclesPerDay: 2 }, maxCandidates: 10 });
    expect(json.format).toBe('optibid.qubo.v1');
    expect(json.candidates).toHaveLength(10);
    expect(json.variables.filter((v) => v.startsWith('slack'))).toHaveLength(2);
    expect(json.linear).toHaveLength(json.variables.length);
    expect(json.penalty).toBeGreaterThan(json.candidates.reduce((s, c) => s + c.expectedProfit, 0));
  });
});
