import { Type } from '@sinclair/typebox';
import { defineProcessor } from '@optibid/runtime';
import { Duration, parseDuration } from './duration.js';
import { WhereConfig, windowAggregate, windowValueFields } from './window-aggregate.js';

/**
 * `rollup`: tumbling event-time bars (15 min, hourly, daily, ...) per key with OHLC, mean, min, max,
 * sum and count: the hourly and daily rollups of prices and telemetry. Windows align to UTC
 * midnight; `offset` shifts them (e.g. `-1h` is not allowed, use `23h` for CET delivery days).
 */
export const rollupDefinition = defineProcessor({
  name: 'rollup',
  status: 'beta',
  summary:
    'Tumbling event-time bars per key (e.g. hourly, daily) with open, high (max), low (min), close, mean, sum, count',
  config: Type.Object(
    {
      interval: Duration,
      field: Type.String({ description: 'dotted path of the numeric field, e.g. priceEurPerMwh' }),
      where: Type.Optional(WhereConfig),
      offset: Type.Optional(Duration),
      allowedLateness: Type.Optional(Duration),
      lateTopic: Type.Optional(
        Type.String({ description: 'where records later than the allowed lateness go (default: the DLQ)' }),
      ),
    },
    { additionalProperties: false },
  ),
  valueFields: windowValueFields,
  create: (cfg) =>
    windowAggregate({
      window: {
        type: 'tumbling',
        sizeMs: parseDuration(cfg.interval),
        offsetMs: cfg.offset === undefined ? 0 : parseDuration(cfg.offset),
      },
      field: cfg.field,
      where: cfg.where,
      allowedLatenessMs: cfg.allowedLateness === undefined ? 0 : parseDuration(cfg.allowedLateness),
      lateTopic: cfg.lateTopic,
    }),
});
