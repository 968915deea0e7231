import type { Admin } from 'kafkajs';
import { ensureCompactedTopic } from './compacted-topic.js';

/** An admin whose topic list answers from `lists` in turn and whose createTopics does `create`. */
function fakeAdmin(lists: string[][], create: (args: unknown) => Promise<boolean>) {
  const calls: unknown[] = [];
  const admin = {
    listTopics: async () => lists.shift() ?? [],
    createTopics: async (args: unknown) => {
      calls.push(args);
      return create(args);
    },
  } as unknown as Admin;
  return { admin, calls };
}

test('creates a missing topic as one compacted partition', async () => {
  const { admin, calls } = fakeAdmin([[]], async () => true);
  await ensureCompactedTopic(admin, 'store');
  expect(calls).toEqual([
    {
      waitForLeaders: true,
      topics: [
        {
          topic: 'store',
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    },
  ]);
});

test('leaves an existing topic alone', async () => {
  const { admin, calls } = fakeAdmin([['other', 'store']], async () => true);
  await ensureCompactedTopic(admin, 'store');
  expect(calls).toHaveLength(0);
});

test('another process creating it at the same moment is not an error; any other failure is', async () => {
  const exists = new Error('Topic with this name already exists');
  const raced = fakeAdmin([[], ['store']], async () => Promise.reject(exists));
  await expect(ensureCompactedTopic(raced.admin, 'store')).resolves.toBeUndefined();
  const refused = fakeAdmin([[], []], async () => Promise.reject(new Error('Cluster authorization failed')));
  await expect(ensureCompactedTopic(refused.admin, 'store')).rejects.toThrow('Cluster authorization failed');
});
