import { AvroSerde } from '@optibid/runtime';
import { MemoryStore, startRegistry, subjectSchemas, type MarketPrice, type TelemetryReading } from '@optibid/schemas';

/**
 * Avro with Confluent framing (magic byte, schema id, Avro body) through AvroSerde with a warm schema
 * cache, against JSON.stringify/JSON.parse of the same records: serialize + deserialize round trips
 * per second on one core, measured side by side in alternating rounds of the same run.
 */
export async function run(opts: { records?: number; roundMs?: number; rounds?: number } = {}): Promise<void> {
  const n = opts.records ?? 5000;
  const roundMs = opts.roundMs ?? 250;
  const rounds = opts.rounds ?? 8;
  // A real registry over HTTP (in-process, memory store): only the first record of each topic reaches it.
  const registry = await startRegistry(new MemoryStore(), { port: 0 });
  try {
    const serde = new AvroSerde({ registry: registry.url, schemas: subjectSchemas });
    const cases: [string, object[]][] = [
      ['market.prices', prices(n)],
      ['telemetry.readings', readings(n)],
    ];
    console.log(
      `records per set: ${n}; ${rounds} alternating rounds of ${roundMs} ms CPU time each; best round; rates are round trips (serialize + deserialize) per CPU-second, one core`,
    );
    console.log('  avro async: AvroSerde.serialize/deserialize (the Serde interface, one promise each)');
    console.log('  avro sync:  AvroSerde.serializeSync/deserializeSync (same bytes, warm cache, no promise)');
    console.log(
      '  json:       JSON.stringify/JSON.parse;  json bytes: the same plus Buffer.from/toString, as a JSON transport ships it',
    );
    console.log(
      'topic                avro async    avro sync         json   json bytes   sync/json  async/json  avro B  json B',
    );
    for (const [topic, records] of cases) {
      const origin = { topic, partition: 0, offset: '0' };
      // Warm up: registers the schema and fills the caches, lets the JIT settle.
      for (const r of records) await serde.deserialize(await serde.serialize(topic, r), origin);
      for (const r of records) JSON.parse(JSON.stringify(r));
      const best = { async: 0, sync: 0, json: 0, jsonBytes: 0 };
      for (let round = 0; round < rounds; round++) {
        best.async = Math.max(
          best.async,
          await rate(roundMs, records, (r) =>
            serde.serialize(topic, r).then((bytes) => serde.deserialize(bytes, origin)),
          ),
        );
        best.sync = Math.max(
          best.sync,
          syncRate(roundMs, records, (r) => serde.deserializeSync(serde.serializeSync(topic, r)!, origin)),
        );
        best.json = Math.max(
          best.json,
          syncRate(roundMs, records, (r) => JSON.parse(JSON.stringify(r))),
        );
        best.jsonBytes = Math.max(
          best.jsonBytes,
          syncRate(roundMs, records, (r) => JSON.parse(Buffer.from(JSON.stringify(r)).toString('utf8'))),
        );
      }
      const avroBytes = mean(
        await Promise.all(records.slice(0, 500).map(async (r) => (await serde.serialize(topic, r)).length)),
      );
      const jsonBytes = mean(records.slice(0, 500).map((r) => Buffer.byteLength(JSON.stringify(r))));
      console.log(
        `${topic.padEnd(19)} ${fmt(best.async).padStart(11)} ${fmt(best.sync).padStart(12)} ${fmt(best.json).padStart(12)} ${fmt(best.jsonBytes).padStart(12)} ` +
          `${(best.sync / best.json).toFixed(2).padStart(10)}x ${(best.async / best.json).toFixed(2).padStart(10)}x ${avroBytes.toFixed(0).padStart(7)} ${jsonBytes.toFixed(0).padStart(7)}`,
      );
    }
  } finally {
    await registry.app.close();
  }
}

/**
 * Round trips per second of CPU time over about `ms` of CPU, cycling through `records`. CPU time
 * (process.cpuUsage) rather than wall time, because the machine is shared: other processes taking the
 * core inflate wall time but not ours.
 */
async function rate(ms: number, records: object[], step: (r: object) => Promise<unknown>): Promise<number> {
  let done = 0;
  const start = process.cpuUsage();
  let spentUs = 0;
  while (spentUs < ms * 1000) {
    for (let i = 0; i < 1000; i++) await step(records[(done + i) % records.length]!);
    done += 1000;
    const used = process.cpuUsage(start);
    spentUs = used.user + used.system;
  }
  return (done * 1e6) / spentUs;
}

/** Like `rate`, for a synchronous step. */
function syncRate(ms: number, records: object[], step: (r: object) => unknown): number {
  let done = 0;
  const start = process.cpuUsage();
  let spentUs = 0;
  while (spentUs < ms * 1000) {
    for (let i = 0; i < 1000; i++) step(records[(done + i) % records.length]!);
    done += 1000;
    const used = process.cpuUsage(start);
    spentUs = used.user + used.system;
  }
  return (done * 1e6) / spentUs;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

/** Deterministic pseudo-random numbers, so every run encodes the same records. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function prices(n: number): MarketPrice[] {
  const rnd = lcg(7);
  const areas = ['BE', 'DE-LU', 'NO1', 'DK1', 'PJM-RTO'];
  const t0 = Date.UTC(2024, 0, 1);
  return Array.from({ length: n }, (_, i) => ({
    market: i % 5 === 4 ? 'PJM' : i % 5 === 2 ? 'NORDPOOL' : 'EPEX',
    area: areas[i % 5]!,
    product: 'DAY_AHEAD',
    deliveryStart: t0 + i * 3_600_000,
    intervalMinutes: 60,
    price: Math.round((rnd() * 300 - 20) * 100) / 100,
    currency: i % 5 === 4 ? 'USD' : 'EUR',
    energyUnit: 'MWH',
    volumeMwh: i % 3 === 0 ? null : Math.round(rnd() * 50_000) / 10,
    publishedAt: t0 + i * 3_600_000 - 13 * 3_600_000,
    ingestedAt: t0 + i * 3_600_000 - 12 * 3_600_000,
    source: 'replay:epf/BE.csv',
  }));
}

function readings(n: number): TelemetryReading[] {
  const rnd = lcg(11);
  const metrics: [string, string][] = [
    ['active_power', 'kW'],
    ['state_of_charge', '%'],
    ['frequency', 'Hz'],
    ['temperature', 'Cel'],
  ];
  const t0 = 1_700_000_000_000;
  return Array.from({ length: n }, (_, i) => {
    const [metric, unit] = metrics[i % metrics.length]!;
    return {
      assetId: `bess-antwerp-${i % 8}`,
      siteId: 'antwerp',
      metric,
      value: Math.round(rnd() * 100_000) / 100,
      unit,
      quality: i % 50 === 0 ? 'SUSPECT' : 'GOOD',
      observedAt: t0 + i * 1000,
      receivedAt: t0 + i * 1000 + 37,
      origin: `sites/antwerp/bess-${i % 8}/telemetry`,
    };
  });
}
