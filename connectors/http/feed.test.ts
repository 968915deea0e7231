import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EndOfInput } from '@optibid/runtime';
import { loadFeed, runFeed, feedUrl } from './feed.js';
import { createHttpSource } from './source.js';
import { parseNordpool } from '../nordpool/parse.js';
import { createNordpoolSource } from '../nordpool/source.js';
import { readCassette } from '../common/recorded.js';
import { FixtureServer } from '../common/fixture-server.js';
import { MemoryOffsetStore } from '../common/offsets.js';
import { VirtualSleeper } from '../common/timer.js';
import { testContext } from '../common/testing.js';
import type { Payload } from '../common/payload.js';

const feedFile = join(import.meta.dirname, 'feeds/nordpool-dayahead.yaml');
const np = (f: string): string => join(import.meta.dirname, '../nordpool/fixtures', f);
const NOW = Date.parse('2026-01-01T00:00:00Z');

const payloads: [string, Payload][] = [
  ...['single_area_15min.yaml', 'multiple_area_hourly.yaml', 'prices_not_available.yaml'].map(
    (f): [string, Payload] => {
      const ex = readCassette(np(f))[0];
      return [f, { body: ex.body, status: ex.status, contentType: ex.headers['content-type'], where: f }];
    },
  ),
  ['delivery_period.json', { body: readFileSync(np('delivery_period.json'), 'utf8'), where: 'delivery_period.json' }],
];

describe('declarative HTTP feed re-implementing Nord Pool in YAML', () => {
  const feed = loadFeed(feedFile);

  test.each(payloads)('%s gives exactly the records and status of the TypeScript connector', async (_name, p) => {
    const ts = parseNordpool(p, { now: NOW });
    const yaml = await runFeed(feed, p, NOW);
    expect(yaml.status).toBe(ts.status);
    expect(yaml.records).toEqual(ts.records);
  });

  test('URL template: date placeholders and params', () => {
    expect(feedUrl(feed, '2025-05-07', {})).toBe(
      'https://dataportal-api.nordpoolgroup.com/api/DayAheadPriceIndices?date=2025-05-07&market=DayAhead&indexNames=SE1,SE2,SE3,SE4&currency=EUR&resolutionInMinutes=60',
    );
  });

  test('polled through a local server, the YAML source and the TypeScript source emit the same records', async () => {
    const ex = readCassette(np('multiple_area_hourly.yaml'))[0];
    const server = new FixtureServer(() => ({
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: ex.body,
    }));
    const base = await server.start();
    try {
      const run = async (
        make: (ctx: ReturnType<typeof testContext>) => {
          connect(): Promise<void>;
          read(): Promise<{ records: { value: unknown }[]; ack(): Promise<void> }>;
        },
      ) => {
        const ctx = testContext({ now: NOW });
        const src = make(ctx);
        await src.connect();
        const out: unknown[] = [];
        for (;;) {
          try {
            const b = await src.read();
            out.push(...b.records.map((r) => r.value));
            await b.ack();
          } catch (err) {
            if (err instanceof EndOfInput) return out;
            throw err;
          }
        }
      };
      const poll = { live: false, backfill: { from: '2025-05-07', to: '2025-05-07' } };
      const yamlText = readFileSync(feedFile, 'utf8').replace('https://dataportal-api.nordpoolgroup.com', base);
      const tmpFeed = join(import.meta.dirname, `.tmp-feed-${process.pid}.yaml`);
      const { writeFileSync, rmSync } = await import('node:fs');
      writeFileSync(tmpFeed, yamlText);
      try {
        const fromYaml = await run((ctx) =>
          createHttpSource({ feed: tmpFeed, ...poll }, ctx, {
            offsets: new MemoryOffsetStore(),
            sleeper: new VirtualSleeper(ctx.clock),
          }),
        );
        const fromTs = await run((ctx) =>
          createNordpoolSource(
            { areas: ['SE1', 'SE2', 'SE3', 'SE4'], baseUrl: `${base}/api/DayAheadPriceIndices`, ...poll },
            ctx,
            { offsets: new MemoryOffsetStore(), sleeper: new VirtualSleeper(ctx.clock) },
          ),
        );
        expect(fromYaml).toHaveLength(96);
        expect(fromYaml).toEqual(fromTs);
        const params = (u: URL): [string, string][] => [...u.searchParams.entries()].sort();
        expect(params(server.requests[0])).toEqual(params(server.requests[1]));
      } finally {
        rmSync(tmpFeed, { force: true });
      }
    } finally {
      await server.stop();
    }
  });
});

describe('feed validation names file:line:col', () => {
  const base = readFileSync(feedFile, 'utf8');
  const err = (text: string): string => {
    try {
      loadFeed('feed.yaml', text);
    } catch (e) {
      return (e as Error).message;
    }
    return 'loaded';
  };

  test('unknown key, unknown field, missing required field, bad JSONata, bad format', () => {
    expect(err(base.replace('format: json', 'formt: json'))).toMatch(/^feed\.yaml:\d+:1: unknown key "formt"/);
    expect(err(base.replace('  price: price', '  prise: price'))).toMatch(
      /^feed\.yaml:\d+:3: "prise" is not a field of market\.prices/,
    );
    expect(err(base.replace('  market: "\'NORDPOOL\'"\n', ''))).toMatch(
      /^feed\.yaml:\d+:\d+: no mapping for required field\(s\) market/,
    );
    expect(err(base.replace('  area: area', '  area: area[')).replace(/\n.*/s, '')).toMatch(
      /^feed\.yaml:\d+:9: JSONata expression does not parse/,
    );
    expect(err(base.replace('format: json', 'format: pdf'))).toMatch(/format "pdf" is not one of json, xml, csv, zip/);
    expect(err('topic: [')).toMatch(/^feed\.yaml:1:\d+: invalid YAML/);
  });

  test('the reported line is the line of the offending key', () => {
    const text = base.replace('format: json', 'formt: json');
    const line = text.split('\n').findIndex((l) => l.startsWith('formt:')) + 1;
    expect(err(text)).toMatch(new RegExp(`^feed\\.yaml:${line}:1:`));
  });

  test('secrets come from the environment', () => {
    const f = loadFeed(
      'feed.yaml',
      base
        .replace('Accept: application/json', 'Authorization: "Bearer ${NP_TOKEN}"')
        .replace('date={date}', 'date={date}&key=${NP_KEY}'),
    );
    expect(() => feedUrl(f, '2025-05-07', {})).toThrow(/environment variable NP_KEY is not set/);
    expect(feedUrl(f, '2025-05-07', { NP_KEY: 'k1' })).toContain('&key=k1');
  });
});
