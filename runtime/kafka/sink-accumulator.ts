import type { Message } from 'kafkajs';
import type { Clock } from '../clock.js';
import type { SinkBatching } from '../component.js';
import { dlqHeaders } from '../dlq.js';
import type { OutRecord, StreamRecord } from '../record.js';
import type { SinkNode } from '../spec.js';
import { deadLetterMessage, type RawLookup } from './codec.js';

/** Records fetched from one partition, decoded, as the Kafka transports hand them to a sink's accumulator. */
export interface SinkChunk {
  topic: string;
  partition: number;
  records: StreamRecord[];
  /** Dead letters already known (records that failed to decode): sent with the batch, before its commit. */
  deadLetters: Message[];
  /** Original value bytes by offset, for records the sink dead-letters. */
  raw: RawLookup;
  /** The offset to commit once the chunk is stored: its last fetched offset + 1. */
  nextOffset: string;
}

/** A batch for one `write`: the records of its chunks in arrival order, plus their known dead letters. */
export interface SinkBatch {
  records: StreamRecord[];
  deadLetters: Message[];
  chunks: readonly SinkChunk[];
}

export interface CommitOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface SinkAccumulatorOptions extends SinkBatching {
  /** Measures how long records waited (the transports pass the wall clock; tests a VirtualClock). */
  clock: Clock;
  /** Stores a batch (and sends its dead letters); resolves once it is acknowledged. */
  write(batch: SinkBatch): Promise<void>;
  /** Commits consumed offsets; called only after the `write` covering them resolved. */
  commit(offsets: CommitOffset[]): Promise<void>;
}

/** Batching for a sink that declares none: each fetched chunk is written as it comes. */
export const unbatched: SinkBatching = { maxRecords: Number.POSITIVE_INFINITY, maxWaitMs: 0 };

/** The batching a sink node asks for (its definition's `batching`, from its config), else `unbatched`. */
export function sinkBatching(node: Pick<SinkNode, 'definition' | 'config'>): SinkBatching {
  return node.definition.batching?.(node.config as never) ?? unbatched;
}

/** How often (real ms) the transports check the time bound of a sink's buffer. */
export function checkIntervalMs(b: SinkBatching): number {
  return Math.max(10, Math.min(100, b.maxWaitMs / 4));
}

/**
 * Accumulates fetched records for a sink, bounded by size (`maxRecords`) and time (`maxWaitMs` since
 * the oldest buffered record), and writes them in batches: one `write` at a time, then a `commit` of
 * the offsets it covered, so offsets are committed only once what they cover is stored. While a write
 * runs, the next batch fills; `add` waits when that one is full too, which is the back-pressure (memory
 * holds at most about two batches plus one chunk). A chunk is split at the size bound. A write (or
 * commit) that fails puts the accumulator in a failed state: nothing after it is committed, and `add`,
 * `check` and `flush` reject with the error, so the run stops and a restart re-reads from the last commit.
 */
export class SinkAccumulator {
  private chunks: SinkChunk[] = [];
  private rows = 0;
  /** Clock time the oldest buffered chunk arrived. */
  private firstAt: number | undefined;
  private inFlight: Promise<void> | undefined;
  private failure: { err: unknown } | undefined;
  private turn: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: SinkAccumulatorOptions) {
    if (!(opts.maxRecords >= 1)) throw new RangeError(`maxRecords must be at least 1 (got ${opts.maxRecords})`);
    if (!(opts.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be at least 0 (got ${opts.maxWaitMs})`);
  }

  /** Records waiting for a write (not counting the one in flight). */
  get buffered(): number {
    return this.rows;
  }

  /** True when nothing is buffered and no write is running. */
  get idle(): boolean {
    return this.chunks.length === 0 && this.inFlight === undefined;
  }

  /**
   * Takes a fetched chunk. Resolves at once unless a batch became full, then once its write started
   * (after the previous write finished). Rejects when an earlier write failed.
   */
  async add(chunk: SinkChunk): Promise<void> {
    if (this.closed) return;
    this.throwIfFailed();
    let rest: SinkChunk | undefined = chunk;
    while (rest) {
      const room = this.opts.maxRecords - this.rows;
      let head = rest;
      rest = undefined;
      if (room > 0 && head.records.length > room) [head, rest] = split(head, room);
      this.chunks.push(head);
      this.rows += head.records.length;
      this.firstAt ??= this.opts.clock.now();
      if (this.rows >= this.opts.maxRecords || this.opts.maxWaitMs <= 0) await this.startWrite();
    }
  }

  /** The time bound: writes a partial batch whose oldest record waited `maxWaitMs`. Call it periodically. */
  async check(): Promise<void> {
    this.throwIfFailed();
    if (this.firstAt !== undefined && this.opts.clock.now() - this.firstAt >= this.opts.maxWaitMs)
      await this.startWrite();
  }

  /** Writes everything buffered and waits until it is stored and committed. */
  async flush(): Promise<void> {
    await this.startWrite();
    await this.settled();
  }

  /**
   * Drops what is buffered and not yet written (its offsets were never committed, so it is fetched
   * again from the last commit: a rebalance does this). A write in flight goes on.
   */
  discard(): number {
    const n = this.rows;
    this.chunks = [];
    this.rows = 0;
    this.firstAt = undefined;
    return n;
  }

  /** Flushes, then ignores later chunks (they stay uncommitted and are read again after a restart). */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.closed = true;
      this.discard();
    }
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.err;
  }

  /** Waits for the write in flight; throws if it (or an earlier one) failed. */
  private async settled(): Promise<void> {
    await this.inFlight;
    this.throwIfFailed();
  }

  /** Starts writing the buffer once the previous write is done (serialised: one write at a time, in order). */
  private startWrite(): Promise<void> {
    const next = this.turn.then(async () => {
      await this.settled();
      if (this.chunks.length === 0) return;
      const chunks = this.chunks;
      this.discard();
      this.inFlight = this.store(chunks).then(
        () => {
          this.inFlight = undefined;
        },
        (err: unknown) => {
          this.failure ??= { err };
          this.inFlight = undefined;
        },
      );
    });
    this.turn = next.catch(() => {});
    return next;
  }

  private async store(chunks: SinkChunk[]): Promise<void> {
    const records: StreamRecord[] = [];
    const deadLetters: Message[] = [];
    for (const c of chunks) {
      for (const r of c.records) records.push(r);
      for (const d of c.deadLetters) deadLetters.push(d);
    }
    await this.opts.write({ records, deadLetters, chunks });
    await this.opts.commit(commitOffsets(chunks));
  }
}

/** The first `n` records of a chunk (with all its known dead letters) and the rest (records without offsets: not split). */
function split(chunk: SinkChunk, n: number): [SinkChunk, SinkChunk | undefined] {
  const last = chunk.records[n - 1]!.offset;
  if (last === undefined) return [chunk, undefined];
  const head: SinkChunk = {
    ...chunk,
    records: chunk.records.slice(0, n),
    nextOffset: (BigInt(last) + 1n).toString(),
  };
  const tail: SinkChunk = { ...chunk, records: chunk.records.slice(n), deadLetters: [] };
  return [head, tail];
}

/** Per partition, the highest offset to commit among `chunks`. */
export function commitOffsets(chunks: readonly SinkChunk[]): CommitOffset[] {
  const by = new Map<string, CommitOffset>();
  for (const c of chunks) {
    const k = `${c.topic}\u0000${c.partition}`;
    const known = by.get(k);
    if (!known || BigInt(c.nextOffset) > BigInt(known.offset))
      by.set(k, { topic: c.topic, partition: c.partition, offset: c.nextOffset });
  }
  return [...by.values()];
}

/**
 * Dead letters of a batch as Kafka messages: the decode failures it carried, then the records the
 * sink dead-lettered, each with its original bytes (found by its source partition and offset).
 */
export function batchDeadLetters(batch: SinkBatch, dead: readonly OutRecord[]): Message[] {
  if (dead.length === 0) return batch.deadLetters;
  const out = [...batch.deadLetters];
  for (const d of dead) {
    const h = d.headers ?? {};
    const offset = h[dlqHeaders.sourceOffset];
    const chunk = batch.chunks.find(
      (c) =>
        c.topic === h[dlqHeaders.sourceTopic] &&
        String(c.partition) === h[dlqHeaders.sourcePartition] &&
        offset !== undefined &&
        c.raw.has(offset),
    );
    const bytes = chunk ? chunk.raw.get(offset!)! : Buffer.from(JSON.stringify(d.value ?? null));
    out.push(deadLetterMessage(d, bytes));
  }
  return out;
}
