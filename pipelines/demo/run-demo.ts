import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryTransport, systemClock, type ComponentStats, type Logger, type StreamRecord } from '@optibid/runtime';
import { readPriceCsv } from '@optibid/processors/forecast/index.js';
import { defaultBattery, scheduleBattery, settle, type Battery } from '@optibid/processors/bidding/index.js';
import { loadPipelineOrThrow } from '../loader.js';

/** The published benchmark forecast shown beside the streamed model (read from the same CSV). */
const publishedColumn = 'LEAR Ensemble';
const publishedModel = 'lear-ensemble-published';

/** The pipelines/ folder (sources and YAML), found from this module in the sources or in dist/. */
export function pipelinesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'demo.yaml'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find pipelines/demo.yaml');
}

export interface DemoResult {
  summary: string;
  stats: ComponentStats[];
  elapsedMs: number;
}

interface Bar {
  windowStart: number;
  count: number;
  mean: number;
  min: number;
  max: number;
  open: number;
  close: number;
}

/** Runs pipelines/demo.yaml on the memory transport until its input is replayed, and summarises it. */
export async function runDemo(opts: { logger?: Logger; pricesFile?: string } = {}): Promise<DemoResult> {
  const dir = pipelinesDir();
  const pricesFile = opts.pricesFile ?? join(dir, 'fixtures', 'epf', 'NP-2018-09-03_2018-10-28.csv');
  const pipeline = loadPipelineOrThrow(join(dir, 'demo.yaml'), {
    env: { ...process.env, OPTIBID_DEMO_PRICES: pricesFile },
  });
  const transport = new MemoryTransport();
  const started = performance.now();
  const run = await transport.start(pipeline.spec, { untilIdle: true, clock: systemClock, logger: opts.logger });
  await run.done;
  const elapsedMs = performance.now() - started;
  const b = transport.broker;
  const summary = summarise({
    pricesFile: relative(process.cwd(), pricesFile) || pricesFile,
    prices: b.records('market.prices'),
    hourly: b.records('prices.hourly'),
    daily: b.records('prices.daily'),
    forecasts: [...b.records('forecasts.prices'), ...publishedForecasts(pricesFile)],
    deadLetters: b.records('dlq.demo'),
    elapsedMs,
  });
  return { summary, stats: run.stats(), elapsedMs };
}

/** The benchmark's published LEAR ensemble forecast for each hour, as forecast records (hours read as UTC). */
function publishedForecasts(file: string): StreamRecord[] {
  const table = readPriceCsv(file, 'Real price');
  const column = table.columns[publishedColumn];
  if (!column) return [];
  const out: StreamRecord[] = [];
  table.timestamps.forEach((stamp, i) => {
    const deliveryStart = Date.parse(`${stamp.replace(' ', 'T').slice(0, 16)}:00Z`);
    const price = column[i]!;
    if (Number.isNaN(deliveryStart) || Number.isNaN(price)) return;
    out.push({
      topic: 'forecasts.prices',
      key: null,
      timestamp: deliveryStart,
      value: { model: publishedModel, deliveryStart, price },
    });
  });
  return out;
}

const day = (t: number) => new Date(t).toISOString().slice(0, 10);
const num = (x: number, w = 7) => x.toFixed(2).padStart(w);

/** The readable summary `optibid demo` prints. */
export function summarise(d: {
  pricesFile: string;
  prices: StreamRecord[];
  hourly: StreamRecord[];
  daily: StreamRecord[];
  forecasts: StreamRecord[];
  deadLetters: StreamRecord[];
  elapsedMs: number;
}): string {
  const actual = new Map<number, number>();
  for (const r of d.prices) {
    const v = r.value as { deliveryStart: number; price: number };
    actual.set(v.deliveryStart, v.price);
  }
  const times = [...actual.keys()].sort((a, b) => a - b);
  const lines: string[] = [];
  const first = d.prices[0]?.value as { market?: string; area?: string; currency?: string } | undefined;
  lines.push(
    `OptiBid demo: ${first?.market ?? '?'} ${first?.area ?? '?'} day-ahead prices (${first?.currency ?? '?'}/MWh), ${times.length ? `${day(times[0]!)} to ${day(times[times.length - 1]!)}` : 'no data'}`,
  );
  lines.push(`replayed from ${d.pricesFile} on the memory transport in ${(d.elapsedMs / 1000).toFixed(2)} s`);
  // The published column is read from the CSV for comparison; only the rest came out of the pipeline.
  const published = d.forecasts.filter((r) => (r.value as { model?: string }).model === publishedModel).length;
  lines.push(
    `${d.prices.length} prices in, ${d.hourly.length} hourly bars, ${d.daily.length} daily bars, ${d.forecasts.length - published} forecasts, ${d.deadLetters.length} dead letters` +
      (published ? ` (+${published} published ${publishedColumn} values read from the CSV)` : ''),
  );
  lines.push('');
  lines.push('Daily bars, last 7 delivery days');
  lines.push(
    `${'day'.padEnd(10)} ${'mean'.padStart(7)} ${'low'.padStart(7)} ${'high'.padStart(7)} ${'open'.padStart(7)} ${'close'.padStart(7)}  hours`,
  );
  for (const r of d.daily.slice(-7)) {
    const v = r.value as Bar;
    lines.push(
      `${day(v.windowStart)} ${num(v.mean)} ${num(v.min)} ${num(v.max)} ${num(v.open)} ${num(v.close)}  ${v.count}`,
    );
  }
  const byModel = new Map<string, Array<[number, number]>>();
  for (const r of d.forecasts) {
    const v = r.value as { model: string; deliveryStart: number; price: number };
    const list = byModel.get(v.model) ?? [];
    list.push([v.deliveryStart, v.price]);
    byModel.set(v.model, list);
  }
  // Compare the models on the hours every one of them forecast and whose price is known.
  const models = [...byModel.keys()].sort();
  const common = times.filter((t) => models.every((m) => byModel.get(m)!.some(([ts]) => ts === t)));
  if (models.length) {
    lines.push('');
    lines.push(
      `Day-ahead forecast error on the ${common.length / 24} days every model covers (MAE, ${first?.currency ?? ''}/MWh)`,
    );
    for (const m of models) {
      const f = new Map(byModel.get(m)!);
      const errors = common.map((t) => Math.abs(f.get(t)! - actual.get(t)!));
      const mae = errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length);
      lines.push(`${m.padEnd(28)} ${num(mae)}`);
    }
    lines.push(...batterySection(byModel, actual, first?.currency ?? ''));
  }
  return lines.join('\n');
}

/** Whole days (24 hourly values, by UTC date) of an hour → price list. */
function wholeDays(points: Iterable<[number, number]>): Map<string, number[]> {
  const days = new Map<string, number[]>();
  for (const [t, p] of points) {
    const d = day(t);
    const list = days.get(d) ?? Array.from({ length: 24 }, () => NaN);
    list[new Date(t).getUTCHours()] = p;
    days.set(d, list);
  }
  for (const [d, list] of days) if (list.some((p) => Number.isNaN(p))) days.delete(d);
  return days;
}

/**
 * Forecast → bid signal: the exact battery schedule (processors/bidding `scheduleBattery`) on each
 * model's day-ahead forecast, settled at the real prices, against perfect foresight; then the bid
 * signals for the day after the replay, which only the streamed forecast covers.
 */
function batterySection(
  byModel: Map<string, Array<[number, number]>>,
  actual: Map<number, number>,
  currency: string,
  battery: Battery = defaultBattery,
): string[] {
  const real = wholeDays(actual);
  const forecastDays = new Map([...byModel].map(([m, points]) => [m, wholeDays(points)]));
  const models = [...forecastDays.keys()].sort();
  const days = [...real.keys()].filter((d) => models.every((m) => forecastDays.get(m)!.has(d))).sort();
  const lines: string[] = [''];
  lines.push(
    `Battery ${battery.powerMw} MW / ${battery.energyMwh} MWh (${battery.chargeEfficiency * 100} % each way, empty at midnight): exact schedule on each forecast, settled at real prices (${currency}) on ${days.length} days`,
  );
  lines.push(
    `${'model'.padEnd(28)} ${'expected'.padStart(9)} ${'realised'.padStart(9)} ${'perfect'.padStart(9)}  capture`,
  );
  let perfect = 0;
  for (const d of days) perfect += scheduleBattery(real.get(d)!, battery).revenue;
  for (const m of models) {
    let expected = 0;
    let realised = 0;
    for (const d of days) {
      const schedule = scheduleBattery(forecastDays.get(m)!.get(d)!, battery);
      expected += schedule.revenue;
      realised += settle(schedule, real.get(d)!);
    }
    lines.push(
      `${m.padEnd(28)} ${num(expected, 9)} ${num(realised, 9)} ${num(perfect, 9)}  ${(realised / perfect).toFixed(3)}`,
    );
  }
  // Bid signals for the first forecast day without real prices yet: what the desk would submit next.
  for (const m of models) {
    const next = [...forecastDays.get(m)!.keys()].filter((d) => !real.has(d)).sort()[0];
    if (!next) continue;
    const forecast = forecastDays.get(m)!.get(next)!;
    const schedule = scheduleBattery(forecast, battery);
    lines.push('');
    lines.push(
      `Bid signals for ${next} (${m} forecast, expected ${schedule.revenue.toFixed(2)} ${currency}); other hours HOLD`,
    );
    lines.push(`${'hour'.padEnd(5)} ${'forecast'.padStart(8)}  side  ${'MW'.padStart(5)}  ${'SoC MWh'.padStart(7)}`);
    for (let h = 0; h < 24; h++) {
      const net = schedule.netMw[h]!;
      if (Math.abs(net) < 1e-6) continue;
      lines.push(
        `${String(h).padStart(2, '0')}:00 ${num(forecast[h]!, 8)}  ${net > 0 ? 'SELL' : 'BUY '}  ${Math.abs(net).toFixed(2).padStart(5)}  ${schedule.socMwh[h]!.toFixed(2).padStart(7)}`,
      );
    }
  }
  return lines;
}
