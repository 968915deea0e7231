import { existsSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { defineSource, OptiBidError, type ComponentContext } from '@optibid/runtime';
import {
  pollingConfig,
  PollingSource,
  type PollingDeps,
  type PollingFeed,
  type ParsedWindow,
} from '../common/poller.js';
import type { Payload } from '../common/payload.js';
import { expandEnv, feedUrl, loadFeed, runFeed, type DeclarativeFeed } from './feed.js';

export const httpConfig = Type.Object(
  {
    feed: Type.String({
      description:
        'Path of the feed YAML: request (URL template with {date}, {startCompact}, ... and ${ENV} secrets, headers, params), format (json, xml, csv, zip), status, records and one JSONata expression per Avro field of the topic.',
    }),
    ...pollingConfig,
  },
  { additionalProperties: false },
);
export type HttpConfig = Static<typeof httpConfig>;

/**
 * The polling feed of a declarative YAML feed. JSONata evaluation is asynchronous, while the poller's
 * parse is synchronous, so parsing is wrapped: `parse` returns a thenable that the poller awaits.
 */
export function httpFeed(
  feed: DeclarativeFeed,
  ctx: ComponentContext,
): PollingFeed & { parseAsync(p: Payload, now: number, date: string): Promise<ParsedWindow> } {
  const headers = Object.fromEntries(
    Object.entries(feed.headers).map(([k, v]) => [k, expandEnv(v, ctx.env, `${feed.file}: request.headers.${k}`)]),
  );
  return {
    name: `http:${feed.name}`,
    timeZone: feed.timeZone,
    windows: (date) => [
      { id: date, date, request: { url: feedUrl(feed, date, ctx.env), headers, label: `${feed.name} ${date}` } },
    ],
    parse: () => {
      throw new OptiBidError('OPTIBID_ERR_CONFIG', 'declarative feeds parse asynchronously');
    },
    parseAsync: (p, now, date) => runFeed(feed, p, now, date),
  };
}

export function createHttpSource(cfg: HttpConfig, ctx: ComponentContext, deps?: PollingDeps): PollingSource {
  if (!existsSync(cfg.feed)) throw new OptiBidError('OPTIBID_ERR_CONFIG', `http: feed file ${cfg.feed} does not exist`);
  return new PollingSource(httpFeed(loadFeed(cfg.feed), ctx), cfg, ctx, deps);
}

export const httpSource = defineSource({
  name: 'http',
  status: 'beta',
  summary:
    'Declarative HTTP feed from YAML: URL template, headers and auth from the environment, json/xml/csv/zip, JSONata field mappings onto an Avro topic; no TypeScript.',
  outputs: ['market.prices', 'market.fundamentals', 'telemetry.readings'],
  config: httpConfig,
  create: (cfg, ctx) => createHttpSource(cfg, ctx),
});
