import type { StreamRecord } from '@optibid/runtime';
import { formatDuration, parseDuration } from '../duration.js';
import { formatDate, formatLocal, type LocalDate } from '@optibid/runtime';
import type { GateClosureRuleSpec } from '../rules-schema.js';
import { areaDayOf, linkOf, type EvalContext, type RuleEvaluator } from './types.js';

/** Where the area's pending occurrence was searched from, and whether its warning time has passed. */
interface Cursor {
  after: number;
  first: boolean;
  warned: boolean;
}

/**
 * Fires `lead` before an area's day-ahead gate closure (market calendar, DST-aware) when no bid signal
 * for that area and delivery day has been seen; resolves when one arrives, or at gate closure, when
 * the message says the gate closed without bids.
 */
export class GateClosureEvaluator implements RuleEvaluator {
  readonly topics: string[];
  readonly clockDriven = true;
  // State: `s|<area>|<day>` → true once a bid signal for that delivery day arrived (dropped at its gate
  // closure); `c|<area>` → { after, first }, the arguments of the area's pending `scheduleNext`, so a
  // restored engine re-arms the same occurrence.
  private readonly leadMs: number;

  constructor(readonly spec: GateClosureRuleSpec) {
    this.topics = [spec.signalTopic ?? 'bids.signals'];
    this.leadMs = parseDuration(spec.lead) ?? 0;
  }

  start(at: number, ctx: EvalContext): void {
    for (const area of this.spec.areas) this.scheduleNext(area, at, ctx, true);
  }

  restore(entries: Array<[string, unknown]>, at: number, ctx: EvalContext): void {
    for (const area of this.spec.areas) {
      const cursor = ctx.state.get(`c|${area}`) as Cursor | undefined;
      // An area added to the rules since the state was written starts from the restored time.
      if (cursor) this.scheduleNext(area, cursor.after, ctx, cursor.first, cursor.warned);
      else this.scheduleNext(area, at, ctx, true);
    }
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    const reported = areaDayOf(record, this.spec, ctx);
    if (!reported) return;
    const { market, area, day } = reported;
    ctx.state.put(`s|${area}|${day}`, true);
    const id = this.identity(market, area, day);
    if (ctx.isActive(id)) ctx.clear(id, at, linkOf(record));
  }

  private identity(market: string, area: string, day: string) {
    return { labels: { market, area, deliveryDay: day }, resource: `${market}/${area}` };
  }

  /** Schedules the warning for the next gate closure after `after`; on the first call, a gate closing within `lead` warns at once. */
  private scheduleNext(area: string, after: number, ctx: EvalContext, first = false, warned = false): void {
    const cursor: Cursor = { after, first, warned };
    ctx.state.put(`c|${area}`, cursor);
    const market = ctx.calendar.marketOf(area)!;
    const { day, at: closure } = ctx.calendar.nextOccurrence(market, after, (d: LocalDate) =>
      ctx.calendar.gateClosure(market, d),
    );
    const warnAt = first ? Math.max(after, closure - this.leadMs) : closure - this.leadMs;
    const dayText = formatDate(day);
    const key = `${area}|${dayText}`;
    const id = this.identity(market, area, dayText);
    if (!warned)
      ctx.schedule(warnAt, (now) => {
        ctx.state.put(`c|${area}`, { ...cursor, warned: true });
        if (ctx.state.get(`s|${key}`) !== undefined) return;
        const tz = ctx.calendar.get(market)!.timeZone;
        const local = formatLocal(tz, closure);
        ctx.raise(id, {
          at: now,
          value: (closure - now) / 1000,
          threshold: this.leadMs / 1000,
          unit: 's',
          message: `${market} ${area}: gate closure for delivery ${dayText} at ${local} in ${formatDuration(closure - now)} and no bid signal yet`,
          vars: { deliveryDay: dayText, gateClosure: new Date(closure).toISOString(), lead: this.spec.lead },
        });
      });
    ctx.schedule(closure, (now) => {
      if (ctx.isActive(id))
        ctx.clear(id, now, undefined, `${market} ${area}: gate closed for delivery ${dayText} without a bid signal`);
      ctx.state.delete(`s|${key}`);
      this.scheduleNext(area, closure, ctx);
    });
  }
}
