import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import type { RunningPipeline } from '../pipeline.js';
import { makeSpec } from '../spec.js';
import { RdkafkaTransport } from './transport.js';
import { createTopics, produce, testKafka } from '../kafka/fixtures/kafka-helpers.js';
import {
  createGate,
  forwardedInputs,
  gatedForwarder,
  inputNumber,
  numberedRecords,
  waitFor,
} from '../kafka/fixtures/zombie.js';

jest.setTimeout(180_000);

const runId = `zmrd${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;
const gate = createGate();
const gatedForward = gatedForwarder(gate);

/**
 * The rdkafka twin of kafka/zombie-member.integration.test.ts. librdkafka heartbeats from its own thread, so a
 * member stuck in the middle of a batch keeps its session; it is dropped when it has not asked for records
 * within `max.poll.interval.ms`. The member that takes its partitions processes the same records. When the
 * stalled member (the zombie) then finishes its batch, its offset commit (`sendOffsetsToTransaction` with the
 * consumer's group metadata) must be fenced and its transaction aborted: the output holds every record exactly
 * once, and the zombie rejoins and goes on from the committed offsets.
 */
describe('rdkafka transport: a member stalled past max.poll.interval.ms (a zombie)', () => {
  it('is fenced at its offset commit; its outputs stay invisible, and it rejoins from the committed offsets', async () => {
    const name = runId;
    const input = `${name}.in`;
    const output = `${name}.out`;
    const n = 40;
    const m = 20;
    await createTopics([
      { topic: input, numPartitions: 2 },
      { topic: output, numPartitions: 1 },
    ]);
    await produce(input, numberedRecords(0, n));
    const spec = makeSpec({
      name,
      processors: [{ name: 'fwd', definition: gatedForward, config: {}, inputs: [input], outputs: [output] }],
      partitions: { [input]: 2 },
    });
    const group = `${name}.fwd`;
    /** Per member: the input record numbers of every committed transaction, and its log lines. */
    const committed = { a: [] as number[], b: [] as number[] };
    const lines = { a: [] as string[], b: [] as string[] };
    const start = (id: 'a' | 'b') =>
      new RdkafkaTransport({
        instanceId: id,
        // Short group timeouts (the broker's minimum session timeout is 6 s): the stalled member is dropped soon.
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 500,
        maxPollIntervalMs: 7000,
        afterCommit: ({ records: rs }) => {
          for (const r of rs) committed[id].push(inputNumber(r.value));
        },
      }).start(spec, {
        logger: pino({ level: 'info' }, { write: (line: string) => void lines[id].push(line) }),
      });
    const assignedCount = (id: 'a' | 'b') =>
      lines[id].filter((l) => l.includes('partitions assigned') && !l.includes('"assignment":[]')).length;

    let fenced = '';
    gate.arm();
    const runs: RunningPipeline[] = [];
    const admin = testKafka().admin();
    await admin.connect();
    try {
      runs.push(await start('a'));
      // A holds both partitions and is stuck inside its first batch: librdkafka still heartbeats, nothing commits.
      await waitFor(() => gate.entered, 60_000, 'member A to enter its first batch');
      const [before] = (await admin.describeGroups([group])).groups;
      expect(before!.members).toHaveLength(1);
      const zombieId = before!.members[0]!.memberId;

      runs.push(await start('b'));
      // A does not poll within max.poll.interval.ms and leaves the group; B is given both partitions and
      // processes every record, those of A's held batch included.
      await waitFor(() => new Set(committed.b).size === n, 90_000, 'member B to process all the records');
      const [during] = (await admin.describeGroups([group])).groups;
      expect(during!.members.map((x) => x.memberId)).not.toContain(zombieId);
      expect(committed.a).toEqual([]);

      // A finishes its batch and tries to commit it: fenced, aborted, and A rejoins.
      gate.release();
      await waitFor(
        () => committed.a.length > 0 || lines.a.some((l) => l.includes('offset commit fenced')),
        60_000,
        "member A's commit to be fenced (or, the bug, to go through)",
      );
      expect(committed.a).toEqual([]); // the zombie's transaction never committed
      fenced = lines.a.find((l) => l.includes('offset commit fenced'))!;
      expect(JSON.parse(fenced) as { reason: string }).toMatchObject({
        reason: expect.stringMatching(/^(UNKNOWN_MEMBER_ID|ILLEGAL_GENERATION)$/),
      });
      await waitFor(() => assignedCount('a') >= 2, 60_000, 'member A to rejoin the group');
      await waitFor(
        async () => (await admin.describeGroups([group])).groups[0]!.members.length === 2,
        60_000,
        'both members in the group',
      );

      // Both go on from the committed offsets: the new records are processed once, by whichever member holds them.
      await produce(input, numberedRecords(n, m));
      await waitFor(
        () => committed.a.filter((i) => i >= n).length + committed.b.filter((i) => i >= n).length >= m,
        90_000,
        'the new records to be processed',
      );
      expect(committed.a.filter((i) => i < n)).toEqual([]);
      expect(committed.a.length).toBeGreaterThan(0); // A holds a partition again and works on it
    } catch (err) {
      process.stderr.write(`member A's log:\n${lines.a.join('')}\nmember B's log:\n${lines.b.join('')}\n`);
      throw err;
    } finally {
      gate.release();
      for (const r of runs) await r.stop().catch(() => {});
      await admin.disconnect();
    }

    const expected = Array.from({ length: n + m }, (_, i) => i);
    const out = await forwardedInputs(output, n + m, { abortedExpected: false });
    // Read committed: every record exactly once (the zombie's outputs were aborted).
    expect(out.committed).toEqual(expected);
    // Read uncommitted: the same records, and whatever of the zombie's outputs reached the broker before its
    // transaction was aborted. (Unlike on kafkajs, that may be nothing: the outputs are flushed while the offsets
    // are sent, and the abort purges what librdkafka had not sent yet.)
    expect(out.all.length).toBeGreaterThanOrEqual(n + m);
    expect(new Set(out.all)).toEqual(new Set(expected));
    process.stderr.write(
      `rdkafka zombie: ${out.all.length - (n + m)} aborted output(s) in the log; fenced line: ${fenced}\n`,
    );
  });
});
