import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EndOfInput } from '@optibid/runtime';
import { createEntsoeSource, entsoeSource } from './source.js';
import { FixtureServer, type CannedResponse } from '../common/fixture-server.js';
import { MemoryOffsetStore } from '../common/offsets.js';
import { VirtualSleeper } from '../common/timer.js';
import { testContext } from '../common/testing.js';
import { readCassette } from '../common/recorded.js';
import type { MarketPrice } from '../common/records.js';

const dir = join(import.meta.dirname, 'fixtures');
const be60 = readFileSync(join(dir, 'BE_60M.xml'), 'utf8');
const ack200 = readCassette(join(dir, 'market_121d_intraday_prices_DE_LU.yml'))[0];
const xml = (body: string): CannedResponse => ({ status: 200, headers: { 'content-type': 'text/xml' }, body });
const noData: CannedResponse = xml(ack200.body);
const env = { ENTSOE_TOKEN: 'test-token-123' };

async function drain(source: {
  read(): Promise<{ records: { value: unknown }[]; ack(err?: Error): Promise<void> }>;
}): Promise<MarketPrice[]> {
  const out: MarketPrice[] = [];
  for (;;) {
    try {
      const batch = await source.read();
      out.push(...batch.records.map((r) => r.value as MarketPrice));
      await batch.ack();
    } catch (err) {
      if (err instanceof EndOfInput) return out;
      throw err;
    }
  }
}

describe('ENTSO-E polling source against recorded responses on a local server', () => {
  let server: FixtureServer;
  let responses: Record<string, CannedResponse | CannedResponse[]>;
  let base: string;

  beforeEach(async () => {
    responses = {};
    server = new FixtureServer((url) => responses[url.searchParams.get('periodStart') ?? ''] ?? noData);
    base = `${await server.start()}/api`;
  });
  afterEach(() => server.stop());

  test('backfill two delivery days, then a restart resumes without fetching them again', async () => {
    responses['202410072200'] = xml(be60);
    const offsets = new MemoryOffsetStore();
    const ctx = testContext({ env, now: Date.parse('2024-10-10T00:00:00Z') });
    const cfg = { areas: ['BE'], baseUrl: base, live: false, backfill: { from: '2024-10-08', to: '2024-10-09' } };
    const first = createEntsoeSource(cfg, ctx, { offsets, sleeper: new VirtualSleeper(ctx.clock) });
    await first.connect();
    const recs = await drain(first);
    expect(recs).toHaveLength(24);
    expect(recs[0]).toMatchObject({
      area: 'BE',
      deliveryStart: Date.parse('2024-10-07T22:00Z'),
      price: 64.98,
      ingestedAt: ctx.clock.now() - 2000,
    });
    expect(
      server.requests.map((u) => [
        u.searchParams.get('periodStart'),
        u.searchParams.get('periodEnd'),
        u.searchParams.get('in_Domain'),
        u.searchParams.get('securityToken'),
      ]),
    ).toEqual([
      ['202410072200', '202410082200', '10YBE----------2', 'test-token-123'],
      ['202410082200', '202410092200', '10YBE----------2', 'test-token-123'],
    ]);
    expect([...offsets.data.get('entsoe/test')!.keys()]).toEqual(['A44|BE|2024-10-08', 'A44|BE|2024-10-09']);

    const again = createEntsoeSource(cfg, ctx, { offsets, sleeper: new VirtualSleeper(ctx.clock) });
    await again.connect();
    expect(await drain(again)).toEqual([]);
    expect(again.stats.skippedByOffset).toBe(2);
    expect(server.requests).toHaveLength(2);
  });

  test('429 with Retry-After and 503 are retried with the advertised and the exponential delay', async () => {
    responses['202410072200'] = [
      { status: 429, headers: { 'retry-after': '7' }, body: 'slow down' },
      { status: 503, body: '' },
      xml(be60),
    ];
    const ctx = testContext({ env });
    const sleeper = new VirtualSleeper(ctx.clock);
    const src = createEntsoeSource(
      { areas: ['BE'], baseUrl: base, live: false, backfill: { from: '2024-10-08', to: '2024-10-08' } },
      ctx,
      { offsets: new MemoryOffsetStore(), sleeper },
    );
    await src.connect();
    expect(await drain(src)).toHaveLength(24);
    expect(server.requests).toHaveLength(3);
    expect(sleeper.sleeps).toEqual([7000, 4000]);
  });

  test('rate limit spaces requests evenly in virtual time', async () => {
    const ctx = testContext({ env });
    const sleeper = new VirtualSleeper(ctx.clock);
    const src = createEntsoeSource(
      {
        areas: ['BE', 'NL'],
        baseUrl: base,
        live: false,
        requestsPerMinute: 6,
        backfill: { from: '2024-10-08', to: '2024-10-09' },
      },
      ctx,
      { offsets: new MemoryOffsetStore(), sleeper },
    );
    await src.connect();
    await drain(src);
    expect(server.requests).toHaveLength(4);
    expect(sleeper.sleeps).toEqual([10000, 10000, 10000]);
    expect(ctx.clock.now()).toBe(30000);
  });

  test('live polling: a re-published identical document emits nothing, a revision emits only the changed prices', async () => {
    const revised = be60
      .replace('<price.amount>64.98</price.amount>', '<price.amount>70.01</price.amount>')
      .replace('<price.amount>100</price.amount>', '<price.amount>101.5</price.amount>');
    responses['202410072200'] = [xml(be60), xml(be60), xml(revised)];
    const ctx = testContext({ env, now: Date.parse('2024-10-07T12:00:00Z') });
    const src = createEntsoeSource({ areas: ['BE'], baseUrl: base, pollEveryMinutes: 15 }, ctx, {
      offsets: new MemoryOffsetStore(),
      sleeper: new VirtualSleeper(ctx.clock),
    });
    await src.connect();
    const b1 = await src.read();
    expect(b1.records).toHaveLength(24);
    await b1.ack();
    const b2 = await src.read();
    expect(b2.records.map((r) => (r.value as MarketPrice).price)).toEqual([70.01, 101.5]);
    expect(b2.records.map((r) => r.key)).toEqual(['ENTSOE|BE', 'ENTSOE|BE']);
    expect(src.stats.duplicates).toBe(24 + 22);
    // Three polls, 15 minutes apart, each fetching today (no data) and tomorrow.
    expect(ctx.clock.now()).toBe(Date.parse('2024-10-07T12:30:02Z')); // + 2 s rate-limit spacing
    expect(server.requests).toHaveLength(6);
  });

  test('an HTML page with HTTP 200 and an unexpected content type fail their windows; the backfill ends naming them', async () => {
    responses['202410072200'] = {
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: '<!DOCTYPE html><html><head><title>Maintenance</title></head></html>',
    };
    responses['202410082200'] = { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
    const ctx = testContext({ env });
    const src = createEntsoeSource(
      { areas: ['BE'], baseUrl: base, live: false, backfill: { from: '2024-10-08', to: '2024-10-09' } },
      ctx,
      { offsets: new MemoryOffsetStore(), sleeper: new VirtualSleeper(ctx.clock) },
    );
    await src.connect();
    await expect(src.read()).rejects.toThrow(
      /2 window\(s\) failing: A44\|BE\|2024-10-08: .*HTML page with HTTP 200.*Maintenance.*A44\|BE\|2024-10-09: .*unexpected content type "application\/json"/,
    );
  });

  test('the token must come from the environment', () => {
    const ctx = testContext({ env: {} });
    expect(() => entsoeSource.create({ areas: ['BE'] }, ctx)).toThrow(/set the environment variable ENTSOE_TOKEN/);
  });
});
