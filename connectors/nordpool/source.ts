import { Type, type Static } from '@sinclair/typebox';
import { defineSource, type ComponentContext } from '@optibid/runtime';
import { pollingConfig, PollingSource, type PollingDeps, type PollingFeed } from '../common/poller.js';
import { parseNordpool } from './parse.js';

export const nordpoolConfig = Type.Object(
  {
    areas: Type.Array(Type.String(), {
      minItems: 1,
      description: 'Delivery areas (index names): SE1, SE3, FI, NO1, DK1, ...',
    }),
    currency: Type.Optional(
      Type.String({ default: 'EUR', description: 'Currency of the prices: EUR, SEK, NOK, DKK, ...' }),
    ),
    resolutionMinutes: Type.Optional(
      Type.Union([Type.Literal(15), Type.Literal(30), Type.Literal(60)], {
        default: 60,
        description: 'Price resolution: 15 (the day-ahead MTU since 1 Oct 2025) or 60 (hourly averages).',
      }),
    ),
    baseUrl: Type.Optional(
      Type.String({
        default: 'https://dataportal-api.nordpoolgroup.com/api/DayAheadPriceIndices',
        description: 'Data Portal endpoint.',
      }),
    ),
    ...pollingConfig,
  },
  { additionalProperties: false },
);
export type NordpoolConfig = Static<typeof nordpoolConfig>;

/** The Nord Pool feed: one request per delivery day for all areas. */
export function nordpoolFeed(cfg: NordpoolConfig): PollingFeed {
  const resolution = cfg.resolutionMinutes ?? 60;
  return {
    name: 'nordpool',
    timeZone: 'Europe/Oslo',
    windows(date) {
      const q = new URLSearchParams({
        currency: cfg.currency ?? 'EUR',
        market: 'DayAhead',
        date,
        resolutionInMinutes: String(resolution),
        indexNames: cfg.areas.join(','),
      });
      const id = `${cfg.areas.join(',')}|${resolution}|${date}`;
      return [
        {
          id,
          date,
          request: {
            url: `${cfg.baseUrl ?? 'https://dataportal-api.nordpoolgroup.com/api/DayAheadPriceIndices'}?${q}`,
            label: `nordpool ${id}`,
          },
        },
      ];
    },
    parse: (p, now) => parseNordpool(p, { now }),
  };
}

export const nordpoolSource = defineSource({
  name: 'nordpool',
  status: 'beta',
  summary:
    'Nord Pool Data Portal day-ahead prices (15 or 60 minutes, several areas), polled until published, with backfill and resume.',
  outputs: ['market.prices'],
  config: nordpoolConfig,
  create: (cfg, ctx) => new PollingSource(nordpoolFeed(cfg), cfg, ctx),
});

export function createNordpoolSource(cfg: NordpoolConfig, ctx: ComponentContext, deps: PollingDeps): PollingSource {
  return new PollingSource(nordpoolFeed(cfg), cfg, ctx, deps);
}
