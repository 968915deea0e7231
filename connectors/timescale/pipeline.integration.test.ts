import { jest } from '@jest/globals';
import pg from 'pg';
import { MemoryTransport, arraySource, dlqHeaders, endpointsFromEnv, makeSpec } from '@optibid/runtime';
import type { OutRecord } from '@optibid/runtime';
import { timescaleSink } from './sink.js';
import { marketPriceRecords, runId } from './test-support.js';

jest.setTimeout(120_000);

test('in a pipeline on the runtime: a replayed topic is stored once per key, a poison record is dead-lettered', async () => {
  const url = endpointsFromEnv().postgresUrl;
  const schema = `t_pipe_${runId()}`;
  const prices = marketPriceRecords(2000).map(({ partition: _p, offset: _o, ...r }): OutRecord => r);
  const poison: OutRecord = { ...prices[0]!, value: { ...(prices[0]!.value as object), price: 'n/a' } };
  const transport = new MemoryTransport();
  const spec = makeSpec({
    name: 'store-prices',
    sources: [
      { name: 'replay', definition: arraySource('replay', [...prices, poison, ...prices], { batchSize: 500 }) },
    ],
    sinks: [
      {
        name: 'db',
        definition: timescaleSink,
        inputs: ['market.prices'],
        config: { dataset: 'market.prices', schema, migrate: true },
      },
    ],
  });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const run = await transport.start(spec, { untilIdle: true });
    await run.done;
    const stored = await client.query(
      `SELECT count(*) AS n, count(DISTINCT (market, area, product, delivery_start, interval_minutes)) AS k FROM ${schema}.market_prices`,
    );
    expect(Number(stored.rows[0].n)).toBe(2000);
    expect(Number(stored.rows[0].k)).toBe(2000);
    const dead = transport.broker.records('dlq.store-prices');
    // today's runtime dead-letters the whole batch of the poison record; its valid records are stored anyway
    expect(dead.length).toBeGreaterThanOrEqual(1);
    const poisoned = dead.filter((r) => (r.value as { price: unknown }).price === 'n/a');
    expect(poisoned).toHaveLength(1);
    expect(poisoned[0]!.headers).toMatchObject({
      [dlqHeaders.component]: 'db',
      [dlqHeaders.errorCode]: 'OPTIBID_ERR_DECODE',
    });
    expect(poisoned[0]!.headers![dlqHeaders.reason]).toMatch(/price must be a finite number/);
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
});
