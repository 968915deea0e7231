import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { RdkafkaTransport } from './transport.js';
import { createGate, gatedForwarder, runZombieScenario } from '../kafka/fixtures/zombie.js';

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
 * once, and the zombie rejoins and goes on from the committed offsets (`runZombieScenario`).
 */
describe('rdkafka transport: a member stalled past max.poll.interval.ms (a zombie)', () => {
  it('is fenced at its offset commit; its outputs stay invisible, and it rejoins from the committed offsets', async () => {
    const { fenced, abortedInLog } = await runZombieScenario({
      name: runId,
      gate,
      processor: gatedForward,
      // Unlike on kafkajs the zombie's outputs may never reach the log: they are flushed while the offsets are
      // sent, and the abort purges what librdkafka had not sent yet.
      abortedExpected: false,
      start: (id, spec, { afterCommit, logger }) =>
        new RdkafkaTransport({
          instanceId: id,
          // Short group timeouts (the broker's minimum session timeout is 6 s): the stalled member is dropped soon.
          sessionTimeoutMs: 6000,
          heartbeatIntervalMs: 500,
          maxPollIntervalMs: 7000,
          afterCommit,
        }).start(spec, { logger }),
    });
    process.stderr.write(`rdkafka zombie: ${abortedInLog} aborted output(s) in the log; fenced line: ${fenced}\n`);
  });
});
