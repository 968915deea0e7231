import { NotConnected } from '@optibid/runtime';
import type { Logger, Sink, StreamRecord } from '@optibid/runtime';
import type { MarketPrice, TelemetryReading } from '@optibid/schemas';
import { ServiceManager, localServices } from '@optibid/services';

/** Synthetic records for sink tests and benchmarks (deterministic, no randomness). */

const hour = 3_600_000;
const start = Date.UTC(2024, 0, 1);

/** `n` market.prices records: 10 areas × n/10 hourly day-ahead intervals. */
export function marketPriceRecords(
  n: number,
  opts: { topic?: string; priceOffset?: number; recordTime?: number } = {},
): StreamRecord<MarketPrice>[] {
  const areas = ['NO1', 'NO2', 'SE3', 'DK1', 'DE-LU', 'FR', 'BE', 'NL', 'AT', 'PL'];
  const out: StreamRecord<MarketPrice>[] = [];
  for (let i = 0; i < n; i++) {
    const area = areas[i % areas.length]!;
    const deliveryStart = start + Math.floor(i / areas.length) * hour;
    out.push({
      topic: opts.topic ?? 'market.prices',
      key: `EPEX|${area}`,
      value: {
        market: 'EPEX',
        area,
        product: 'DAY_AHEAD',
        deliveryStart,
        intervalMinutes: 60,
        price: Math.round((40 + 30 * Math.sin(i / 17) + (opts.priceOffset ?? 0)) * 100) / 100,
        currency: 'EUR',
        energyUnit: 'MWH',
        volumeMwh: null,
        publishedAt: deliveryStart - 12 * hour,
        ingestedAt: deliveryStart - 11 * hour,
        source: 'test',
      },
      timestamp: opts.recordTime ?? deliveryStart,
      partition: 0,
      offset: String(i),
    });
  }
  return out;
}

/** `n` telemetry.readings records: 20 assets × 2 metrics, one reading per `stepMs` (10 s) each. */
export function telemetryRecords(
  n: number,
  opts: { from?: number; stepMs?: number } = {},
): StreamRecord<TelemetryReading>[] {
  const out: StreamRecord<TelemetryReading>[] = [];
  const from = opts.from ?? start;
  const step = opts.stepMs ?? 10_000;
  for (let i = 0; i < n; i++) {
    const assetId = `bess-${String(i % 20).padStart(2, '0')}`;
    const metric = Math.floor(i / 20) % 2 === 0 ? 'state_of_charge' : 'active_power';
    const observedAt = from + Math.floor(i / 40) * step;
    out.push({
      topic: 'telemetry.readings',
      key: assetId,
      value: {
        assetId,
        siteId: 'site-a',
        metric,
        value: ((i * 7919) % 1000) / 10,
        unit: metric === 'state_of_charge' ? '%' : 'kW',
        quality: 'GOOD',
        observedAt,
        receivedAt: observedAt + 150,
        origin: null,
      },
      timestamp: observedAt,
      partition: 0,
      offset: String(i),
    });
  }
  return out;
}

/**
 * Writes `records` in batches the way the runtime does: a batch that fails with `NotConnected`
 * is retried (after reconnecting) until it is stored; returns how many retries were needed.
 */
export async function writeAllWithRetry(
  sink: Sink,
  records: StreamRecord[],
  batchSize: number,
  opts: { retryDelayMs?: number; giveUpAfterMs?: number; onBatch?: (index: number) => Promise<void> | void } = {},
): Promise<number> {
  let retries = 0;
  const deadline = Date.now() + (opts.giveUpAfterMs ?? 120_000);
  for (let i = 0, b = 0; i < records.length; i += batchSize, b++) {
    await opts.onBatch?.(b);
    const batch = records.slice(i, i + batchSize);
    for (;;) {
      try {
        await sink.write(batch);
        break;
      } catch (err) {
        if (!(err instanceof NotConnected) || Date.now() > deadline) throw err;
        retries++;
        // Waiting for a real service to come back: real time is the point here.
        await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 500));
        await sink.connect().catch(() => undefined);
      }
    }
  }
  return retries;
}

/**
 * Writes `records` through `sink` in batches of `batchSize` with `writeAllWithRetry`, stopping the real local
 * `service` once after the tenth batch and starting it again `outageMs` later (real time: the outage is the point).
 * Returns the retries needed and when the service was stopped and started again. Whatever fails, the service is
 * running again when this returns or throws, so other tests are not left without it.
 */
export async function writeThroughOutage(
  sink: Sink,
  records: StreamRecord[],
  batchSize: number,
  service: string,
  outageMs: number,
): Promise<{ retries: number; stopped: string[]; stoppedAt: number; restartedAt: number }> {
  const manager = new ServiceManager(localServices, { say: () => undefined });
  let outage: Promise<void> | undefined;
  let stopped: string[] = [];
  let stoppedAt = 0;
  let restartedAt = 0;
  try {
    const retries = await writeAllWithRetry(sink, records, batchSize, {
      onBatch: async (batch) => {
        if (batch !== 10) return;
        stopped = await manager.down([service]);
        stoppedAt = Date.now();
        outage = (async () => {
          try {
            await new Promise((r) => setTimeout(r, outageMs));
          } finally {
            await manager.up([service]);
            restartedAt = Date.now();
          }
        })();
      },
    });
    await outage;
    return { retries, stopped, stoppedAt, restartedAt };
  } finally {
    await outage?.catch(() => undefined);
    await manager.up([service]);
  }
}

/** A logger that keeps what it was given, for assertions. */
export function memoryLogger(): Logger & { lines: { level: string; msg: string; obj: object | string }[] } {
  const lines: { level: string; msg: string; obj: object | string }[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => {
    lines.push({ level, msg: msg ?? (typeof obj === 'string' ? obj : ''), obj });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A short unique suffix for table, schema, database and topic names of one test run. */
export function runId(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
