import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jest } from '@jest/globals';
import type { KafkaMessage } from 'kafkajs';
import { makeSpec } from '../spec.js';
import { countingProcessor } from '../testing.js';
import { kafkaTransports } from './fixtures/transports.js';
import { createTopics, produce, readTopic, testKafka } from './fixtures/kafka-helpers.js';

jest.setTimeout(180_000);

const runId = `w${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;
const worker = fileURLToPath(new URL('./fixtures/worker.mjs', import.meta.url));
const logDir = join(tmpdir(), 'optibid-workers');

async function endOffsetsSum(topic: string): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return offsets.reduce((a, o) => a + Number(o.high), 0);
}

async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The offsets a consumer group committed on a topic, summed over its partitions (none committed: 0). */
async function committedSum(groupId: string, topic: string): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  return offsets!.partitions.reduce((a, p) => a + Math.max(0, Number(p.offset)), 0);
}

/**
 * Starts fixtures/worker.mjs. Its stdout (`started`, `done in=N out=N`) is collected; its log lines go to a file
 * under the OS temp folder, shown by `log()` when an assertion fails.
 */
function startWorker(name: string, which: string, args: string[]) {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.${which}.log`);
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [worker, name, ...args], { stdio: ['ignore', 'pipe', fd] });
  closeSync(fd); // the child has its own copy
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return {
    child,
    stdout: () => stdout.trim(),
    done: () => {
      const m = /done in=(\d+) out=(\d+)/.exec(stdout);
      return m ? { in: Number(m[1]), out: Number(m[2]) } : undefined;
    },
    /** The worker's warnings and errors, and its assignment and restore lines. */
    log: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => /"level":(4|5)0|assigned|revoked|restor|offset/.test(l))
        .slice(-40)
        .join('\n'),
  };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Per key, the counts seen in order; with exactly-once they are 1..n. */
function countsByKey(messages: KafkaMessage[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const m of messages) {
    const key = m.key!.toString();
    byKey.set(key, [...(byKey.get(key) ?? []), (JSON.parse(m.value!.toString()) as { count: number }).count]);
  }
  return byKey;
}

function inputsOf(messages: KafkaMessage[]): number[] {
  return messages
    .map((m) => (JSON.parse(m.value!.toString()) as { input: { i: number } }).input.i)
    .sort((a, b) => a - b);
}

const records = (from: number, n: number, keys: number) =>
  Array.from({ length: n }, (_, j) => ({ key: `k${(from + j) % keys}`, value: { i: from + j } }));

describe.each(kafkaTransports)('Kafka workers on the %s transport', (transportName, makeTransport) => {
  const run = `${runId}${transportName}`;

  it('a worker killed with SIGKILL mid-stream and restarted yields every record exactly once', async () => {
    const input = `${run}.kill.in`;
    const output = `${run}.kill.out`;
    const name = `${run}-kill`;
    await createTopics([
      { topic: input, numPartitions: 4 },
      { topic: output, numPartitions: 2 },
    ]);
    const n = 1500;
    await produce(input, records(0, n, 10));

    const first = startWorker(name, 'first', [input, output, 'w1', '2', 'forever', transportName]);
    await waitFor(async () => (await endOffsetsSum(output)) > 200, 60_000, 'first outputs');
    first.child.kill('SIGKILL');
    expect(await exited(first.child)).toBeNull();
    const written = await endOffsetsSum(output);
    expect(written).toBeLessThan(n); // killed mid-stream
    const committed = await committedSum(`${name}.count`, input);

    const second = startWorker(name, 'second', [input, output, 'w1', '0', 'until-idle', transportName]);
    expect(await exited(second.child)).toBe(0);
    // The restart resumes from the offsets committed with the first worker's transactions: it reads exactly
    // the records the first did not commit (a restart from the log start would read all of them again).
    const diagnosis = () =>
      `${n} records; committed by the first worker ${committed}; second worker: ${second.stdout()}\n${second.log()}`;
    expect([second.done(), diagnosis()]).toEqual([{ in: n - committed, out: n - committed }, diagnosis()]);

    const out = await readTopic(output, { count: n, settleMs: 1500 });
    expect([out.length, diagnosis()]).toEqual([n, diagnosis()]);
    expect(inputsOf(out)).toEqual(Array.from({ length: n }, (_, i) => i));
    for (const [key, counts] of countsByKey(out)) {
      expect([key, counts]).toEqual([key, Array.from({ length: n / 10 }, (_, i) => i + 1)]);
    }
  });

  it('two workers share partitions and keep counting correctly across rebalances (state restored from the changelog)', async () => {
    const input = `${run}.share.in`;
    const output = `${run}.share.out`;
    const name = `${run}-share`;
    await createTopics([
      { topic: input, numPartitions: 4 },
      { topic: output, numPartitions: 2 },
    ]);
    const spec = makeSpec({
      name,
      processors: [{ name: 'count', definition: countingProcessor, config: {}, inputs: [input], outputs: [output] }],
      partitions: { [input]: 4 },
    });
    const a = await makeTransport({ instanceId: 'a' }).start(spec);
    await produce(input, records(0, 400, 8));
    await waitFor(() => a.stats()[0]!.recordsIn >= 400, 60_000, 'worker a to process 400');

    const b = await makeTransport({ instanceId: 'b' }).start(spec);
    await produce(input, records(400, 400, 8));
    await waitFor(
      () => a.stats()[0]!.recordsIn + b.stats()[0]!.recordsIn >= 800,
      90_000,
      'both workers to process 800',
    );
    expect(b.stats()[0]!.recordsIn).toBeGreaterThan(0); // b took over some partitions
    expect(a.stats()[0]!.recordsIn).toBeGreaterThan(400); // and a kept some

    await a.stop(); // graceful: b gets every partition, restoring a's state from the changelog
    const bBefore = b.stats()[0]!.recordsIn;
    await produce(input, records(800, 400, 8));
    await waitFor(() => b.stats()[0]!.recordsIn >= bBefore + 400, 90_000, 'worker b to process the last 400');
    await b.stop();

    const out = await readTopic(output, { count: 1200, settleMs: 1500 });
    expect(out.length).toBe(1200);
    expect(inputsOf(out)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    for (const [key, counts] of countsByKey(out)) {
      expect([key, counts.sort((x, y) => x - y)]).toEqual([key, Array.from({ length: 150 }, (_, i) => i + 1)]);
    }
  });
});
