import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultBattery, scheduleBattery, settle } from '@optibid/processors/bidding/index.js';
import { pipelinesDir, runDemo } from './run-demo.js';

describe('optibid demo', () => {
  it('replays the fixture, rolls up and forecasts, and reports the weekly-naive error computed from the CSV', async () => {
    const { summary, stats } = await runDemo();
    const rows = readFileSync(join(pipelinesDir(), 'fixtures/epf/NP-2018-09-03_2018-10-28.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1);
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

    // Forecast -> bid signal: the exact battery schedule on the streamed weekly-naive forecast of days 8..56,
    // settled at the real prices, recomputed here from the CSV alone.
    const dayPrices = (d: number) => price.slice(d * 24, d * 24 + 24);
    let realised = 0;
    let perfect = 0;
    for (let d = 7; d < days; d++) {
      realised += settle(scheduleBattery(dayPrices(d - 7), defaultBattery), dayPrices(d));
      perfect += scheduleBattery(dayPrices(d), defaultBattery).revenue;
    }
    expect(summary).toMatch(
      new RegExp(
        `naive-weekly\\s+[-\\d.]+\\s+${realised.toFixed(2)}\\s+${perfect.toFixed(2)}\\s+${(realised / perfect).toFixed(3)}`,
      ),
    );
    // The day after the replay is bid on its forecast: the same hours one week earlier.
    const next = scheduleBattery(dayPrices(days - 7), defaultBattery);
    expect(summary).toContain(`(naive-weekly forecast, expected ${next.revenue.toFixed(2)} EUR)`);
    const trades = [...next.netMw].map((n, h) => [h, n] as const).filter(([, n]) => Math.abs(n) >= 1e-6);
    expect(trades.length).toBeGreaterThan(0);
    for (const [h, n] of trades) {
      expect(summary).toMatch(
        new RegExp(
          `${String(h).padStart(2, '0')}:00\\s+[\\d.]+\\s+${n > 0 ? 'SELL' : 'BUY'}\\s+${Math.abs(n).toFixed(2)}`,
        ),
      );
    }
  });
});
