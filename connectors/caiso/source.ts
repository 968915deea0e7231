import { Type, type Static } from '@sinclair/typebox';
import { defineSource, type ComponentContext } from '@optibid/runtime';
import { pollingConfig, PollingSource, type PollingDeps, type PollingFeed } from '../common/poller.js';
import { localDay } from '../common/time.js';
import { parseCaiso } from './parse.js';

export const caisoConfig = Type.Object(
  {
    query: Type.Optional(
      Type.Union([Type.Literal('SLD_FCST'), Type.Literal('PRC_LMP')], {
        default: 'SLD_FCST',
        description: 'OASIS report: SLD_FCST (load forecasts and actuals) or PRC_LMP (locational marginal prices).',
      }),
    ),
    marketRunIds: Type.Optional(
      Type.Array(Type.String(), {
        default: ['DAM'],
        description: 'MARKET_RUN_ID values, e.g. DAM, RTM, ACTUAL, 7DA (one request each).',
      }),
    ),
    nodes: Type.Optional(
      Type.Array(Type.String(), { description: 'Pricing nodes for PRC_LMP, e.g. TH_SP15_GEN-APND.' }),
    ),
    baseUrl: Type.Optional(
      Type.String({ default: 'http://oasis.caiso.com/oasisapi/SingleZip', description: 'OASIS SingleZip endpoint.' }),
    ),
    ...pollingConfig,
  },
  { additionalProperties: false },
);
export type CaisoConfig = Static<typeof caisoConfig>;

/** OASIS wants yyyyMMddTHH:mm-0000 in GMT. */
function oasisParam(ms: number): string {
  const s = new Date(ms).toISOString();
  return `${s.slice(0, 4)}${s.slice(5, 7)}${s.slice(8, 10)}T${s.slice(11, 16)}-0000`;
}

export function caisoFeed(cfg: CaisoConfig): PollingFeed {
  const query = cfg.query ?? 'SLD_FCST';
  return {
    name: 'caiso',
    timeZone: 'America/Los_Angeles',
    windows(date) {
      const { start, end } = localDay(date, 'America/Los_Angeles');
      return (cfg.marketRunIds ?? ['DAM']).map((run) => {
        const q = new URLSearchParams({
          queryname: query,
          market_run_id: run,
          startdatetime: oasisParam(start),
          enddatetime: oasisParam(end),
          version: '1',
          resultformat: '6',
        });
        if (query === 'PRC_LMP' && cfg.nodes?.length) q.set('node', cfg.nodes.join(','));
        const id = `${query}|${run}|${date}`;
        return {
          id,
          date,
          request: { url: `${cfg.baseUrl ?? 'http://oasis.caiso.com/oasisapi/SingleZip'}?${q}`, label: `caiso ${id}` },
        };
      });
    },
    parse: (p, now) => parseCaiso(p, { now }),
  };
}

export const caisoSource = defineSource({
  name: 'caiso',
  status: 'beta',
  summary:
    'CAISO OASIS SingleZip reports: load forecasts and actuals (SLD_FCST) and LMPs (PRC_LMP), including the OASIS error zip.',
  outputs: ['market.prices', 'market.fundamentals'],
  config: caisoConfig,
  create: (cfg, ctx) => new PollingSource(caisoFeed(cfg), { requestsPerMinute: 12, ...cfg }, ctx),
});

export function createCaisoSource(cfg: CaisoConfig, ctx: ComponentContext, deps: PollingDeps): PollingSource {
  return new PollingSource(caisoFeed(cfg), cfg, ctx, deps);
}
