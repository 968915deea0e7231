import { ChangelogStore, VirtualClock, endpointsFromEnv, type ProcessContext } from '@optibid/runtime';
import pg from 'pg';
import { createPriceForecaster } from './processor.js';
import { ModelRegistry } from './registry.js';
import { readPriceCsv } from './table.js';

const url = endpointsFromEnv().postgresUrl;
const schema = `fc_reg_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;

describe('ModelRegistry on the local PostgreSQL', () => {
  let registry: ModelRegistry;
  beforeAll(async () => {
    registry = await ModelRegistry.open(url, { schema });
  });
  afterAll(async () => {
    await registry.close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`DROP SCHEMA ${schema} CASCADE`);
    await c.end();
  });

  it('records each version the streaming forecaster issues, newest first, idempotently', async () => {
    const table = readPriceCsv(new URL('./fixtures/np-2017h1.csv', import.meta.url).pathname, 'Real price');
    const HOUR = 3_600_000;
    const midnight = (d: string) => Date.parse(`${d}T00:00:00Z`) - HOUR;
    const clock = new VirtualClock(midnight(table.days[0]) - 48 * HOUR);
    const ctx: ProcessContext = { emit: () => {}, state: new ChangelogStore(), clock, watermark: -Infinity };
    const p = createPriceForecaster(
      { market: 'NORDPOOL', area: 'SYS', model: 'naive-daily' },
      { onIssue: (i) => registry.record({ ...i, trainedAt: i.issuedAt, params: { window: 1 }, metrics: {} }) },
    );
    for (let i = 0; i < 4; i++) {
      clock.set(midnight(table.days[i]) - 12.5 * HOUR); // 11:30 on day i-1: issue time for day i
      await p.onWatermark!(clock.now(), ctx);
      clock.set(midnight(table.days[i]) - 11 * HOUR); // 13:00: day i's auction prices arrive
      for (let h = 0; h < 24; h++) {
        const value = {
          market: 'NORDPOOL',
          area: 'SYS',
          product: 'DAY_AHEAD',
          deliveryStart: midnight(table.days[i]) + h * HOUR,
          intervalMinutes: 60,
          price: table.prices[i * 24 + h],
        };
        await p.process({ topic: 'market.prices', key: null, value, timestamp: clock.now() }, ctx);
      }
    }
    // Day 3 ran at 13:00 on day 2, from day 0..2 -> version naive-daily@day2.
    const versions = await registry.versions('NORDPOOL', 'SYS', 'naive-daily');
    expect(versions.map((v) => v.modelVersion)).toEqual([
      `naive-daily@${table.days[2]}`,
      `naive-daily@${table.days[1]}`,
      `naive-daily@${table.days[0]}`,
    ]);
    expect(versions[0]).toMatchObject({
      trainingFrom: table.days[0],
      trainingTo: table.days[2],
      params: { window: 1 },
    });

    await registry.record({ ...versions[0], metrics: { mae: 2.5, rmae: 0.5 } });
    const again = await registry.versions('NORDPOOL', 'SYS', 'naive-daily');
    expect(again).toHaveLength(3);
    expect(again[0].metrics).toEqual({ mae: 2.5, rmae: 0.5 });
    expect(again[0].trainedAt).toBe(versions[0].trainedAt);
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    await expect(ModelRegistry.open(url, { schema: 'x; drop table y' })).rejects.toThrow(/lower-case SQL identifier/);
  });
});
