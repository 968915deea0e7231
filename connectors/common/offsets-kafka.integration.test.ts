import { KafkaOffsetStore } from './offsets-kafka.js';

describe('source offsets in a compacted Kafka topic (real Kafka)', () => {
  const topic = `_optibid.test-offsets-${process.pid}-${Date.now()}`;

  test('a new store instance reads back the latest offset of each window, per source', async () => {
    const a = new KafkaOffsetStore({ topic });
    try {
      await a.load('entsoe/x'); // creates the topic
      await a.save('entsoe/x', 'A44|BE|2024-10-08', { fetchedAt: 1, status: 'ok', facts: { k1: 'd1' } });
      await a.save('entsoe/x', 'A44|BE|2024-10-08', { fetchedAt: 2, status: 'ok', facts: { k1: 'd2' } });
      await a.save('entsoe/x', 'A44|BE|2024-10-09', { fetchedAt: 3, status: 'no-data', facts: {} });
      await a.save('nordpool/y', 'SE3|60|2024-10-08', { fetchedAt: 4, status: 'ok', facts: {} });
    } finally {
      await a.close();
    }
    const b = new KafkaOffsetStore({ topic });
    try {
      const loaded = await b.load('entsoe/x');
      expect(Object.fromEntries(loaded)).toEqual({
        'A44|BE|2024-10-08': { fetchedAt: 2, status: 'ok', facts: { k1: 'd2' } },
        'A44|BE|2024-10-09': { fetchedAt: 3, status: 'no-data', facts: {} },
      });
    } finally {
      await b.close();
    }
  }, 60_000);
});
