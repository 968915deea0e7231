import { jest } from '@jest/globals';
import pg from 'pg';
import { endpointsFromEnv } from '@optibid/runtime';
import { migrate } from './migrate.js';
import { TimescaleSink } from './sink.js';
import { memoryLogger, runId, telemetryRecords, writeThroughOutage } from './test-support.js';

jest.setTimeout(180_000);

const outageMs = 20_000;

test('PostgreSQL stopped for 20 s mid-run: consumption pauses, and afterwards every record is present once', async () => {
  const url = endpointsFromEnv().postgresUrl;
  const schema = `t_outage_${runId()}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await migrate(admin, { schema });
  await admin.end();
  try {
    const sink = new TimescaleSink({ dataset: 'telemetry.readings', schema }, memoryLogger());
    await sink.connect();
    try {
      const outage = await writeThroughOutage(sink, telemetryRecords(10_000), 250, 'postgres', outageMs);
      expect(outage.stopped).toEqual(['postgres']); // the test needs a server it can stop
      expect(outage.retries).toBeGreaterThan(0);
      expect(outage.restartedAt - outage.stoppedAt).toBeGreaterThanOrEqual(outageMs);
    } finally {
      await sink.close();
    }

    const check = new pg.Client({ connectionString: url });
    await check.connect();
    try {
      const r = await check.query(
        `SELECT count(*) AS n, count(DISTINCT (asset_id, metric, observed_at)) AS k FROM ${schema}.telemetry_readings`,
      );
      expect(Number(r.rows[0].n)).toBe(10_000);
      expect(Number(r.rows[0].k)).toBe(10_000);
    } finally {
      await check.end();
    }
  } finally {
    const drop = new pg.Client({ connectionString: url });
    await drop.connect();
    await drop.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await drop.end();
  }
});
