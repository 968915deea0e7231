import type { StreamRecord } from '@optibid/runtime';
import { fieldOf, formatNumber, keyLabels, matchesWhere, numberAt } from '../fields.js';
import type { DeviceLimitsRuleSpec } from '../rules-schema.js';
import { unitOf } from './threshold.js';
import { linkOf, resourceOf, type EvalContext, type RuleEvaluator } from './types.js';

/**
 * Battery and device limits on telemetry readings (one metric per record): state of charge outside
 * [min, max] and |power| above the asset's rating. Each limit is its own alert (label `limit`:
 * soc-low, soc-high, power) and clears on the next reading of that metric back inside.
 */
export class DeviceLimitsEvaluator implements RuleEvaluator {
  readonly topics: string[];
  private readonly keyBy: string[];

  constructor(readonly spec: DeviceLimitsRuleSpec) {
    this.topics = [spec.topic];
    this.keyBy = spec.keyBy ?? ['assetId'];
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    if (!matchesWhere(record, this.spec.where)) return;
    const labels = keyLabels(record, this.keyBy);
    const value = numberAt(record, this.spec.field ?? 'value');
    const metric = fieldOf(record, this.spec.metricField ?? 'metric');
    if (!labels || value === undefined) return;
    const resource = resourceOf(labels, this.spec.topic);
    const unit = unitOf(record, this.spec.unit);
    const u = unit ? ` ${unit}` : '';
    const check = (limit: string, holds: boolean, threshold: number, text: string) => {
      const id = { labels: { ...labels, limit }, resource };
      if (holds)
        ctx.raise(id, {
          at,
          value,
          threshold,
          unit,
          source: linkOf(record),
          message: `${resource} ${text}: ${formatNumber(value)}${u} (limit ${formatNumber(threshold)}${u})`,
        });
      else ctx.clear(id, at, linkOf(record));
    };
    const { soc, power } = this.spec;
    if (soc && metric === soc.metric) {
      if (soc.min !== undefined) check('soc-low', value < soc.min, soc.min, 'state of charge below minimum');
      if (soc.max !== undefined) check('soc-high', value > soc.max, soc.max, 'state of charge above maximum');
    }
    if (power && metric === power.metric) {
      const asset = labels[Object.keys(labels)[0]];
      const rating = power.ratings?.[asset] ?? power.rating;
      if (rating !== undefined) check('power', Math.abs(value) > rating, rating, 'power above rating');
    }
  }
}
