import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryTransport, systemClock, type ComponentStats, type Logger, type StreamRecord } from '@optibid/runtime';
import { loadPipelineOrThrow } from '../loader.js';

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
  const pipeline = loadPipelineOrThrow(join(dir, 'demo.yaml'), { env: { ...process.env, OPTIBID_DEMO_PRICES: pricesFile } });
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
    forecasts: b.records('forecasts.prices'),
    deadLetters: b.records('dlq.demo'),
    elapsedMs,
  });
  return { summary, stats: run.stats(), elapsedMs };
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
  lines.push(
    `${d.prices.length} prices in, ${d.hourly.length} hourly bars, ${d.daily.length} daily bars, ${d.forecasts.length} forecasts, ${d.deadLetters.length} dead letters`,
  );
  lines.push('');
  lines.push('Daily bars, last 7 delivery days');
  lines.push(`${'day'.padEnd(10)} ${'mean'.padStart(7)} ${'low'.padStart(7)} ${'high'.padStart(7)} ${'open'.padStart(7)} ${'close'.padStart(7)}  hours`);
  for (const r of d.daily.slice(-7)) {
    const v = r.value as Bar;
    lines.push(`${day(v.windowStart)} ${num(v.mean)} ${num(v.min)} ${num(v.max)} ${num(v.open)} ${num(v.close)}  ${v.count}`);
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
    lines.push(`Day-ahead forecast error on the ${common.length / 24} days every model covers (MAE, ${first?.currency ?? ''}/MWh)`);
    for (const m of models) {
      const f = new Map(byModel.get(m)!);
      const errors = common.map((t) => Math.abs(f.get(t)! - actual.get(t)!));
      const mae = errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length);
      lines.push(`${m.padEnd(28)} ${num(mae)}`);
    }
  }
  return lines.join('\n');
}
