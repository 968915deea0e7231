import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultModel, forecastModels, gbdtScaledOptions, mae } from '@optibid/processors/forecast/index.js';
import { epfForecast, epfHolidays, epfTables } from './index.js';

/**
 * OPTIBID_BENCH_GBDT_SCALED_RETRAIN=N (bench only, for trying a setting before it is adopted): `gbdt-scaled`
 * (a member of `default`) is retrained every N days instead of its configured `retrainEvery`. Applied before
 * any model is created; returns a note for the output, empty when unset.
 */
export function applyBenchOverrides(): string {
  const raw = process.env.OPTIBID_BENCH_GBDT_SCALED_RETRAIN;
  if (raw === undefined || raw === '') return '';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`OPTIBID_BENCH_GBDT_SCALED_RETRAIN must be a whole number of days ≥ 1, got "${raw}"`);
  }
  gbdtScaledOptions.retrainEvery = n;
  return ` (override: gbdt-scaled retrainEvery ${n})`;
}

/**
 * OPTIBID_BENCH_DEFAULT=NAME (bench only, for trying a candidate before it is adopted): the forecast model run in
 * `default`'s place by both the forecast and the bidding bench; the output's first line says so. Returns the model
 * name to run (`default` when unset).
 */
export function benchDefaultModel(): string {
  const name = process.env.OPTIBID_BENCH_DEFAULT;
  if (name === undefined || name === '' || name === 'default') return 'default';
  if (!forecastModels.includes(name)) {
    throw new Error(`OPTIBID_BENCH_DEFAULT must name a forecast model (${forecastModels.join(', ')}), got "${name}"`);
  }
  return name;
}

/**
 * EPF benchmark: on the second year of NP, PJM and BE (first timestamp + 365 days to the end), the MAE of
 * `default` (and of its members) divided by the MAE of the published `LEAR Ensemble` on the same hours,
 * using only the prices in the file, with the wall and CPU time of one market-year (one process); then, for the
 * markets whose day-ahead load/generation forecasts are shipped in bench/data/epf-exog (`epfTables`), the same with
 * them as exogenous inputs (OPTIBID_BENCH_EXOG=off|only).
 * Markets: OPTIBID_BENCH_MARKETS (default NP,PJM,BE); each with its holiday calendar (NORDIC, US, BE) unless
 * OPTIBID_BENCH_HOLIDAYS=off. `npm run bench -- forecast bidding` computes the forecasts once for both.
 * OPTIBID_BENCH_SAVE=DIR writes each market's
 * forecasts and member forecasts to DIR/<market>.json (DIR/<market>-exog.json with the exogenous inputs).
 */
export async function run(): Promise<void> {
  const model = benchDefaultModel();
  const override = applyBenchOverrides() + (model === 'default' ? '' : ` (override: ${model} in default's place)`);
  const markets = (process.env.OPTIBID_BENCH_MARKETS ?? 'NP,PJM,BE').split(',');
  console.log(
    `forecast benchmark: default = ${defaultModel}${override}; ratios = MAE / MAE(LEAR Ensemble) on the second year`,
  );
  for (const market of markets)
    for (const { table, exog } of epfTables(market)) {
      const evalFrom = table.days[365];
      const { days, seconds, cpuSeconds } = await epfForecast(market, table, model, evalFrom, exog);
      const save = process.env.OPTIBID_BENCH_SAVE;
      if (save) {
        const members = Object.fromEntries(
          Object.keys(days[0].members ?? {}).map((m) => [m, days.map((d) => d.members![m])]),
        );
        writeFileSync(
          `${save}/${market}${exog.length > 0 ? '-exog' : ''}.json`,
          JSON.stringify({
            days: days.map((d) => table.days.indexOf(d.date)),
            forecast: days.map((d) => d.forecast),
            members,
          }),
        );
      }
      const actual = days.flatMap((d) => d.actual);
      const rows = days.flatMap((d) => {
        const first = table.days.indexOf(d.date) * table.perDay;
        return d.actual.map((_, h) => first + h);
      });
      const ref = (col: string) =>
        mae(
          actual,
          rows.map((r) => table.columns[col][r]),
        );
      const learMae = ref('LEAR Ensemble');
      const naiveMae = mae(
        actual,
        rows.map((r) => table.prices[r - 7 * table.perDay]),
      );
      const suffix = exog.length > 0 ? ' + exog' : '';
      const line = (name: string, m: number) =>
        `  ${name.padEnd(22)} MAE ${m.toFixed(3).padStart(7)}  /LEAR-Ens ${(m / learMae).toFixed(3)}  rMAE ${(m / naiveMae).toFixed(3)}`;
      console.log(
        `${market}${exog.length > 0 ? ` with exogenous inputs (${exog.join(', ')})` : ''}: ${evalFrom} .. ${days[days.length - 1].date} (${days.length} days + 28 calibration days), holidays ${epfHolidays(market)?.code ?? 'none'}, wall ${seconds.toFixed(1)} s, CPU ${cpuSeconds.toFixed(1)} s (one process, single-threaded)`,
      );
      console.log(
        line(
          `default${suffix}`,
          mae(
            actual,
            days.flatMap((d) => d.forecast),
          ),
        ),
      );
      for (const member of Object.keys(days[0].members ?? {}))
        console.log(
          line(
            member,
            mae(
              actual,
              days.flatMap((d) => d.members![member]),
            ),
          ),
        );
      console.log(line('naive-weekly', naiveMae));
      console.log(line('LEAR Ensemble', learMae));
      console.log(line('DNN Ensemble', ref('DNN Ensemble')));
      let inside = 0;
      let n = 0;
      for (const d of days) {
        if (!d.q10 || !d.q90) continue;
        d.actual.forEach((a, h) => {
          n++;
          if (a >= d.q10![h] && a <= d.q90![h]) inside++;
        });
      }
      console.log(`  q10..q90 coverage ${((100 * inside) / n).toFixed(1)}% (nominal 80%)`);
    }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
