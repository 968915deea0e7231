import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EndOfInput } from '@optibid/runtime';
import { createCaisoSource } from './source.js';
import { FixtureServer } from '../common/fixture-server.js';
import { MemoryOffsetStore } from '../common/offsets.js';
import { VirtualSleeper } from '../common/timer.js';
import { testContext } from '../common/testing.js';

const zip = (f: string) => new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', f)));

test('OASIS zips served over HTTP: the load report is read, the error zip is a day without data', async () => {
  const server = new FixtureServer((url) => ({
    status: 200,
    headers: { 'content-type': 'application/x-zip-compressed' },
    body:
      url.searchParams.get('startdatetime') === '20230812T07:00-0000'
        ? zip('caiso_daily_load_sample1.zip')
        : zip('caiso_daily_load_sample2.zip'),
  }));
  const base = await server.start();
  try {
    const ctx = testContext();
    const offsets = new MemoryOffsetStore();
    const src = createCaisoSource(
      {
        baseUrl: `${base}/oasisapi/SingleZip`,
        marketRunIds: ['DAM'],
        live: false,
        backfill: { from: '2023-08-12', to: '2023-08-13' },
      },
      ctx,
      { offsets, sleeper: new VirtualSleeper(ctx.clock) },
    );
    await src.connect();
    const batch = await src.read();
    expect(batch.records.length).toBeGreaterThan(1000);
    await batch.ack();
    await expect(src.read()).rejects.toBeInstanceOf(EndOfInput);
    expect(
      server.requests.map((u) => [
        u.searchParams.get('queryname'),
        u.searchParams.get('startdatetime'),
        u.searchParams.get('enddatetime'),
      ]),
    ).toEqual([
      ['SLD_FCST', '20230812T07:00-0000', '20230813T07:00-0000'],
      ['SLD_FCST', '20230813T07:00-0000', '20230814T07:00-0000'],
    ]);
    expect([...offsets.data.get('caiso/test')!.values()].map((o) => o.status)).toEqual(['ok', 'no-data']);
  } finally {
    await server.stop();
  }
});
