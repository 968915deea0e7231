import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndOfInput, type OutRecord } from '@optibid/runtime';
import { ReplaySource, type ReplayConfig } from './source.js';
import { testContext } from '../common/testing.js';
import { VirtualSleeper } from '../common/timer.js';
import { parseNordpool } from '../nordpool/parse.js';
import { readCassette } from '../common/recorded.js';
import { toJsonLine, type MarketPrice } from '../common/records.js';

const csv = join(import.meta.dirname, 'fixtures/epf-be-2015-01-04.csv');
const mapping =
  '{"market": "EPEX", "area": "BE", "product": "DAY_AHEAD", "deliveryStart": $instant(timestamp, "Europe/Brussels"), "intervalMinutes": 60, "price": `Real price`, "currency": "EUR", "source": "replay:epf/BE.csv"}';

async function all(src: ReplaySource): Promise<OutRecord[][]> {
  const batches: OutRecord[][] = [];
  for (;;) {
    try {
      const b = await src.read();
      batches.push(b.records);
      await b.ack();
    } catch (err) {
      if (err instanceof EndOfInput) return batches;
      throw err;
    }
  }
}

describe('replay source', () => {
  test('CSV at full speed, mapped by JSONata onto market.prices with every Avro field', async () => {
    const ctx = testContext({ now: 5 });
    const src = new ReplaySource({ file: csv, topic: 'market.prices', mapping, batchSize: 20 }, ctx);
    await src.connect();
    const batches = await all(src);
    expect(batches.map((b) => b.length)).toEqual([20, 20, 8]);
    const recs = batches.flat().map((r) => r.value as MarketPrice);
    const rows = readFileSync(csv, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    expect(recs.map((r) => r.price)).toEqual(rows.map((r) => Number(r[1])));
    expect(recs[0]).toEqual({
      market: 'EPEX',
      area: 'BE',
      product: 'DAY_AHEAD',
      deliveryStart: Date.parse('2015-01-03T23:00:00Z'),
      intervalMinutes: 60,
      price: 36.26,
      currency: 'EUR',
      energyUnit: 'MWH',
      volumeMwh: null,
      publishedAt: null,
      ingestedAt: 5,
      source: 'replay:epf/BE.csv',
    });
    expect(ctx.clock.now()).toBe(5); // full speed: no waiting
  });

  test('time-scaled: 3600x releases one hourly record per virtual second', async () => {
    const ctx = testContext({ now: 0 });
    const sleeper = new VirtualSleeper(ctx.clock);
    const src = new ReplaySource({ file: csv, topic: 'market.prices', mapping, speed: 3600 }, ctx, { sleeper });
    await src.connect();
    const batches = await all(src);
    expect(batches).toHaveLength(48);
    expect(sleeper.sleeps.every((s) => s === 1000)).toBe(true);
    expect(ctx.clock.now()).toBe(47_000);
  });

  test('JSONL with Avro field names needs no mapping; bad lines go to the dead-letter topic with file:line', async () => {
    const ex = readCassette(join(import.meta.dirname, '../nordpool/fixtures/multiple_area_hourly.yaml'))[0];
    const lines = parseNordpool({ body: ex.body, where: 'np' }, { now: 1 }).records.slice(0, 5).map(toJsonLine);
    lines.splice(
      2,
      0,
      '{"market": "NORDPOOL", "area": "SE1"',
      JSON.stringify({ ...JSON.parse(lines[0]), price: 'nan' }),
      JSON.stringify({ ...JSON.parse(lines[0]), prcie: 1 }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'replay-'));
    const file = join(dir, 'prices.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    const cfg: ReplayConfig = { file, topic: 'market.prices' };
    const src = new ReplaySource(cfg, testContext({ name: 'rp' }));
    await src.connect();
    const recs = (await all(src)).flat();
    const good = recs.filter((r) => r.topic === 'market.prices');
    const dlq = recs.filter((r) => r.topic === 'dlq.replay');
    expect(good).toHaveLength(5);
    expect(good[0].value).toEqual(JSON.parse(lines[0]));
    expect(dlq.map((d) => d.headers!.reason)).toEqual([
      expect.stringMatching(/^prices\.jsonl:3: invalid JSON line/),
      expect.stringMatching(/^prices\.jsonl:4: price "nan" is not a finite number/),
      expect.stringMatching(/^prices\.jsonl:5: field\(s\) prcie are not in the market\.prices schema/),
    ]);
    expect(dlq[0].headers).toMatchObject({ line: '3', component: 'rp', 'source-topic': 'market.prices' });
  });

  test('a missing file is a config error', async () => {
    await expect(
      new ReplaySource({ file: '/nope.csv', topic: 'market.prices' }, testContext()).connect(),
    ).rejects.toThrow(/does not exist/);
  });
});
