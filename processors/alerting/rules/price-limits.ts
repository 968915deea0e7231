import type { StreamRecord } from '@optibid/runtime';
import { fieldOf, formatNumber, keyLabels, matchesWhere, numberAt, timeAt } from '../fields.js';
import type { PriceLimitsRuleSpec } from '../rules-schema.js';
import { linkOf, resourceOf, type EvalContext, type RuleEvaluator } from './types.js';

type Condition = 'negative' | 'cap' | 'floor';

/**
 * Negative prices and prices at the market's harmonised cap or floor (from the market calendar),
 * per market and area; each condition is its own alert (label `condition`) and clears on the next
 * price of that area outside it.
 */
export class PriceLimitsEvaluator implements RuleEvaluator {
  readonly topics: string[];

  constructor(readonly spec: PriceLimitsRuleSpec) {
    this.topics = [spec.topic];
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    if (!matchesWhere(record, this.spec.where)) return;
    const labels = keyLabels(record, this.spec.keyBy ?? ['market', 'area']);
    const price = numberAt(record, this.spec.field ?? 'price');
    if (!labels || price === undefined) return;
    const area = fieldOf(record, 'area');
    const marketField = fieldOf(record, 'market');
    const market =
      typeof marketField === 'string' && ctx.calendar.get(marketField)
        ? marketField
        : typeof area === 'string'
          ? ctx.calendar.marketOf(area)
          : undefined;
    const entry = market === undefined ? undefined : ctx.calendar.get(market);
    const currency = fieldOf(record, 'currency');
    const unit =
      this.spec.unit ?? (typeof currency === 'string' ? `${currency}/MWh` : entry ? `${entry.currency}/MWh` : null);
    const delivery = timeAt(record, 'deliveryStart');
    const when = delivery === undefined ? '' : ` for delivery ${new Date(delivery).toISOString()}`;
    const checks: Array<{ condition: Condition; holds: boolean; threshold: number; text: string }> = [];
    if (this.spec.negative ?? true)
      checks.push({ condition: 'negative', holds: price < 0, threshold: 0, text: 'negative' });
    if ((this.spec.capped ?? true) && entry) {
      checks.push({
        condition: 'cap',
        holds: price >= entry.priceCap,
        threshold: entry.priceCap,
        text: `at the ${market} price cap`,
      });
      checks.push({
        condition: 'floor',
        holds: price <= entry.priceFloor,
        threshold: entry.priceFloor,
        text: `at the ${market} price floor`,
      });
    }
    for (const check of checks) {
      const idLabels = { ...labels, condition: check.condition };
      const id = { labels: idLabels, resource: resourceOf(labels, this.spec.topic) };
      if (check.holds) {
        ctx.raise(id, {
          at,
          value: price,
          threshold: check.threshold,
          unit,
          source: linkOf(record),
          message: `${id.resource} price ${formatNumber(price)}${unit ? ` ${unit}` : ''}${when} is ${check.text} (${formatNumber(check.threshold)})`,
        });
      } else {
        ctx.clear(id, at, linkOf(record));
      }
    }
  }
}
