import type { StreamRecord } from '@optibid/runtime';
import { fieldOf, formatNumber, keyLabels, numberAt, timeAt } from '../fields.js';
import type { ForecastBandRuleSpec } from '../rules-schema.js';
import { linkOf, resourceOf, type EvalContext, type RuleEvaluator, type SourceLink } from './types.js';

interface Band {
  issuedAt: number;
  point: number;
  lower: number;
  upper: number;
  model: string;
}

interface Realised {
  price: number;
  at: number;
  source: SourceLink;
  unit: string | null;
}

const keepMs = 7 * 86_400_000;
/** State writes between two scans that drop slots over `keepMs` older than the newest delivery. */
const pruneEvery = 10_000;

function quantile(record: StreamRecord, probability: number): number | undefined {
  const qs = fieldOf(record, 'quantiles');
  if (!Array.isArray(qs)) return undefined;
  const q = qs.find(
    (x) =>
      typeof x === 'object' &&
      x !== null &&
      Math.abs(Number((x as { probability: unknown }).probability) - probability) < 1e-9,
  );
  const price = q ? Number((q as { price: unknown }).price) : Number.NaN;
  return Number.isFinite(price) ? price : undefined;
}

/**
 * Joins forecasts (with quantiles) and realised prices on key and deliveryStart; fires when the realised
 * price leaves the forecast's own [lower, upper] quantile band (default P10–P90), clears on the next
 * interval inside its band. One alert per key and model.
 */
export class ForecastBandEvaluator implements RuleEvaluator {
  readonly topics: string[];
  // State: `b|<labels>|<deliveryStart>` → the newest forecast band, `p|<labels>|<deliveryStart>` → the realised price.
  private readonly keyBy: string[];
  private slotKeys = new Set<string>();
  private writes = 0;

  constructor(readonly spec: ForecastBandRuleSpec) {
    this.topics = [spec.forecastTopic ?? 'forecasts.prices', spec.priceTopic ?? 'market.prices'];
    this.keyBy = spec.keyBy ?? ['market', 'area'];
  }

  onRecord(record: StreamRecord, at: number, ctx: EvalContext): void {
    const labels = keyLabels(record, this.keyBy);
    const delivery = timeAt(record, 'deliveryStart');
    if (!labels || delivery === undefined) return;
    const slot = `${JSON.stringify(labels)}|${delivery}`;
    if (record.topic === this.topics[0]) {
      const model = String(fieldOf(record, 'model') ?? '');
      if (this.spec.model !== undefined && model !== this.spec.model) return;
      const point = numberAt(record, 'price');
      const lower = quantile(record, this.spec.lower ?? 0.1);
      const upper = quantile(record, this.spec.upper ?? 0.9);
      if (point === undefined || lower === undefined || upper === undefined) return;
      const issuedAt = timeAt(record, 'issuedAt') ?? at;
      const existing = ctx.state.get(`b|${slot}`) as Band | undefined;
      if (existing && existing.issuedAt > issuedAt) return;
      this.write(`b|${slot}`, { issuedAt, point, lower, upper, model }, ctx);
    } else {
      const price = numberAt(record, 'price');
      if (price === undefined) return;
      const currency = fieldOf(record, 'currency');
      const real: Realised = {
        price,
        at,
        source: linkOf(record),
        unit: typeof currency === 'string' ? `${currency}/MWh` : null,
      };
      this.write(`p|${slot}`, real, ctx);
    }
    const band = ctx.state.get(`b|${slot}`) as Band | undefined;
    const real = ctx.state.get(`p|${slot}`) as Realised | undefined;
    if (band && real) this.evaluate(labels, delivery, band, real, at, ctx);
    if (this.writes >= pruneEvery) this.prune(delivery, ctx);
  }

  restore(entries: Array<[string, unknown]>): void {
    this.slotKeys = new Set(entries.map(([k]) => k));
  }

  private write(key: string, value: Band | Realised, ctx: EvalContext): void {
    ctx.state.put(key, value);
    this.slotKeys.add(key);
    this.writes++;
  }

  private evaluate(
    labels: Record<string, string>,
    delivery: number,
    band: Band,
    real: { price: number; source: SourceLink; unit: string | null },
    at: number,
    ctx: EvalContext,
  ): void {
    const idLabels = band.model ? { ...labels, model: band.model } : labels;
    const id = { labels: idLabels, resource: resourceOf(labels, 'forecast') };
    const lowP = Math.round((this.spec.lower ?? 0.1) * 100);
    const highP = Math.round((this.spec.upper ?? 0.9) * 100);
    const outside = real.price < band.lower ? band.lower : real.price > band.upper ? band.upper : undefined;
    if (outside !== undefined) {
      const u = real.unit ? ` ${real.unit}` : '';
      ctx.raise(id, {
        at,
        value: real.price,
        threshold: outside,
        unit: real.unit,
        source: real.source,
        message: `${id.resource} realised ${formatNumber(real.price)}${u} for ${new Date(delivery).toISOString()} outside the ${band.model || 'forecast'} P${lowP}–P${highP} band [${formatNumber(band.lower)}, ${formatNumber(band.upper)}] (forecast ${formatNumber(band.point)}, error ${formatNumber(real.price - band.point)})`,
        vars: { forecast: band.point, lower: band.lower, upper: band.upper, error: real.price - band.point },
      });
    } else {
      ctx.clear(id, at, real.source);
    }
  }

  /** Forgets slots delivered over a week before the newest one seen (the keys are kept in memory, rebuilt on restore). */
  private prune(latestDelivery: number, ctx: EvalContext): void {
    this.writes = 0;
    for (const k of this.slotKeys) {
      if (Number(k.slice(k.lastIndexOf('|') + 1)) >= latestDelivery - keepMs) continue;
      ctx.state.delete(k);
      this.slotKeys.delete(k);
    }
  }
}
