import type { StreamRecord } from '@optibid/runtime';
import { formatDate, formatLocal, type LocalDate } from '@optibid/runtime';
import type { PublicationLateRuleSpec } from '../rules-schema.js';
import { areaDayOf, linkOf, type EvalContext, type RuleEvaluator } from './types.js';

/**
 * Fires when an area's day-ahead publication for a delivery day has not arrived by the deadline,
 * in the market's own time zone (default: the calendar's publicationDeadline on D−1); resolves
 * when the first record for that area and delivery day arrives.
 */
export class PublicationLateEvaluator implements RuleEvaluator {
  readonly topics: string[];
  readonly clockDriven = true;
  // State: `p|<area>|<day>` → true once that delivery day's prices arrived (dropped when the day ends);
  // `c|<area>` → the `after` of the area's pending deadline; `e|<area>|<day>` → end of a delivery day
  // whose resolution timer is pending. A restored engine re-arms both timers from these.

  constructor(readonly spec: PublicationLateRuleSpec) {
    this.topics = [spec.topic];
  }

  start(at: number, ctx: EvalContext): void {
    for (const area of this.spec.areas) this.scheduleNext(area, at - 1, ctx);
  }

  restore(entries: Array<[string, unknown]>, at: number, ctx: EvalContext): void {
    for (const area of this.spec.areas) {
      const after = ctx.state.get(`c|${area}`) as number | undefined;
      if (after === undefined) this.scheduleNext(area, at - 1, ctx);
      else this.scheduleDeadline(area, after, ctx);
    }
    for (const [k, v] of entries) {
      if (!k.startsWith('e|')) continue;
      const [, area, dayText] = k.split('|');
      if (this.spec.areas.includes(area)) this.scheduleDayEnd(area, dayText, v as number, ctx);
      else ctx.state.delete(k);
    }
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    const reported = areaDayOf(record, this.spec, ctx);
    if (!reported) return;
    const { market, area, day } = reported;
    ctx.state.put(`p|${area}|${day}`, true);
    const id = this.identity(market, area, day);
    if (ctx.isActive(id)) ctx.clear(id, at, linkOf(record));
  }

  private deadline(market: string, area: string, day: LocalDate, ctx: EvalContext): number {
    const entry = ctx.calendar.get(market)!;
    return ctx.calendar.instantFor(
      market,
      day,
      this.spec.deadline ?? entry.publicationDeadline,
      this.spec.dayOffset ?? entry.dayOffset,
    );
  }

  private identity(market: string, area: string, day: string) {
    return { labels: { market, area, deliveryDay: day }, resource: `${market}/${area}` };
  }

  /** The next deadline after `after`, and the end of its delivery day. */
  private scheduleNext(area: string, after: number, ctx: EvalContext): void {
    const { day } = this.scheduleDeadline(area, after, ctx);
    const market = ctx.calendar.marketOf(area)!;
    // Once the delivery day is over the publication no longer matters: resolve rather than repeat forever.
    const dayEnd = ctx.calendar.instantFor(market, day, '00:00', 1);
    const dayText = formatDate(day);
    ctx.state.put(`e|${area}|${dayText}`, dayEnd);
    this.scheduleDayEnd(area, dayText, dayEnd, ctx);
  }

  private scheduleDeadline(area: string, after: number, ctx: EvalContext): { day: LocalDate } {
    ctx.state.put(`c|${area}`, after);
    const market = ctx.calendar.marketOf(area)!;
    const { day, at } = ctx.calendar.nextOccurrence(market, after, (d) => this.deadline(market, area, d, ctx));
    ctx.schedule(at, (now) => {
      const dayText = formatDate(day);
      if (ctx.state.get(`p|${area}|${dayText}`) === undefined) {
        const tz = ctx.calendar.get(market)!.timeZone;
        const local = formatLocal(tz, at);
        ctx.raise(this.identity(market, area, dayText), {
          at: now,
          value: null,
          message: `${market} ${area} day-ahead prices for ${dayText} not published by ${local}`,
          vars: { deliveryDay: dayText, deadline: new Date(at).toISOString() },
        });
      }
      this.scheduleNext(area, at, ctx);
    });
    return { day };
  }

  private scheduleDayEnd(area: string, dayText: string, dayEnd: number, ctx: EvalContext): void {
    const market = ctx.calendar.marketOf(area)!;
    ctx.schedule(dayEnd, (now) => {
      const id = this.identity(market, area, dayText);
      if (ctx.isActive(id))
        ctx.clear(id, now, undefined, `${market} ${area} delivery day ${dayText} ended without its day-ahead prices`);
      ctx.state.delete(`p|${area}|${dayText}`);
      ctx.state.delete(`e|${area}|${dayText}`);
    });
  }
}
