import { OptiBidError } from '@optibid/runtime';
import { resolveBattery, type Battery } from './battery.js';
import { Qubo, simulatedAnnealing, solveExhaustive, type AnnealOptions, type QuboJson } from './qubo.js';

/**
 * A linked pair of block orders for one battery cycle: buy `chargeMw` over `length` intervals from
 * `chargeStart`, then sell `dischargeMw` over `length` intervals from `dischargeStart`.
 */
export interface CycleBlock {
  id: string;
  chargeStart: number;
  dischargeStart: number;
  length: number;
  chargeMw: number;
  dischargeMw: number;
  /** Profit at the point forecast (price unit). */
  expectedProfit: number;
}

export interface BlockSelectionOptions {
  forecast: ArrayLike<number>;
  /** Forecast quantiles: their spread is the price risk of each interval. */
  q10?: ArrayLike<number>;
  q90?: ArrayLike<number>;
  battery: Battery;
  intervalMinutes?: number;
  /** Longest block, in intervals (default 4). */
  maxLength?: number;
  /** Most candidates kept, the most profitable first (default 24). */
  maxCandidates?: number;
  /** Weight of profit variance in the objective (mean − λ·variance; default 0). */
  riskAversion?: number;
  /** Correlation of forecast errors one interval apart (decays geometrically; default 0.7). */
  errorCorrelation?: number;
  /** Most cycles selected; default the battery's maxCyclesPerDay (floored), else unlimited. */
  maxBlocks?: number;
}

/** The block-order choice as a QUBO, with what is needed to read its solution back. */
export interface BlockQubo {
  qubo: Qubo;
  candidates: CycleBlock[];
  /** Penalty weight of each broken constraint (overlap, cycle limit). */
  penalty: number;
  /** Covariance of two candidates' profits (price unit²). */
  covariance(i: number, j: number): number;
}

export interface BlockSelection {
  selected: CycleBlock[];
  expectedProfit: number;
  /** Profit variance of the selection under the forecast's uncertainty. */
  variance: number;
  /** QUBO objective of the answer (−(profit − λ·variance) when feasible). */
  energy: number;
  solver: 'annealing' | 'exhaustive';
}

/**
 * Candidate cycles: every charge window followed by a later, non-overlapping discharge window of
 * the same length, sized so one cycle fits the SoC range, kept when the forecast says it pays.
 */
export function cycleCandidates(opts: BlockSelectionOptions): CycleBlock[] {
  const b = resolveBattery(opts.battery);
  const f = opts.forecast;
  const T = f.length;
  const h = (opts.intervalMinutes ?? (24 * 60) / T) / 60;
  const maxLength = opts.maxLength ?? 4;
  const range = b.socMaxMwh - b.socMinMwh;
  const out: CycleBlock[] = [];
  for (let length = 1; length <= maxLength; length++) {
    const chargeMw = Math.min(b.powerMw, range / (b.chargeEfficiency * length * h));
    const dischargeMw = chargeMw * b.chargeEfficiency * b.dischargeEfficiency;
    for (let c = 0; c + length <= T; c++) {
      let buy = 0;
      for (let t = c; t < c + length; t++) buy += f[t];
      for (let d = c + length; d + length <= T; d++) {
        let sell = 0;
        for (let t = d; t < d + length; t++) sell += f[t];
        const profit =
          (sell * dischargeMw - buy * chargeMw) * h - b.degradationCostPerMwh * (chargeMw + dischargeMw) * length * h;
        if (profit > 0)
          out.push({
            id: `c${c}-d${d}-l${length}`,
            chargeStart: c,
            dischargeStart: d,
            length,
            chargeMw,
            dischargeMw,
            expectedProfit: profit,
          });
      }
    }
  }
  out.sort((a, b2) => b2.expectedProfit - a.expectedProfit || a.id.localeCompare(b2.id));
  return out.slice(0, opts.maxCandidates ?? 24);
}

/** Two cycles conflict when their spans (first charge to last discharge interval) overlap. */
export function conflicts(a: CycleBlock, b: CycleBlock): boolean {
  const aEnd = a.dischargeStart + a.length;
  const bEnd = b.dischargeStart + b.length;
  return a.chargeStart < bEnd && b.chargeStart < aEnd;
}

/**
 * Builds the QUBO: minimise −Σ profit·x + λ·xᵀΣx + A·Σ_conflicting x_i·x_j + A·(Σx + slack − K)²,
 * with Σ the covariance of cycle profits (per-interval σ from the 10–90 % band, correlation
 * ρ^|t−s|), A larger than any profit so no broken constraint can pay, and binary slack bits turning
 * the cycle limit Σx ≤ K into an equality.
 */
export function buildBlockQubo(opts: BlockSelectionOptions): BlockQubo {
  const b = resolveBattery(opts.battery);
  const candidates = cycleCandidates(opts);
  const T = opts.forecast.length;
  const h = (opts.intervalMinutes ?? (24 * 60) / T) / 60;
  const lambda = opts.riskAversion ?? 0;
  const rho = opts.errorCorrelation ?? 0.7;
  const sigma = new Float64Array(T);
  if (opts.q10 && opts.q90) for (let t = 0; t < T; t++) sigma[t] = Math.max(0, opts.q90[t] - opts.q10[t]) / 2.5631;
  const exposure = candidates.map((c) => {
    const w = new Float64Array(T);
    for (let t = c.chargeStart; t < c.chargeStart + c.length; t++) w[t] -= c.chargeMw * h;
    for (let t = c.dischargeStart; t < c.dischargeStart + c.length; t++) w[t] += c.dischargeMw * h;
    return w;
  });
  const cov = (i: number, j: number): number => {
    let s = 0;
    for (let t = 0; t < T; t++) {
      if (!exposure[i][t]) continue;
      for (let u = 0; u < T; u++)
        if (exposure[j][u]) s += exposure[i][t] * exposure[j][u] * sigma[t] * sigma[u] * rho ** Math.abs(t - u);
    }
    return s;
  };
  const limit = opts.maxBlocks ?? (Number.isFinite(b.maxCyclesPerDay) ? Math.floor(b.maxCyclesPerDay) : Infinity);
  const slackWeights: number[] = [];
  if (Number.isFinite(limit) && limit < candidates.length) {
    let rest = limit;
    for (let w = 1; rest > 0; w *= 2) {
      const v = Math.min(w, rest);
      slackWeights.push(v);
      rest -= v;
    }
  }
  const names = [...candidates.map((c) => c.id), ...slackWeights.map((w, k) => `slack${k}x${w}`)];
  const qubo = new Qubo(names);
  const n = candidates.length;
  const variance = candidates.map((_, i) => (lambda ? cov(i, i) : 0));
  const penalty = 1 + candidates.reduce((s, c, i) => s + c.expectedProfit + lambda * variance[i], 0);
  for (let i = 0; i < n; i++) {
    qubo.addLinear(i, -candidates[i].expectedProfit + lambda * variance[i]);
    for (let j = i + 1; j < n; j++) {
      if (conflicts(candidates[i], candidates[j])) qubo.addQuadratic(i, j, penalty);
      else if (lambda) qubo.addQuadratic(i, j, 2 * lambda * cov(i, j));
    }
  }
  if (slackWeights.length > 0 || limit === 0) {
    // A·(Σ a_k y_k − K)² with a = (1,…,1, slack weights): expand into linear and pair terms.
    const coef = [...candidates.map(() => 1), ...slackWeights];
    for (let i = 0; i < coef.length; i++) {
      qubo.addLinear(i, penalty * (coef[i] * coef[i] - 2 * limit * coef[i]));
      for (let j = i + 1; j < coef.length; j++) qubo.addQuadratic(i, j, 2 * penalty * coef[i] * coef[j]);
    }
    qubo.offset += penalty * limit * limit;
  }
  return { qubo, candidates, penalty, covariance: cov };
}

/** Chooses which cycle block orders to submit by annealing the QUBO (or exhaustively, for checks). */
export function selectBlockOrders(
  opts: BlockSelectionOptions & { solver?: 'annealing' | 'exhaustive'; anneal?: AnnealOptions },
): BlockSelection {
  const built = buildBlockQubo(opts);
  const solver = opts.solver ?? 'annealing';
  const sol = solver === 'exhaustive' ? solveExhaustive(built.qubo) : simulatedAnnealing(built.qubo, opts.anneal);
  let chosen = built.candidates.filter((_, i) => sol.x[i] === 1);
  // Penalties dominate any profit, so a minimum is feasible; repair only guards a poor anneal.
  chosen = repair(chosen, opts.maxBlocks ?? Infinity);
  return summarise(built, chosen, opts, sol.energy, solver);
}

/** The QUBO of a block-order choice as JSON, for external quantum or quantum-inspired solvers. */
export function exportBlockQubo(opts: BlockSelectionOptions): QuboJson & { candidates: CycleBlock[]; penalty: number } {
  const built = buildBlockQubo(opts);
  return { ...built.qubo.toJSON(), candidates: built.candidates, penalty: built.penalty };
}

function repair(chosen: CycleBlock[], limit: number): CycleBlock[] {
  const kept: CycleBlock[] = [];
  for (const c of [...chosen].sort((a, b) => b.expectedProfit - a.expectedProfit)) {
    if (kept.length < limit && kept.every((k) => !conflicts(k, c))) kept.push(c);
  }
  return kept;
}

function summarise(
  built: BlockQubo,
  chosen: CycleBlock[],
  opts: BlockSelectionOptions,
  energy: number,
  solver: BlockSelection['solver'],
): BlockSelection {
  if (!chosen.every((c, i) => chosen.every((d, j) => i === j || !conflicts(c, d)))) {
    throw new OptiBidError('OPTIBID_ERR_USAGE', 'block selection overlaps (internal error)');
  }
  const idx = chosen.map((c) => built.candidates.indexOf(c));
  let profit = 0;
  let variance = 0;
  for (const i of idx) {
    profit += built.candidates[i].expectedProfit;
    for (const j of idx) variance += built.covariance(i, j);
  }
  void opts;
  return {
    selected: chosen.sort((a, b) => a.chargeStart - b.chargeStart),
    expectedProfit: profit,
    variance,
    energy,
    solver,
  };
}
