import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelinesDir, runDemo } from './run-demo.js';

describe('optibid demo', () => {
  it('replays the fixture, rolls up and forecasts, and reports the weekly-naive error computed from the CSV', async () => {
    const { summary, stats } = await runDemo();
    const rows = readFileSync(join(pipelinesDir(), 'fixtures/epf/NP-2018-09-03_2018-10-28.csv'), 'utf8').trim().split('\n').slice(1);
    const price = rows.map((r) => Number(r.split(',')[1]));
    const days = price.length / 24;
    expect(summary).toContain(`${price.length} prices in, ${price.length} hourly bars, ${days} daily bars`);
    const byName = Object.fromEntries(stats.map((s) => [s.name, s]));
    // weekly naive: the first forecast is for day 8 (after 7 whole days), one per later day incl. the day after the data
    expect(byName.forecast!.recordsOut).toBe((days - 7 + 1) * 24);
    // MAE of "same hour one week earlier" on days 8.. computed straight from the CSV
    let sum = 0;
    for (let t = 7 * 24; t < price.length; t++) sum += Math.abs(price[t]! - price[t - 7 * 24]!);
    const mae = sum / (price.length - 7 * 24);
    expect(summary).toMatch(new RegExp(`naive-weekly\\s+${mae.toFixed(2)}`));
    const last = rows[rows.length - 1]!.slice(0, 10);
    expect(summary).toContain(last);
  });
});
