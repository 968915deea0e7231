import { Type, type Static } from '@sinclair/typebox';
import { defineSource, OptiBidError, type ComponentContext } from '@optibid/runtime';
import { pollingConfig, PollingSource, type PollingDeps, type PollingFeed } from '../common/poller.js';
import { secretFromEnv } from '../common/polled-source.js';
import { parseIex } from './parse.js';

export const iexConfig = Type.Object(
  {
    url: Type.String({
      description:
        'Trade-data endpoint given with your IEX data subscription, with placeholders {date} (dd-mm-yyyy) and {isoDate} (yyyy-mm-dd), e.g. https://.../GetTradeData?segment=DAM&fromDate={date}&toDate={date}.',
    }),
    segment: Type.Optional(
      Type.Union([Type.Literal('DAM'), Type.Literal('GDAM'), Type.Literal('HPDAM'), Type.Literal('RTM')], {
        default: 'DAM',
        description: 'Market segment the endpoint returns.',
      }),
    ),
    areas: Type.Optional(
      Type.Boolean({ default: true, description: 'Emit each bid area (A1 ... W3) as well as All-India.' }),
    ),
    tokenEnv: Type.Optional(
      Type.String({
        description: 'Environment variable holding the API token, sent as `Authorization: Bearer <token>` (secret).',
      }),
    ),
    ...pollingConfig,
  },
  { additionalProperties: false },
);
export type IexConfig = Static<typeof iexConfig>;

export function iexFeed(cfg: IexConfig, ctx: ComponentContext): PollingFeed {
  const token = secretFromEnv(ctx, cfg.tokenEnv);
  if (cfg.tokenEnv && !token)
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `iex: the API token is missing: set the environment variable ${cfg.tokenEnv}`,
    );
  return {
    name: 'iex',
    timeZone: 'Asia/Kolkata',
    windows(date) {
      const [y, m, d] = date.split('-');
      const url = cfg.url.replaceAll('{date}', `${d}-${m}-${y}`).replaceAll('{isoDate}', date);
      const id = `${cfg.segment ?? 'DAM'}|${date}`;
      return [
        {
          id,
          date,
          request: { url, label: `iex ${id}`, headers: token ? { authorization: `Bearer ${token}` } : undefined },
        },
      ];
    },
    parse: (p, now) => {
      const res = parseIex(p, { now, segment: cfg.segment, areas: cfg.areas });
      return { status: res.records.length ? 'ok' : 'not-published', records: res.records, warnings: res.warnings };
    },
  };
}

export const iexSource = defineSource({
  name: 'iex',
  status: 'experimental',
  summary:
    'IEX India market clearing prices and volumes (DAM, GDAM, HPDAM, RTM): 96 IST blocks a day, All-India and each bid area, ₹/MWh.',
  outputs: ['market.prices'],
  config: iexConfig,
  create: (cfg, ctx) => new PollingSource(iexFeed(cfg, ctx), cfg, ctx),
});

export function createIexSource(cfg: IexConfig, ctx: ComponentContext, deps: PollingDeps): PollingSource {
  return new PollingSource(iexFeed(cfg, ctx), cfg, ctx, deps);
}
