import type { StreamRecord } from '@optibid/runtime';
import { parseDuration, formatDuration } from '../duration.js';
import { formatNumber, keyLabels, matchesWhere, numberAt } from '../fields.js';
import type { RateOfChangeRuleSpec } from '../rules-schema.js';
import { unitOf } from './threshold.js';
import { linkOf, resourceOf, type EvalContext, type RuleEvaluator } from './types.js';

/**
 * Fires when the change between consecutive values of a key exceeds `maxChange`
 * (per `per` of event time when set), in the configured direction; clears on the next calm step.
 */
export class RateOfChangeEvaluator implements RuleEvaluator {
  readonly topics: string[];
  private readonly perMs: number | undefined;

  constructor(readonly spec: RateOfChangeRuleSpec) {
    this.topics = [spec.topic];
    this.perMs = spec.per === undefined ? undefined : parseDuration(spec.per);
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    if (!matchesWhere(record, this.spec.where)) return;
    const labels = keyLabels(record, this.spec.keyBy ?? []);
    const value = numberAt(record, this.spec.field);
    if (!labels || value === undefined) return;
    const k = JSON.stringify(labels);
    // State: the key's previous sample.
    const prev = ctx.state.get(k) as { at: number; value: number } | undefined;
    if (prev && at < prev.at) return; // out-of-order sample: the step it would make is meaningless
    ctx.state.put(k, { at, value });
    if (!prev) return;
    const id = { labels, resource: resourceOf(labels, this.spec.topic) };
    let change = value - prev.value;
    if (this.perMs !== undefined) {
      if (at === prev.at) return;
      change = (change * this.perMs) / (at - prev.at);
    }
    const direction = this.spec.direction ?? 'both';
    const breach =
      (direction !== 'down' && change > this.spec.maxChange) || (direction !== 'up' && change < -this.spec.maxChange);
    if (breach) {
      const unit = unitOf(record, this.spec.unit);
      const per = this.perMs !== undefined ? ` per ${formatDuration(this.perMs)}` : '';
      ctx.raise(id, {
        at,
        value: change,
        threshold: this.spec.maxChange,
        unit,
        source: linkOf(record),
        message: `${this.spec.field} of ${id.resource} changed by ${formatNumber(change)}${unit ? ` ${unit}` : ''}${per} (from ${formatNumber(prev.value)} to ${formatNumber(value)}), limit ${formatNumber(this.spec.maxChange)}`,
        vars: { previous: prev.value, current: value },
      });
    } else {
      ctx.clear(id, at, linkOf(record));
    }
  }
}
