import kafkajs from 'kafkajs';
import { isRetriableKafkaError, retryWhileRetriable } from './kafka-store.js';

const notLeader = () =>
  new kafkajs.KafkaJSProtocolError({
    type: 'NOT_LEADER_FOR_PARTITION',
    code: 6,
    retriable: true,
    message: 'This server is not the leader for that topic-partition',
  });

/** A virtual clock: sleeping advances it, nothing waits. */
function virtualTime() {
  let t = 0;
  const sleeps: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (sleeps.push(ms), (t += ms)), sleeps };
}

describe('registry Kafka store: waiting out a broker that is still starting', () => {
  it('tells retriable Kafka errors from others, also when kafkajs wraps them after its own retries', () => {
    expect(isRetriableKafkaError(notLeader())).toBe(true);
    expect(
      isRetriableKafkaError(
        new kafkajs.KafkaJSNumberOfRetriesExceeded(notLeader(), { retryCount: 5, retryTime: 3000 }),
      ),
    ).toBe(true);
    expect(isRetriableKafkaError(new kafkajs.KafkaJSNonRetriableError('topic authorization failed'))).toBe(false);
    expect(isRetriableKafkaError(new Error('boom'))).toBe(false);
  });

  it('retries a retriable failure with growing waits until it succeeds', async () => {
    const clock = virtualTime();
    let calls = 0;
    const got = await retryWhileRetriable(
      async () => {
        if (++calls < 5) throw notLeader();
        return 'offsets';
      },
      30_000,
      clock.sleep,
      clock.now,
    );
    expect(got).toBe('offsets');
    expect(clock.sleeps).toEqual([250, 500, 1000, 2000]);
  });

  it('throws other errors at once, and a retriable one once the time is up', async () => {
    const clock = virtualTime();
    await expect(
      retryWhileRetriable(
        async () => Promise.reject(new Error('topic has 3 partitions')),
        30_000,
        clock.sleep,
        clock.now,
      ),
    ).rejects.toThrow('topic has 3 partitions');
    expect(clock.sleeps).toEqual([]);
    await expect(
      retryWhileRetriable(async () => Promise.reject(notLeader()), 5_000, clock.sleep, clock.now),
    ).rejects.toThrow(/not the leader/);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5_000);
  });
});
