import { jest } from '@jest/globals';
import { createClient } from '@clickhouse/client';
import { endpointsFromEnv } from '@optibid/runtime';
import { ServiceManager, localServices } from '@optibid/services';
import { ClickHouseSink } from './sink.js';
import { memoryLogger, runId, telemetryRecords, writeAllWithRetry } from '../timescale/test-support.js';

jest.setTimeout(180_000);

const outageMs = 20_000;

test('ClickHouse stopped for 20 s mid-run: consumption pauses, and afterwards every record is present once', async () => {
  const database = `t_ch_outage_${runId()}`;
  const manager = new ServiceManager(localServices, { say: () => undefined });
  const sink = new ClickHouseSink({ dataset: 'telemetry.readings', database }, memoryLogger());
  const ch = createClient({ url: endpointsFromEnv().clickhouseUrl });
  try {
    await sink.connect();
    const records = telemetryRecords(10_000);
    let outage: Promise<void> | undefined;
    let stoppedAt = 0;
    let restartedAt = 0;
    try {
      const retries = await writeAllWithRetry(sink, records, 250, {
        onBatch: async (batch) => {
          if (batch !== 10) return;
          const stopped = await manager.down(['clickhouse']);
          expect(stopped).toEqual(['clickhouse']); // the test needs a server it can stop
          stoppedAt = Date.now();
          outage = (async () => {
            try {
              await new Promise((r) => setTimeout(r, outageMs));
            } finally {
              await manager.up(['clickhouse']);
              restartedAt = Date.now();
            }
          })();
        },
      });
      await outage;
      expect(retries).toBeGreaterThan(0);
      expect(restartedAt - stoppedAt).toBeGreaterThanOrEqual(outageMs);
    } finally {
      // whatever failed above, ClickHouse must be running again for everyone else
      await outage?.catch(() => undefined);
      await manager.up(['clickhouse']);
      await sink.close();
    }

    const [r] = await (
      await ch.query({
        query: `SELECT count() AS n, uniqExact(asset_id, metric, observed_at_ms) AS k FROM ${database}.telemetry_readings FINAL`,
        format: 'JSONEachRow',
      })
    ).json<{ n: string; k: string }>();
    expect(Number(r!.n)).toBe(10_000);
    expect(Number(r!.k)).toBe(10_000);
  } finally {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await ch.close();
  }
});
