import type { StreamRecord } from '@optibid/runtime';
import { formatDate, formatLocal, type LocalDate } from '@optibid/runtime';
import { fieldOf, matchesWhere, timeAt } from '../fields.js';
import type { PublicationLateRuleSpec } from '../rules-schema.js';
import { linkOf, type EvalContext, type RuleEvaluator } from './types.js';

/**
 * Fires when an area's day-ahead publication for a delivery day has not arrived by the deadline,
 * in the market's own time zone (default: the calendar's publicationDeadline on D−1); resolves
 * when the first record for that area and delivery day arrives.
 */
export class PublicationLateEvaluator implements RuleEvaluator {
  readonly topics: string[];
  /** `area|YYYY-MM-DD` of delivery days already published. */
  private readonly published = new Set<string>();

  constructor(readonly spec: PublicationLateRuleSpec) {
    this.topics = [spec.topic];
  }

  start(at: number, ctx: EvalContext): void {
    for (const area of this.spec.areas) this.scheduleNext(area, at - 1, ctx);
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    if (!matchesWhere(record, this.spec.where)) return;
    const area = fieldOf(record, this.spec.areaField ?? 'area');
    const delivery = timeAt(record, this.spec.deliveryField ?? 'deliveryStart');
    if (typeof area !== 'string' || !this.spec.areas.includes(area) || delivery === undefined) return;
    const market = ctx.calendar.marketOf(area)!;
    const day = formatDate(ctx.calendar.deliveryDay(market, delivery));
    this.published.add(`${area}|${day}`);
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

  private scheduleNext(area: string, after: number, ctx: EvalContext): void {
    const market = ctx.calendar.marketOf(area)!;
    const { day, at } = ctx.calendar.nextOccurrence(market, after, (d) => this.deadline(market, area, d, ctx));
    ctx.schedule(at, (now) => {
      const dayText = formatDate(day);
      if (!this.published.has(`${area}|${dayText}`)) {
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
    // Once the delivery day is over the publication no longer matters: resolve rather than repeat forever.
    const dayEnd = ctx.calendar.instantFor(market, day, '00:00', 1);
    ctx.schedule(dayEnd, (now) => {
      const dayText = formatDate(day);
      const id = this.identity(market, area, dayText);
      if (ctx.isActive(id))
        ctx.clear(id, now, undefined, `${market} ${area} delivery day ${dayText} ended without its day-ahead prices`);
      this.published.delete(`${area}|${dayText}`);
    });
  }
}
