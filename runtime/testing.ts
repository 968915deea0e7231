import { Type } from '@sinclair/typebox';
import { EndOfInput, defineSink, defineSource, type SinkDefinition, type SourceDefinition } from './component.js';
import type { OutRecord, StreamRecord } from './record.js';

/**
 * A source that replays a fixed list of records in batches, then ends: for tests and embedded jobs.
 * `acked` counts acknowledged batches.
 */
export function arraySource(name: string, records: OutRecord[], opts: { batchSize?: number; outputs?: string[] } = {}): SourceDefinition & { acked: () => number } {
  let acked = 0;
  const outputs = opts.outputs ?? [...new Set(records.map((r) => r.topic))];
  const def = defineSource({
    name,
    status: 'experimental',
    summary: 'replays a fixed list of records',
    outputs,
    config: Type.Object({}),
    create: () => {
      let i = 0;
      const size = opts.batchSize ?? 100;
      return {
        connect: async () => {},
        read: async () => {
          if (i >= records.length) throw new EndOfInput();
          const batch = records.slice(i, i + size);
          i += size;
          return { records: batch, ack: async () => void acked++ };
        },
        close: async () => {},
      };
    },
  });
  return Object.assign(def, { acked: () => acked });
}

/** A sink that keeps what it is given; `delayMs` makes it slow (real time) to exercise back-pressure. */
export function collectingSink(name: string, opts: { failWhen?: (r: StreamRecord) => boolean; onWrite?: (batch: StreamRecord[]) => Promise<void> | void } = {}): SinkDefinition & {
  records: StreamRecord[];
} {
  const records: StreamRecord[] = [];
  const def = defineSink({
    name,
    status: 'experimental',
    summary: 'collects records in memory',
    config: Type.Object({}),
    create: () => ({
      connect: async () => {},
      write: async (batch) => {
        await opts.onWrite?.(batch);
        if (opts.failWhen && batch.some(opts.failWhen)) throw new Error('sink rejected the batch');
        records.push(...batch);
      },
      close: async () => {},
    }),
  });
  return Object.assign(def, { records });
}
