import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import kafkajs from 'kafkajs';
import {
  AvroSerde,
  KafkaTransport,
  MemoryTransport,
  RdkafkaTransport,
  createJsonSerde,
  createLogger,
  type RunningPipeline,
  type KafkaTransportOptions,
  type MaybeSyncSerde,
  type RdkafkaTransportOptions,
  type Transport,
  arraySource,
  defineProcessor,
  endpointsFromEnv,
  makeSpec,
  type OutRecord,
} from '@optibid/runtime';
import { rollupDefinition } from '@optibid/processors/aggregate/rollup.js';

const double = defineProcessor({
  name: 'double',
  status: 'stable',
  summary: 'stateless map',
  config: Type.Object({}),
  create: () => ({
    process: (r, ctx) => ctx.emit({ key: r.key, value: (r.value as number) * 2, timestamp: r.timestamp }),
  }),
});

/** Memory transport: source -> stateless map -> topic, records/s, beside a bare loop doing the same map. */
async function memoryMap(n: number): Promise<void> {
  const input: OutRecord[] = Array.from({ length: n }, (_, i) => ({ topic: 'in', key: null, value: i, timestamp: i }));
  let best = 0;
  let bestLoop = 0;
  for (let round = 0; round < 3; round++) {
    const spec = makeSpec({
      name: 'bench',
      sources: [{ name: 'src', definition: arraySource('src', input, { batchSize: 5000 }) }],
      processors: [{ name: 'double', definition: double, inputs: ['in'], outputs: ['out'] }],
      settings: { batchSize: 5000, maxInFlight: 50_000 },
    });
    const transport = new MemoryTransport({ retention: 'consumed' });
    const t0 = performance.now();
    const run = await transport.start(spec, { untilIdle: true });
    await run.done;
    const ms = performance.now() - t0;
    if (run.stats()[1]!.recordsOut !== n) throw new Error('memory bench lost records');
    best = Math.max(best, n / (ms / 1000));
    const out: unknown[] = [];
    const l0 = performance.now();
    for (const r of input)
      out.push({ topic: 'out', key: r.key, value: (r.value as number) * 2, timestamp: r.timestamp });
    bestLoop = Math.max(bestLoop, n / ((performance.now() - l0) / 1000));
  }
  console.log(
    `memory transport, stateless map, ${n} records (best of 3): ${Math.round(best).toLocaleString('en')} records/s`,
  );
  console.log(
    `  same map as a bare loop: ${Math.round(bestLoop).toLocaleString('en')} records/s (runtime/loop = ${(best / bestLoop).toFixed(2)})`,
  );
}

function kafkaLibs(): string | undefined {
  const dir = join(process.cwd(), '.optibid/cache/kafka-4.1.1/libs');
  return existsSync(dir) ? `${dir}/*` : undefined;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const fmt = (x: number) => Math.round(x).toLocaleString('en');
const readJson = (path: string) => JSON.parse(readFileSync(join(process.cwd(), path), 'utf8')) as object;

/** One MarketPrice record (schemas/avro/market.prices-value.avsc) with event time `ts`. */
function price(i: number, ts: number) {
  return {
    market: 'NORDPOOL',
    area: `A${i % 10}`,
    product: 'DAY_AHEAD',
    deliveryStart: ts,
    intervalMinutes: 15,
    price: 40 + (i % 50) + 0.25,
    currency: 'EUR',
    energyUnit: 'MWH',
    volumeMwh: null,
    publishedAt: null,
    ingestedAt: ts,
    source: 'bench',
  };
}

const logger = createLogger({ level: process.env.OPTIBID_BENCH_LOG_LEVEL ?? 'silent', name: 'bench' });

/** Waits for `cond`; fails when the pipeline fails or makes no progress for 60 s. */
async function until(cond: () => boolean, run: RunningPipeline, what: string): Promise<void> {
  let failure: unknown;
  run.done.catch((err: unknown) => (failure = err));
  let last = -1;
  let lastChange = Date.now();
  while (!cond()) {
    if (failure) throw failure;
    const seen = run.stats()[0]?.recordsIn ?? 0;
    if (seen !== last) [last, lastChange] = [seen, Date.now()];
    else if (Date.now() - lastChange > 60_000)
      throw new Error(`bench stalled waiting for ${what} (records in: ${seen})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Sample {
  transport: string;
  rate: number;
  withStart: number;
  txRecords: number;
  cycleP50: number;
  cycleP99: number;
  busyShare: number;
}

type Transports = Array<[name: string, make: (o: RdkafkaTransportOptions & KafkaTransportOptions) => Transport]>;

/** Kafka -> Avro decode, keyed 1 h tumbling window, Avro encode -> Kafka (transactions), per transport, beside the broker's perf tools. */
async function kafkaEndToEnd(n: number): Promise<void> {
  const endpoints = endpointsFromEnv();
  const brokers = endpoints.kafkaBrokers;
  const { Kafka, logLevel } = kafkajs;
  const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch {
    console.log('kafka: broker not reachable, skipped');
    return;
  }
  const avro = await fetch(`${endpoints.registryUrl}/subjects`, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  );
  const id = Date.now().toString(36);
  const input = `bench.${id}.in`;
  const prices = readJson('schemas/avro/market.prices-value.avsc');
  const bars = readJson('pipelines/schemas/price-bars-value.avsc');
  const makeSerde = (): MaybeSyncSerde =>
    avro
      ? new AvroSerde({ registry: endpoints.registryUrl, schemaFor: (t) => (t.includes('.out') ? bars : prices) })
      : createJsonSerde();
  const serdeName = avro
    ? 'Avro (Confluent framing, registry on 8081)'
    : 'JSON (schema registry not reachable: run `optibid services up`)';
  const only = (process.env.OPTIBID_BENCH_TRANSPORTS ?? 'kafkajs,rdkafka').split(',');
  const all: Transports = [
    ['kafkajs', (o) => new KafkaTransport(o)],
    ['rdkafka', (o) => new RdkafkaTransport(o)],
  ];
  const transports = all.filter(([t]) => only.includes(t));
  // rdkafka batch bounds (see runtime/rdkafka/README.md): OPTIBID_BENCH_MAX_BATCH_MS, OPTIBID_BENCH_BATCH_GAP_MS.
  const batchTuning: RdkafkaTransportOptions = {
    maxBatchMs: process.env.OPTIBID_BENCH_MAX_BATCH_MS ? Number(process.env.OPTIBID_BENCH_MAX_BATCH_MS) : undefined,
    batchGapMs: process.env.OPTIBID_BENCH_BATCH_GAP_MS ? Number(process.env.OPTIBID_BENCH_BATCH_GAP_MS) : undefined,
  };
  const topics = [
    input,
    ...transports.map(([t]) => `bench.${id}.out-${t}`),
    ...transports.flatMap(([t]) => [`bench.${id}.paced-${t}`, `bench.${id}.paced-out-${t}`]),
  ];
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });

  const serde = makeSerde();
  const encoded = await serde.serialize(input, price(12345, 12345 * 60_000));
  const size = encoded.length;
  const producer = kafka.producer();
  await producer.connect();
  const p0 = performance.now();
  for (let i = 0; i < n; i += 5000) {
    const messages = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) {
      messages.push({
        key: `NORDPOOL|A${j % 10}`,
        value: await serde.serialize(input, price(j, j * 60_000)),
        timestamp: String(j * 60_000),
      });
    }
    await producer.send({ topic: input, acks: -1, messages });
  }
  const produceRate = n / ((performance.now() - p0) / 1000);
  console.log(
    `kafka: ${n} MarketPrice records of ${size} B, ${serdeName}; processor = decode, keyed 1 h tumbling window (rollup), encode; exactly-once transactions; 1 partition`,
  );
  console.log(`  kafkajs producer (acks=all, batches of 5000, encoding included): ${fmt(produceRate)} records/s`);

  let rawConsume = 0;
  const libs = kafkaLibs();
  if (!libs || process.env.OPTIBID_BENCH_BROKER_TOOLS === '0')
    console.log('  broker perf tools: skipped (no .optibid/cache/kafka-4.1.1/libs, or OPTIBID_BENCH_BROKER_TOOLS=0)');
  else {
    const java = (cls: string, args: string[]) =>
      execFileSync('java', ['-Xmx512m', '-cp', libs, cls, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    const summary = java('org.apache.kafka.tools.ConsumerPerformance', [
      '--bootstrap-server',
      brokers[0]!,
      '--topic',
      input,
      '--messages',
      String(n),
    ])
      .trim()
      .split('\n');
    const cols = summary[0]!.split(',').map((c) => c.trim());
    const vals = summary[summary.length - 1]!.split(',').map((c) => c.trim());
    rawConsume = Number(vals[cols.indexOf('fetch.nMsg.sec')]);
    console.log(
      `  broker ConsumerPerformance, same topic (fetch.nMsg.sec, after its group join): ${fmt(rawConsume)} records/s`,
    );
    const perfTopic = `bench.${id}.perf`;
    const prod = java('org.apache.kafka.tools.ProducerPerformance', [
      '--topic',
      perfTopic,
      '--num-records',
      String(n),
      '--record-size',
      String(size),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${brokers[0]}`,
      'acks=all',
    ]);
    topics.push(perfTopic);
    console.log(
      `  broker ProducerPerformance, ${size} B records, acks=all: ${prod.trim().split('\n').pop()!.split(',').slice(0, 3).join(',')}`,
    );
  }

  // Throughput from a backlog: a fresh consumer group per transport reads the same input topic.
  const samples: Sample[] = [];
  for (const [name, make] of transports) {
    const output = `bench.${id}.out-${name}`;
    const spec = makeSpec({
      name: `bench-${id}-${name}`,
      processors: [
        {
          name: 'bars',
          definition: rollupDefinition,
          config: { interval: '1h', field: 'price' },
          inputs: [input],
          outputs: [output],
        },
      ],
    });
    const commits: Array<{ at: number; records: number }> = [];
    const t0 = performance.now();
    const run = await make({
      instanceId: 'bench',
      serde: makeSerde(),
      ...batchTuning,
      afterCommit: ({ records }) => commits.push({ at: performance.now(), records: records.length }),
    }).start(spec, { logger });
    const stats = run.stats()[0]!;
    let firstBatchAt = 0;
    stats.onBatch = (_n, ms) => {
      if (firstBatchAt === 0) firstBatchAt = performance.now() - ms;
    };
    await until(() => commits.reduce((a, c) => a + c.records, 0) >= n, run, `${name}: all ${n} records committed`);
    const end = performance.now();
    await run.stop();
    const cycles = commits
      .slice(1)
      .map((c, i) => c.at - commits[i]!.at)
      .sort((a, b) => a - b);
    samples.push({
      transport: name,
      rate: n / ((end - firstBatchAt) / 1000),
      withStart: n / ((end - t0) / 1000),
      txRecords: n / commits.length,
      cycleP50: pct(cycles, 0.5),
      cycleP99: pct(cycles, 0.99),
      busyShare: stats.busyMs / (end - firstBatchAt),
    });
  }
  for (const s of samples) {
    console.log(
      `  pipeline on ${s.transport.padEnd(7)}: ${fmt(s.rate)} records/s from the first batch (${fmt(s.withStart)} incl. start-up and group join)` +
        (rawConsume ? `; pipeline/raw consume = ${(s.rate / rawConsume).toFixed(2)}` : ''),
    );
    console.log(
      `    ${fmt(s.txRecords)} records per transaction; batch cycle (fetch..commit) p50 ${s.cycleP50.toFixed(1)} ms, p99 ${s.cycleP99.toFixed(1)} ms; processor busy ${(100 * s.busyShare).toFixed(0)}% of the time`,
    );
  }

  // End-to-end latency at a steady rate: producer timestamp (now) -> the transaction holding the record's effect committed.
  const rate = Number(process.env.OPTIBID_BENCH_PACED_RATE ?? 5000);
  const seconds = Number(process.env.OPTIBID_BENCH_PACED_SECONDS ?? 5);
  for (const [name, make] of transports) {
    const pacedIn = `bench.${id}.paced-${name}`;
    const spec = makeSpec({
      name: `bench-${id}-paced-${name}`,
      processors: [
        {
          name: 'bars',
          definition: rollupDefinition,
          config: { interval: '1h', field: 'price' },
          inputs: [pacedIn],
          outputs: [`bench.${id}.paced-out-${name}`],
        },
      ],
    });
    const latencies: number[] = [];
    const run = await make({
      instanceId: 'bench',
      serde: makeSerde(),
      ...batchTuning,
      afterCommit: ({ records }) => {
        const now = Date.now();
        for (const r of records) latencies.push(now - r.timestamp);
      },
    }).start(spec, { logger });
    const total = rate * seconds;
    const started = Date.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
      if (due > sent) {
        const messages = [];
        for (; sent < due; sent++) {
          const now = Date.now();
          messages.push({
            key: `NORDPOOL|A${sent % 10}`,
            value: await serde.serialize(input, price(sent, now)),
            timestamp: String(now),
          });
        }
        await producer.send({ topic: pacedIn, acks: 1, messages });
      } else await new Promise((r) => setTimeout(r, 2));
    }
    await until(() => latencies.length >= total, run, `${name}: the paced records committed`);
    await run.stop();
    latencies.sort((a, b) => a - b);
    console.log(
      `  latency on ${name.padEnd(7)} at ${fmt(rate)} records/s for ${seconds} s (produce timestamp -> its transaction committed): p50 ${pct(latencies, 0.5)} ms, p99 ${pct(latencies, 0.99)} ms, max ${latencies[latencies.length - 1]} ms`,
    );
  }
  await producer.disconnect();
  await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
  if (avro) {
    for (const t of [input, ...topics]) {
      for (const q of ['', '?permanent=true'])
        await fetch(`${endpoints.registryUrl}/subjects/${t}-value${q}`, { method: 'DELETE' }).catch(() => {});
    }
  }
}

/** Memory-transport map rate (target ≥ 500k records/s) and Kafka end-to-end beside the broker's perf tools. */
export async function run(): Promise<void> {
  await memoryMap(1_000_000);
  const kafkaRecords = Number(process.env.OPTIBID_BENCH_KAFKA_RECORDS ?? 200_000);
  if (kafkaRecords > 0) await kafkaEndToEnd(kafkaRecords);
}
