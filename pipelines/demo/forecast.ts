import { Type } from '@sinclair/typebox';
import { OptiBidError, defineProcessor } from '@optibid/runtime';
import { createModel, forecastModels, type DayAheadModel } from '@optibid/processors/forecast/index.js';

const DAY = 86_400_000;

interface History {
  /** Complete past days, oldest first (at most `historyDays`). */
  days: string[];
  prices: number[][];
  /** The day being filled. */
  current: { date: string; values: Array<number | null> } | null;
}

interface PriceValue {
  market: string;
  area: string;
  deliveryStart: number;
  intervalMinutes: number;
  price: number;
  currency: string;
}

/**
 * `demo-forecast`: a streaming day-ahead forecaster over `market.prices`. It keeps each key's recent
 * whole days in keyed state; when a delivery day is complete it runs a model of processors/forecast
 * (`default`, `naive-daily`, `naive-weekly`, ...) for the next day and emits one `forecasts.prices`
 * record per interval.
 */
export const demoForecastDefinition = defineProcessor({
  name: 'demo-forecast',
  status: 'experimental',
  summary: 'Day-ahead price forecast per key from the whole days seen so far, with a processors/forecast model',
  config: Type.Object(
    {
      model: Type.String({ default: 'default', description: `forecast model: ${forecastModels.join(', ')}` }),
      historyDays: Type.Integer({
        minimum: 1,
        default: 28,
        description: 'whole days kept in state per key (at least what the model needs)',
      }),
    },
    { additionalProperties: false },
  ),
  create(cfg) {
    const models = new Map<string, DayAheadModel>();
    const modelFor = (key: string) => {
      let m = models.get(key);
      if (!m) models.set(key, (m = createModel(cfg.model)));
      return m;
    };
    createModel(cfg.model); // fail at start on an unknown model name
    return {
      async process(r, ctx) {
        const v = r.value as PriceValue;
        if (
          typeof v?.price !== 'number' ||
          typeof v.deliveryStart !== 'number' ||
          typeof v.intervalMinutes !== 'number'
        ) {
          throw new OptiBidError(
            'OPTIBID_ERR_RECORD',
            'a market.prices record needs numeric price, deliveryStart and intervalMinutes',
          );
        }
        const key = r.key ?? '';
        const perDay = (24 * 60) / v.intervalMinutes;
        const dayStart = v.deliveryStart - (((v.deliveryStart % DAY) + DAY) % DAY);
        const date = new Date(dayStart).toISOString().slice(0, 10);
        const slot = Math.round((v.deliveryStart - dayStart) / (v.intervalMinutes * 60_000));
        const h = (ctx.state.get(key) as History | undefined) ?? { days: [], prices: [], current: null };
        if (h.current && h.current.date !== date) h.current = null; // a gap: the partial day is dropped
        if (!h.current) h.current = { date, values: Array.from({ length: perDay }, () => null) };
        h.current.values[slot] = v.price;
        if (h.current.values.every((x) => x !== null)) {
          h.days.push(date);
          h.prices.push(h.current.values as number[]);
          h.current = null;
          const model = modelFor(key);
          if (h.days.length > Math.max(cfg.historyDays, model.minHistoryDays)) {
            h.days.shift();
            h.prices.shift();
          }
          if (h.days.length >= model.minHistoryDays) {
            const target = dayStart + DAY;
            const forecast = await model.forecastDay({
              history: Float64Array.from(h.prices.flat()),
              historyDays: [...h.days],
              targetDate: new Date(target).toISOString().slice(0, 10),
              perDay,
            });
            const issuedAt = dayStart + DAY; // the day's last price is known once the day has ended (event time)
            forecast.forEach((price, i) => {
              const deliveryStart = target + i * v.intervalMinutes * 60_000;
              ctx.emit({
                key: r.key,
                timestamp: deliveryStart,
                value: {
                  market: v.market,
                  area: v.area,
                  product: 'DAY_AHEAD',
                  deliveryStart,
                  intervalMinutes: v.intervalMinutes,
                  issuedAt,
                  model: model.name,
                  modelVersion: null,
                  price,
                  currency: v.currency,
                  energyUnit: 'MWH',
                  quantiles: [],
                },
              });
            });
          }
        }
        ctx.state.put(key, h);
      },
    };
  },
});
