import { jest } from '@jest/globals';
import pg from 'pg';
import { endpointsFromEnv } from '@optibid/runtime';
import { ServiceManager, localServices } from '@optibid/services';
import { migrate } from './migrate.js';
import { TimescaleSink } from './sink.js';
import { memoryLogger, runId, telemetryRecords, writeAllWithRetry } from './test-support.js';

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
    const manager = new ServiceManager(localServices, { say: () => undefined });
    const sink = new TimescaleSink({ dataset: 'telemetry.readings', schema }, memoryLogger());
    await sink.connect();
    const records = telemetryRecords(10_000);
    let outage: Promise<void> | undefined;
    let stoppedAt = 0;
    let restartedAt = 0;
    try {
      const retries = await writeAllWithRetry(sink, records, 250, {
        onBatch: async (batch) => {
          if (batch !== 10) return;
          const stopped = await manager.down(['postgres']);
          expect(stopped).toEqual(['postgres']); // the test needs a server it can stop
          stoppedAt = Date.now();
          outage = (async () => {
            try {
              await new Promise((r) => setTimeout(r, outageMs));
            } finally {
              await manager.up(['postgres']);
              restartedAt = Date.now();
            }
          })();
        },
      });
      await outage;
      expect(retries).toBeGreaterThan(0);
      expect(restartedAt - stoppedAt).toBeGreaterThanOrEqual(outageMs);
    } finally {
      // whatever failed above, PostgreSQL must be running again for everyone else
      await outage?.catch(() => undefined);
      await manager.up(['postgres']);
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
