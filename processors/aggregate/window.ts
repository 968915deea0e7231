/** How records are grouped in event time. All bounds are half-open: [start, end). */
export type WindowSpec =
  | { type: 'tumbling'; sizeMs: number; offsetMs?: number }
  | { type: 'hopping'; sizeMs: number; advanceMs: number; offsetMs?: number }
  | { type: 'session'; gapMs: number };

export interface WindowBounds {
  start: number;
  end: number;
}

/** The fixed windows (tumbling or hopping) containing event time `t`, earliest first. */
export function windowsFor(spec: Exclude<WindowSpec, { type: 'session' }>, t: number): WindowBounds[] {
  const advance = spec.type === 'tumbling' ? spec.sizeMs : spec.advanceMs;
  const offset = spec.offsetMs ?? 0;
  const lastStart = Math.floor((t - offset) / advance) * advance + offset;
  const out: WindowBounds[] = [];
  for (let start = lastStart; start > t - spec.sizeMs; start -= advance)
    out.unshift({ start, end: start + spec.sizeMs });
  return out;
}

/** Running aggregate of a numeric field: count, sum, extremes and open/close by event time (OHLC). */
export interface Accumulator {
  count: number;
  sum: number;
  min: number;
  max: number;
  open: number;
  openTs: number;
  close: number;
  closeTs: number;
}

export function accumulate(acc: Accumulator | undefined, value: number, t: number): Accumulator {
  if (!acc) return { count: 1, sum: value, min: value, max: value, open: value, openTs: t, close: value, closeTs: t };
  return {
    count: acc.count + 1,
    sum: acc.sum + value,
    min: Math.min(acc.min, value),
    max: Math.max(acc.max, value),
    open: t < acc.openTs ? value : acc.open,
    openTs: Math.min(t, acc.openTs),
    close: t >= acc.closeTs ? value : acc.close,
    closeTs: Math.max(t, acc.closeTs),
  };
}

/**
 * `accumulate` in place: `acc` becomes what `accumulate(acc, value, t)` returns (no new object; its
 * number fields are rewritten where they are, so the hot path of an open window allocates nothing).
 */
export function accumulateInto(acc: Accumulator, value: number, t: number): void {
  acc.count += 1;
  acc.sum += value;
  acc.min = Math.min(acc.min, value);
  acc.max = Math.max(acc.max, value);
  if (t < acc.openTs) {
    acc.open = value;
    acc.openTs = t;
  }
  if (t >= acc.closeTs) {
    acc.close = value;
    acc.closeTs = t;
  }
}

export function mergeAccumulators(a: Accumulator, b: Accumulator): Accumulator {
  return {
    count: a.count + b.count,
    sum: a.sum + b.sum,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    open: b.openTs < a.openTs ? b.open : a.open,
    openTs: Math.min(a.openTs, b.openTs),
    close: b.closeTs >= a.closeTs ? b.close : a.close,
    closeTs: Math.max(a.closeTs, b.closeTs),
  };
}

/** The value a window aggregate emits. */
export interface WindowResult {
  key: string | null;
  windowStart: number;
  windowEnd: number;
  count: number;
  sum: number;
  mean: number;
  min: number;
  max: number;
  open: number;
  close: number;
}

export function windowResult(key: string | null, w: WindowBounds, acc: Accumulator): WindowResult {
  return {
    key,
    windowStart: w.start,
    windowEnd: w.end,
    count: acc.count,
    sum: acc.sum,
    mean: acc.sum / acc.count,
    min: acc.min,
    max: acc.max,
    open: acc.open,
    close: acc.close,
  };
}
