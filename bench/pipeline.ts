import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import kafkajs from 'kafkajs';
import {
  KafkaTransport,
  MemoryTransport,
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
  create: () => ({ process: (r, ctx) => ctx.emit({ key: r.key, value: (r.value as number) * 2, timestamp: r.timestamp }) }),
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
    for (const r of input) out.push({ topic: 'out', key: r.key, value: (r.value as number) * 2, timestamp: r.timestamp });
    bestLoop = Math.max(bestLoop, n / ((performance.now() - l0) / 1000));
  }
  console.log(`memory transport, stateless map, ${n} records (best of 3): ${Math.round(best).toLocaleString('en')} records/s`);
  console.log(`  same map as a bare loop: ${Math.round(bestLoop).toLocaleString('en')} records/s (runtime/loop = ${(best / bestLoop).toFixed(2)})`);
}

function kafkaLibs(): string | undefined {
  const dir = join(process.cwd(), '.optibid/cache/kafka-4.1.1/libs');
  return existsSync(dir) ? `${dir}/*` : undefined;
}

/** Kafka -> keyed tumbling-window aggregate -> Kafka (JSON serde, exactly-once transactions) beside the broker's own perf tools. */
async function kafkaEndToEnd(n: number): Promise<void> {
  const brokers = endpointsFromEnv().kafkaBrokers;
  const { Kafka, logLevel } = kafkajs;
  const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch {
    console.log('kafka: broker not reachable, skipped');
    return;
  }
  const id = Date.now().toString(36);
  const input = `bench.${id}.in`;
  const output = `bench.${id}.out`;
  await admin.createTopics({ topics: [{ topic: input, numPartitions: 1 }, { topic: output, numPartitions: 1 }], waitForLeaders: true });
  const value = (i: number) => JSON.stringify({ market: 'NORDPOOL', area: `A${i % 10}`, deliveryStart: i * 60_000, intervalMinutes: 15, price: 40 + (i % 50) });
  const size = Buffer.byteLength(value(12345));
  const producer = kafka.producer();
  await producer.connect();
  const p0 = performance.now();
  for (let i = 0; i < n; i += 5000) {
    await producer.send({
      topic: input,
      acks: -1,
      messages: Array.from({ length: Math.min(5000, n - i) }, (_, j) => ({ key: `A${(i + j) % 10}`, value: value(i + j), timestamp: String((i + j) * 60_000) })),
    });
  }
  const produceRate = n / ((performance.now() - p0) / 1000);
  await producer.disconnect();

  const spec = makeSpec({
    name: `bench-${id}`,
    processors: [{ name: 'bars', definition: rollupDefinition, config: { interval: '1h', field: 'price' }, inputs: [input], outputs: [output] }],
  });
  const batchMs: number[] = [];
  const t0 = performance.now();
  const run = await new KafkaTransport({ instanceId: 'bench', idleMs: 500 }).start(spec, { untilIdle: false });
  const stats = run.stats()[0]!;
  let firstBatchAt = 0;
  stats.onBatch = (_n, ms) => {
    if (batchMs.length === 0) firstBatchAt = performance.now() - ms;
    batchMs.push(ms);
  };
  while (stats.recordsIn < n) await new Promise((r) => setTimeout(r, 5));
  const pipelineMs = performance.now() - t0;
  const steadyMs = performance.now() - firstBatchAt;
  await run.stop();
  batchMs.sort((a, b) => a - b);
  const pct = (p: number) => batchMs[Math.min(batchMs.length - 1, Math.floor(p * batchMs.length))] ?? 0;
  const pipelineRate = n / (steadyMs / 1000);
  console.log(`kafka (kafkajs): ${n} records of ${size} B, keyed 1h tumbling window, JSON serde, transactions`);
  console.log(`  kafkajs producer (acks=all, batches of 5000): ${Math.round(produceRate).toLocaleString('en')} records/s`);
  console.log(
    `  pipeline Kafka -> window -> Kafka, from the first fetched batch: ${Math.round(pipelineRate).toLocaleString('en')} records/s (${Math.round(n / (pipelineMs / 1000)).toLocaleString('en')} incl. start-up and group join); batch processing p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms over ${batchMs.length} batches`,
  );

  const libs = kafkaLibs();
  if (!libs) {
    console.log('  broker perf tools: .optibid/cache/kafka-4.1.1/libs not found, skipped');
  } else {
    const java = (cls: string, args: string[]) => execFileSync('java', ['-Xmx512m', '-cp', libs, cls, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const consLines: string[] = [];
    const summary = java('org.apache.kafka.tools.ConsumerPerformance', ['--bootstrap-server', brokers[0]!, '--topic', input, '--messages', String(n)]).trim().split('\n');
    const cols = summary[0]!.split(',').map((s) => s.trim());
    const vals = summary[summary.length - 1]!.split(',').map((s) => s.trim());
    const rate = Number(vals[cols.indexOf('fetch.nMsg.sec')]);
    void consLines;
    console.log(`  broker ConsumerPerformance on the same topic (fetch.nMsg.sec, after its group join): ${Math.round(rate).toLocaleString('en')} records/s (pipeline/raw consume = ${(pipelineRate / rate).toFixed(2)})`);
    const prod = java('org.apache.kafka.tools.ProducerPerformance', [
      '--topic', input, '--num-records', String(n), '--record-size', String(size), '--throughput', '-1',
      '--producer-props', `bootstrap.servers=${brokers[0]}`, 'acks=all',
    ]);
    const last = prod.trim().split('\n').pop()!;
    console.log(`  broker ProducerPerformance, ${size} B records, acks=all: ${last.split(',').slice(0, 2).join(',')}`);
  }
  await admin.deleteTopics({ topics: [input, output] }).catch(() => {});
  await admin.disconnect();
}

/** Memory-transport map rate (target ≥ 500k records/s) and Kafka end-to-end beside the broker's perf tools. */
export async function run(): Promise<void> {
  await memoryMap(1_000_000);
  const kafkaRecords = Number(process.env.OPTIBID_BENCH_KAFKA_RECORDS ?? 100_000);
  if (kafkaRecords > 0) await kafkaEndToEnd(kafkaRecords);
}
