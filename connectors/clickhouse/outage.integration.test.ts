import { jest } from '@jest/globals';
import { createClient } from '@clickhouse/client';
import { endpointsFromEnv } from '@optibid/runtime';
import { ClickHouseSink } from './sink.js';
import { memoryLogger, runId, telemetryRecords, writeThroughOutage } from '../timescale/test-support.js';

jest.setTimeout(180_000);

const outageMs = 20_000;

test('ClickHouse stopped for 20 s mid-run: consumption pauses, and afterwards every record is present once', async () => {
  const database = `t_ch_outage_${runId()}`;
  const sink = new ClickHouseSink({ dataset: 'telemetry.readings', database }, memoryLogger());
  const ch = createClient({ url: endpointsFromEnv().clickhouseUrl });
  try {
    await sink.connect();
    try {
      const outage = await writeThroughOutage(sink, telemetryRecords(10_000), 250, 'clickhouse', outageMs);
      expect(outage.stopped).toEqual(['clickhouse']); // the test needs a server it can stop
      expect(outage.retries).toBeGreaterThan(0);
      expect(outage.restartedAt - outage.stoppedAt).toBeGreaterThanOrEqual(outageMs);
    } finally {
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
