import { Type, type Static } from '@sinclair/typebox';
import { defineSource, OptiBidError, type ComponentContext } from '@optibid/runtime';
import { pollingConfig, PollingSource, type PollingDeps, type PollingFeed, type FeedWindow } from '../common/poller.js';
import { secretFromEnv } from '../common/polled-source.js';
import { compactUtc, localDay } from '../common/time.js';
import { parseEntsoe } from './parse.js';
import { zoneEic } from './codes.js';

export const entsoeConfig = Type.Object(
  {
    areas: Type.Array(Type.String(), {
      minItems: 1,
      description: 'Bidding zones, by short name (BE, NL, DE-LU, SE3, ...) or EIC code (10YBE----------2).',
    }),
    documents: Type.Optional(
      Type.Array(
        Type.Object(
          {
            type: Type.Union(
              [Type.Literal('A44'), Type.Literal('A65'), Type.Literal('A69'), Type.Literal('A71'), Type.Literal('A75')],
              {
                description:
                  'A44 day-ahead prices, A65 total load, A69 wind and solar forecast, A71 generation forecast, A75 actual generation per type.',
              },
            ),
            processType: Type.Optional(
              Type.String({
                description:
                  'A01 day-ahead (default for forecasts), A16 realised (default for A75), A18 current, A31 week-ahead, A40 intraday.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        { default: [{ type: 'A44' }], description: 'Documents to fetch per area and delivery day.' },
      ),
    ),
    tokenEnv: Type.Optional(
      Type.String({
        default: 'ENTSOE_TOKEN',
        description:
          'Environment variable holding the Transparency Platform security token (secret; never put the token itself in config).',
      }),
    ),
    baseUrl: Type.Optional(Type.String({ default: 'https://web-api.tp.entsoe.eu/api', description: 'API endpoint.' })),
    market: Type.Optional(Type.String({ default: 'ENTSOE', description: 'Value of `market` on price records.' })),
    timeZone: Type.Optional(
      Type.String({
        default: 'Europe/Brussels',
        description: 'Time zone of delivery days (CET/CEST for the European day-ahead market).',
      }),
    ),
    ...pollingConfig,
  },
  { additionalProperties: false },
);
export type EntsoeConfig = Static<typeof entsoeConfig>;

const defaultProcess: Record<string, string | undefined> = {
  A44: undefined,
  A65: 'A01',
  A69: 'A01',
  A71: 'A01',
  A75: 'A16',
};

/** The ENTSO-E feed: one request per document, area and delivery day. */
export function entsoeFeed(cfg: EntsoeConfig, ctx: ComponentContext): PollingFeed {
  const tokenEnv = cfg.tokenEnv ?? 'ENTSOE_TOKEN';
  const token = secretFromEnv(ctx, tokenEnv);
  if (!token)
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `entsoe: the security token is missing: set the environment variable ${tokenEnv}`,
    );
  const timeZone = cfg.timeZone ?? 'Europe/Brussels';
  const docs = cfg.documents ?? [{ type: 'A44' as const }];
  return {
    name: 'entsoe',
    timeZone,
    windows(date: string): FeedWindow[] {
      const { start, end } = localDay(date, timeZone);
      return docs.flatMap((doc) =>
        cfg.areas.map((area) => {
          const eic = zoneEic(area);
          const q = new URLSearchParams({ securityToken: token, documentType: doc.type });
          const process = doc.processType ?? defaultProcess[doc.type];
          if (process) q.set('processType', process);
          if (doc.type === 'A44') {
            q.set('in_Domain', eic);
            q.set('out_Domain', eic);
          } else if (doc.type === 'A65') q.set('outBiddingZone_Domain', eic);
          else q.set('in_Domain', eic);
          q.set('periodStart', compactUtc(start));
          q.set('periodEnd', compactUtc(end));
          const id = `${doc.type}${process ? `/${process}` : ''}|${area}|${date}`;
          return {
            id,
            date,
            request: { url: `${cfg.baseUrl ?? 'https://web-api.tp.entsoe.eu/api'}?${q}`, label: `entsoe ${id}` },
          };
        }),
      );
    },
    parse: (p, now) => parseEntsoe(p, { now, market: cfg.market }),
  };
}

export const entsoeSource = defineSource({
  name: 'entsoe',
  status: 'beta',
  summary:
    'ENTSO-E Transparency Platform: day-ahead prices (A44), load (A65), wind/solar (A69) and generation (A71, A75), polled with backfill and resume.',
  outputs: ['market.prices', 'market.fundamentals'],
  config: entsoeConfig,
  create: (cfg, ctx) => new PollingSource(entsoeFeed(cfg, ctx), cfg, ctx),
});

/** For tests: the source with injected offsets and sleeper. */
export function createEntsoeSource(cfg: EntsoeConfig, ctx: ComponentContext, deps: PollingDeps): PollingSource {
  return new PollingSource(entsoeFeed(cfg, ctx), cfg, ctx, deps);
}
