import type { StreamRecord } from '@optibid/runtime';
import { formatNumber, keyLabels, matchesWhere, numberAt, fieldOf } from '../fields.js';
import type { ThresholdRuleSpec } from '../rules-schema.js';
import { linkOf, resourceOf, type EvalContext, type RuleEvaluator } from './types.js';

/** Unit of a record: the rule's `unit`, else the record's own `unit` field. */
export function unitOf(record: StreamRecord, configured: string | undefined): string | null {
  if (configured !== undefined) return configured;
  const u = fieldOf(record, 'unit');
  return typeof u === 'string' ? u : null;
}

/** Fires while a numeric field is above `above` or below `below`, per key. */
export class ThresholdEvaluator implements RuleEvaluator {
  readonly topics: string[];
  constructor(readonly spec: ThresholdRuleSpec) {
    this.topics = [spec.topic];
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    if (!matchesWhere(record, this.spec.where)) return;
    const labels = keyLabels(record, this.spec.keyBy ?? []);
    const value = numberAt(record, this.spec.field);
    if (!labels || value === undefined) return;
    const id = { labels, resource: resourceOf(labels, this.spec.topic) };
    const unit = unitOf(record, this.spec.unit);
    const { above, below } = this.spec;
    const breach =
      above !== undefined && value > above
        ? { threshold: above, word: 'above' }
        : below !== undefined && value < below
          ? { threshold: below, word: 'below' }
          : undefined;
    if (breach) {
      const u = unit ? ` ${unit}` : '';
      ctx.raise(id, {
        at,
        value,
        threshold: breach.threshold,
        unit,
        source: linkOf(record),
        message: `${this.spec.field} of ${id.resource} is ${formatNumber(value)}${u}, ${breach.word} ${formatNumber(breach.threshold)}${u}`,
      });
    } else {
      ctx.clear(id, at, linkOf(record));
    }
  }
}
