import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { KafkaTransport } from './transport.js';
import { createGate, gatedForwarder, runZombieScenario } from './fixtures/zombie.js';

jest.setTimeout(180_000);

const runId = `zm${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;

const gate = createGate();
const gatedForward = gatedForwarder(gate);

/**
 * A member that stalls in the middle of a batch past the group's session timeout loses its partitions to
 * another member, which processes the same records. When the stalled member (the zombie) then finishes its
 * batch, its offset commit must be fenced (TxnOffsetCommit v3 carries its stale member id and generation) and
 * its transaction aborted: the output holds every record exactly once, and the zombie rejoins and goes on
 * (`runZombieScenario`).
 */
describe.each([['lean'], ['kafkajs']] as const)(
  'kafka transport (%s wire): a member stalled past its session timeout (a zombie)',
  (wire) => {
    it('is fenced at its offset commit; its outputs stay invisible, and it rejoins from the committed offsets', async () => {
      await runZombieScenario({
        name: `${runId}${wire}`,
        gate,
        processor: gatedForward,
        // kafkajs writes the zombie's outputs before its offsets: they reach the log, in the aborted transaction.
        abortedExpected: true,
        start: (id, spec, { afterCommit, logger }) =>
          new KafkaTransport({
            instanceId: id,
            wire,
            // Short group timeouts (the broker's minimum session timeout is 6 s): the stalled member is dropped soon.
            sessionTimeoutMs: 6000,
            rebalanceTimeoutMs: 6000,
            heartbeatIntervalMs: 500,
            afterCommit,
          }).start(spec, { logger }),
      });
    });
  },
);
