import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
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

    const first = spawn(process.execPath, [worker, name, input, output, 'w1', '2', 'forever', transportName], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await waitFor(async () => (await endOffsetsSum(output)) > 200, 60_000, 'first outputs');
    first.kill('SIGKILL');
    expect(await exited(first)).toBeNull();
    const written = await endOffsetsSum(output);
    expect(written).toBeLessThan(n); // killed mid-stream

    const second = spawn(process.execPath, [worker, name, input, output, 'w1', '0', 'until-idle', transportName], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    expect(await exited(second)).toBe(0);

    const out = await readTopic(output, { count: n, settleMs: 1500 });
    expect(out.length).toBe(n);
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
