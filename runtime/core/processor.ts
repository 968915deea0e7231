import type { ComponentContext, Logger, ProcessContext, Processor } from '../component.js';
import type { Clock } from '../clock.js';
import { toDeadLetter } from '../dlq.js';
import { OptiBidError } from '../errors.js';
import type { OutRecord, StreamRecord } from '../record.js';
import type { ProcessorNode } from '../spec.js';
import { ChangelogStore, type StateChange } from '../state.js';
import { registerProjection } from './projection.js';
import { newStats, type ComponentStats } from './stats.js';
import { TxStore } from './tx-store.js';
import { PartitionWatermarks, type WatermarkSave, type WatermarkSlot } from './watermarks.js';

/** What one batch produced: records for output topics, dead letters and per-partition state changes. */
export interface BatchResult {
  outputs: OutRecord[];
  deadLetters: OutRecord[];
  changes: Array<{ partition: number; changes: StateChange[] }>;
}

export interface ProcessorCoreOptions {
  dlqTopic: string;
  clock: Clock;
  maxOutOfOrdernessMs: number;
  /** Record state changes for a changelog (Kafka transports). */
  trackChanges?: boolean;
  logger?: Logger;
  /**
   * An input partition that has delivered nothing for this long (ms of the injected clock) stops holding
   * the watermark back until it delivers again (checked by `tick`). Default: never.
   */
  idlePartitionMs?: number;
}

/**
 * The `ProcessContext` of one input partition's store. A class (not an object literal with getters): its
 * `watermark` getter and `requestWatermark` are the same functions for every context, so the optimiser can
 * inline them into a processor's hot path (no boxed watermark per record).
 */
class PartitionContext implements ProcessContext {
  readonly state: TxStore;
  /**
   * For a processor with `watermarkRequests`: the earliest event time asked for with `requestWatermark` since
   * this context's last `onWatermark` (+Infinity: nothing; -Infinity: unknown, e.g. state just restored).
   */
  due = Infinity;
  /** Sends a record downstream (a bound function: processors may pass `ctx.emit` around). */
  readonly emit: ProcessContext['emit'];

  constructor(
    readonly store: ChangelogStore,
    readonly clock: Clock,
    private readonly tracker: PartitionWatermarks,
    private readonly core: { readonly assignedPartitions: readonly number[] | undefined },
    emit: ProcessContext['emit'],
  ) {
    this.state = new TxStore(store);
    this.emit = emit;
  }

  get watermark(): number {
    return this.tracker.value;
  }

  get assignedPartitions(): readonly number[] | undefined {
    return this.core.assignedPartitions;
  }

  requestWatermark(eventTime: number): void {
    if (eventTime < this.due) this.due = eventTime;
  }
}

/** Default `timerIntervalMs` of a processor with `onTimer`. */
export const defaultTimerIntervalMs = 1000;

/** True when a batch result carries anything to write. */
export function hasOutput(r: BatchResult): boolean {
  return r.outputs.length !== 0 || r.deadLetters.length !== 0 || r.changes.length !== 0;
}

/**
 * Runs one processor over batches of records, transport-independent: keyed state per input
 * partition, event-time watermark advanced record by record (so lateness never depends on batch
 * size), `onWatermark` per partition store, and records whose processing throws turned into dead
 * letters (what they had emitted is dropped) while the rest of the batch goes on.
 */
export class ProcessorCore {
  readonly stats: ComponentStats;
  private readonly stores = new Map<number, PartitionContext>();
  /** `stores`' values in Map order; undefined after the Map changed (see `fireWatermark`). */
  private storeList: PartitionContext[] | undefined;
  private readonly watermark: PartitionWatermarks;
  private readonly outputSet: Set<string>;
  private readonly defaultOutput: string | undefined;
  private buffer: OutRecord[] = [];
  private current: StreamRecord | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  /** Clock time of the last record per watermark partition (`topic/partition`), for idleness. */
  private readonly lastSeen = new Map<string, number>();
  private forgotPartition = false;
  /**
   * The watermark when the current unit of work began (the records, tick or flush whose state changes are
   * drained together, i.e. one transaction of a transport), and whether the last unit's changes were drained
   * since: the next `run`, `tick` or `flush` then begins a new unit. See `discardAll`.
   */
  private unitStart: WatermarkSave | undefined;
  private drained = true;
  private nextTimerAt: number;
  private assigned: number[] | undefined;
  private assignedSet: Set<number> | undefined;

  constructor(
    readonly node: ProcessorNode,
    readonly processor: Processor,
    private readonly opts: ProcessorCoreOptions,
  ) {
    this.stats = newStats(node.name, 'processor');
    this.watermark = new PartitionWatermarks(opts.maxOutOfOrdernessMs);
    this.outputSet = new Set(node.outputs);
    this.defaultOutput = node.outputs[0];
    this.nextTimerAt = opts.clock.now() + this.timerIntervalMs;
  }

  /** Whether `tick` has anything to do: the processor has `onTimer`, or idle partitions are detected. */
  get needsTicks(): boolean {
    return typeof this.processor.onTimer === 'function' || this.opts.idlePartitionMs !== undefined;
  }

  get timerIntervalMs(): number {
    const ms = this.processor.timerIntervalMs;
    return ms !== undefined && ms > 0 ? ms : defaultTimerIntervalMs;
  }

  /**
   * Runs `fn` when no other `exclusive` call is running: transports serialise batches, timer ticks
   * and flushes of one core through it (and on Kafka, the transaction that commits their result).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }

  /**
   * Creates the processor of `node` and wraps it. Its projection (`valueFields` of the definition, for
   * this config) is registered for the component's decoders (see projection.ts) until `close`.
   */
  static create(node: ProcessorNode, ctx: ComponentContext, opts: ProcessorCoreOptions): ProcessorCore {
    const core = new ProcessorCore(node, node.definition.create(node.config as never, ctx), opts);
    core.valueFields = node.definition.valueFields?.(node.config as never);
    core.unregister = registerProjection(node.name, core.valueFields);
    return core;
  }

  /** The top-level value fields the processor reads (its definition's `valueFields`), undefined: any. */
  valueFields: readonly string[] | undefined;
  private unregister: (() => void) | undefined;

  /** The keyed store of an input partition (created empty on first use). */
  store(partition: number): ChangelogStore {
    return this.context(partition).store;
  }

  /**
   * The input partitions this task holds after a (re)assignment, or undefined when the transport does not
   * know (before the first assignment). While known, timers tick only the stores of these
   * partitions: a store left from a revoked partition is never ticked before the transport drops it.
   */
  get assignedPartitions(): readonly number[] | undefined {
    return this.assigned;
  }

  /** Records the task's assignment (see `assignedPartitions`); stores are dropped or restored by the transport. */
  setAssignment(partitions: readonly number[] | undefined): void {
    this.assigned = partitions === undefined ? undefined : [...new Set(partitions)].sort((a, b) => a - b);
    this.assignedSet = this.assigned === undefined ? undefined : new Set(this.assigned);
  }

  /** Tells the processor its assignment (`onAssign`), with the stores of its partitions as restored. */
  async notifyAssigned(): Promise<void> {
    if (!this.processor.onAssign || this.assigned === undefined) return;
    try {
      await this.processor.onAssign(this.assigned);
    } catch (err) {
      this.stats.failed++;
      this.opts.logger?.error(
        { component: this.node.name, partitions: this.assigned, err: (err as Error).message },
        'onAssign failed',
      );
    }
  }

  /**
   * Installs the keyed state of an input partition read back from its changelog (replacing what the task
   * held for it), so the partition's store exists, and its timers run on it, before any record arrives.
   * Nothing of it is tracked as a change.
   */
  restorePartition(partition: number, entries: Iterable<[key: string, value: unknown]>): void {
    const ctx = this.context(partition);
    const store = ctx.store;
    store.clear();
    for (const [key, value] of entries) store.restore(key, value);
    store.discardChanges();
    // What the restored state asks for is unknown: its first onWatermark looks (and asks again).
    ctx.due = -Infinity;
  }

  /** Whether the task holds a store (state) for an input partition. */
  hasPartition(partition: number): boolean {
    return this.stores.has(partition);
  }

  /** Drops the state of a partition revoked in a rebalance. */
  dropPartition(partition: number, topics: string[]): void {
    this.stores.delete(partition);
    this.storeList = undefined;
    for (const t of topics) this.forget(`${t}/${partition}`);
  }

  private forget(wmKey: string): void {
    this.watermark.forget(wmKey);
    this.lastSeen.delete(wmKey);
    this.forgotPartition = true;
  }

  get currentWatermark(): number {
    return this.watermark.value;
  }

  private context(partition: number): PartitionContext {
    let ctx = this.stores.get(partition);
    if (!ctx) {
      ctx = this.newContext();
      this.stores.set(partition, ctx);
      this.storeList = undefined;
    }
    return ctx;
  }

  private newContext(): PartitionContext {
    const store = new ChangelogStore({ trackChanges: this.opts.trackChanges });
    return new PartitionContext(store, this.opts.clock, this.watermark, this, (rec) => this.emit(rec));
  }

  private emit(rec: Omit<OutRecord, 'topic'> & { topic?: string }): void {
    const topic = rec.topic ?? this.defaultOutput;
    if (topic === undefined) {
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `processor "${this.node.name}" emitted a record but has no output topic`,
      );
    }
    if (rec.topic !== undefined && !this.outputSet.has(topic)) {
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `processor "${this.node.name}" emitted to topic "${topic}", which is not among its outputs (${this.node.outputs.join(', ')})`,
      );
    }
    this.buffer.push({
      topic,
      key: rec.key === undefined ? (this.current?.key ?? null) : rec.key,
      value: rec.value,
      timestamp: rec.timestamp ?? this.current?.timestamp ?? this.opts.clock.now(),
      headers: rec.headers,
    });
  }

  /**
   * Processes a batch in order. Never throws for a record's failure: that record becomes a dead letter.
   * With `drain` false the state changes stay pending (`changes` is empty) and a later `run` or
   * `takeChanges()` returns them: a transaction that processes its records in several chunks writes
   * each key's last change once.
   */
  async run(records: StreamRecord[], drain = true): Promise<BatchResult> {
    const started = performance.now();
    this.beginUnit();
    const deadLetters: OutRecord[] = [];
    this.buffer = [];
    const processor = this.processor;
    let lastTopic: string | undefined;
    let lastPartition = -1;
    let wmKey = '';
    let ctx: PartitionContext | undefined;
    let ctxPartition = -1;
    // After a partition was forgotten the watermark may move on without a new maximum: recompute once.
    let recompute = this.forgotPartition;
    this.forgotPartition = false;
    // wmKey's watermark slot (its highest event time; undefined before its first): a record at or below it
    // cannot move the watermark. Looked up per partition switch, raised in place.
    let slot: WatermarkSlot | undefined;
    const seen: string[] = [];
    // Hot loop: no per-record closures or promises unless the processor itself returns one.
    for (let i = 0; i < records.length; i++) {
      const rec = records[i]!;
      const partition = rec.partition ?? 0;
      if (rec.topic !== lastTopic || partition !== lastPartition) {
        lastTopic = rec.topic;
        lastPartition = partition;
        wmKey = `${rec.topic}/${partition}`;
        if (!seen.includes(wmKey)) seen.push(wmKey);
        slot = this.watermark.slot(wmKey);
      }
      // Stores are only dropped between batches (rebalance, abort), so one lookup per partition switch.
      if (ctx === undefined || partition !== ctxPartition) {
        ctx = this.context(partition);
        ctxPartition = partition;
      }
      const mark = this.buffer.length;
      this.current = rec;
      try {
        const r = processor.process(rec, ctx);
        if (r !== undefined && typeof (r as Promise<void>).then === 'function') await r;
        ctx.state.commit();
      } catch (err) {
        ctx.state.rollback();
        this.buffer.length = mark;
        this.stats.failed++;
        this.stats.dlq++;
        deadLetters.push(toDeadLetter(this.opts.dlqTopic, rec, this.node.name, err));
      }
      const ts = rec.timestamp;
      if (ts > (slot === undefined ? -Infinity : slot.max) || recompute) {
        recompute = false;
        slot = this.watermark.observe(wmKey, ts, slot);
        if (this.watermark.advance() && processor.onWatermark) {
          this.current = undefined;
          const pending = this.fireWatermark(this.watermark.value);
          if (pending !== undefined) await pending;
        }
      }
    }
    this.current = undefined;
    if (seen.length !== 0 && this.opts.idlePartitionMs !== undefined) {
      const now = this.opts.clock.now();
      for (const k of seen) this.lastSeen.set(k, now);
    }
    this.stats.recordsIn += records.length;
    this.stats.recordsOut += this.buffer.length;
    const ms = performance.now() - started;
    this.stats.busyMs += ms;
    this.stats.onBatch?.(records.length, ms);
    return { outputs: this.takeBuffer(), deadLetters, changes: drain ? this.drainChanges() : [] };
  }

  /** Moves event time to `watermark` (+Infinity at end of input) and returns what the windows emit. */
  async flush(watermark = Infinity): Promise<BatchResult> {
    this.beginUnit();
    this.buffer = [];
    if (this.watermark.forceTo(watermark) && this.processor.onWatermark) await this.fireWatermark(this.watermark.value);
    this.stats.recordsOut += this.buffer.length;
    return { outputs: this.takeBuffer(), deadLetters: [], changes: this.drainChanges() };
  }

  /**
   * Clock-driven work at `now` (the injected clock): partitions idle longer than `idlePartitionMs`
   * stop holding the watermark back (`onWatermark` runs when it advances), and `onTimer` runs once its
   * interval has passed. Returns what that emitted and changed.
   */
  async tick(now: number): Promise<BatchResult> {
    this.beginUnit();
    this.buffer = [];
    const idleMs = this.opts.idlePartitionMs;
    if (idleMs !== undefined) {
      let forgot = false;
      for (const [k, last] of this.lastSeen) {
        if (now - last < idleMs) continue;
        this.forget(k);
        forgot = true;
        this.opts.logger?.debug(
          { component: this.node.name, partition: k, idleMs: now - last },
          'input partition idle; watermark no longer waits for it',
        );
      }
      if (forgot && this.watermark.advance() && this.processor.onWatermark)
        await this.fireWatermark(this.watermark.value);
      if (forgot) this.forgotPartition = false;
    }
    if (this.processor.onTimer && now >= this.nextTimerAt) {
      this.nextTimerAt = now + this.timerIntervalMs;
      // Every store of an assigned partition, whether it came from a batch or was restored at assignment.
      // Before any record or restored state there is none: one call on a context that is thrown away.
      const held = this.assignedSet;
      const contexts: PartitionContext[] = [];
      for (const [partition, ctx] of this.stores) if (held === undefined || held.has(partition)) contexts.push(ctx);
      if (contexts.length === 0) contexts.push(this.newContext());
      for (const ctx of contexts) await this.guarded(ctx, 'onTimer', now);
    }
    this.stats.recordsOut += this.buffer.length;
    return { outputs: this.takeBuffer(), deadLetters: [], changes: this.drainChanges() };
  }

  /**
   * `onWatermark` on every partition store. Synchronous (no promise, nothing allocated per store) unless
   * the processor returns a promise; then the rest runs asynchronously and the returned promise ends it.
   * The watermark can advance on every record, so this is on the hot path.
   */
  private fireWatermark(wm: number): Promise<void> | undefined {
    // The stores as an array kept beside the Map (rebuilt after a store is added or dropped): no
    // iterator object per watermark, i.e. per record of a stream whose event time keeps rising.
    const list = (this.storeList ??= [...this.stores.values()]);
    const onRequest = this.processor.watermarkRequests === true;
    for (let i = 0; i < list.length; i++) {
      // A processor that asks for its watermarks is called only once one of them is reached.
      if (onRequest && wm < list[i]!.due) continue;
      const pending = this.guarded(list[i]!, 'onWatermark', wm);
      if (pending !== undefined) return this.fireWatermarkRest(pending, list, i + 1, wm);
    }
    return undefined;
  }

  private async fireWatermarkRest(
    pending: Promise<void>,
    list: readonly PartitionContext[],
    from: number,
    wm: number,
  ): Promise<void> {
    await pending;
    const onRequest = this.processor.watermarkRequests === true;
    for (let i = from; i < list.length; i++) {
      if (onRequest && wm < list[i]!.due) continue;
      await this.guarded(list[i]!, 'onWatermark', wm);
    }
  }

  /**
   * Runs a watermark or timer call; when it throws (or its promise rejects), its emits and state writes are
   * dropped, counted and logged. Returns a promise only when the processor's call returned one.
   */
  private guarded(ctx: PartitionContext, kind: 'onWatermark' | 'onTimer', at: number): Promise<void> | undefined {
    const mark = this.buffer.length;
    // onWatermark clears the context's requests: the processor asks again for what is still open. A call
    // that fails keeps the earlier ones (at or below this watermark: the next advance calls it again).
    const due = ctx.due;
    if (kind === 'onWatermark') ctx.due = Infinity;
    let r: void | Promise<void>;
    try {
      r = kind === 'onWatermark' ? this.processor.onWatermark!(at, ctx) : this.processor.onTimer!(at, ctx);
    } catch (err) {
      this.callFailed(ctx, mark, kind, at, err, due);
      return undefined;
    }
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
      return (r as Promise<void>).then(
        () => ctx.state.commit(),
        (err: unknown) => this.callFailed(ctx, mark, kind, at, err, due),
      );
    }
    ctx.state.commit();
    return undefined;
  }

  private callFailed(
    ctx: PartitionContext,
    mark: number,
    kind: 'onWatermark' | 'onTimer',
    at: number,
    err: unknown,
    due: number,
  ) {
    // No input record to dead-letter here.
    ctx.state.rollback();
    if (due < ctx.due) ctx.due = due;
    this.buffer.length = mark;
    this.stats.failed++;
    const what = kind === 'onTimer' ? { timer: at } : { watermark: at };
    this.opts.logger?.error({ component: this.node.name, ...what, err: (err as Error).message }, `${kind} failed`);
  }

  private takeBuffer(): OutRecord[] {
    const out = this.buffer;
    this.buffer = [];
    return out;
  }

  /** The state changes pending since the last drain (see `run`), per input partition. */
  takeChanges(): BatchResult['changes'] {
    return this.drainChanges();
  }

  /** Saves the watermark when a unit of work begins (the first run, tick or flush after a drain or a discard). */
  private beginUnit(): void {
    if (!this.drained) return;
    this.drained = false;
    this.unitStart = this.watermark.save();
  }

  private drainChanges(): BatchResult['changes'] {
    this.drained = true;
    if (!this.opts.trackChanges) return [];
    const out: BatchResult['changes'] = [];
    for (const [partition, ctx] of this.stores) {
      const changes = ctx.store.drainChanges();
      if (changes.length) out.push({ partition, changes });
    }
    return out;
  }

  /**
   * Tells the core that the unit of work drained last has committed. A discard with no work since (a rebalance
   * right after the commit) then keeps the watermark where that unit ended instead of taking it back to where the
   * unit began. When a new unit has begun since the drain, its start is already that point and nothing changes.
   */
  committed(): void {
    if (this.drained) this.unitStart = this.watermark.save();
  }

  /**
   * Forgets uncommitted state changes (the transaction was aborted; state is restored from the changelog) and puts
   * the watermark back to where the discarded work began.
   */
  discardAll(): void {
    this.stores.clear();
    this.storeList = undefined;
    // The records of the discarded work are read again (from the committed offsets): the watermark goes back to
    // where that work began. Kept at its height, it had made them late — with allowed lateness 0 a window
    // aggregate sent nearly every record of an aborted transaction to the DLQ on the retry. Discarded after
    // a drain with no work since, it goes back to where that unit began, as for an abort of its commit, unless
    // the transport said the unit committed (`committed`): then it stays where the unit ended.
    if (this.unitStart !== undefined) this.watermark.restore(this.unitStart);
    this.forgotPartition = true;
    this.drained = true;
  }

  async close(): Promise<void> {
    this.unregister?.();
    await this.processor.close?.();
  }
}
