import type { OutRecord } from '@optibid/runtime';
import { keyString } from '@optibid/schemas';
import type { MarketFundamental, MarketPrice, TelemetryReading } from '@optibid/schemas';

export type { MarketFundamental, MarketPrice, TelemetryReading };

/** Topic names the source connectors write. */
export const TOPICS = {
  prices: 'market.prices',
  fundamentals: 'market.fundamentals',
  telemetry: 'telemetry.readings',
} as const;

/** A normalized record: a topic and a value whose fields are exactly the topic's Avro value schema. */
export type NormalizedRecord =
  | { topic: typeof TOPICS.prices; value: MarketPrice }
  | { topic: typeof TOPICS.fundamentals; value: MarketFundamental }
  | { topic: typeof TOPICS.telemetry; value: TelemetryReading };

export function price(value: MarketPrice): NormalizedRecord {
  return { topic: TOPICS.prices, value };
}
export function fundamental(value: MarketFundamental): NormalizedRecord {
  return { topic: TOPICS.fundamentals, value };
}
export function reading(value: TelemetryReading): NormalizedRecord {
  return { topic: TOPICS.telemetry, value };
}

/**
 * The identity of the fact a record states: the same identity means the same fact, so a revision
 * replaces it (dedup and idempotent sinks use it). Processing-time fields are not part of it.
 */
export function factKey(rec: NormalizedRecord): string {
  switch (rec.topic) {
    case TOPICS.prices: {
      const v = rec.value;
      return `${v.source}|${v.market}|${v.area}|${v.product}|${v.intervalMinutes}|${v.deliveryStart}`;
    }
    case TOPICS.fundamentals: {
      const v = rec.value;
      return `${v.source}|${v.area}|${v.kind}|${v.basis}|${v.intervalMinutes}|${v.deliveryStart}`;
    }
    case TOPICS.telemetry: {
      const v = rec.value;
      return `${v.assetId}|${v.metric}|${v.observedAt}`;
    }
  }
}

/** The published content of a record (what a revision may change): value fields minus processing time. */
export function factContent(rec: NormalizedRecord): string {
  const { ...v } = rec.value as unknown as Record<string, unknown>;
  delete v.ingestedAt;
  delete v.receivedAt;
  delete v.publishedAt;
  return JSON.stringify(v);
}

/** The Kafka key of a record, per the topic's key schema (schemas/avro/<topic>-key.avsc), as keyString text. */
export function partitionKey(rec: NormalizedRecord): string {
  switch (rec.topic) {
    case TOPICS.prices:
      return keyString({ market: rec.value.market, area: rec.value.area });
    case TOPICS.fundamentals:
      return keyString({ area: rec.value.area, kind: rec.value.kind });
    case TOPICS.telemetry:
      return keyString({ assetId: rec.value.assetId });
  }
}

/** Event time of a record: delivery start for market data, observation time for telemetry. */
export function eventTime(rec: NormalizedRecord): number {
  return rec.topic === TOPICS.telemetry ? rec.value.observedAt : rec.value.deliveryStart;
}

/** A normalized record as a stream record (key per the key schema, timestamp = event time). */
export function toOutRecord(rec: NormalizedRecord, headers?: Record<string, string>): OutRecord {
  return {
    topic: rec.topic,
    key: partitionKey(rec),
    value: rec.value,
    timestamp: eventTime(rec),
    ...(headers ? { headers } : {}),
  };
}

/** JSON line of a record's value for `optibid connector decode`: exactly the Avro field names. */
export function toJsonLine(rec: NormalizedRecord): string {
  return JSON.stringify(rec.value);
}

/** Options every parser takes. */
export interface ParseOptions {
  /** Processing time stamped on records (ingestedAt / receivedAt), ms UTC. */
  now: number;
}
