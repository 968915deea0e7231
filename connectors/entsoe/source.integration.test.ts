import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EndOfInput } from '@optibid/runtime';
import { createEntsoeSource } from './source.js';
import { FixtureServer } from '../common/fixture-server.js';
import { KafkaOffsetStore } from '../common/offsets-kafka.js';
import { VirtualSleeper } from '../common/timer.js';
import { testContext } from '../common/testing.js';

const be60 = readFileSync(join(import.meta.dirname, 'fixtures/BE_60M.xml'), 'utf8');

test('ENTSO-E backfill stops half way, restarts and resumes from the offsets kept in Kafka', async () => {
  const server = new FixtureServer((url) => ({
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body:
      url.searchParams.get('periodStart') === '202410072200'
        ? be60
        : be60
            .replaceAll('2024-10-08T22:00Z', '2024-10-09T22:00Z')
            .replaceAll('2024-10-07T22:00Z', '2024-10-08T22:00Z'),
  }));
  const base = `${await server.start()}/api`;
  const topic = `_optibid.test-offsets-${process.pid}-${Date.now()}`;
  const cfg = { areas: ['BE'], baseUrl: base, live: false, backfill: { from: '2024-10-08', to: '2024-10-09' } };
  try {
    const ctx1 = testContext({ env: { ENTSOE_TOKEN: 't' } });
    const first = createEntsoeSource(cfg, ctx1, {
      offsets: new KafkaOffsetStore({ topic }),
      sleeper: new VirtualSleeper(ctx1.clock),
    });
    await first.connect();
    const batch = await first.read();
    expect(batch.records).toHaveLength(24);
    await batch.ack(); // offset of 2024-10-08 stored in Kafka; then the process "dies"
    await first.close();

    const ctx2 = testContext({ env: { ENTSOE_TOKEN: 't' } });
    const second = createEntsoeSource(cfg, ctx2, {
      offsets: new KafkaOffsetStore({ topic }),
      sleeper: new VirtualSleeper(ctx2.clock),
    });
    await second.connect();
    expect(second.stats.skippedByOffset).toBe(1);
    const rest = await second.read();
    expect(rest.records[0].value).toMatchObject({ deliveryStart: Date.parse('2024-10-08T22:00Z') });
    await rest.ack();
    await expect(second.read()).rejects.toBeInstanceOf(EndOfInput);
    await second.close();
    expect(server.requests.map((u) => u.searchParams.get('periodStart'))).toEqual(['202410072200', '202410082200']);
  } finally {
    await server.stop();
  }
}, 60_000);
