import type { Admin } from 'kafkajs';

/**
 * Creates `topic` as a one-partition compacted topic (a store's log: source offsets, registry schemas) unless it
 * exists. Another process creating it at the same moment is not an error; the caller checks the partition count
 * where it depends on it.
 */
export async function ensureCompactedTopic(admin: Admin, topic: string): Promise<void> {
  if ((await admin.listTopics()).includes(topic)) return;
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
  } catch (err) {
    if (!(await admin.listTopics()).includes(topic)) throw err;
  }
}
