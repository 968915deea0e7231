import { resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { EndOfInput, OptiBidError, defineSource, type OutRecord } from '@optibid/runtime';
import { readPriceCsv } from '@optibid/processors/forecast/index.js';
import { keyString } from '@optibid/schemas';

const HOUR = 3_600_000;

/** Parses `YYYY-MM-DD HH:MM[:SS]` as a UTC instant. */
function utcMs(stamp: string): number {
  const t = Date.parse(`${stamp.replace(' ', 'T').slice(0, 16)}:00Z`);
  if (Number.isNaN(t)) throw new OptiBidError('OPTIBID_ERR_DECODE', `bad timestamp "${stamp}"`);
  return t;
}

/**
 * `epf-replay`: replays an hourly day-ahead price CSV in the format of the EPF open benchmark
 * (`timestamp,Real price,...`) onto `market.prices`, and optionally the published forecast columns
 * onto `forecasts.prices`, in delivery order. Event time is the delivery hour (read as UTC).
 */
export const epfReplayDefinition = defineSource({
  name: 'epf-replay',
  status: 'experimental',
  summary: 'Replays an EPF-benchmark hourly price CSV onto market.prices (and its published forecasts onto forecasts.prices)',
  outputs: ['market.prices', 'forecasts.prices'],
  config: Type.Object(
    {
      file: Type.String({ description: 'CSV path (relative to the working directory)' }),
      market: Type.String({ default: 'NORDPOOL', description: 'market of the prices, upper case' }),
      area: Type.String({ default: 'SYS', description: 'bidding zone or system price area' }),
      currency: Type.String({ default: 'EUR', description: 'ISO 4217 currency of the prices' }),
      priceColumn: Type.String({ default: 'Real price', description: 'column holding the real price' }),
      forecastColumns: Type.Optional(
        Type.Record(Type.String(), Type.String(), { description: 'published forecast columns to replay, column name -> model name' }),
      ),
      batchSize: Type.Integer({ minimum: 1, default: 24, description: 'hours per batch' }),
    },
    { additionalProperties: false },
  ),
  create(cfg, ctx) {
    let records: OutRecord[] = [];
    let next = 0;
    const source = `replay:epf/${cfg.file.split('/').pop()}`;
    return {
      async connect() {
        const table = readPriceCsv(resolve(cfg.file), cfg.priceColumn);
        const key = keyString({ market: cfg.market, area: cfg.area });
        const forecasts = Object.entries(cfg.forecastColumns ?? {});
        for (const [column] of forecasts) {
          if (!table.columns[column]) throw new OptiBidError('OPTIBID_ERR_CONFIG', `${cfg.file}: no column "${column}"`);
        }
        records = [];
        table.timestamps.forEach((stamp, i) => {
          const deliveryStart = utcMs(stamp);
          const common = { market: cfg.market, area: cfg.area, product: 'DAY_AHEAD', deliveryStart, intervalMinutes: 60, currency: cfg.currency, energyUnit: 'MWH' };
          // Published day-ahead forecasts are issued at noon the day before delivery.
          const dayStart = deliveryStart - (deliveryStart % (24 * HOUR));
          for (const [column, model] of forecasts) {
            const price = table.columns[column]![i]!;
            if (Number.isNaN(price)) continue;
            records.push({
              topic: 'forecasts.prices',
              key,
              timestamp: deliveryStart,
              value: { ...common, issuedAt: dayStart - 12 * HOUR, model, modelVersion: null, price, quantiles: [] },
            });
          }
          const price = table.prices[i]!;
          if (Number.isNaN(price)) return;
          records.push({
            topic: 'market.prices',
            key,
            timestamp: deliveryStart,
            value: { ...common, price, volumeMwh: null, publishedAt: null, ingestedAt: ctx.clock.now(), source },
          });
        });
        next = 0;
      },
      async read() {
        if (next >= records.length) throw new EndOfInput();
        const per = 1 + Object.keys(cfg.forecastColumns ?? {}).length;
        const batch = records.slice(next, next + cfg.batchSize * per);
        next += batch.length;
        return { records: batch, ack: async () => {} };
      },
      async close() {},
    };
  },
});
