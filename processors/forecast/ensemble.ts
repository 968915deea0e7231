import { OptiBidError } from '@optibid/runtime';
import type { DayAheadModel, DayInput } from './model.js';

/**
 * Performance-weighted combination: each member's weight is proportional to its mean absolute error over
 * the last `windowDays` days it forecast, raised to `-power`. Only days whose actual prices are in the
 * input's history count, so the weights use nothing a forecaster would not know before gate closure.
 * Until `minDays` such days exist the fixed weights apply.
 */
export interface AdaptiveWeights {
  windowDays: number;
  power: number;
  minDays: number;
  /**
   * Weights per delivery interval instead of one set per day: interval h's weights come from the errors at
   * intervals h - intervalPool .. h + intervalPool (within the day). Only `learModel` supports it.
   */
  intervalPool?: number;
}

/**
 * Weights from recent out-of-sample error: each of the K members' mean absolute error over the last
 * `adaptive.windowDays` history days that `past` holds a forecast for, raised to `-adaptive.power` and
 * normalised. Only days whose actual prices are in `input.history` are scored, so nothing after the
 * forecast's gate closure is used. Returns `fixed` until `adaptive.minDays` days are scored or while a
 * member has no error at all.
 */
export function recentErrorWeights(
  past: ReadonlyMap<string, number[][]>,
  input: DayInput,
  adaptive: AdaptiveWeights,
  fixed: number[],
): number[] {
  const { history, historyDays, perDay } = input;
  const errors = fixed.map(() => 0);
  let days = 0;
  for (let i = historyDays.length - 1; i >= 0 && days < adaptive.windowDays; i--) {
    const f = past.get(historyDays[i]);
    if (!f) continue;
    days++;
    for (let k = 0; k < fixed.length; k++) {
      for (let h = 0; h < perDay; h++) errors[k] += Math.abs(history[i * perDay + h] - f[k][h]);
    }
  }
  if (days < adaptive.minDays || errors.some((e) => !(e > 0))) return fixed;
  const raw = errors.map((e) => (e / days) ** -adaptive.power);
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((r) => r / total);
}

/**
 * As `recentErrorWeights`, per delivery interval: row h holds the weights from the members' errors at
 * intervals h - pool .. h + pool (clipped to the day) over the same scored days; `fixed` for every row until
 * `adaptive.minDays` days are scored, and for a row where a member has no error at all.
 */
export function recentErrorWeightsByInterval(
  past: ReadonlyMap<string, number[][]>,
  input: DayInput,
  adaptive: AdaptiveWeights,
  fixed: number[],
  pool: number,
): number[][] {
  const { history, historyDays, perDay } = input;
  const errors = fixed.map(() => new Float64Array(perDay));
  let days = 0;
  for (let i = historyDays.length - 1; i >= 0 && days < adaptive.windowDays; i--) {
    const f = past.get(historyDays[i]);
    if (!f) continue;
    days++;
    for (let k = 0; k < fixed.length; k++) {
      for (let h = 0; h < perDay; h++) errors[k][h] += Math.abs(history[i * perDay + h] - f[k][h]);
    }
  }
  return Array.from({ length: perDay }, (_, h) => {
    if (days < adaptive.minDays) return fixed;
    const lo = Math.max(0, h - pool);
    const hi = Math.min(perDay - 1, h + pool);
    const pooled = errors.map((e) => {
      let s = 0;
      for (let g = lo; g <= hi; g++) s += e[g];
      return s / (days * (hi - lo + 1));
    });
    if (pooled.some((e) => !(e > 0))) return fixed;
    const raw = pooled.map((e) => e ** -adaptive.power);
    const total = raw.reduce((a, b) => a + b, 0);
    return raw.map((r) => r / total);
  });
}

/** Records the member forecasts of `targetDate` and keeps only the newest `windowDays + 1` target dates. */
export function rememberForecasts(
  past: Map<string, number[][]>,
  targetDate: string,
  forecasts: number[][],
  windowDays: number,
): void {
  past.set(targetDate, forecasts);
  // Insertion order is forecast order.
  for (const date of past.keys()) {
    if (past.size <= windowDays + 1) break;
    past.delete(date);
  }
}

/**
 * Combines the forecasts of several models run on the same input: with fixed weights (equal unless given),
 * or, with `adaptive`, weights that follow each member's recent out-of-sample error.
 */
export function ensembleModel(
  members: DayAheadModel[],
  name = 'ensemble',
  weights?: number[],
  adaptive?: AdaptiveWeights,
): DayAheadModel {
  const fixed = weights ?? members.map(() => 1 / members.length);
  if (adaptive?.intervalPool !== undefined) {
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `ensemble "${name}": intervalPool is supported by LEAR's adaptive option only`,
    );
  }
  let last: Record<string, number[]> = {};
  let lastWeights: number[] = fixed;
  /** Member forecasts by target date, the most recent `windowDays` (and the one being made) kept. */
  const past = new Map<string, number[][]>();
  const weightsFor = (input: DayInput): number[] =>
    adaptive ? recentErrorWeights(past, input, adaptive, fixed) : fixed;
  return {
    name,
    minHistoryDays: Math.max(...members.map((m) => m.minHistoryDays)),
    async forecastDay(input: DayInput): Promise<number[]> {
      const forecasts: number[][] = [];
      last = {};
      for (const m of members) {
        const f = await m.forecastDay(input);
        forecasts.push(f);
        last[m.name] = f;
      }
      const w = weightsFor(input);
      lastWeights = w;
      if (adaptive) rememberForecasts(past, input.targetDate, forecasts, adaptive.windowDays);
      const out = new Array<number>(input.perDay).fill(0);
      for (let k = 0; k < members.length; k++) {
        for (let h = 0; h < input.perDay; h++) out[h] += w[k] * forecasts[k][h];
      }
      return out;
    },
    memberForecasts: () => last,
    memberWeights: () => Object.fromEntries(members.map((m, k) => [m.name, lastWeights[k]])),
  };
}
