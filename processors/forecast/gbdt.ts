import type { DayAheadModel, DayInput } from './model.js';
import { dayType, type HolidayCalendar } from './holidays.js';
import { seededRng } from '../bidding/rng.js';

/** Settings of the gradient-boosted trees model. */
export interface GbdtOptions {
  /** Training window in days; 0 (default) is all the history there is. */
  window?: number;
  /** Retrain after this many target days (default 7); forecasts in between reuse the trees. */
  retrainEvery?: number;
  /** Boosting rounds (default 300). */
  rounds?: number;
  /** Tree depths (default [4]): one booster per depth and seed, their forecasts averaged. */
  depths?: number[];
  /** Shrinkage of every tree's leaf values (default 0.05). */
  learningRate?: number;
  /** Fewest training rows in a leaf (default 40). */
  minLeaf?: number;
  /** Histogram bins per feature (default 64, at most 255). */
  bins?: number;
  /** Share of the rows each tree is fitted on (default 0.7). */
  subsample?: number;
  /** Seeds of the row sampling; one booster per seed, their forecasts averaged (default [1]). */
  seeds?: number[];
  /**
   * Feature set: `base` (default, see `gbdtFeatureCount`) or `rich`, which adds weekly context (see
   * `richFeatureCount`): the same interval's mean and spread over d-1..d-7 and on d-14, the d-2 and
   * d-1..d-7 levels, and the shape of d-7.
   */
  features?: 'base' | 'rich';
  /**
   * Target and price features: `diff` (default), prices minus the d-1 mean; or `scaled`, the same differences
   * divided by the week's intraday spread (`weekSpread`), so the trees learn shapes in units of recent
   * volatility and a forecast's swing grows with it. The d-1 level and d-1 spread features stay in price units.
   */
  target?: 'diff' | 'scaled';
}

/**
 * Intraday spread of the week before `day`: the root mean square deviation of days d-1..d-7 from their own
 * daily means, floored at 1% of (|d-1 mean| + 1) so a flat week cannot make it zero.
 */
export function weekSpread(history: Float64Array, perDay: number, day: number, base: number): number {
  let ss = 0;
  for (let lag = 1; lag <= 7; lag++) {
    const at = (day - lag) * perDay;
    let sum = 0;
    for (let i = 0; i < perDay; i++) sum += history[at + i];
    const mean = sum / perDay;
    for (let i = 0; i < perDay; i++) ss += (history[at + i] - mean) ** 2;
  }
  return Math.max(Math.sqrt(ss / (7 * perDay)), 0.01 * (Math.abs(base) + 1));
}

/** Divides the price-difference features of one row by `scale` (all but interval, day type, level, spread, hour of week). */
function scaleRow(row: Float64Array, at: number, f: number, rich: boolean, scale: number): void {
  const end = rich ? f - 1 : f;
  for (let j = 4; j < end; j++) if (j !== 6) row[at + j] /= scale;
}

/**
 * Features of one (day, interval) pair, all prices taken relative to the mean of day d-1 so that trees,
 * which cannot extrapolate, see level-free shapes: interval, day type (day of week, 7 for a holiday),
 * whether d-1 was a holiday, the d-1 level and spread, the same interval on d-1, d-2, d-3, d-7, its
 * neighbours on d-1, the last interval of d-1, the d-1 profile.
 */
export function gbdtFeatureCount(perDay: number): number {
  return 15 + perDay;
}

/** Extra features of the `rich` set. */
export const richFeatureCount = 7;

/**
 * The `rich` additions for (day, interval h), relative to the d-1 level `base`: mean and standard deviation of
 * interval h over d-1..d-7, interval h on d-14, the level of d-2, the level of d-1..d-7, interval h of d-7
 * relative to the level of d-7, the hour-of-week index.
 */
export function writeRichFeatures(
  history: Float64Array,
  perDay: number,
  day: number,
  h: number,
  dow: number,
  base: number,
  out: Float64Array,
  at: number,
): void {
  let sum = 0;
  let ss = 0;
  for (let lag = 1; lag <= 7; lag++) {
    const v = history[(day - lag) * perDay + h];
    sum += v;
    ss += v * v;
  }
  const mean = sum / 7;
  let level2 = 0;
  let level7 = 0;
  let week = 0;
  for (let i = 0; i < perDay; i++) {
    level2 += history[(day - 2) * perDay + i];
    level7 += history[(day - 7) * perDay + i];
    for (let lag = 1; lag <= 7; lag++) week += history[(day - lag) * perDay + i];
  }
  let k = at;
  out[k++] = mean - base;
  out[k++] = Math.sqrt(Math.max(0, ss / 7 - mean * mean));
  out[k++] = history[(day - 14) * perDay + h] - base;
  out[k++] = level2 / perDay - base;
  out[k++] = week / (7 * perDay) - base;
  out[k++] = history[(day - 7) * perDay + h] - level7 / perDay;
  out[k++] = dow * perDay + h;
}

/** Day type of `date` as a tree feature (0 = Monday .. 6 = Sunday, 7 = holiday) and whether d-1 was a holiday. */
function treeDayType(date: string, calendar: HolidayCalendar | undefined): [number, number] {
  const { dow, holiday, holidayBefore } = dayType(date, calendar);
  return [holiday ? 7 : dow, holidayBefore ? 1 : 0];
}
function writeFeatures(
  history: Float64Array,
  perDay: number,
  day: number,
  h: number,
  [dow, holidayBefore]: [number, number],
  out: Float64Array,
  at: number,
): number {
  const d1 = (day - 1) * perDay;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < perDay; i++) {
    const v = history[d1 + i];
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const base = sum / perDay;
  let ss = 0;
  for (let i = 0; i < perDay; i++) ss += (history[d1 + i] - base) ** 2;
  let sum7 = 0;
  for (let i = 0; i < perDay; i++) sum7 += history[(day - 7) * perDay + i];
  let k = at;
  out[k++] = h;
  out[k++] = dow;
  out[k++] = holidayBefore;
  out[k++] = base;
  out[k++] = min - base;
  out[k++] = max - base;
  out[k++] = Math.sqrt(ss / perDay);
  out[k++] = history[d1 + h] - base;
  out[k++] = history[(day - 2) * perDay + h] - base;
  out[k++] = history[(day - 3) * perDay + h] - base;
  out[k++] = history[(day - 7) * perDay + h] - base;
  out[k++] = history[d1 + Math.max(0, h - 1)] - base;
  out[k++] = history[d1 + Math.min(perDay - 1, h + 1)] - base;
  out[k++] = history[d1 + perDay - 1] - base;
  out[k++] = sum7 / perDay - base;
  for (let i = 0; i < perDay; i++) out[k++] = history[d1 + i] - base;
  return base;
}

interface Tree {
  /** Per internal node (heap order): feature index, or -1 for a leaf. */
  feature: Int32Array;
  /** Per internal node: rows with bin <= threshold go left. */
  threshold: Int32Array;
  /** Per node: the leaf value (used where feature is -1). */
  value: Float64Array;
}

interface Booster {
  init: number;
  trees: Tree[];
  /** Upper bin edges per feature (value <= edges[b] falls in bin b). */
  edges: Float64Array[];
}

function quantileEdges(values: Float64Array, bins: number): Float64Array {
  const sorted = Float64Array.from(values).sort();
  const edges: number[] = [];
  for (let b = 1; b < bins; b++) {
    const v = sorted[Math.min(sorted.length - 1, Math.floor((b * sorted.length) / bins))];
    if (edges.length === 0 || v > edges[edges.length - 1]) edges.push(v);
  }
  return Float64Array.from(edges);
}

function binOf(edges: Float64Array, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function median(values: Float64Array, n: number): number {
  if (n === 0) return 0;
  const s = values.subarray(0, n).sort();
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Gradient sums and row counts per (feature, bin) of one node's rows. */
interface Histogram {
  sum: Float64Array;
  count: Int32Array;
}

/**
 * Least-absolute-deviation gradient boosting (Friedman 2001) on histogram-binned features: every tree
 * is grown depth-wise on the signs of the residuals, and each leaf then takes the median residual of
 * its rows, so the ensemble estimates the conditional median, which is what MAE rewards. A node's rows
 * sit in one contiguous range of an index array that every split partitions in place; only the smaller
 * child's histogram is counted, the larger one is its parent's minus it (exact: gradients are -1, 0, 1).
 */
function trainBooster(
  x: Float64Array,
  y: Float64Array,
  n: number,
  f: number,
  o: Required<GbdtOptions>,
  seed: number,
  depth: number,
): Booster {
  const edges: Float64Array[] = [];
  const binned = new Uint8Array(n * f);
  const column = new Float64Array(n);
  for (let j = 0; j < f; j++) {
    for (let r = 0; r < n; r++) column[r] = x[r * f + j];
    const e = quantileEdges(column, o.bins);
    edges.push(e);
    for (let r = 0; r < n; r++) binned[r * f + j] = binOf(e, column[r]);
  }
  const stride = o.bins + 1;
  const init = median(Float64Array.from(y), n);
  const pred = new Float64Array(n).fill(init);
  const resid = new Float64Array(n);
  const grad = new Float64Array(n);
  const rng = seededRng(seed);
  const nodes = (1 << (depth + 1)) - 1;
  const idx = new Int32Array(n);
  const scratch = new Float64Array(n);
  const histogram = (from: number, to: number): Histogram => {
    const h: Histogram = { sum: new Float64Array(f * stride), count: new Int32Array(f * stride) };
    for (let i = from; i < to; i++) {
      const r = idx[i];
      const g = grad[r];
      const row = r * f;
      for (let j = 0; j < f; j++) {
        const b = j * stride + binned[row + j];
        h.sum[b] += g;
        h.count[b]++;
      }
    }
    return h;
  };
  const trees: Tree[] = [];
  for (let round = 0; round < o.rounds; round++) {
    let m = 0;
    for (let r = 0; r < n; r++) {
      resid[r] = y[r] - pred[r];
      grad[r] = resid[r] > 0 ? 1 : resid[r] < 0 ? -1 : 0;
      if (rng.next() < o.subsample) idx[m++] = r;
    }
    const tree: Tree = {
      feature: new Int32Array(nodes).fill(-1),
      threshold: new Int32Array(nodes),
      value: new Float64Array(nodes),
    };
    const leaves: Array<{ node: number; from: number; to: number }> = [];
    let level: Array<{ node: number; from: number; to: number; hist: Histogram }> = [
      { node: 0, from: 0, to: m, hist: histogram(0, m) },
    ];
    for (let d = 0; d <= depth; d++) {
      const next: typeof level = [];
      for (const { node, from, to, hist } of level) {
        const count = to - from;
        let bestJ = -1;
        let bestB = 0;
        if (d < depth && count >= 2 * o.minLeaf) {
          let total = 0;
          for (let b = 0; b < stride; b++) total += hist.sum[b];
          const parent = (total * total) / count;
          let best = 0;
          for (let j = 0; j < f; j++) {
            let ls = 0;
            let lc = 0;
            const nb = edges[j].length + 1;
            for (let b = 0; b < nb - 1; b++) {
              ls += hist.sum[j * stride + b];
              lc += hist.count[j * stride + b];
              if (lc < o.minLeaf) continue;
              const rc = count - lc;
              if (rc < o.minLeaf) break;
              const rs = total - ls;
              const gain = (ls * ls) / lc + (rs * rs) / rc - parent;
              if (gain > best) {
                best = gain;
                bestJ = j;
                bestB = b;
              }
            }
          }
        }
        if (bestJ < 0) {
          leaves.push({ node, from, to });
          continue;
        }
        tree.feature[node] = bestJ;
        tree.threshold[node] = bestB;
        // Partition the node's rows: bin <= threshold to the front (left child).
        let lo = from;
        let hi = to - 1;
        while (lo <= hi) {
          if (binned[idx[lo] * f + bestJ] <= bestB) lo++;
          else {
            const t = idx[lo];
            idx[lo] = idx[hi];
            idx[hi--] = t;
          }
        }
        const leftSmaller = lo - from <= to - lo;
        const small = leftSmaller ? histogram(from, lo) : histogram(lo, to);
        const large: Histogram = { sum: hist.sum, count: hist.count };
        for (let b = 0; b < f * stride; b++) {
          large.sum[b] -= small.sum[b];
          large.count[b] -= small.count[b];
        }
        next.push(
          { node: 2 * node + 1, from, to: lo, hist: leftSmaller ? small : large },
          { node: 2 * node + 2, from: lo, to, hist: leftSmaller ? large : small },
        );
      }
      level = next;
      if (level.length === 0) break;
    }
    // Leaf values: the median residual of the sampled rows in each leaf, shrunk.
    for (const { node, from, to } of leaves) {
      for (let i = from; i < to; i++) scratch[i - from] = resid[idx[i]];
      tree.value[node] = o.learningRate * median(scratch, to - from);
    }
    trees.push(tree);
    for (let r = 0; r < n; r++) pred[r] += tree.value[leafOfBinned(tree, binned, r * f)];
  }
  return { init, trees, edges };
}

function leafOfBinned(tree: Tree, binned: Uint8Array, row: number): number {
  let node = 0;
  while (tree.feature[node] >= 0) {
    node = binned[row + tree.feature[node]] <= tree.threshold[node] ? 2 * node + 1 : 2 * node + 2;
  }
  return node;
}

/** Tree features per exogenous series: its value in the interval, that value minus the day's mean, and minus d-1's. */
export const exogFeatureCount = 3;

/**
 * Writes the features of the exogenous series (`DayInput.exog`, known for the target day too) of (day, h) at `at`:
 * per series its value, its value minus the series' mean of that day (the shape of the load or wind, which moves
 * the shape of the prices), and its change from the same interval of d-1.
 */
function writeExogFeatures(
  exog: Float64Array[],
  perDay: number,
  day: number,
  h: number,
  out: Float64Array,
  at: number,
): void {
  exog.forEach((x, k) => {
    const from = day * perDay;
    let sum = 0;
    for (let i = 0; i < perDay; i++) sum += x[from + i]!;
    const v = x[from + h]!;
    out[at + k * exogFeatureCount] = v;
    out[at + k * exogFeatureCount + 1] = v - sum / perDay;
    out[at + k * exogFeatureCount + 2] = v - x[from - perDay + h]!;
  });
}

function predict(b: Booster, x: Float64Array, at: number): number {
  let z = b.init;
  const bins = new Uint8Array(b.edges.length);
  for (let j = 0; j < b.edges.length; j++) bins[j] = binOf(b.edges[j], x[at + j]);
  for (const tree of b.trees) z += tree.value[leafOfBinned(tree, bins, 0)];
  return z;
}

/**
 * `gbdt`: one pooled least-absolute-deviation gradient-boosted tree model over all delivery intervals,
 * on level-free price features (see `writeFeatures`), retrained every `retrainEvery` days on the last
 * `window` days. Non-linear, so it adds to the linear LEAR members what they cannot express.
 */
export function gbdtModel(opts: GbdtOptions = {}, name = 'gbdt'): DayAheadModel {
  const o: Required<GbdtOptions> = {
    window: opts.window ?? 0,
    retrainEvery: opts.retrainEvery ?? 7,
    rounds: opts.rounds ?? 300,
    depths: opts.depths ?? [4],
    learningRate: opts.learningRate ?? 0.05,
    minLeaf: opts.minLeaf ?? 40,
    bins: Math.min(255, opts.bins ?? 64),
    subsample: opts.subsample ?? 0.7,
    seeds: opts.seeds ?? [1],
    features: opts.features ?? 'base',
    target: opts.target ?? 'diff',
  };
  const scaled = o.target === 'scaled';
  const rich = o.features === 'rich';
  const maxLag = rich ? 14 : 7;
  let boosters: Booster[] | undefined;
  let trainedOn = -Infinity;
  let trainedDays = 0;
  let trainedWidth = 0;
  return {
    name,
    minHistoryDays: maxLag + 28,
    forecastDay(input: DayInput): number[] {
      const { history, historyDays, perDay, targetDate } = input;
      const t = history.length / perDay;
      const f = gbdtFeatureCount(perDay) + (rich ? richFeatureCount : 0);
      // Exogenous series, when given, add their features after the price features (`w` = the row width).
      const exog = Object.values(input.exog ?? {});
      const w = f + exogFeatureCount * exog.length;
      const dayNumber = Date.parse(`${targetDate}T00:00:00Z`) / 86_400_000;
      if (
        !boosters ||
        dayNumber - trainedOn >= o.retrainEvery ||
        dayNumber < trainedOn ||
        t < trainedDays ||
        w !== trainedWidth
      ) {
        const first = o.window > 0 ? Math.max(maxLag, t - o.window) : maxLag;
        const n = (t - first) * perDay;
        const x = new Float64Array(n * w);
        const y = new Float64Array(n);
        let r = 0;
        for (let day = first; day < t; day++) {
          const dow = treeDayType(historyDays[day], input.holidays);
          for (let h = 0; h < perDay; h++, r++) {
            const base = writeFeatures(history, perDay, day, h, dow, x, r * w);
            if (rich) writeRichFeatures(history, perDay, day, h, dow[0], base, x, r * w + f - richFeatureCount);
            const scale = scaled ? weekSpread(history, perDay, day, base) : 1;
            if (scaled) scaleRow(x, r * w, f, rich, scale);
            if (exog.length > 0) writeExogFeatures(exog, perDay, day, h, x, r * w + f);
            y[r] = (history[day * perDay + h] - base) / scale;
          }
        }
        boosters = o.depths.flatMap((depth) => o.seeds.map((seed) => trainBooster(x, y, n, w, o, seed, depth)));
        trainedOn = dayNumber;
        trainedDays = t;
        trainedWidth = w;
      }
      const row = new Float64Array(w);
      const dow = treeDayType(targetDate, input.holidays);
      const out = new Array<number>(perDay);
      for (let h = 0; h < perDay; h++) {
        const base = writeFeatures(history, perDay, t, h, dow, row, 0);
        if (rich) writeRichFeatures(history, perDay, t, h, dow[0], base, row, f - richFeatureCount);
        const scale = scaled ? weekSpread(history, perDay, t, base) : 1;
        if (scaled) scaleRow(row, 0, f, rich, scale);
        if (exog.length > 0) writeExogFeatures(exog, perDay, t, h, row, f);
        let z = 0;
        for (const b of boosters) z += predict(b, row, 0);
        out[h] = base + (scale * z) / boosters.length;
      }
      return out;
    },
  };
}
