import { fileURLToPath } from 'node:url';
import { parsePriceCsv, readPriceCsv, type DayForecast } from '../forecast/index.js';
import { backtestBattery, backtestDays, captureUndefinedReason } from './backtest.js';
import { defaultBattery, scheduleBattery, settle } from './battery.js';

const table = readPriceCsv(fileURLToPath(new URL('./fixtures/be-2016-02.csv', import.meta.url)), 'Real price');

describe('battery backtest', () => {
  it('schedules each day on its forecast and settles at the real prices (protocol check by hand)', async () => {
    const r = await backtestBattery({
      table,
      model: 'column:LEAR Ensemble',
      evalFrom: '2016-02-10',
      evalTo: '2016-02-14',
      battery: defaultBattery,
    });
    expect(r.days).toBe(5);
    let pf = 0;
    let realized = 0;
    for (let d = table.days.indexOf('2016-02-10'); d <= table.days.indexOf('2016-02-14'); d++) {
      const actual = table.prices.subarray(d * 24, (d + 1) * 24);
      const forecast = table.columns['LEAR Ensemble'].subarray(d * 24, (d + 1) * 24);
      pf += scheduleBattery(actual, defaultBattery).revenue;
      realized += settle(scheduleBattery(forecast, defaultBattery), actual);
    }
    expect(r.perfect_foresight).toBeCloseTo(pf, 6);
    expect(r.realized).toBeCloseTo(realized, 6);
    expect(r.capture).toBeCloseTo(realized / pf, 9);
    for (const d of r.daily) expect(d.realized).toBeLessThanOrEqual(d.perfectForesight + 1e-9);
  });

  it('hands --exog columns to the forecast model: a day-ahead load forecast that moves the peak is used', async () => {
    // 70 days whose evening peak moves at random from day to day, following a known load forecast; prices lagged
    // by a day cannot tell where today's peak is, the load forecast of the day can.
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const rows = ['timestamp,Real price,Load forecast'];
    for (let d = 0; d < 70; d++) {
      const peak = 6 + Math.floor(rand() * 15);
      const date = new Date(Date.UTC(2021, 0, 4 + d)).toISOString().slice(0, 10);
      for (let h = 0; h < 24; h++) {
        const load = 1000 + 600 * Math.exp(-((h - peak) ** 2) / 3) + 40 * rand();
        rows.push(
          `${date} ${String(h).padStart(2, '0')}:00:00,${(0.05 * load - 20 + 2 * rand()).toFixed(2)},${load.toFixed(0)}`,
        );
      }
    }
    const synthetic = parsePriceCsv(rows.join('\n'), 'Real price', 'synthetic.csv');
    const run = (exog?: string[]) =>
      backtestBattery({
        table: synthetic,
        model: 'lear',
        evalFrom: synthetic.days[56]!,
        battery: defaultBattery,
        ...(exog ? { exog } : {}),
      });
    const [without, withLoad] = await Promise.all([run(), run(['Load forecast'])]);
    expect(withLoad.perfect_foresight).toBeCloseTo(without.perfect_foresight, 9);
    expect(without.capture).toBeLessThan(0.6);
    expect(withLoad.capture).toBeGreaterThan(0.9);
  });

  it('the hedged variant trades no more energy than the point schedule', () => {
    const days: DayForecast[] = [0, 1, 2, 3].map((d) => {
      const actual = Array.from(table.prices.subarray(d * 24, (d + 1) * 24));
      const forecast = Array.from(table.columns['DNN Ensemble'].subarray(d * 24, (d + 1) * 24));
      return {
        date: table.days[d],
        timestamps: [],
        actual,
        forecast,
        q10: forecast.map((v) => v - 10),
        q50: forecast,
        q90: forecast.map((v) => v + 10),
      };
    });
    const point = backtestDays(days, defaultBattery);
    const hedged = backtestDays(days, defaultBattery, { hedge: { riskAversion: 1 } });
    const volume = (r: typeof point) => r.daily.reduce((s, d) => s + d.chargedMwh, 0);
    expect(volume(hedged)).toBeLessThan(volume(point));
    expect(hedged.perfect_foresight).toBeCloseTo(point.perfect_foresight, 9);
    expect(() => backtestDays([], defaultBattery)).toThrow(/no days/);
  });
  it('capture is undefined (NaN, with a reason), not 0, when perfect foresight earns nothing', async () => {
    const r = await backtestBattery({
      table,
      model: 'naive-daily',
      evalFrom: '2016-02-10',
      evalTo: '2016-02-12',
      battery: { ...defaultBattery, maxCyclesPerDay: 0 },
    });
    expect(r.perfect_foresight).toBe(0);
    expect(r.realized).toBe(0);
    expect(r.capture).toBeNaN();
    expect(captureUndefinedReason(r)).toMatch(/nothing to capture/);
    const normal = await backtestBattery({
      table,
      model: 'naive-daily',
      evalFrom: '2016-02-10',
      evalTo: '2016-02-12',
      battery: defaultBattery,
    });
    expect(captureUndefinedReason(normal)).toBeUndefined();
  });
});
