import { OptiBidError } from '@optibid/runtime';
import { seededRng } from './rng.js';

/** Serialised QUBO: minimise offset + Σ linear[i]·x_i + Σ quadratic (i<j) value·x_i·x_j over x ∈ {0,1}^n. */
export interface QuboJson {
  format: 'optibid.qubo.v1';
  sense: 'minimize';
  variables: string[];
  offset: number;
  linear: number[];
  /** Upper-triangle couplings, i < j, zero entries omitted. */
  quadratic: { i: number; j: number; value: number }[];
}

/**
 * A quadratic unconstrained binary optimisation problem (minimisation). Couplings are stored as a
 * dense symmetric matrix so flipping a bit costs O(n): the annealer's inner loop.
 */
export class Qubo {
  readonly linear: Float64Array;
  /** Symmetric couplings, W[i·n+j] = W[j·n+i] = coefficient of x_i·x_j (i ≠ j). */
  readonly coupling: Float64Array;
  offset = 0;

  constructor(readonly variables: string[]) {
    this.linear = new Float64Array(variables.length);
    this.coupling = new Float64Array(variables.length * variables.length);
  }

  get size(): number {
    return this.variables.length;
  }

  addLinear(i: number, value: number): void {
    this.linear[i] += value;
  }

  /** Adds value·x_i·x_j; with i = j it is linear (x² = x for binaries). */
  addQuadratic(i: number, j: number, value: number): void {
    if (i === j) {
      this.linear[i] += value;
      return;
    }
    const n = this.size;
    this.coupling[i * n + j] += value;
    this.coupling[j * n + i] += value;
  }

  /** The objective at x. */
  energy(x: ArrayLike<number>): number {
    const n = this.size;
    let e = this.offset;
    for (let i = 0; i < n; i++) {
      if (!x[i]) continue;
      e += this.linear[i];
      for (let j = i + 1; j < n; j++) if (x[j]) e += this.coupling[i * n + j];
    }
    return e;
  }

  /** Change of the objective when bit i flips. */
  flipDelta(x: Uint8Array, i: number): number {
    const n = this.size;
    let field = this.linear[i];
    const row = i * n;
    for (let j = 0; j < n; j++) if (x[j] && j !== i) field += this.coupling[row + j];
    return x[i] ? -field : field;
  }

  toJSON(): QuboJson {
    const n = this.size;
    const quadratic: QuboJson['quadratic'] = [];
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++)
        if (this.coupling[i * n + j] !== 0) quadratic.push({ i, j, value: this.coupling[i * n + j] });
    return {
      format: 'optibid.qubo.v1',
      sense: 'minimize',
      variables: [...this.variables],
      offset: this.offset,
      linear: Array.from(this.linear),
      quadratic,
    };
  }

  static fromJSON(json: QuboJson): Qubo {
    if (json.format !== 'optibid.qubo.v1')
      throw new OptiBidError('OPTIBID_ERR_DECODE', `not an optibid.qubo.v1 document (format ${json.format})`);
    const q = new Qubo(json.variables);
    q.offset = json.offset;
    json.linear.forEach((v, i) => (q.linear[i] = v));
    for (const { i, j, value } of json.quadratic) q.addQuadratic(i, j, value);
    return q;
  }
}

export interface QuboSolution {
  x: Uint8Array;
  energy: number;
}

/** Exact minimum by enumerating all 2^n assignments in Gray-code order (one flip per step); n ≤ 26. */
export function solveExhaustive(q: Qubo): QuboSolution {
  const n = q.size;
  if (n > 26)
    throw new OptiBidError('OPTIBID_ERR_USAGE', `exhaustive search over ${n} variables is too large (max 26)`);
  const x = new Uint8Array(n);
  let e = q.energy(x);
  let best = { x: x.slice(), energy: e };
  const total = 2 ** n;
  for (let k = 1; k < total; k++) {
    const bit = 31 - Math.clz32(k & -k);
    e += q.flipDelta(x, bit);
    x[bit] ^= 1;
    if (e < best.energy - 1e-12) best = { x: x.slice(), energy: e };
  }
  return { x: best.x, energy: q.energy(best.x) };
}

export interface AnnealOptions {
  /** RNG seed: the same seed gives the same answer. */
  seed?: number;
  /** Full sweeps (n flip attempts each) per restart (default 400). */
  sweeps?: number;
  /** Independent restarts; the best is kept (default 8). */
  restarts?: number;
}

/**
 * Simulated annealing with single-bit Metropolis moves and a geometric temperature schedule from
 * the largest single-flip change down to a small fraction of the smallest; seeded, so reproducible.
 */
export function simulatedAnnealing(q: Qubo, opts: AnnealOptions = {}): QuboSolution {
  const n = q.size;
  const rng = seededRng(opts.seed ?? 1);
  const sweeps = opts.sweeps ?? 400;
  const restarts = opts.restarts ?? 8;
  if (n === 0) return { x: new Uint8Array(0), energy: q.offset };
  let maxField = 0;
  let minField = Infinity;
  for (let i = 0; i < n; i++) {
    let s = Math.abs(q.linear[i]);
    for (let j = 0; j < n; j++) s += Math.abs(q.coupling[i * n + j]);
    maxField = Math.max(maxField, s);
    const l = Math.abs(q.linear[i]);
    if (l > 0) minField = Math.min(minField, l);
  }
  const tHot = Math.max(maxField, 1e-9);
  const tCold = Math.max((Number.isFinite(minField) ? minField : tHot) * 1e-3, tHot * 1e-9);
  const cooling = Math.pow(tCold / tHot, 1 / Math.max(1, sweeps - 1));
  let best: QuboSolution | undefined;
  for (let r = 0; r < restarts; r++) {
    const x = new Uint8Array(n);
    for (let i = 0; i < n; i++) x[i] = rng.next() < 0.5 ? 1 : 0;
    let e = q.energy(x);
    let localBest = { x: x.slice(), energy: e };
    let temp = tHot;
    for (let s = 0; s < sweeps; s++) {
      for (let k = 0; k < n; k++) {
        const i = rng.int(n);
        const d = q.flipDelta(x, i);
        if (d <= 0 || rng.next() < Math.exp(-d / temp)) {
          x[i] ^= 1;
          e += d;
          if (e < localBest.energy - 1e-12) localBest = { x: x.slice(), energy: e };
        }
      }
      temp *= cooling;
    }
    // Finish with a greedy descent so the answer is at least a local minimum.
    const y = localBest.x;
    for (let improved = true; improved;) {
      improved = false;
      for (let i = 0; i < n; i++) {
        if (q.flipDelta(y, i) < -1e-12) {
          y[i] ^= 1;
          improved = true;
        }
      }
    }
    const ey = q.energy(y);
    if (!best || ey < best.energy - 1e-12) best = { x: y, energy: ey };
  }
  return best!;
}
