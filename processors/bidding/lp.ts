/**
 * A small dense two-phase simplex for the linear programs of battery scheduling (a few hundred
 * variables and rows). Exact up to floating-point tolerance: it returns a vertex of the feasible
 * polytope, not a grid approximation.
 */

/** One linear constraint `coefficients · x (<=|>=|=) rhs`. */
export interface LinearConstraint {
  coefficients: ArrayLike<number>;
  sense: '<=' | '>=' | '=';
  rhs: number;
}

/** Maximise `objective · x` subject to the constraints and `0 <= x <= upper`. */
export interface LinearProgram {
  objective: ArrayLike<number>;
  constraints: LinearConstraint[];
  /** Upper bound per variable (`Infinity` for none); every variable is non-negative. */
  upper?: ArrayLike<number>;
}

export type LpResult =
  | { status: 'optimal'; x: Float64Array; value: number; pivots: number }
  | { status: 'infeasible' }
  | { status: 'unbounded' };

const EPS = 1e-9;

/**
 * A solved tableau that can be re-optimised for a new objective without repeating phase 1
 * (the basis stays primal-feasible when only the objective changes); bid curves use this to
 * sweep one interval's price cheaply.
 */
export class DenseSimplex {
  private readonly n: number;
  private rows: Float64Array[] = [];
  private basis: number[] = [];
  private obj!: Float64Array;
  private width = 0;
  private artificialFrom = 0;
  private feasible = false;
  private pivots = 0;

  constructor(private readonly lp: LinearProgram) {
    this.n = lp.objective.length;
    for (const c of lp.constraints) {
      if (c.coefficients.length !== this.n)
        throw new RangeError(`constraint has ${c.coefficients.length} coefficients, objective has ${this.n}`);
    }
  }

  /** Solves the program (phase 1 then phase 2). */
  solve(): LpResult {
    this.build();
    if (!this.phase1()) return { status: 'infeasible' };
    this.feasible = true;
    return this.optimise(this.lp.objective);
  }

  /** Re-optimises for a new objective from the last optimal basis. Call `solve()` first. */
  reoptimise(objective: ArrayLike<number>): LpResult {
    if (!this.feasible) throw new Error('reoptimise() needs a feasible solve() first');
    if (objective.length !== this.n) throw new RangeError('objective length changed');
    return this.optimise(objective);
  }

  private build(): void {
    const rows: { a: Float64Array; sense: '<=' | '>=' | '='; rhs: number }[] = [];
    for (const c of this.lp.constraints)
      rows.push({ a: Float64Array.from(c.coefficients), sense: c.sense, rhs: c.rhs });
    const upper = this.lp.upper;
    if (upper) {
      for (let j = 0; j < this.n; j++) {
        if (upper[j] === Infinity) continue;
        const a = new Float64Array(this.n);
        a[j] = 1;
        rows.push({ a, sense: '<=', rhs: upper[j] });
      }
    }
    for (const r of rows) {
      if (r.rhs < 0) {
        for (let j = 0; j < this.n; j++) r.a[j] = -r.a[j];
        r.rhs = -r.rhs;
        r.sense = r.sense === '<=' ? '>=' : r.sense === '>=' ? '<=' : '=';
      }
    }
    const slacks = rows.filter((r) => r.sense !== '=').length;
    const artificials = rows.filter((r) => r.sense !== '<=').length;
    this.artificialFrom = this.n + slacks;
    this.width = this.n + slacks + artificials + 1;
    const rhsCol = this.width - 1;
    let s = this.n;
    let art = this.artificialFrom;
    this.rows = [];
    this.basis = [];
    for (const r of rows) {
      const row = new Float64Array(this.width);
      row.set(r.a);
      row[rhsCol] = r.rhs;
      if (r.sense === '<=') {
        row[s] = 1;
        this.basis.push(s++);
      } else {
        if (r.sense === '>=') row[s++] = -1;
        row[art] = 1;
        this.basis.push(art++);
      }
      this.rows.push(row);
    }
    this.pivots = 0;
  }

  /** Minimises the sum of artificials; false when it cannot reach zero (infeasible). */
  private phase1(): boolean {
    if (this.artificialFrom === this.width - 1) return true;
    const obj = new Float64Array(this.width);
    for (let j = this.artificialFrom; j < this.width - 1; j++) obj[j] = 1;
    for (let i = 0; i < this.rows.length; i++) {
      if (this.basis[i] >= this.artificialFrom) subtractScaled(obj, this.rows[i], 1);
    }
    this.obj = obj;
    const status = this.iterate(this.width - 1);
    if (status === 'unbounded') return false;
    const scale = Math.max(1, ...this.rows.map((r) => Math.abs(r[this.width - 1])));
    if (-this.obj[this.width - 1] > 1e-7 * scale) return false;
    // Drive zero-level artificials out of the basis; a row with no other entry is redundant.
    for (let i = this.rows.length - 1; i >= 0; i--) {
      if (this.basis[i] < this.artificialFrom) continue;
      const row = this.rows[i];
      let col = -1;
      for (let j = 0; j < this.artificialFrom; j++) {
        if (Math.abs(row[j]) > EPS) {
          col = j;
          break;
        }
      }
      if (col >= 0) this.pivot(i, col);
      else {
        this.rows.splice(i, 1);
        this.basis.splice(i, 1);
      }
    }
    return true;
  }

  private optimise(objective: ArrayLike<number>): LpResult {
    const rhsCol = this.width - 1;
    const obj = new Float64Array(this.width);
    for (let j = 0; j < this.n; j++) obj[j] = -objective[j];
    for (let i = 0; i < this.rows.length; i++) {
      const b = this.basis[i];
      if (b < this.n && objective[b] !== 0) subtractScaled(obj, this.rows[i], -objective[b]);
    }
    this.obj = obj;
    if (this.iterate(this.artificialFrom) === 'unbounded') return { status: 'unbounded' };
    const x = new Float64Array(this.n);
    for (let i = 0; i < this.rows.length; i++)
      if (this.basis[i] < this.n) x[this.basis[i]] = Math.max(0, this.rows[i][rhsCol]);
    let value = 0;
    for (let j = 0; j < this.n; j++) value += objective[j] * x[j];
    return { status: 'optimal', x, value, pivots: this.pivots };
  }

  /** Pivots until no reduced cost among the first `columns` columns is negative. */
  private iterate(columns: number): 'optimal' | 'unbounded' {
    const rhsCol = this.width - 1;
    let degenerate = 0;
    const limit = 50_000;
    for (let iter = 0; iter < limit; iter++) {
      const bland = degenerate > 50;
      let enter = -1;
      let best = -EPS;
      for (let j = 0; j < columns; j++) {
        const r = this.obj[j];
        if (r < best) {
          enter = j;
          if (bland) break;
          best = r;
        }
      }
      if (enter < 0) return 'optimal';
      let leave = -1;
      let ratio = Infinity;
      for (let i = 0; i < this.rows.length; i++) {
        const a = this.rows[i][enter];
        if (a <= EPS) continue;
        const q = this.rows[i][rhsCol] / a;
        if (q < ratio - EPS || (Math.abs(q - ratio) <= EPS && this.basis[i] < this.basis[leave])) {
          ratio = q;
          leave = i;
        }
      }
      if (leave < 0) return 'unbounded';
      degenerate = ratio <= EPS ? degenerate + 1 : 0;
      this.pivot(leave, enter);
    }
    throw new Error('simplex did not converge (iteration limit)');
  }

  private pivot(r: number, c: number): void {
    this.pivots++;
    const prow = this.rows[r];
    const inv = 1 / prow[c];
    for (let j = 0; j < this.width; j++) prow[j] *= inv;
    prow[c] = 1;
    for (let i = 0; i < this.rows.length; i++) {
      if (i === r) continue;
      const row = this.rows[i];
      const f = row[c];
      if (f !== 0) {
        subtractScaled(row, prow, f);
        row[c] = 0;
      }
    }
    const f = this.obj[c];
    if (f !== 0) {
      subtractScaled(this.obj, prow, f);
      this.obj[c] = 0;
    }
    this.basis[r] = c;
  }
}

/** Solves a linear program (maximisation) with the dense two-phase simplex. */
export function solveLp(lp: LinearProgram): LpResult {
  return new DenseSimplex(lp).solve();
}

function subtractScaled(target: Float64Array, row: Float64Array, f: number): void {
  for (let j = 0; j < target.length; j++) {
    const v = row[j];
    if (v !== 0) target[j] -= f * v;
  }
}
