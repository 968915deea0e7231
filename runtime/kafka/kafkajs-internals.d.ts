// The one kafkajs internal the kafkajs transport patches (see offset-reset.ts): a consumer group's offset
// manager. Only the members used there are declared.
declare module 'kafkajs/src/consumer/offsetManager/index.js' {
  interface OffsetManagerInstance {
    groupId: string;
    resolvedOffsets: Record<string, Record<string, string | undefined>>;
    committedOffsets(): Record<string, Record<string, string | undefined>>;
    nextOffset(topic: string, partition: number): { toString(): string };
    setDefaultOffset(tp: { topic: string; partition: number }): Promise<void>;
  }
  const OffsetManager: {
    new (options: Record<string, unknown>): OffsetManagerInstance;
    prototype: OffsetManagerInstance;
  };
  export default OffsetManager;
}
