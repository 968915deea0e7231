import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GCProfiler, getHeapSpaceStatistics } from 'node:v8';
import { AvroSerde, decodeLeanBatch, encodeRecords, VirtualClock, MemorySchemaLookup } from '@optibid/runtime';
import { RecordCursor, scanRecordBatches } from '@optibid/runtime/kafka/record-batches.js';
import { encodeRecordBatch } from '@optibid/runtime/kafka/lean-produce.js';
import { rollupDefinition } from '@optibid/processors/aggregate/rollup.js';
import { barsCore, price } from './records.js';

/**
 * The lean wire path's decode stage in this process, without the broker: `decodeLeanBatch` over one
 * fetched partition's record batch v2 bytes holding the pipeline bench's MarketPrice records (Avro,
 * Confluent framing, 10 keys), a chunk of 4096 records at a time as the kafka transport takes them.
 * Side by side in alternating rounds: whole values vs the `rollup` projection (`valueFields`: `price`),
 * decode alone and decode + the rollup through `ProcessorCore`. Prints CPU µs per record (median of 7)
 * and the bytes allocated per record (v8.GCProfiler: heap growth between collections, summed; median).
 * Then the worker's whole path without sockets (projected): decode, rollup, the bars encoded (Avro) and
 * written as Produce record batches, the changelog drained, encoded and batched once per 100 000 records;
 * with `OPTIBID_BENCH_BASELINE=DIR` (another built checkout, e.g. a git worktree of an older commit) also on
 * that checkout's code, passes alternating in this one process (old vs new without a process or minute
 * between them). Run it as the worker runs, e.g. `node --max-semi-space-size=64 bench/dist/run.js lean-decode`.
 */

const records = Number(process.env.OPTIBID_BENCH_DECODE_RECORDS ?? 200_000);
const chunk = 4096;

function varint(n: number, out: number[]): void {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  out.push(z);
}

/** One record batch v2 (uncompressed, CRC not filled in: the lean path does not check it by default). */
function recordBatch(baseOffset: number, values: Buffer[], keys: string[], baseTs: number): Buffer {
  const parts: Buffer[] = [];
  values.forEach((v, i) => {
    const body: number[] = [0];
    varint(i * 60_000, body); // timestamp delta: a record a minute
    varint(i, body);
    const key = Buffer.from(keys[i % keys.length]!);
    varint(key.length, body);
    const head = Buffer.from(body);
    const tail: number[] = [];
    varint(v.length, tail);
    const after = Buffer.from([0]); // no headers
    const rec = Buffer.concat([head, key, Buffer.from(tail), v, after]);
    const len: number[] = [];
    varint(rec.length, len);
    parts.push(Buffer.from(len), rec);
  });
  const recs = Buffer.concat(parts);
  const header = Buffer.alloc(61);
  header.writeBigInt64BE(BigInt(baseOffset), 0);
  header.writeInt32BE(49 + recs.length, 8);
  header.writeInt8(2, 16);
  header.writeInt32BE(values.length - 1, 23);
  header.writeBigInt64BE(BigInt(baseTs), 27);
  header.writeBigInt64BE(BigInt(baseTs + (values.length - 1) * 60_000), 35);
  header.writeBigInt64BE(-1n, 43);
  header.writeInt32BE(values.length, 57);
  return Buffer.concat([header, recs]);
}

/** Bytes used in every heap space. */
const heapUsed = () => getHeapSpaceStatistics().reduce((a, s) => a + s.space_used_size, 0);

interface GcSpace {
  spaceName: string;
  spaceUsedSize: number;
}
interface GcEvent {
  beforeGC: { heapSpaceStatistics: GcSpace[] };
  afterGC: { heapSpaceStatistics: GcSpace[] };
}
const usedOf = (spaces: GcSpace[]) => spaces.reduce((a, s) => a + s.spaceUsedSize, 0);

/**
 * Bytes allocated while `fn` runs: the heap's growth between collections (`v8.GCProfiler` gives every
 * space's size before and after each one), summed. Counts objects V8 allocates straight in the old
 * generation too (pretenured), which a new-space count misses.
 */
async function allocatedBy(fn: () => Promise<void>): Promise<number> {
  const profiler = new GCProfiler();
  profiler.start();
  const start = heapUsed();
  await fn();
  const end = heapUsed();
  const events = (profiler.stop() as unknown as { statistics: GcEvent[] }).statistics;
  let allocated = 0;
  let from = start;
  for (const e of events) {
    allocated += usedOf(e.beforeGC.heapSpaceStatistics) - from;
    from = usedOf(e.afterGC.heapSpaceStatistics);
  }
  return allocated + end - from;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function run(): Promise<void> {
  const schema = JSON.parse(
    readFileSync(join(process.cwd(), 'schemas/avro/market.prices-value.avsc'), 'utf8'),
  ) as object;
  const bars = JSON.parse(
    readFileSync(join(process.cwd(), 'pipelines/schemas/price-bars-value.avsc'), 'utf8'),
  ) as object;
  const serde = new AvroSerde({
    registry: new MemorySchemaLookup(),
    schemaFor: (topic) => (topic === 'out' ? bars : schema),
  });
  const keys = Array.from({ length: 10 }, (_, i) => `NORDPOOL|A${i}`);
  const values: Buffer[] = [];
  for (let i = 0; i < records; i++) {
    values.push(Buffer.from(await serde.serialize('in', price(i, i * 60_000))));
  }
  // Batches of 5000 records, as the pipeline bench's producer writes them.
  const batches: Buffer[] = [];
  for (let i = 0; i < records; i += 5000)
    batches.push(recordBatch(i, values.slice(i, i + 5000), keys, 1_700_000_000_000 + i * 60_000));
  const scanned = await scanRecordBatches(Buffer.concat(batches), 0, null);
  const fields = rollupDefinition.valueFields!({ interval: '1h', field: 'price' });
  // Warm the serde's reader for the topic (the async path once), as a running worker has it.
  await decodeLeanBatch('in', 0, new RecordCursor(scanned.spans), serde, 'dlq', 'bench', 1, null);

  const clock = new VirtualClock();
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const newCore = () => barsCore(clock, logger);

  /** One pass over every record: CPU µs per record and the new-space bytes per record of chunks without a scavenge. */
  const pass = async (projection: readonly string[] | null, process_: boolean) => {
    const core = process_ ? newCore() : undefined;
    const cursor = new RecordCursor(scanned.spans);
    let decoded = 0;
    const t0 = process.cpuUsage();
    const allocated = await allocatedBy(async () => {
      while (!cursor.done) {
        const d = await decodeLeanBatch('in', 0, cursor, serde, 'dlq', 'bench', chunk, projection);
        if (core) {
          await core.run(d.records, false);
          if ((decoded += d.records.length) % 81_920 === 0) core.takeChanges();
        } else decoded += d.records.length;
      }
    });
    const cpu = process.cpuUsage(t0);
    await core?.close();
    if (decoded !== records) throw new Error(`decoded ${decoded} of ${records}`);
    return { us: (cpu.user + cpu.system) / records, bytes: allocated / records };
  };

  for (const withCore of [false, true]) {
    const whole: Array<{ us: number; bytes: number }> = [];
    const projected: Array<{ us: number; bytes: number }> = [];
    for (let rep = 0; rep < 7; rep++) {
      // Alternating, the order reversed every round.
      if (rep % 2 === 0) {
        whole.push(await pass(null, withCore));
        projected.push(await pass(fields!, withCore));
      } else {
        projected.push(await pass(fields!, withCore));
        whole.push(await pass(null, withCore));
      }
    }
    const show = (xs: Array<{ us: number; bytes: number }>) =>
      `${median(xs.map((x) => x.us)).toFixed(3)} µs/record (min ${Math.min(...xs.map((x) => x.us)).toFixed(3)}), ` +
      `${Math.round(median(xs.map((x) => x.bytes)))} B/record`;
    const what = withCore ? 'decode + rollup (ProcessorCore, changes tracked)' : 'decode alone (decodeLeanBatch)';
    console.log(`${what}, ${records} MarketPrice records, chunks of ${chunk}, median of 7:`);
    console.log(`  whole values:              ${show(whole)}`);
    console.log(`  projected [${fields!.join(', ')}]:         ${show(projected)}`);
  }

  // The worker path without sockets: what the kafka transport does per chunk and per transaction. With
  // OPTIBID_BENCH_BASELINE=DIR (another checkout, built) the same passes run on its code too, alternating in
  // this process: old and new side by side without a process or machine-state difference between them.
  const libs: Array<[string, WorkerLib]> = [['this checkout', await workerLib('@optibid/runtime', '.')]];
  const baseline = process.env.OPTIBID_BENCH_BASELINE;
  if (baseline)
    libs.push([`baseline ${baseline}`, await workerLib(resolve(baseline, 'runtime/dist/index.js'), baseline)]);
  const passes = libs.map(() => [] as Array<{ us: number; bytes: number }>);
  const ready = await Promise.all(libs.map(([, lib]) => workerSetup(lib, values, keys, schema, bars)));
  for (let rep = 0; rep < 9; rep++)
    for (let k = 0; k < libs.length; k++) {
      const at = rep % 2 === 0 ? k : libs.length - 1 - k;
      passes[at]!.push(await workerPass(libs[at]![1], ready[at]!, fields!));
    }
  console.log(
    `worker path without sockets (projected decode, rollup, bars Avro-encoded into record batches, changelog per 100 000), ${records} records, median of 9:`,
  );
  libs.forEach(([name], k) => {
    const xs = passes[k]!;
    console.log(
      `  ${name}: ${median(xs.map((x) => x.us)).toFixed(3)} µs/record (min ${Math.min(...xs.map((x) => x.us)).toFixed(3)}), ${Math.round(median(xs.map((x) => x.bytes)))} B/record`,
    );
  });
}

/** What the worker path needs of a checkout's runtime (this one's, or a baseline's built dist). */
interface WorkerLib {
  AvroSerde: typeof AvroSerde;
  MemorySchemaLookup: typeof MemorySchemaLookup;
  VirtualClock: typeof VirtualClock;
  decodeLeanBatch: typeof decodeLeanBatch;
  encodeRecords: typeof encodeRecords;
  RecordCursor: typeof RecordCursor;
  scanRecordBatches: typeof scanRecordBatches;
  encodeRecordBatch: typeof encodeRecordBatch;
  barsCore: typeof barsCore;
}

async function workerLib(runtime: string, root: string): Promise<WorkerLib> {
  if (runtime === '@optibid/runtime')
    return {
      AvroSerde,
      MemorySchemaLookup,
      VirtualClock,
      decodeLeanBatch,
      encodeRecords,
      RecordCursor,
      scanRecordBatches,
      encodeRecordBatch,
      barsCore,
    };
  const url = (path: string) => pathToFileURL(resolve(root, path)).href;
  const index = (await import(pathToFileURL(runtime).href)) as WorkerLib;
  const batches = (await import(url('runtime/dist/kafka/record-batches.js'))) as WorkerLib;
  const produce = (await import(url('runtime/dist/kafka/lean-produce.js'))) as WorkerLib;
  const benchRecords = (await import(url('bench/dist/records.js'))) as WorkerLib;
  return {
    ...index,
    RecordCursor: batches.RecordCursor,
    scanRecordBatches: batches.scanRecordBatches,
    encodeRecordBatch: produce.encodeRecordBatch,
    barsCore: benchRecords.barsCore,
  };
}

/** A checkout's serde (warm, both topics) and the input scanned by its own record-batch reader. */
async function workerSetup(lib: WorkerLib, values: Buffer[], keys: string[], schema: object, bars: object) {
  const serde = new lib.AvroSerde({
    registry: new lib.MemorySchemaLookup(),
    schemaFor: (topic) => (topic === 'out' ? bars : schema),
  });
  // Registers the input's schema first, under the id the values were framed with (as in `run`).
  await serde.serialize('in', price(0, 0));
  const batches: Buffer[] = [];
  for (let i = 0; i < values.length; i += 5000)
    batches.push(recordBatch(i, values.slice(i, i + 5000), keys, 1_700_000_000_000 + i * 60_000));
  const scanned = await lib.scanRecordBatches(Buffer.concat(batches), 0, null);
  await lib.decodeLeanBatch('in', 0, new lib.RecordCursor(scanned.spans), serde, 'dlq', 'bench', 1, null);
  await serde.serialize('out', {
    key: 'k',
    windowStart: 0,
    windowEnd: 1,
    count: 1,
    sum: 1,
    mean: 1,
    min: 1,
    max: 1,
    open: 1,
    close: 1,
  });
  return { serde, scanned };
}

const batchOptions = { producerId: 1000n, producerEpoch: 0, firstSequence: 0, transactional: true, now: Date.now() };

/** One pass of the worker path over every record. */
async function workerPass(
  lib: WorkerLib,
  { serde, scanned }: Awaited<ReturnType<typeof workerSetup>>,
  fields: readonly string[],
) {
  const core = lib.barsCore(new lib.VirtualClock(), { debug() {}, info() {}, warn() {}, error() {} });
  const cursor = new lib.RecordCursor(scanned.spans);
  let sinceCommit = 0;
  let bytes = 0;
  let decoded = 0;
  const t0 = process.cpuUsage();
  const allocated = await allocatedBy(async () => {
    while (!cursor.done) {
      const d = await lib.decodeLeanBatch('in', 0, cursor, serde, 'dlq', 'bench', chunk, fields);
      sinceCommit += d.records.length;
      decoded += d.records.length;
      const result = await core.run(d.records, false);
      const { byTopic } = await lib.encodeRecords(result.outputs, serde, 'dlq', 'bench');
      for (const list of byTopic.values()) bytes += lib.encodeRecordBatch(list, batchOptions).length;
      if (sinceCommit >= 100_000 || cursor.done) {
        sinceCommit = 0;
        const changes = core
          .takeChanges()
          .flatMap(({ changes: list }) =>
            list.map((c) => ({ key: c.key, value: c.value === undefined ? null : JSON.stringify(c.value) })),
          );
        if (changes.length) bytes += lib.encodeRecordBatch(changes, batchOptions).length;
      }
    }
  });
  const cpu = process.cpuUsage(t0);
  await core.close();
  if (decoded !== records || bytes === 0) throw new Error(`decoded ${decoded} of ${records}, encoded ${bytes} bytes`);
  return { us: (cpu.user + cpu.system) / records, bytes: allocated / records };
}
