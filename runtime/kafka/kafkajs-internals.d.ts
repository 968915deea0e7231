// The kafkajs internal the kafkajs transport patches (see offset-reset.ts, group-offsets.ts): a consumer group's
// offset manager, one per join (generation) of a member. Only the members used there are declared.
declare module 'kafkajs/src/consumer/offsetManager/index.js' {
  export interface OffsetManagerInstance {
    groupId: string;
    /** The member id and generation of the join this offset manager belongs to. */
    memberId: string;
    generationId: number;
    /** Assigned topics, and partitions per topic. */
    topics: string[];
    memberAssignment: Record<string, number[]>;
    /** Per subscribed topic, e.g. `{ fromBeginning: true }`. */
    topicConfigurations: Record<string, Record<string, unknown>>;
    cluster: {
      fetchTopicsOffset(
        topics: Array<{ topic: string; partitions: Array<{ partition: number }> } & Record<string, unknown>>,
      ): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
    };
    resolvedOffsets: Record<string, Record<string, string | undefined>>;
    committedOffsets(): Record<string, Record<string, string | undefined>>;
    nextOffset(topic: string, partition: number): { toString(): string };
    setDefaultOffset(tp: { topic: string; partition: number }): Promise<void>;
    /** Looks up the committed offsets of assigned partitions not known yet (before every fetch). */
    resolveOffsets(): Promise<void>;
    /** The group coordinator (a kafkajs Broker), reconnected if needed. */
    getCoordinator(): Promise<unknown>;
  }
  const OffsetManager: {
    new (options: Record<string, unknown>): OffsetManagerInstance;
    prototype: OffsetManagerInstance;
  };
  export default OffsetManager;
}
