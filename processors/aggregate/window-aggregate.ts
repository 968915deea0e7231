import { Type, type Static } from '@sinclair/typebox';
import {
  OptiBidError,
  defineProcessor,
  type KeyValueStore,
  type ProcessContext,
  type Processor,
  type StreamRecord,
} from '@optibid/runtime';
import { Duration, parseDuration } from './duration.js';
import { numericFieldReader, recordFilter, type WhereClause } from './field.js';
import {
  accumulate,
  accumulateInto,
  mergeAccumulators,
  windowResult,
  windowsFor,
  type Accumulator,
  type WindowSpec,
} from './window.js';

export const WindowConfig = Type.Union(
  [
    Type.Object(
      { type: Type.Literal('tumbling'), size: Duration, offset: Type.Optional(Duration) },
      {
        additionalProperties: false,
        description: 'fixed, non-overlapping windows of `size`, aligned to the epoch (+ offset)',
      },
    ),
    Type.Object(
      { type: Type.Literal('hopping'), size: Duration, advance: Duration, offset: Type.Optional(Duration) },
      {
        additionalProperties: false,
        description: 'windows of `size` starting every `advance` (they overlap when advance < size)',
      },
    ),
    Type.Object(
      { type: Type.Literal('session'), gap: Duration },
      { additionalProperties: false, description: 'per key, records closer than `gap` in event time share a window' },
    ),
  ],
  { description: 'the event-time window' },
);

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

/** `where`: aggregate only the records whose fields match (others are skipped, not dead-lettered). */
export const WhereConfig = Type.Record(Type.String(), Type.Union([Scalar, Type.Array(Scalar)]), {
  description:
    'only records whose field (dotted path) equals the value, or one of the listed values, e.g. { metric: state_of_charge }; other records are skipped',
});

export const WindowAggregateConfig = Type.Object(
  {
    window: WindowConfig,
    field: Type.String({ description: 'dotted path of the numeric field to aggregate, e.g. priceEurPerMwh' }),
    where: Type.Optional(WhereConfig),
    allowedLateness: Type.Optional(Duration),
    lateTopic: Type.Optional(
      Type.String({ description: 'where records later than the allowed lateness go (default: the DLQ)' }),
    ),
  },
  { additionalProperties: false },
);
export type WindowAggregateConfig = Static<typeof WindowAggregateConfig>;

/** Header on every window result: `final` when the watermark closed it, `update` for a late record within the allowed lateness. */
export const windowHeader = 'window';

interface FixedEntry {
  k: string | null;
  s: number;
  e: number;
  acc: Accumulator;
  fired: boolean;
}
interface Session {
  s: number;
  e: number;
  acc: Accumulator;
  fired: boolean;
}
interface SessionEntry {
  k: string | null;
  sessions: Session[];
}
/** A window closing at a watermark, emitted in order of start, then key. */
interface Closing {
  k: string | null;
  s: number;
  e: number;
  acc: Accumulator;
}

const byStartThenKey = (a: Closing, b: Closing) => a.s - b.s || String(a.k).localeCompare(String(b.k));

/**
 * Sorts `xs` in place like `Array.prototype.sort` (stable, same order for a consistent `cmp`), by insertion
 * for the handful of windows a watermark usually closes: no work arrays (the built-in sort copies).
 */
export function sortSmall<T>(xs: T[], cmp: (a: T, b: T) => number): void {
  if (xs.length > 16) {
    xs.sort(cmp);
    return;
  }
  for (let i = 1; i < xs.length; i++) {
    const x = xs[i]!;
    let j = i - 1;
    while (j >= 0 && cmp(xs[j]!, x) > 0) {
      xs[j + 1] = xs[j]!;
      j--;
    }
    xs[j + 1] = x;
  }
}

/** Converts the config's durations. */
export function toWindowSpec(cfg: WindowAggregateConfig['window']): WindowSpec {
  switch (cfg.type) {
    case 'tumbling':
      return {
        type: 'tumbling',
        sizeMs: parseDuration(cfg.size),
        offsetMs: cfg.offset === undefined ? 0 : parseDuration(cfg.offset),
      };
    case 'hopping':
      return {
        type: 'hopping',
        sizeMs: parseDuration(cfg.size),
        advanceMs: parseDuration(cfg.advance),
        offsetMs: cfg.offset === undefined ? 0 : parseDuration(cfg.offset),
      };
    case 'session':
      return { type: 'session', gapMs: parseDuration(cfg.gap) };
  }
}

/**
 * Event-time windows over a numeric field, per key, in the processor's keyed state (so they survive
 * restarts through the changelog). A window emits once when the watermark passes its end; a record
 * arriving later but within `allowedLatenessMs` updates it and re-emits (header `window: update`);
 * a record later than that goes to `lateTopic` (or the DLQ).
 */
export function windowAggregate(opts: {
  window: WindowSpec;
  field: string;
  where?: WhereClause;
  allowedLatenessMs?: number;
  lateTopic?: string;
}): Processor {
  const selected = recordFilter(opts.where);
  const readField = numericFieldReader(opts.field);
  const lateness = opts.allowedLatenessMs ?? 0;
  const spec = opts.window;
  if ((spec.type === 'session' ? spec.gapMs : spec.sizeMs) <= 0)
    throw new OptiBidError('OPTIBID_ERR_CONFIG', 'window size and gap must be positive');
  if (spec.type === 'hopping' && spec.advanceMs <= 0)
    throw new OptiBidError('OPTIBID_ERR_CONFIG', 'hopping window advance must be positive');
  // Earliest event time at which something in a store is due (fire or purge): lets most watermarks skip the scan.
  // The last store's entry is also held in two variables: records and watermarks come a partition at a time,
  // so most lookups (two per record) are an identity check instead of a WeakMap lookup.
  const nextDue = new WeakMap<KeyValueStore, number>();
  let lastStore: KeyValueStore | undefined;
  let lastDue: number | undefined;
  const dueOf = (store: KeyValueStore): number | undefined => {
    if (store !== lastStore) {
      lastStore = store;
      lastDue = nextDue.get(store);
    }
    return lastDue;
  };
  const setDue = (store: KeyValueStore, t: number) => {
    nextDue.set(store, t);
    if (store === lastStore) lastDue = t;
  };
  // Also asked of the core (`ctx.requestWatermark`, see `watermarkRequests`): it then calls onWatermark only
  // once something is due instead of at every advance. The WeakMap above keeps the early return for callers
  // that call onWatermark at every advance anyway.
  const due = (ctx: ProcessContext, t: number) => {
    ctx.requestWatermark?.(t);
    const store = ctx.state;
    const cur = dueOf(store);
    if (cur !== undefined && t < cur) setDue(store, t);
  };
  /** State key of a fixed (tumbling or hopping) window of record key `k` starting at `start`. */
  const fixedKey = (k: string | null, start: number) => `w\u0000${k ?? ''}\u0000${start}`;
  // The state key of a record key's current tumbling window, kept per record key: every record of a
  // window then looks its entry up with the same string (hashed once), not a fresh concatenation to flatten
  // and hash. Bounded: cleared when it holds more than `maxCachedKeys` record keys.
  const windowKeys = new Map<string | null, { start: number; sk: string }>();
  const maxCachedKeys = 4096;
  const windowKey = (k: string | null, start: number): string => {
    let c = windowKeys.get(k);
    if (c === undefined) {
      if (windowKeys.size >= maxCachedKeys) windowKeys.clear();
      windowKeys.set(k, (c = { start, sk: fixedKey(k, start) }));
    } else if (c.start !== start) {
      c.start = start;
      c.sk = fixedKey(k, start);
    }
    return c.sk;
  };

  const late = (r: StreamRecord, ctx: ProcessContext, by: number) => {
    if (!opts.lateTopic) {
      throw new OptiBidError(
        'OPTIBID_ERR_LATE',
        `record at ${new Date(r.timestamp).toISOString()} is ${by} ms past its window's allowed lateness`,
      );
    }
    ctx.emit({
      topic: opts.lateTopic,
      key: r.key,
      value: r.value,
      timestamp: r.timestamp,
      headers: { ...r.headers, 'late-by-ms': String(by) },
    });
  };

  const emitResult = (
    ctx: ProcessContext,
    k: string | null,
    s: number,
    e: number,
    acc: Accumulator,
    kind: 'final' | 'update',
  ) =>
    ctx.emit({
      key: k,
      value: windowResult(k, { start: s, end: e }, acc),
      timestamp: s,
      // A literal key (`windowHeader`): an object built from a fixed shape, not a computed-key definition per result.
      headers: { window: kind } satisfies Record<typeof windowHeader, string>,
    });

  const processFixed = (
    r: StreamRecord,
    ctx: ProcessContext,
    v: number,
    fixed: Exclude<WindowSpec, { type: 'session' }>,
  ) => {
    const wm = ctx.watermark;
    if (fixed.type === 'tumbling') {
      // One window per record: no bounds arrays on the hot path (same result as the general case below).
      const size = fixed.sizeMs;
      const offset = fixed.offsetMs ?? 0;
      const start = Math.floor((r.timestamp - offset) / size) * size + offset;
      const end = start + size;
      if (end + lateness <= wm) return late(r, ctx, wm - (end + lateness));
      return addToWindow(r, ctx, v, wm, start, end, windowKey(r.key, start));
    }
    const windows = windowsFor(fixed, r.timestamp);
    const live = windows.filter((w) => w.end + lateness > wm);
    if (live.length === 0) return late(r, ctx, wm - (windows[windows.length - 1]!.end + lateness));
    for (const w of live) addToWindow(r, ctx, v, wm, w.start, w.end, fixedKey(r.key, w.start));
  };

  const addToWindow = (
    r: StreamRecord,
    ctx: ProcessContext,
    v: number,
    wm: number,
    start: number,
    end: number,
    sk: string,
  ) => {
    const prev = ctx.state.get(sk) as FixedEntry | undefined;
    if (prev !== undefined && end > wm) {
      // The common case, the next record of an open window: its entry and accumulator are updated in place
      // (nothing after this can throw, so the call's rollback has nothing to undo) and written back, so the
      // changelog gets the key; no new entry and accumulator per record.
      accumulateInto(prev.acc, v, r.timestamp);
      due(ctx, end);
      ctx.state.put(sk, prev);
      return;
    }
    const entry: FixedEntry = {
      k: r.key,
      s: start,
      e: end,
      acc: accumulate(prev?.acc, v, r.timestamp),
      fired: prev?.fired ?? false,
    };
    if (end <= wm) {
      emitResult(ctx, r.key, start, end, entry.acc, entry.fired ? 'update' : 'final');
      entry.fired = true;
      due(ctx, end + lateness);
    } else due(ctx, end);
    ctx.state.put(sk, entry);
  };

  const processSession = (r: StreamRecord, ctx: ProcessContext, v: number, gap: number) => {
    const wm = ctx.watermark;
    const t = r.timestamp;
    if (t + gap + lateness <= wm) return late(r, ctx, wm - (t + gap + lateness));
    const sk = `s\u0000${r.key ?? ''}`;
    const entry = (ctx.state.get(sk) as SessionEntry | undefined) ?? { k: r.key, sessions: [] };
    let merged: Session = { s: t, e: t + gap, acc: accumulate(undefined, v, t), fired: false };
    const rest: Session[] = [];
    let wasFired = false;
    for (const s of entry.sessions) {
      if (s.s < merged.e && merged.s < s.e) {
        merged = {
          s: Math.min(s.s, merged.s),
          e: Math.max(s.e, merged.e),
          acc: mergeAccumulators(s.acc, merged.acc),
          fired: false,
        };
        wasFired ||= s.fired;
      } else rest.push(s);
    }
    if (merged.e <= wm) {
      emitResult(ctx, r.key, merged.s, merged.e, merged.acc, wasFired ? 'update' : 'final');
      merged.fired = true;
      due(ctx, merged.e + lateness);
    } else due(ctx, merged.e);
    rest.push(merged);
    rest.sort((a, b) => a.s - b.s);
    ctx.state.put(sk, { k: r.key, sessions: rest });
  };

  return {
    watermarkRequests: true,
    process(r, ctx) {
      if (!selected(r.value)) return;
      const v = readField(r);
      if (spec.type === 'session') processSession(r, ctx, v, spec.gapMs);
      else processFixed(r, ctx, v, spec);
    },

    onWatermark(wm, ctx) {
      const store = ctx.state;
      // A core that takes requests calls only when something asked for is due, or when it cannot know (state
      // restored, a failed call retried): look then, whatever this store's last pass left in `nextDue`.
      const known = ctx.requestWatermark === undefined ? dueOf(store) : undefined;
      if (known !== undefined && wm < known) return;
      // What closes now: a fixed window's entry itself (no tuple per result), a session as its parts.
      const results: Closing[] = [];
      let next = Infinity;
      for (const [sk, raw] of [...store.entries()]) {
        if (sk.startsWith('w\u0000')) {
          const entry = raw as FixedEntry;
          if (!entry.fired && entry.e <= wm) {
            results.push(entry);
            entry.fired = true;
            if (entry.e + lateness > wm) store.put(sk, { ...entry });
          }
          if (entry.e + lateness <= wm) store.delete(sk);
          else next = Math.min(next, entry.fired ? entry.e + lateness : entry.e);
        } else if (sk.startsWith('s\u0000')) {
          const entry = raw as SessionEntry;
          let changed = false;
          const keep: Session[] = [];
          for (const s of entry.sessions) {
            if (!s.fired && s.e <= wm) {
              results.push({ k: entry.k, s: s.s, e: s.e, acc: s.acc });
              s.fired = true;
              changed = true;
            }
            if (s.e + lateness <= wm) changed = true;
            else {
              keep.push(s);
              next = Math.min(next, s.fired ? s.e + lateness : s.e);
            }
          }
          if (keep.length === 0) store.delete(sk);
          else if (changed) store.put(sk, { k: entry.k, sessions: keep });
        }
      }
      setDue(store, next);
      if (next !== Infinity) ctx.requestWatermark?.(next);
      sortSmall(results, byStartThenKey);
      for (let i = 0; i < results.length; i++) {
        const r = results[i]!;
        emitResult(ctx, r.k, r.s, r.e, r.acc, 'final');
      }
    },
  };
}

/**
 * The top-level value fields a window aggregate reads (its `field` and `where` paths' first parts), for
 * the definitions' `valueFields`; undefined (whole values) when late records are forwarded to `lateTopic`
 * with their value.
 */
export function windowValueFields(cfg: {
  field: string;
  where?: WhereClause;
  lateTopic?: string;
}): string[] | undefined {
  if (cfg.lateTopic !== undefined) return undefined;
  const top = (path: string) => path.split('.')[0]!;
  return [...new Set([top(cfg.field), ...Object.keys(cfg.where ?? {}).map(top)])];
}

/** `window-aggregate`: tumbling, hopping or session windows over a numeric field with OHLC, mean and count. */
export const windowAggregateDefinition = defineProcessor({
  name: 'window-aggregate',
  status: 'beta',
  summary: 'Event-time tumbling, hopping or session windows per key: count, sum, mean, min, max, open, close',
  config: WindowAggregateConfig,
  valueFields: windowValueFields,
  create: (cfg) =>
    windowAggregate({
      window: toWindowSpec(cfg.window),
      field: cfg.field,
      where: cfg.where,
      allowedLatenessMs: cfg.allowedLateness === undefined ? 0 : parseDuration(cfg.allowedLateness),
      lateTopic: cfg.lateTopic,
    }),
});
