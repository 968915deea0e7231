import type { StreamRecord } from '@optibid/runtime';
import { parseDuration, formatDuration } from '../duration.js';
import { formatNumber, keyLabels, matchesWhere, numberAt } from '../fields.js';
import type { AnomalyRuleSpec } from '../rules-schema.js';
import { unitOf } from './threshold.js';
import { linkOf, resourceOf, type EvalContext, type RuleEvaluator } from './types.js';

function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Robust z-score of `x` against `sample`: 0.6745·(x − median)/MAD (Iglewicz & Hoaglin).
 * When MAD is 0 (over half the sample identical) it falls back to the mean absolute deviation
 * scaled by 1.2533; when that is 0 too, any departure from the median scores Infinity.
 */
export function robustZ(sample: number[], x: number): { z: number; median: number; mad: number } {
  const sorted = [...sample].sort((a, b) => a - b);
  const med = median(sorted);
  const deviations = sorted.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
  const mad = median(deviations);
  if (mad > 0) return { z: (0.6745 * (x - med)) / mad, median: med, mad };
  const meanAd = deviations.reduce((s, d) => s + d, 0) / deviations.length;
  if (meanAd > 0) return { z: (x - med) / (1.2533 * meanAd), median: med, mad };
  return { z: x === med ? 0 : x > med ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY, median: med, mad };
}

/** Scores each value against the rolling window of the same key's earlier values; fires while |z| > threshold. */
export class AnomalyEvaluator implements RuleEvaluator {
  readonly topics: string[];
  private readonly windowMs: number;

  constructor(readonly spec: AnomalyRuleSpec) {
    this.topics = [spec.topic];
    this.windowMs = parseDuration(spec.window) ?? 0;
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    if (!matchesWhere(record, this.spec.where)) return;
    const labels = keyLabels(record, this.spec.keyBy ?? []);
    const value = numberAt(record, this.spec.field);
    if (!labels || value === undefined) return;
    const k = JSON.stringify(labels);
    // State: the key's samples inside the window (a new array each time; the stored one is never mutated).
    const stored = (ctx.state.get(k) as Array<{ at: number; value: number }> | undefined) ?? [];
    const window = stored.filter((s) => s.at > at - this.windowMs && s.at <= at);
    const id = { labels, resource: resourceOf(labels, this.spec.topic) };
    const threshold = this.spec.threshold ?? 3.5;
    if (window.length >= (this.spec.minSamples ?? 10)) {
      const { z, median: med } = robustZ(
        window.map((s) => s.value),
        value,
      );
      if (Math.abs(z) > threshold) {
        const unit = unitOf(record, this.spec.unit);
        ctx.raise(id, {
          at,
          value,
          threshold,
          unit,
          source: linkOf(record),
          message: `${this.spec.field} of ${id.resource} is ${formatNumber(value)}${unit ? ` ${unit}` : ''}, robust z ${formatNumber(z)} against the ${formatDuration(this.windowMs)} median ${formatNumber(med)} (limit ±${formatNumber(threshold)})`,
          vars: { z: Number.isFinite(z) ? Math.round(z * 100) / 100 : String(z), median: med },
        });
      } else {
        ctx.clear(id, at, linkOf(record));
      }
    }
    window.push({ at, value });
    ctx.state.put(k, window);
  }
}
