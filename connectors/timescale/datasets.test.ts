import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotConnected } from '@optibid/runtime';
import { copyText } from './copy-text.js';
import { datasets, keyColumns, toEpochMs, toRows } from './datasets.js';
import { loadMigrations } from './migrate.js';
import { classifyPgError, isPgUnavailable } from './pg-errors.js';
import { marketPriceRecords, telemetryRecords } from './test-support.js';

describe('toRows', () => {
  const ds = datasets['market.prices']!;

  test('maps schema fields to columns in order, timestamps as epoch ms', () => {
    const [record] = marketPriceRecords(1);
    const { rows, rejected } = toRows(ds, [record!]);
    expect(rejected).toEqual([]);
    const row = Object.fromEntries(ds.columns.map((c, i) => [c.name, rows[0]![i]]));
    expect(row).toEqual({
      market: 'EPEX',
      area: 'NO1',
      product: 'DAY_AHEAD',
      delivery_start: Date.UTC(2024, 0, 1),
      interval_minutes: 60,
      price: record!.value.price,
      currency: 'EUR',
      energy_unit: 'MWH',
      volume_mwh: null,
      published_at: Date.UTC(2023, 11, 31, 12),
      ingested_at: Date.UTC(2023, 11, 31, 13),
      source: 'test',
      record_time: Date.UTC(2024, 0, 1),
    });
  });

  test('keeps one row per natural key: the record with the newest event time', () => {
    const older = marketPriceRecords(3, { recordTime: 1000 });
    const newer = marketPriceRecords(3, { recordTime: 2000, priceOffset: 500 });
    const { rows } = toRows(ds, [...older, ...newer, ...older]);
    expect(rows).toHaveLength(3);
    const priceIdx = ds.columns.findIndex((c) => c.name === 'price');
    expect(rows.map((r) => r[priceIdx])).toEqual(newer.map((r) => r.value.price));
  });

  test('rejects records with a reason naming the field', () => {
    const base = telemetryRecords(1)[0]!;
    const tds = datasets['telemetry.readings']!;
    const bad = [
      { ...base, value: { ...base.value, assetId: undefined } },
      { ...base, value: { ...base.value, value: Number.NaN } },
      { ...base, value: { ...base.value, observedAt: 'yesterday' } },
      { ...base, value: null },
    ];
    const { rows, rejected } = toRows(tds, [base, ...bad]);
    expect(rows).toHaveLength(1);
    expect(rejected.map((r) => r.reason)).toEqual([
      'telemetry.readings: assetId is required',
      'telemetry.readings: value must be a finite number',
      'telemetry.readings: observedAt must be a timestamp (epoch ms or ISO-8601)',
      'telemetry.readings: record value must be an object, got null',
    ]);
  });

  test('accepts Dates, ISO strings and bigint for timestamps; single-branch union objects for text', () => {
    expect(toEpochMs(new Date(5))).toBe(5);
    expect(toEpochMs('2024-01-01T00:00:00Z')).toBe(Date.UTC(2024, 0, 1));
    expect(toEpochMs(7n)).toBe(7);
    expect(toEpochMs('1700000000000')).toBe(1_700_000_000_000);
    const base = telemetryRecords(1)[0]!;
    const { rows } = toRows(datasets['telemetry.readings']!, [
      { ...base, value: { ...base.value, siteId: { string: 'site-b' } } },
    ]);
    expect(rows[0]![3]).toBe('site-b');
  });
});

describe('copyText', () => {
  test('escapes tabs, newlines and backslashes, writes \\N for null and ISO timestamps', () => {
    const cols = [
      { name: 'a', type: 'text' as const, from: ['a'] },
      { name: 'b', type: 'timestamp' as const, from: ['b'] },
      { name: 'c', type: 'double' as const, from: ['c'] },
    ];
    expect(
      copyText(cols, [
        ['x\ty\nz\\', 0, null],
        ['plain', Date.UTC(2024, 1, 2, 3, 4, 5, 6), 1.5],
      ]),
    ).toBe('x\\ty\\nz\\\\\t1970-01-01T00:00:00.000Z\t\\N\nplain\t2024-02-02T03:04:05.006Z\t1.5\n');
  });
});

describe('migrations', () => {
  const migrations = loadMigrations();

  test('are numbered without gaps', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  test.each(Object.values(datasets))(
    '$table: table columns (created, then added by later migrations) and primary key match the dataset',
    (ds) => {
      const m = migrations.find((x) => x.sql.includes(`CREATE TABLE IF NOT EXISTS ${ds.table} (`));
      expect(m).toBeDefined();
      const body = m!.sql.split(`CREATE TABLE IF NOT EXISTS ${ds.table} (`)[1]!.split('\n);')[0]!;
      const lines = body
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      const pk = lines.find((l) => l.startsWith('PRIMARY KEY'))!;
      const columns = lines.filter((l) => !l.startsWith('PRIMARY KEY')).map((l) => l.split(/\s+/)[0]);
      // Later migrations may add columns.
      const added = new RegExp(`ALTER TABLE ${ds.table} ADD COLUMN IF NOT EXISTS (\\w+)`, 'g');
      for (const later of migrations.filter((x) => x.version > m!.version)) {
        for (const match of later.sql.matchAll(added)) columns.push(match[1]);
      }
      expect(columns.sort()).toEqual(ds.columns.map((c) => c.name).sort());
      expect(pk).toBe(
        `PRIMARY KEY (${keyColumns(ds)
          .map((c) => c.name)
          .join(', ')})`,
      );
      expect(m!.sql).toContain(`optibid_partition_by_time('${ds.table}', '${ds.timeColumn}'`);
    },
  );

  test('reject badly named files and duplicate versions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mig-'));
    writeFileSync(join(dir, '0001_a.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '0001_b.sql'), 'SELECT 2;');
    expect(() => loadMigrations(dir)).toThrow(/version 1 appears twice/);
    const dir2 = mkdtempSync(join(tmpdir(), 'mig-'));
    writeFileSync(join(dir2, 'init.sql'), 'SELECT 1;');
    expect(() => loadMigrations(dir2)).toThrow(/NNNN_name\.sql/);
  });
});

describe('PostgreSQL error classification', () => {
  test('outages become NotConnected, other errors pass through', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const shutdown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const terminated = new Error('Connection terminated unexpectedly');
    const syntax = Object.assign(new Error('syntax error at or near "x"'), { code: '42601' });
    expect([refused, shutdown, terminated].map(isPgUnavailable)).toEqual([true, true, true]);
    expect(isPgUnavailable(syntax)).toBe(false);
    expect(classifyPgError(refused, 'w')).toBeInstanceOf(NotConnected);
    expect(classifyPgError(syntax, 'w')).toBe(syntax);
    expect(isPgUnavailable(new AggregateError([refused]))).toBe(true);
  });
});
