import { Type } from '@sinclair/typebox';
import {
  EndOfInput,
  defineProcessor,
  defineSink,
  defineSource,
  type SinkDefinition,
  type SourceDefinition,
} from './component.js';
import type { OutRecord, StreamRecord } from './record.js';

/**
 * A source that replays a fixed list of records in batches, then ends: for tests and embedded jobs.
 * `acked` counts acknowledged batches.
 */
export function arraySource(
  name: string,
  records: OutRecord[],
  opts: { batchSize?: number; outputs?: string[] } = {},
): SourceDefinition & { acked: () => number } {
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
export function collectingSink(
  name: string,
  opts: { failWhen?: (r: StreamRecord) => boolean; onWrite?: (batch: StreamRecord[]) => Promise<void> | void } = {},
): SinkDefinition & {
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

/**
 * A stateful processor for tests: a running count per key in keyed state; emits
 * `{ count, input }` (input = the record's value) per record. With exactly-once processing and state
 * restored correctly, each key's counts are 1, 2, 3, ... with no gap and no repeat.
 */
export const countingProcessor = defineProcessor({
  name: 'count-by-key',
  status: 'experimental',
  summary: 'running count per key (tests)',
  config: Type.Object({
    delayMs: Type.Optional(
      Type.Integer({ minimum: 0, description: 'real-time pause per record (to slow a worker down)' }),
    ),
  }),
  create: (cfg) => ({
    async process(r, ctx) {
      if (cfg.delayMs) await new Promise((res) => setTimeout(res, cfg.delayMs));
      const key = r.key ?? '';
      const count = ((ctx.state.get(key) as number | undefined) ?? 0) + 1;
      ctx.state.put(key, count);
      ctx.emit({ key: r.key, value: { count, input: r.value }, timestamp: r.timestamp });
    },
  }),
});
