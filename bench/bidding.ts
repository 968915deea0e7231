import { existsSync } from 'node:fs';
import { addDays, defaultModel, readPriceCsv } from '@optibid/processors/forecast/index.js';
import { backtestDays } from '@optibid/processors/bidding/backtest.js';
import { shapeBiasRules } from '@optibid/processors/bidding/shapebias.js';
import { BatteryOptimizer, defaultBattery, scheduleBattery } from '@optibid/processors/bidding/battery.js';
import { applyBenchOverrides, benchDefaultModel } from './forecast.js';
import { epfDataDir as dataDir, epfForecast, epfTables } from './index.js';

/** Captures the issue quotes, computed independently of this code (LEAR column; yesterday's prices for NP). */
const reference: Record<string, Record<string, number>> = {
  NP: { 'column:LEAR Ensemble': 0.854, 'naive-daily': 0.673 },
  PJM: { 'column:LEAR Ensemble': 0.905 },
  BE: { 'column:LEAR Ensemble': 0.82 },
};

/**
 * Battery backtest on the second year of each EPF market (1 MW / 2 MWh / 95 % / 95 %, empty at the
 * start and end of every day): capture of the `default` forecast model side by side with scheduling
 * on yesterday's prices and on the published LEAR Ensemble column, plus the hedged variant of
 * `default` and the cost of exact scheduling (cold solve vs warm-started re-optimisation). Where the market's
 * day-ahead fundamentals are shipped (bench/data/epf-exog), the `default` rows again with them as exogenous inputs
 * (`epfTables`; OPTIBID_BENCH_EXOG=off|only).
 */
export async function run(): Promise<void> {
  if (!existsSync(`${dataDir}/NP.csv`)) {
    console.log(`bidding: no EPF data at ${dataDir} (set OPTIBID_EPF_DIR); skipped`);
    return;
  }
  const candidate = benchDefaultModel();
  const override =
    applyBenchOverrides() + (candidate === 'default' ? '' : ` (override: ${candidate} in default's place)`);
  if (override) console.log(`bidding:${override}`);
  // [label, forecast model, backtest options]; `shapeBias: {}` schedules on the forecast corrected for its recent
  // intraday shape bias (ShapeBiasCorrector, default settings); `swing` also calibrates each hour's slope.
  const { swing } = shapeBiasRules;
  const models: [string, string, { hedge?: { riskAversion: number }; shapeBias?: object }][] = [
    [`default (${candidate === 'default' ? defaultModel : candidate})`, candidate, {}],
    ['default shape-corrected', candidate, { shapeBias: {} }],
    ['default swing-calibrated', candidate, { shapeBias: swing }],
    ['default hedged α=0.5', candidate, { hedge: { riskAversion: 0.5 } }],
    ["yesterday's prices", 'naive-daily', {}],
    ['LEAR Ensemble column', 'column:LEAR Ensemble', {}],
    ['LEAR column shape-corrected', 'column:LEAR Ensemble', { shapeBias: {} }],
    ['LEAR column swing-calibr.', 'column:LEAR Ensemble', { shapeBias: swing }],
    ['LEAR column hedged α=0.5', 'column:LEAR Ensemble', { hedge: { riskAversion: 0.5 } }],
  ];
  console.log(
    'market  model                              days  perfect_foresight    realized  capture  reference  seconds (forecast + schedule)',
  );
  for (const market of (process.env.OPTIBID_BENCH_MARKETS ?? 'NP,PJM,BE').split(','))
    for (const { table, exog } of epfTables(market)) {
      const evalFrom = addDays(table.days[0], 365);
      const captures: Record<string, number> = {};
      // With exogenous inputs only the forecast rows change: the reference rows are printed once, with the prices alone.
      const rows = exog.length > 0 ? models.filter(([label]) => label.startsWith('default')) : models;
      const tag = exog.length > 0 ? ' + exog' : '';
      for (const [label, model, opts] of rows) {
        const f = await epfForecast(market, table, model, evalFrom, label.startsWith('default') ? exog : []);
        const started = performance.now();
        const r = backtestDays(f.days, defaultBattery, { model, ...opts });
        const seconds = f.seconds + (performance.now() - started) / 1000;
        captures[label] = r.capture;
        const ref =
          reference[market][model] !== undefined && !opts.hedge && !opts.shapeBias
            ? reference[market][model].toFixed(3)
            : '';
        console.log(
          `${market.padEnd(6)}  ${label.replace(/^default/, `default${tag}`).padEnd(33)}  ${String(r.days).padStart(4)}  ${r.perfect_foresight.toFixed(1).padStart(17)}  ${r.realized.toFixed(1).padStart(10)}  ${r.capture.toFixed(4).padStart(7)}  ${ref.padStart(9)}  ${seconds.toFixed(1).padStart(7)}`,
        );
      }
      const lear =
        captures['LEAR Ensemble column'] ??
        backtestDays((await epfForecast(market, table, 'column:LEAR Ensemble', evalFrom)).days, defaultBattery).capture;
      const def = captures[models[0][0]];
      if (exog.length > 0) console.log(`${market.padEnd(6)}  exogenous inputs: ${exog.join(', ')}`);
      console.log(
        `${market.padEnd(6)}  default${tag} / LEAR column capture ratio: ${(def / lear).toFixed(3)} (target ≥ 1)`,
      );
      console.log(
        `${market.padEnd(6)}  default${tag} shape-corrected / LEAR column capture ratio: ${(captures['default shape-corrected'] / lear).toFixed(3)}; swing-calibrated: ${(captures['default swing-calibrated'] / lear).toFixed(3)}`,
      );
    }

  // Exact scheduling cost: a cold solve per day against warm-started re-optimisation, same prices.
  const table = readPriceCsv(`${dataDir}/BE.csv`, 'Real price');
  const days = table.days.length;
  const dayPrices = (d: number) => table.prices.subarray(d * 24, (d + 1) * 24);
  let t0 = performance.now();
  let cold = 0;
  for (let d = 0; d < days; d++) cold += scheduleBattery(dayPrices(d), defaultBattery).revenue;
  const coldMs = performance.now() - t0;
  const optimizer = new BatteryOptimizer(defaultBattery, 24);
  t0 = performance.now();
  let warm = 0;
  for (let d = 0; d < days; d++) warm += optimizer.schedule(dayPrices(d)).revenue;
  const warmMs = performance.now() - t0;
  console.log(
    `exact schedules of ${days} BE days: cold ${(coldMs / days).toFixed(2)} ms/day, warm ${(warmMs / days).toFixed(2)} ms/day, ` +
      `speed-up ${(coldMs / warmMs).toFixed(1)}x; revenues agree: ${Math.abs(cold - warm) < 1e-6 * Math.abs(cold)}`,
  );
}
