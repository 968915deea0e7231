import kafkajs, { type ICustomPartitioner, type PartitionerArgs } from 'kafkajs';

/**
 * kafkajs' default (Java-compatible murmur2) partitioner with each string key's partition remembered per
 * topic and partition count. kafkajs' own computes murmur2 with `Long` objects and filters the partition
 * metadata for every message, even one with an explicit partition; processors emit the same few keys
 * over and over (and changelog records name their partition), so this answers most messages from a map.
 * Same partitions as the default: a miss asks the default partitioner; keyless messages go to it.
 */
export const cachingPartitioner: ICustomPartitioner = () => {
  const fallback = kafkajs.Partitioners.DefaultPartitioner();
  const byTopic = new Map<string, { partitions: number; keys: Map<string, number> }>();
  return (args: PartitionerArgs) => {
    const { message, topic, partitionMetadata } = args;
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const key = message.key;
    if (typeof key !== 'string') return fallback(args);
    let cache = byTopic.get(topic);
    if (!cache || cache.partitions !== partitionMetadata.length) {
      cache = { partitions: partitionMetadata.length, keys: new Map() };
      byTopic.set(topic, cache);
    }
    let p = cache.keys.get(key);
    if (p === undefined) {
      p = fallback(args);
      if (cache.keys.size >= 100_000) cache.keys.clear();
      cache.keys.set(key, p);
    }
    return p;
  };
};
