import { join } from 'node:path';
import { createNordpoolSource } from './source.js';
import { FixtureServer } from '../common/fixture-server.js';
import { MemoryOffsetStore } from '../common/offsets.js';
import { VirtualSleeper } from '../common/timer.js';
import { testContext } from '../common/testing.js';
import { readCassette } from '../common/recorded.js';
import type { MarketPrice } from '../common/records.js';

const fx = (f: string) => readCassette(join(import.meta.dirname, 'fixtures', f))[0];

test('live polling: "not yet published" is polled again until the prices appear', async () => {
  const notYet = fx('prices_not_available.yaml');
  const published = fx('single_area_15min.yaml');
  let asked = 0;
  const server = new FixtureServer((url) => {
    const date = url.searchParams.get('date');
    // The auction result "appears" after two polls have seen nothing for 2025-05-07.
    if (date === '2025-05-07' && ++asked > 2)
      return { status: 200, headers: { 'content-type': 'application/json' }, body: published.body };
    return { status: 200, headers: { 'content-type': 'application/json' }, body: notYet.body };
  });
  const base = await server.start();
  try {
    const ctx = testContext({ now: Date.parse('2025-05-06T10:00:00Z') });
    const sleeper = new VirtualSleeper(ctx.clock);
    const src = createNordpoolSource(
      { areas: ['FI'], resolutionMinutes: 15, baseUrl: `${base}/api/DayAheadPriceIndices`, pollEveryMinutes: 10 },
      ctx,
      { offsets: new MemoryOffsetStore(), sleeper },
    );
    await src.connect();
    const batch = await src.read();
    expect(batch.records).toHaveLength(96);
    expect((batch.records[0].value as MarketPrice).deliveryStart).toBe(Date.parse('2025-05-06T22:00:00Z'));
    expect(server.requests.filter((u) => u.searchParams.get('date') === '2025-05-07')).toHaveLength(3);
    // three polls, ten minutes apart (plus rate-limit spacing within a poll)
    expect(ctx.clock.now() - Date.parse('2025-05-06T10:00:00Z')).toBe(20 * 60_000 + 2000);
    expect(
      server.requests.every(
        (u) => u.searchParams.get('indexNames') === 'FI' && u.searchParams.get('resolutionInMinutes') === '15',
      ),
    ).toBe(true);
  } finally {
    await server.stop();
  }
});
